"""Tests for tutorial_lib.samplers.vddim: the v-DDIM sampler of chapter 3 (also
``tl.vdiffusion.sample``): one step and the whole loop against diffusers' DDIM with v
prediction, an oracle network returns its data point, the times, seeding and guidance, the
clamp, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference_impl import reference

from tutorial_lib import samplers as S
from tutorial_lib import vdiffusion as vd


def test_ddim_step_matches_diffusers_with_v_prediction():
    diffusers = reference("diffusers")
    n = 1000
    s = (np.arange(n) + 1) / (n + 1)  # train step k <-> time s_k
    abar = np.cos(s * np.pi / 2) ** 2
    betas = 1 - abar / np.concatenate([[1.0], abar[:-1]])
    sched = diffusers.DDIMScheduler(
        num_train_timesteps=n, trained_betas=betas.tolist(), prediction_type="v_prediction",
        clip_sample=False, set_alpha_to_one=True, timestep_spacing="leading",
    )  # fmt: skip
    sched.set_timesteps(10)
    torch.manual_seed(0)
    x, v = torch.randn(2, 1, 64), torch.randn(2, 1, 64)
    k = int(sched.timesteps[3])
    k_prev = k - n // 10
    ref = sched.step(v, k, x, eta=0.0).prev_sample
    ours = S.vddim_step(x, v, float(s[k]), float(s[k_prev]))
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_sampler_with_an_oracle_returns_the_data_point():
    target = torch.sin(torch.linspace(0, 20, 128)).reshape(1, 1, -1) * 0.8

    def oracle(xt, t):  # the exact v for a data set of one clip
        a, s = vd.alpha_sigma(t[:, None, None])
        eps = (xt - a * target) / s.clamp_min(1e-12)
        return a * eps - s * target

    for steps, rho in ((1, 1.0), (3, 1.0), (25, 1.0), (10, 3.0)):
        out = S.vddim_sample(oracle, (2, 1, 128), steps=steps, seed=0, device="cpu", rho=rho)
        torch.testing.assert_close(out, target.expand(2, 1, 128), atol=1e-4, rtol=1e-4)


def test_sampler_is_deterministic_given_seed_and_guidance_one_is_plain():
    from tutorial_lib.models.unet1d import UNet1d

    torch.manual_seed(0)
    m = UNet1d(channels=(8, 8), emb_dim=8, kernel_size=3, classes=("a", "b")).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.1)
    a = S.vddim_sample(m, (2, 1, 32), steps=4, seed=3, class_labels=["a", "b"])
    b = S.vddim_sample(m, (2, 1, 32), steps=4, seed=3, class_labels=["a", "b"], guidance=1.0)
    c = S.vddim_sample(m, (2, 1, 32), steps=4, seed=3, class_labels=["a", "b"], guidance=3.0)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.abs().max() <= 1.0


def test_sample_times():
    even = S.vddim_times(4)
    torch.testing.assert_close(even, torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], dtype=torch.float64))
    packed = S.vddim_times(4, rho=3.0)
    torch.testing.assert_close(packed, even**3)
    assert (packed[1:-1] < even[1:-1]).all()  # rho > 1 moves the steps towards t = 0
    with pytest.raises(ValueError, match="rho"):
        S.vddim_times(4, rho=0.5)


def test_clip_x0_takes_a_bound_for_scaled_data():
    """Data divided by a scale k has the range [-1/k, 1/k]: clip_x0=1/k clamps there."""
    target = 5.0 * torch.sin(torch.linspace(0, 20, 128)).reshape(1, 1, -1)  # peaks at 5

    def oracle(xt, t):
        a, s = vd.alpha_sigma(t[:, None, None])
        eps = (xt - a * target) / s.clamp_min(1e-12)
        return a * eps - s * target

    clipped = S.vddim_sample(oracle, (1, 1, 128), steps=10, seed=0, rho=3.0)  # default: [-1, 1]
    assert float(clipped.abs().max()) <= 1.0
    bound = S.vddim_sample(oracle, (1, 1, 128), steps=10, seed=0, rho=3.0, clip_x0=10.0)
    free = S.vddim_sample(oracle, (1, 1, 128), steps=10, seed=0, rho=3.0, clip_x0=False)
    torch.testing.assert_close(bound, target, atol=1e-3, rtol=1e-3)
    assert torch.equal(bound, free)
    with pytest.raises(ValueError, match="clip_x0"):
        S.vddim_sample(oracle, (1, 1, 128), steps=2, clip_x0=-1.0)


def _diffusers_ddim(steps: int, rho: float):
    """diffusers' DDIM (v prediction, x0 clipped to [-1, 1]) on the discrete schedule whose steps
    are exactly the sampler's times: its timestep k is the time t_{N-1-k}, and its final step
    goes to alpha_bar = 1 (t = 0). Returns the scheduler and the time of each timestep."""
    diffusers = reference("diffusers")
    times = S.vddim_times(steps, rho).numpy()  # 1 = t_0 > ... > t_N = 0
    t_of_k = times[:steps][::-1].copy()  # diffusers' train step k -> our time
    abar = np.cos(t_of_k * np.pi / 2) ** 2
    betas = 1 - abar / np.concatenate([[1.0], abar[:-1]])
    sched = diffusers.DDIMScheduler(
        num_train_timesteps=steps, trained_betas=betas.tolist(), prediction_type="v_prediction",
        clip_sample=True, clip_sample_range=1.0, set_alpha_to_one=True, timestep_spacing="leading",
    )  # fmt: skip
    sched.set_timesteps(steps)
    return sched, t_of_k


def _toy_model(x, t):  # any fixed function of (x_t, t) will do: the samplers must agree on it
    t = torch.as_tensor(t, dtype=torch.float32).reshape(-1, 1, 1)
    return torch.tanh(1.5 * x) * (0.3 + t) + 0.2 * torch.roll(x, 1, dims=-1)


def test_whole_sampler_loop_matches_diffusers_ddim_with_v_prediction():
    """vddim_sample, every step of it (rho = 3 spacing, x0 clamped), against diffusers' DDIM loop
    (:func:`_diffusers_ddim`)."""
    steps, rho = 12, 3.0
    sched, t_of_k = _diffusers_ddim(steps, rho)
    x_init = torch.randn(2, 1, 64, generator=torch.Generator().manual_seed(0))
    ours = S.vddim_sample(_toy_model, x_init=x_init, steps=steps, rho=rho)
    x = x_init.clone()
    for k in sched.timesteps:
        t = float(t_of_k[int(k)])
        x = sched.step(_toy_model(x, torch.full((2,), t)), int(k), x, eta=0.0).prev_sample
    torch.testing.assert_close(ours, x, atol=2e-4, rtol=2e-4)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="shape"):
        S.vddim_sample(lambda x, t: x, None, steps=2)
    with pytest.raises(ValueError, match="x_init"):
        S.vddim_sample(lambda x, t: x, x_init=torch.zeros(2, 8), steps=2)
    with pytest.raises(ValueError, match="steps"):
        S.vddim_sample(lambda x, t: x, (1, 1, 8), steps=0)
    with pytest.raises(ValueError, match="guidance"):
        S.vddim_sample(lambda x, t: x, (1, 1, 8), steps=2, guidance=-1.0)


def test_eta_one_matches_diffusers_ddim_with_the_same_fresh_noise():
    """With ``eta > 0`` every step adds fresh noise: the same loop as above against diffusers'
    DDIM with ``eta`` and, as its ``variance_noise``, the noises our generator draws (one per
    step but the last, in step order)."""
    steps, rho = 10, 3.0
    sched, t_of_k = _diffusers_ddim(steps, rho)
    model = _toy_model
    x_init = torch.randn(2, 1, 64, generator=torch.Generator().manual_seed(0))
    # (not eta = 1: at t = 1 diffusers takes the square root of 1 - abar' - sigma^2 = 0 in float32
    # without a clamp and returns NaN; ours clamps it at 0)
    for eta in (0.5, 0.9):
        ours = S.vddim_sample(model, x_init=x_init, steps=steps, rho=rho, eta=eta,
                              generator=torch.Generator().manual_seed(7))  # fmt: skip
        gen = torch.Generator().manual_seed(7)
        x = x_init.clone()
        for k in sched.timesteps:
            z = torch.randn(x.shape, generator=gen) if int(k) > 0 else torch.zeros_like(x)
            out = sched.step(model(x, torch.full((2,), float(t_of_k[int(k)]))), int(k), x,
                             eta=eta, variance_noise=z)  # fmt: skip
            x = out.prev_sample
        torch.testing.assert_close(ours, x, atol=2e-4, rtol=2e-4)
    # eta = 0 is the deterministic sampler, whatever the generator
    torch.testing.assert_close(
        S.vddim_sample(model, x_init=x_init, steps=steps, rho=rho, eta=0.0,
                       generator=torch.Generator().manual_seed(3)),
        S.vddim_sample(model, x_init=x_init, steps=steps, rho=rho),
    )  # fmt: skip
    # seeded: the same seed gives the same clips; the fresh noise differs from the start noise
    a = S.vddim_sample(model, (2, 1, 64), steps=4, eta=1.0, seed=5)
    torch.testing.assert_close(a, S.vddim_sample(model, (2, 1, 64), steps=4, eta=1.0, seed=5))
    assert not torch.allclose(a, S.vddim_sample(model, (2, 1, 64), steps=4, seed=5))
    with pytest.raises(ValueError, match="eta"):
        S.vddim_sample(model, (1, 1, 8), steps=2, eta=-0.1)
    with pytest.raises(ValueError, match="generator"):
        S.vddim_sample(model, (1, 1, 8), steps=2, eta=1.0, generator=3)
