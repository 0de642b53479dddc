"""Tests for tutorial_lib.samplers.flow: Euler is exact on straight paths, constant fields are
integrated exactly, the sign convention of a step, Heun is second order, path straightness."""

from __future__ import annotations

import math

import pytest
import torch
from sampler_fakes import gen

from tutorial_lib import samplers as S

# --------------------------------------------------------------------------- flows


@pytest.mark.parametrize("steps", [1, 3, 8])
def test_euler_is_exact_on_straight_paths(steps):
    x0 = torch.tensor([[0.5, -2.0], [3.0, 1.0]])

    def to_point(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # the exact flow towards one point x0: x_t = (1 - t) x0 + t z  =>  v = (x0 - x_t) / t
        return (x0 - x) / t[:, None]

    z = torch.randn(2, 2, generator=gen(6))
    out, traj = S.euler_sample(to_point, z, steps=steps, return_trajectory=True)
    torch.testing.assert_close(out, x0, rtol=1e-6, atol=1e-6)
    # every iterate lies on the straight line from z to x0
    for t, xk in zip(traj.t, traj.x, strict=True):
        torch.testing.assert_close(xk, (1 - t.item()) * x0 + t.item() * z, rtol=1e-5, atol=1e-5)
    assert torch.allclose(S.path_straightness(traj), torch.ones(2), atol=1e-5)


@pytest.mark.parametrize("sampler", [S.euler_sample, S.heun_sample])
def test_constant_field_is_integrated_exactly(sampler):
    c = torch.tensor([[1.5, -0.5, 2.0]])
    z = torch.randn(1, 3, generator=gen(7))
    out = sampler(lambda x, t: c.expand_as(x), z, times=[1.0, 0.7, 0.2, 0.0])
    torch.testing.assert_close(out, z + c)  # x(0) = x(1) + integral_0^1 v dt


def test_euler_step_sign_convention():
    x0, z = torch.tensor([[2.0]]), torch.tensor([[-1.0]])
    v = x0 - z  # the rectified-flow target
    torch.testing.assert_close(S.euler_step(z, v, 1.0, 0.0), x0)
    torch.testing.assert_close(S.euler_step(z, v, 1.0, 0.5), 0.5 * x0 + 0.5 * z)


def test_heun_is_second_order():
    """On dx/dt = -v with v = -x (a curved flow), Heun's error shrinks about 4x per halving."""

    def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x  # dx/dt = -x from t = 1 to 0: x(0) = e * x(1)

    z = torch.ones(1, 1)
    errs = [abs(float(S.heun_sample(field, z, steps=k)) - math.e) for k in (4, 8)]
    assert 3.5 < errs[0] / errs[1] < 4.5
    errs_e = [abs(float(S.euler_sample(field, z, steps=k)) - math.e) for k in (4, 8)]
    assert 1.7 < errs_e[0] / errs_e[1] < 2.3


def test_path_straightness_values():
    line = torch.linspace(0, 1, 5)[:, None, None] * torch.tensor([[3.0, 4.0]])  # (5, 1, 2)
    assert float(S.path_straightness(line)) == pytest.approx(1.0)
    corner = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 1.0]]])
    assert float(S.path_straightness(corner)) == pytest.approx(math.sqrt(2) / 2)
