"""Fake networks and seeds shared by the sampler tests (tests/test_samplers*.py)."""

from __future__ import annotations

import torch

import tutorial_lib as tl

N = 1000


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def fake_eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A smooth deterministic 'network' of (x, t), t (B,) in [0, 1]."""
    tt = t.view(-1, *([1] * (x.ndim - 1))).to(x)
    return 0.6 * torch.tanh(x) * torch.cos(3 * tt) + 0.2 * tt * x.roll(1, dims=-1)


def gaussian_eps_model(c: float):
    """The exact noise predictor for data N(0, c^2 I) on the linear schedule (1000 steps)."""
    ab_all = tl.schedules.alpha_bar("linear", 1000)

    def model(x, t):
        s = (t * 1000).round().long() - 1
        ab = ab_all[s].to(x.dtype).view(-1, *([1] * (x.ndim - 1)))
        return (1 - ab).sqrt() * x / (ab * c**2 + 1 - ab)

    return model, ab_all
