"""Tests for tutorial_lib.samplers.segment: chapter 6's segment sampler against the DDIM loop
written out by hand (guidance 1, 3 and 0, x0 and eps predictions), seeding, bad input."""

from __future__ import annotations

import pytest
import torch

from tutorial_lib import samplers as S
from tutorial_lib import schedules


@pytest.fixture(scope="module")
def note_decoder():
    from tutorial_lib.families import midi_synth as fam
    from tutorial_lib.models.note_decoder import NoteDecoder

    torch.manual_seed(0)
    cfg = {**fam.CONFIG, "dim": 32, "ff": 64, "enc_layers": 1, "ctx_layers": 1, "dec_layers": 1}
    ds = fam.dataset(2, "test")
    notes = [fam.notes_of(ds, i) for i in range(2)]
    return NoteDecoder(**cfg).eval(), fam.segment_batch(notes, [0, 0]), fam.features(ds)[:, :64]


def _hand_ddim(net, toks, ctx, noise, w, steps=4, prediction="x0"):
    """The DDIM loop written out: out = u + w (c - u), w = 1 calls only the conditional;
    the network predicts x0 or eps."""
    times = torch.linspace(1, 0, steps + 1)
    lam = schedules.cosine_log_snr(times).float()
    a, s = torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()
    z = noise.clone()
    with torch.no_grad():
        for i in range(steps):
            tt = torch.full((len(z),), float(times[i]))
            out = net(z, tt, toks, ctx)
            if w != 1:
                u = net(z, tt)
                out = u + w * (out - u)
            x0 = out if prediction == "x0" else (z - s[i] * out) / a[i]
            x0 = x0.clamp(-1, 1)
            z = a[i + 1] * x0 + s[i + 1] * (z - a[i] * x0) / s[i]
    return z.clamp(-1, 1)


def test_segment_sampler_guidance_one_is_plain_conditional_and_zero_unconditional(note_decoder):
    tiny, toks, ctx = note_decoder
    noise = torch.randn(2, 64, 128)
    seg = S.sample_segment
    one = seg(tiny, toks, ctx, steps=4, guidance=1.0, noise=noise, sampler="ddim")
    torch.testing.assert_close(one, _hand_ddim(tiny, toks, ctx, noise, 1.0))
    three = seg(tiny, toks, ctx, steps=4, guidance=3.0, noise=noise, sampler="ddim")
    torch.testing.assert_close(three, _hand_ddim(tiny, toks, ctx, noise, 3.0))
    eps = seg(tiny, toks, ctx, steps=4, guidance=3.0, noise=noise, sampler="ddim",
              prediction="eps")  # fmt: skip
    torch.testing.assert_close(eps, _hand_ddim(tiny, toks, ctx, noise, 3.0, prediction="eps"))
    assert not torch.allclose(three, one)
    zero = seg(tiny, toks, ctx, steps=4, guidance=0.0, noise=noise, sampler="ddim")
    uncond = seg(tiny, None, None, steps=4, noise=noise, sampler="ddim")
    torch.testing.assert_close(zero, uncond)
    anc = seg(tiny, toks, ctx, steps=4, sampler="ancestral", noise=noise)
    assert anc.shape == one.shape and anc.abs().max() <= 1
    # the seed draws the starting noise (and, ancestral, the step noise): same seed, same frames
    assert torch.equal(seg(tiny, toks, ctx, steps=2, seed=3), seg(tiny, toks, ctx, steps=2, seed=3))
    assert not torch.equal(seg(tiny, toks, ctx, steps=2, seed=3), seg(tiny, toks, ctx, steps=2))
    with pytest.raises(ValueError, match="guidance"):
        seg(tiny, toks, ctx, guidance=-1.0, noise=noise)
    with pytest.raises(ValueError, match="sampler"):
        seg(tiny, toks, ctx, sampler="euler", noise=noise)
