"""Tests for tutorial_lib.models.unet2d: shapes, zero-initialised output, time conditioning,
attention only where asked, config round trip, a training step that learns, bad input."""

from __future__ import annotations

import pytest
import torch

import tutorial_lib as tl
from tutorial_lib.models.unet2d import UNet2d

SMALL = dict(channels=[8, 16, 16], attn_levels=[2], heads=2, norm_groups=4)


def test_shapes_and_zero_initial_output():
    net = UNet2d(**SMALL)
    x = torch.randn(2, 1, 32, 48)
    out = net(x, torch.tensor([0.1, 0.9]))
    assert out.shape == x.shape and torch.count_nonzero(out) == 0
    assert tl.models.UNet2d is UNet2d and net.multiple == 4


def test_time_conditioning_and_gradients():
    torch.manual_seed(0)
    net = UNet2d(**SMALL)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.02 * torch.randn_like(p))
    x = torch.randn(1, 1, 16, 16)
    assert not torch.allclose(net(x, 0.1), net(x, 0.9))
    net(x, 0.5).pow(2).mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_attention_only_at_the_asked_levels_and_config_round_trip():
    net = UNet2d(**SMALL)
    kinds = [type(m).__name__ for m in net.down_attn]
    assert kinds == ["Identity", "Identity", "_Attention2d"]
    again = UNet2d(**net.config)
    assert again.config == net.config and again.num_parameters() == net.num_parameters()


def test_a_few_steps_of_denoising_training_lower_the_loss():
    """The v-diffusion loss of the library (any (B, C, ...) shape works) on a fixed image."""
    torch.manual_seed(0)
    net = UNet2d(**SMALL)
    x0 = torch.zeros(4, 1, 16, 16)
    x0[:, :, 4:12, 4:12] = 0.5
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    eps = torch.randn(4, 1, 16, 16)
    t = torch.full((4,), 0.3)
    ab = tl.vdiffusion.alpha_bar(t).view(-1, 1, 1, 1)
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    losses = []
    for _ in range(30):
        loss = (net(xt, t) - eps).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_bad_input():
    net = UNet2d(**SMALL)
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.randn(1, 1, 30, 32), 0.5)
    with pytest.raises(ValueError, match="channel"):
        net(torch.randn(1, 2, 32, 32), 0.5)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        net(torch.randn(1, 32, 32), 0.5)
    with pytest.raises(ValueError, match=r"t: expected a number or a tensor \(B,\)"):
        net(torch.randn(2, 1, 32, 32), torch.rand(3))
    with pytest.raises(ValueError, match="attn_levels"):
        UNet2d(channels=[8, 16], attn_levels=[2])
    with pytest.raises(TypeError, match="channels"):
        UNet2d(channels=[])


def test_class_conditioning_follows_the_unet1d_rule():
    """Classes: one embedding each plus "no class" (None or -1), the names' and indices' rule
    of UNet1d; an unconditional network keeps its old config (no "classes" key) and refuses
    labels; a conditional one refuses unknown names and a wrong count."""
    torch.manual_seed(0)
    net = UNet2d(**SMALL, classes=["kick", "snare"])
    assert net.config["classes"] == ["kick", "snare"] and "classes" not in UNet2d(**SMALL).config
    assert UNet2d(**net.config).num_parameters() == net.num_parameters()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.randn(2, 1, 16, 16)
    kick, snare, none = net(x, 0.5, "kick"), net(x, 0.5, [1, 1]), net(x, 0.5)
    assert not torch.allclose(kick, snare) and not torch.allclose(kick, none)
    torch.testing.assert_close(net(x, 0.5, torch.tensor([-1, -1])), none)
    torch.testing.assert_close(net(x, 0.5, ["snare", "snare"]), snare)
    with pytest.raises(ValueError, match="class_labels: unknown class 'tom'"):
        net(x, 0.5, "tom")
    with pytest.raises(ValueError, match="one label per clip"):
        net(x, 0.5, [0, 1, 0])
    with pytest.raises(ValueError, match="unconditional"):
        UNet2d(**SMALL)(x, 0.5, "kick")
    with pytest.raises(ValueError, match="classes: names must be unique"):
        UNet2d(**SMALL, classes=["a", "a"])
