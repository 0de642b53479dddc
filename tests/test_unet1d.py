"""Tests for tutorial_lib.models.unet1d: shapes, length/label checks, transforms, checkpoints."""

from __future__ import annotations

import pytest
import torch

from tutorial_lib import checkpoints as ck
from tutorial_lib import vdiffusion as vd
from tutorial_lib.models.unet1d import UNet1d, _Attention, activation_memory, level_shapes


def tiny(**kw):
    torch.manual_seed(0)
    base = dict(channels=(8, 16, 16), kernel_size=3, emb_dim=16, heads=2)
    base.update(kw)
    return UNet1d(**base)


@pytest.mark.parametrize(
    "kw, shape",
    [
        (dict(), (2, 1, 64)),
        (dict(in_channels=2), (3, 2, 32)),
        (dict(channels=(8,), attn_levels=()), (1, 1, 7)),  # one level: any length
        (dict(channels=(8, 12, 20, 24), blocks=(1, 2, 1, 3), norm_groups=3), (2, 1, 40)),
        (dict(transform="patch", transform_factor=4), (2, 1, 64)),
        (
            dict(transform="learned", transform_factor=4, transform_kernel=16, in_channels=2),
            (2, 2, 64),
        ),
        (dict(classes=("a", "b", "c")), (3, 1, 16)),
    ],
)
def test_output_shape_equals_input_shape(kw, shape):
    m = tiny(**kw)
    for p in m.out_conv.parameters():  # make the output non-trivial
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(*shape)
    y = m(x, torch.rand(shape[0]))
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    assert y.abs().sum() > 0


def test_fresh_model_outputs_zero():
    m = tiny()
    assert torch.equal(m(torch.randn(2, 1, 16), 0.5), torch.zeros(2, 1, 16))


def test_length_not_multiple_raises_with_fix():
    m = tiny(transform="patch", transform_factor=2)  # multiple = 2 * 2**2 = 8
    assert m.multiple == 8
    with pytest.raises(ValueError, match=r"multiple of 8.*fix_length\(x, 104\)"):
        m(torch.randn(1, 1, 100), 0.3)


def test_bad_config_rejected():
    with pytest.raises(ValueError, match="kernel_size"):
        UNet1d(kernel_size=4)
    with pytest.raises(ValueError, match="attn_levels"):
        UNet1d(channels=(8, 8), attn_levels=(2,))
    with pytest.raises(ValueError, match="transform_factor"):
        UNet1d(transform="none", transform_factor=4)
    with pytest.raises(ValueError, match="transform"):
        UNet1d(transform="wavelet")
    with pytest.raises(ValueError, match="blocks"):
        UNet1d(channels=(8, 8), blocks=(1, 1, 1))


def test_class_labels_checked():
    m = tiny(classes=("kick", "snare"))
    x, t = torch.randn(2, 1, 16), torch.rand(2)
    m(x, t, ["kick", "snare"])
    m(x, t, torch.tensor([1, -1]))
    m(x, t, None)
    with pytest.raises(ValueError, match=r"unknown class 'clap'.*\['kick', 'snare'\]"):
        m(x, t, ["kick", "clap"])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        m(x, t, [0, 2])
    with pytest.raises(ValueError, match="one label per clip"):
        m(x, t, ["kick"] * 3)
    with pytest.raises(ValueError, match="unconditional"):
        tiny()(x, t, ["kick", "kick"])


def test_class_changes_output():
    m = tiny(classes=("kick", "snare"))
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.2)
    x, t = torch.randn(1, 1, 16), torch.rand(1)
    assert not torch.allclose(m(x, t, "kick"), m(x, t, "snare"))
    assert torch.equal(m(x, t, None), m(x, t, [-1]))


def test_patch_transform_matches_direct_indexing_and_inverts():
    m = tiny(transform="patch", transform_factor=4, in_channels=2)
    x = torch.randn(2, 2, 32)
    p = m._encode(x)
    assert p.shape == (2, 8, 8)
    # channel c * f + j at position n holds sample n * f + j of channel c
    for c in range(2):
        for j in range(4):
            assert torch.equal(p[:, c * 4 + j], x[:, c, j::4])
    assert torch.equal(m._decode(p), x)


def test_attention_only_where_asked():
    m = tiny(channels=(8, 8, 8, 8), attn_levels=(3,))
    n_down = sum(isinstance(a, _Attention) for lvl in m.down_levels for a in lvl.attn)
    n_up = sum(isinstance(a, _Attention) for lvl in m.up_levels for a in lvl.attn)
    assert (n_down, n_up) == (1, 1)
    default = tiny(channels=(8, 8, 8, 8))
    assert default.config["attn_levels"] == [2, 3]


def test_level_shapes_match_forward():
    m = tiny(channels=(8, 12, 16), transform="patch", transform_factor=2)
    seen = []
    hooks = [lvl.register_forward_hook(lambda mod, i, o: seen.append(tuple(o.shape)))
             for lvl in m.down_levels]  # fmt: skip
    m(torch.randn(3, 1, 64), torch.rand(3))
    for h in hooks:
        h.remove()
    assert seen == [r["shape"] for r in level_shapes(m, 64, batch=3)]


def test_activation_memory_scales_with_batch():
    m = tiny()
    one = activation_memory(m, 256, batch=1)
    two = activation_memory(m, 256, batch=2)
    assert one["total"] == sum(v for k, v in one.items() if k != "total")
    assert all(one[f"level {i}"] > 0 for i in range(3))
    assert abs(two["level 0"] / one["level 0"] - 2) < 0.05  # activations scale with B
    assert 1.7 < two["total"] / one["total"] <= 2.0


def test_config_rebuilds_and_checkpoint_round_trip(tmp_path):
    m = tiny(classes=("a", "b"), transform="learned", transform_factor=2, transform_kernel=6)
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.1)
    path = ck.save(tmp_path / "m.safetensors", m, config=m.config)
    state, config, _ = ck.load(path)
    assert config == m.config
    m2 = UNet1d(**config)
    ck.load_into(m2, path, config=config)
    x, t = torch.randn(2, 1, 32), torch.rand(2)
    assert torch.equal(m(x, t, ["a", "b"]), m2(x, t, ["a", "b"]))


def test_gradient_checkpointing_same_gradients():
    m = tiny()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x, t = torch.randn(2, 1, 32), torch.rand(2)
    m(x, t).square().mean().backward()
    g1 = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    m.gradient_checkpointing = True
    m.train()
    m(x, t).square().mean().backward()
    for a, p in zip(g1, m.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    m = tiny()
    x0 = 0.5 * torch.sin(torch.linspace(0, 40, 64)).repeat(4, 1, 1)

    def fixed_loss():
        torch.manual_seed(123)  # same t and eps every time
        return vd.loss(m, x0)

    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    with torch.no_grad():
        start = fixed_loss().item()
    for _ in range(40):
        opt.zero_grad()
        fixed_loss().backward()
        opt.step()
    with torch.no_grad():
        end = fixed_loss().item()
    assert end < 0.5 * start, (start, end)
