"""Tests for tutorial_lib.samplers.ddpm: the DDPM posterior against diffusers' DDPMScheduler,
and ancestral sampling against DDIM with eta = 1 and the library's NoiseSchedule loop."""

from __future__ import annotations

import math

import pytest
import torch
from reference_impl import reference
from sampler_fakes import N, fake_eps, gen

from tutorial_lib import samplers as S
from tutorial_lib import schedules


@pytest.mark.parametrize("steps", [None, 25])
def test_ddpm_posterior_matches_diffusers(steps):
    diffusers = reference("diffusers")
    ref = diffusers.DDPMScheduler(
        num_train_timesteps=N,
        beta_schedule="linear",
        clip_sample=False,
        variance_type="fixed_small",
        prediction_type="sample",  # the model output is x0 itself: we test the posterior
        timestep_spacing="trailing",
    )
    # diffusers keeps the schedule in float32, where 1 - abar_t / abar_prev loses about 4
    # digits at small t; give it float64 so that both sides compute the same formula exactly.
    ref.betas, ref.alphas = ref.betas.double(), ref.alphas.double()
    ref.alphas_cumprod, ref.one = (
        ref.alphas_cumprod.double(),
        torch.tensor(1.0, dtype=torch.float64),
    )
    if steps is not None:
        ref.set_timesteps(steps)
    abar = ref.alphas_cumprod
    ts = ref.timesteps.tolist() if steps is not None else [999, 500, 37, 1]
    g = gen(1)
    for t in ts:
        prev = int(ref.previous_timestep(t))
        ab_prev = float(abar[prev]) if prev >= 0 else 1.0
        x0 = torch.randn(3, 1, 32, generator=g, dtype=torch.float64)
        xt = torch.randn(3, 1, 32, generator=g, dtype=torch.float64)
        mean, var = S.ddpm_posterior(x0, xt, float(abar[t]), ab_prev)
        assert var == pytest.approx(float(ref._get_variance(t)), rel=1e-9)
        want = ref.step(x0, t, xt, generator=gen(t)).prev_sample
        z = torch.randn(xt.shape, generator=gen(t), dtype=torch.float64)
        got = mean + (math.sqrt(var) * z if t > 0 else 0)
        torch.testing.assert_close(got, want.to(got.dtype), rtol=1e-5, atol=1e-5)


def test_ddpm_sampler_equals_ddim_eta_one_and_noise_schedule():
    ab = schedules.alpha_bar("cosine", 100)
    x_T = torch.randn(3, 1, 40, generator=gen(4))
    a = S.ddpm_sample(fake_eps, x_T, ab, steps=20, generator=gen(9))
    b = S.ddim_sample(fake_eps, x_T, ab, steps=20, eta=1.0, generator=gen(9))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # all steps, variance "beta": the library's NoiseSchedule.generate (eps form) with the same noise
    sched = schedules.NoiseSchedule(num_steps=50, variance="beta", clip=None)

    def by_step(x: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        return fake_eps(x, (step.float() + 1) / 50)

    x_T = torch.randn(2, 1, 40, generator=gen(5))
    torch.manual_seed(11)
    want = sched.generate(by_step, x_T.clone())
    torch.manual_seed(11)
    got = S.ddpm_sample(fake_eps, x_T, sched.get_alpha_bar().double(), variance="beta")
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
