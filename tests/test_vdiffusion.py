"""Tests for tutorial_lib.vdiffusion: the angle parameterisation and the loss; the v-DDIM sampler
it re-exports is tested in test_samplers_vddim.py."""

from __future__ import annotations

import math

import pytest
import torch

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


def test_loss_fn_and_bad_inputs():
    fn = vd.make_loss_fn(conditional=True)
    with pytest.raises(ValueError, match="label"):
        fn(lambda x, t, y=None: x, torch.zeros(2, 1, 8))
    with pytest.raises(ValueError, match="x0"):
        vd.loss(lambda x, t: x, torch.zeros(2, 8))
    # a model that always predicts v = 0 has loss E[v^2] = E[a^2 eps^2 + s^2 x0^2] = 1/2 + 1/2 E[x0^2]
    torch.manual_seed(0)
    x0 = torch.full((4000, 1, 4), 0.5)
    val = vd.loss(lambda x, t: torch.zeros_like(x), x0).item()
    assert abs(val - (0.5 + 0.5 * 0.25)) < 0.02


def test_the_sampler_is_re_exported_from_the_samplers_package():
    """One home per algorithm: tl.vdiffusion's sampler names are the package's functions."""
    from tutorial_lib import samplers

    assert vd.sample is samplers.vddim_sample
    assert vd.sample_times is samplers.vddim_times
    assert vd.to_x0_eps is samplers.v_to_x0_eps
    assert vd.ddim_step is samplers.vddim_step
