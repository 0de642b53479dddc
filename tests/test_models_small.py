"""Tests for tutorial_lib.models (lazy package) and models.small: shapes, time conditioning,
zero-initialised output, config round trip, size and argument checks. (Chapter 2's family,
SmallConv1d on drums, is tested in test_drums_small.py.)"""

from __future__ import annotations

import pytest
import torch

import tutorial_lib as tl
from tutorial_lib.models import small

#: the config of chapter 2's reference models
CONFIG = {"channels": 1, "width": 32, "mults": [1, 2, 3], "factor": 4, "kernel_size": 5,
          "time_dim": 64, "patch": 8}  # fmt: skip


def test_lazy_package_exports():
    assert tl.models.SmallConv1d is small.SmallConv1d
    assert tl.models.TimeMLP is small.TimeMLP
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = tl.models.Nope


def test_time_mlp_shapes_and_time_dependence():
    torch.manual_seed(0)
    net = small.TimeMLP(dim=2, hidden=32, depth=2)
    x = torch.randn(5, 2)
    out = net(x, torch.rand(5))
    assert out.shape == (5, 2)
    assert not torch.allclose(net(x, 0.1), net(x, 0.9))  # the time matters
    torch.testing.assert_close(net(x, 0.3), net(x, torch.full((5,), 0.3)))
    rebuilt = small.TimeMLP(**net.config)
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in net.parameters())
    with pytest.raises(ValueError, match="points of size 2"):
        net(torch.randn(5, 3), 0.5)
    with pytest.raises(ValueError, match=r"t: expected a number or a tensor of shape \(B,\)"):
        net(x, torch.rand(4))


def test_small_conv_shapes_zero_init_and_gradients():
    torch.manual_seed(0)
    net = small.SmallConv1d(**CONFIG)
    x = torch.randn(2, 1, 4096)
    out = net(x, torch.tensor([0.2, 0.8]))
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # the output layer starts at zero
    loss = (net(x, 0.5) - x).pow(2).mean()
    loss.backward()
    assert net.out.weight.grad.abs().sum() > 0
    # after one update the output depends on the time
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    assert not torch.allclose(net(x, 0.1), net(x, 0.9))


def test_small_conv_size_and_config():
    net = small.SmallConv1d(**CONFIG)
    n = sum(p.numel() for p in net.parameters())
    assert n * 2 < 2_000_000  # fits the 2 MB budget in float16
    assert small.SmallConv1d(**net.config).config == net.config
    plain = small.SmallConv1d(channels=2, width=8, mults=(1, 2), factor=2, patch=1)
    assert plain(torch.randn(1, 2, 64), 0.5).shape == (1, 2, 64)


def test_small_conv_bad_input():
    net = small.SmallConv1d(width=8, mults=(1, 2), factor=4, patch=8)
    with pytest.raises(ValueError, match="must be a multiple of 32"):
        net(torch.randn(1, 1, 100), 0.5)
    with pytest.raises(ValueError, match="expected 1 channel"):
        net(torch.randn(1, 2, 64), 0.5)
    with pytest.raises(ValueError, match=r"\(B, C, T\)"):
        net(torch.randn(1, 64), 0.5)
    with pytest.raises(ValueError, match="kernel_size: expected an odd"):
        small.SmallConv1d(kernel_size=4)
    with pytest.raises(TypeError, match="mults: expected a non-empty list"):
        small.SmallConv1d(mults=())
