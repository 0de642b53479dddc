"""Tests for tutorial_lib.vdiffusion: the angle parameterisation, the loss and the v-DDIM sampler."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from reference_impl import reference

from tutorial_lib import vdiffusion as vd


def test_alpha_sigma_angles():
    t = torch.linspace(0, 1, 11)
    a, s = vd.alpha_sigma(t)
    torch.testing.assert_close(a**2 + s**2, torch.ones(11))
    torch.testing.assert_close(a, torch.cos(t * math.pi / 2))
    assert float(a[0]) == 1.0 and abs(float(a[-1])) < 1e-7
    torch.testing.assert_close(vd.alpha_bar(t), torch.cos(t * math.pi / 2) ** 2)


def test_x0_eps_recovered_from_xt_and_v():
    torch.manual_seed(0)
    x0, eps, t = torch.randn(5, 2, 33), torch.randn(5, 2, 33), torch.rand(5)
    xt = vd.noise(x0, t, eps)
    v = vd.v_target(x0, eps, t)
    x0_hat, eps_hat = vd.to_x0_eps(xt, v, t)
    torch.testing.assert_close(x0_hat, x0, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(eps_hat, eps, atol=1e-5, rtol=1e-5)


def test_v_is_the_derivative_of_xt_with_respect_to_the_angle():
    torch.manual_seed(1)
    x0, eps = torch.randn(1, 1, 50, dtype=torch.float64), torch.randn(1, 1, 50, dtype=torch.float64)
    phi, h = 0.7, 1e-6

    def xt(p):  # direct formula in float64
        return math.cos(p) * x0 + math.sin(p) * eps

    numeric = (xt(phi + h) - xt(phi - h)) / (2 * h)
    v = math.cos(phi) * eps - math.sin(phi) * x0
    torch.testing.assert_close(numeric, v, atol=1e-7, rtol=1e-7)
    got = vd.v_target(x0.float(), eps.float(), phi / (math.pi / 2))
    torch.testing.assert_close(got.double(), v, atol=1e-5, rtol=1e-5)


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
    ours = vd.ddim_step(x, v, float(s[k]), float(s[k_prev]))
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_sampler_with_an_oracle_returns_the_data_point():
    target = torch.sin(torch.linspace(0, 20, 128)).reshape(1, 1, -1) * 0.8

    def oracle(xt, t):  # the exact v for a data set of one clip
        a, s = vd.alpha_sigma(t[:, None, None])
        eps = (xt - a * target) / s.clamp_min(1e-12)
        return a * eps - s * target

    for steps, rho in ((1, 1.0), (3, 1.0), (25, 1.0), (10, 3.0)):
        out = vd.sample(oracle, (2, 1, 128), steps=steps, seed=0, device="cpu", rho=rho)
        torch.testing.assert_close(out, target.expand(2, 1, 128), atol=1e-4, rtol=1e-4)


def test_sampler_is_deterministic_given_seed_and_guidance_one_is_plain():
    from tutorial_lib.models.unet1d import UNet1d

    torch.manual_seed(0)
    m = UNet1d(channels=(8, 8), emb_dim=8, kernel_size=3, classes=("a", "b")).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.1)
    a = vd.sample(m, (2, 1, 32), steps=4, seed=3, class_labels=["a", "b"])
    b = vd.sample(m, (2, 1, 32), steps=4, seed=3, class_labels=["a", "b"], guidance=1.0)
    c = vd.sample(m, (2, 1, 32), steps=4, seed=3, class_labels=["a", "b"], guidance=3.0)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.abs().max() <= 1.0


def test_loss_fn_and_bad_inputs():
    fn = vd.make_loss_fn(conditional=True)
    with pytest.raises(ValueError, match="label"):
        fn(lambda x, t, y=None: x, torch.zeros(2, 1, 8))
    with pytest.raises(ValueError, match="x0"):
        vd.loss(lambda x, t: x, torch.zeros(2, 8))
    with pytest.raises(ValueError, match="shape"):
        vd.sample(lambda x, t: x, None, steps=2)
    # a model that always predicts v = 0 has loss E[v^2] = E[a^2 eps^2 + s^2 x0^2] = 1/2 + 1/2 E[x0^2]
    torch.manual_seed(0)
    x0 = torch.full((4000, 1, 4), 0.5)
    val = vd.loss(lambda x, t: torch.zeros_like(x), x0).item()
    assert abs(val - (0.5 + 0.5 * 0.25)) < 0.02


def test_sample_times():
    even = vd.sample_times(4)
    torch.testing.assert_close(even, torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], dtype=torch.float64))
    packed = vd.sample_times(4, rho=3.0)
    torch.testing.assert_close(packed, even**3)
    assert (packed[1:-1] < even[1:-1]).all()  # rho > 1 moves the steps towards t = 0
    with pytest.raises(ValueError, match="rho"):
        vd.sample_times(4, rho=0.5)


def test_clip_x0_takes_a_bound_for_scaled_data():
    """Data divided by a scale k has the range [-1/k, 1/k]: clip_x0=1/k clamps there."""
    target = 5.0 * torch.sin(torch.linspace(0, 20, 128)).reshape(1, 1, -1)  # peaks at 5

    def oracle(xt, t):
        a, s = vd.alpha_sigma(t[:, None, None])
        eps = (xt - a * target) / s.clamp_min(1e-12)
        return a * eps - s * target

    clipped = vd.sample(oracle, (1, 1, 128), steps=10, seed=0, rho=3.0)  # default: [-1, 1]
    assert float(clipped.abs().max()) <= 1.0
    bound = vd.sample(oracle, (1, 1, 128), steps=10, seed=0, rho=3.0, clip_x0=10.0)
    free = vd.sample(oracle, (1, 1, 128), steps=10, seed=0, rho=3.0, clip_x0=False)
    torch.testing.assert_close(bound, target, atol=1e-3, rtol=1e-3)
    assert torch.equal(bound, free)
    with pytest.raises(ValueError, match="clip_x0"):
        vd.sample(oracle, (1, 1, 128), steps=2, clip_x0=-1.0)


def test_whole_sampler_loop_matches_diffusers_ddim_with_v_prediction():
    """vd.sample, every step of it (rho = 3 spacing, x0 clamped), against diffusers' DDIM loop
    on the discrete schedule whose steps are exactly the sampler's times: diffusers' timestep
    k is the time t_{N-1-k}, and its final step goes to alpha_bar = 1 (t = 0)."""
    diffusers = reference("diffusers")
    steps, rho = 12, 3.0
    times = vd.sample_times(steps, rho).numpy()  # 1 = t_0 > ... > t_N = 0
    t_of_k = times[:steps][::-1].copy()  # diffusers' train step k -> our time
    abar = np.cos(t_of_k * np.pi / 2) ** 2
    betas = 1 - abar / np.concatenate([[1.0], abar[:-1]])
    sched = diffusers.DDIMScheduler(
        num_train_timesteps=steps, trained_betas=betas.tolist(), prediction_type="v_prediction",
        clip_sample=True, clip_sample_range=1.0, set_alpha_to_one=True, timestep_spacing="leading",
    )  # fmt: skip
    sched.set_timesteps(steps)

    def model(x, t):  # any fixed function of (x_t, t) will do: the samplers must agree on it
        t = torch.as_tensor(t, dtype=torch.float32).reshape(-1, 1, 1)
        return torch.tanh(1.5 * x) * (0.3 + t) + 0.2 * torch.roll(x, 1, dims=-1)

    x_init = torch.randn(2, 1, 64, generator=torch.Generator().manual_seed(0))
    ours = vd.sample(model, x_init=x_init, steps=steps, rho=rho)
    x = x_init.clone()
    for k in sched.timesteps:
        t = float(t_of_k[int(k)])
        x = sched.step(model(x, torch.full((2,), t)), int(k), x, eta=0.0).prev_sample
    torch.testing.assert_close(ours, x, atol=2e-4, rtol=2e-4)
