"""Tests for tutorial_lib.models.note_decoder: the NoteDecoder's shapes, its conditions (notes,
context, dropping both, padding, event times), no-grad inference and argument checks.

The tokens come from hand-written notes through ``tl.tokens`` (no dataset, no family)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tutorial_lib import tokens as tk
from tutorial_lib.models.note_decoder import NoteDecoder

#: midi_synth's vocabulary: 10 ms steps, 1.28 s segments (64 frames of 20 ms).
V = tk.Vocabulary(steps_per_second=100, segment_seconds=1.28, velocity_bins=16, max_tokens=256)
#: A tiny network at midi_synth's frame and token sizes.
SMALL = {"vocab_size": V.size, "n_mels": 128, "frames": 64, "dim": 32, "heads": 4, "ff": 64,
         "enc_layers": 1, "ctx_layers": 1, "dec_layers": 1}  # fmt: skip
#: A 3-s piece: a held piano chord, a melody, a bass note and drum hits (start, end, pitch,
#: velocity, program).
NOTES = tk.quantize(
    [[0.1, 2.2, 60, 100, 0], [0.1, 2.2, 64, 90, 0], [0.4, 0.6, 72, 80, 0],
     [0.7, 0.9, 74, 70, 0], [1.0, 1.9, 76, 60, 0], [0.2, 1.5, 36, 110, 33],
     [0.5, 0.51, 38, 120, tk.DRUM], [1.4, 1.41, 42, 90, tk.DRUM], [2.5, 2.9, 67, 50, 0]],
    V,
)  # fmt: skip


def segment_batch(starts_frames) -> torch.Tensor:
    """Tokens ``(B, L)`` of the segments starting at the given frames, zero-padded."""
    seqs = [tk.encode_segment(NOTES, f * 0.02, V, quantized=True) for f in starts_frames]
    out = torch.zeros(len(seqs), max(len(s) for s in seqs), dtype=torch.long)
    for k, s in enumerate(seqs):
        out[k, : len(s)] = torch.from_numpy(s)
    return out


def frames(b: int, seed: int = 0) -> torch.Tensor:
    """Mel frames in [-1, 1] ``(b, 64, 128)`` (the context, or noisy frames)."""
    return torch.rand(b, 64, 128, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return NoteDecoder(**SMALL).eval()


def test_note_decoder_shapes_and_bad_inputs(tiny):
    toks = segment_batch([0, 10, 64])
    ctx, x = frames(3), torch.randn(3, 64, 128)
    out = tiny(x, torch.rand(3), toks, ctx)
    assert out.shape == (3, 64, 128)
    with pytest.raises(ValueError, match="give both"):
        tiny(x, torch.rand(3), toks, None)
    with pytest.raises(ValueError, match="ids must be 0 to"):
        tiny(x, torch.rand(3), toks + 10_000, ctx)
    with pytest.raises(ValueError, match=r"context: expected \(B, 64, 128\)"):
        tiny(x, torch.rand(3), toks, ctx[:, :10])
    with pytest.raises(ValueError, match="noisy frames"):
        tiny(torch.randn(3, 64, 12), torch.rand(3), toks, ctx)
    no_ctx = NoteDecoder(**{**SMALL, "ctx_layers": 0}).eval()
    assert no_ctx(x, torch.rand(3), toks, None).shape == (3, 64, 128)
    assert not hasattr(no_ctx, "context_encoder")


def test_encode_gives_one_memory_row_per_token_and_context_frame(tiny):
    toks, ctx = segment_batch([0, 64]), frames(2)
    mem, mask = tiny.encode(toks, ctx, 2, "cpu")
    assert mem.shape == (2, toks.shape[1] + 64, 32) and mask.shape == (2, toks.shape[1] + 64)
    assert mask[:, : toks.shape[1]].equal(toks == 0) and not mask[:, toks.shape[1] :].any()
    empty, none = tiny.encode(None, None, 2, "cpu")  # unconditional: one zero row, no mask
    assert empty.shape == (2, 1, 32) and not empty.any() and none is None


def test_tokens_carry_their_event_time():
    """``time_tokens`` (the experiment) gives each token the time of its last shift; the
    default (sequence positions only, as the original) has none."""
    timed = NoteDecoder(**{**SMALL, "time_tokens": list(V.ranges["shift"])}).eval()
    toks = torch.tensor([[V.token("program", 0), V.token("pitch", 60), V.token("tie"),
                          V.token("shift", 10), V.token("velocity", 3), V.token("pitch", 62),
                          V.token("shift", 33), V.token("pitch", 64), V.EOS, V.PAD]])  # fmt: skip
    times = timed.event_times(toks)[0].tolist()
    assert times == [0, 0, 0, 5, 5, 5, 16.5, 16.5, 16.5, 16.5]  # shift steps / 2 = frames
    plain = NoteDecoder(**SMALL).eval()
    assert plain.time_tokens is None and plain(torch.zeros(1, 64, 128), torch.rand(1), toks,
                                               torch.zeros(1, 64, 128)).shape == (1, 64, 128)  # fmt: skip


def test_time_tokens_change_the_encoding_with_the_same_weights(tiny):
    """The event-time code is added to the tokens, no new weights: the same weights encode
    the same tokens differently, and the frames' context part is untouched."""
    timed = NoteDecoder(**{**SMALL, "time_tokens": list(V.ranges["shift"])}).eval()
    timed.load_state_dict(tiny.state_dict())  # strict: the same parameters
    toks, ctx = segment_batch([0, 64]), frames(2)
    with torch.no_grad():
        plain_mem, plain_mask = tiny.encode(toks, ctx, 2, "cpu")
        timed_mem, timed_mask = timed.encode(toks, ctx, 2, "cpu")
    n = toks.shape[1]
    assert torch.equal(plain_mask, timed_mask)
    assert (timed_mem[:, :n] - plain_mem[:, :n]).abs().amax() > 0.1
    torch.testing.assert_close(timed_mem[:, n:], plain_mem[:, n:])


def test_dropping_the_conditions_is_the_unconditional_model(tiny):
    toks = segment_batch([0, 0, 64, 64])
    ctx, x, t = frames(4), torch.randn(4, 64, 128), torch.rand(4)
    with torch.no_grad():
        dropped = tiny(x, t, toks, ctx, drop=torch.tensor([True, False, True, False]))
        uncond = tiny(x, t)  # tokens=None, context=None
        cond = tiny(x, t, toks, ctx)
    torch.testing.assert_close(dropped[[0, 2]], uncond[[0, 2]], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(dropped[[1, 3]], cond[[1, 3]])
    assert not torch.allclose(cond, uncond, atol=1e-3)  # the conditions do change the output


def test_padding_tokens_do_not_change_the_output(tiny):
    toks, ctx = segment_batch([0, 64]), frames(2)
    x, t = torch.randn(2, 64, 128), torch.rand(2)
    padded = torch.cat([toks, torch.zeros(2, 17, dtype=torch.long)], dim=1)
    with torch.no_grad():
        ref = tiny(x, t, toks, ctx)
        torch.testing.assert_close(tiny(x, t, padded, ctx), ref, atol=1e-5, rtol=1e-5)
        # the model without a context encoder (its memory is the tokens alone) as well
        no_ctx = NoteDecoder(**{**SMALL, "ctx_layers": 0}).eval()
        torch.testing.assert_close(
            no_ctx(x, t, padded, None), no_ctx(x, t, toks, None), atol=1e-5, rtol=1e-5
        )


def test_without_a_context_encoder_only_the_notes_condition():
    torch.manual_seed(0)
    net = NoteDecoder(**{**SMALL, "ctx_layers": 0}).eval()
    assert not net.has_context and not hasattr(net, "context_encoder")
    assert not any(name.startswith("context") for name, _ in net.named_parameters())
    toks, x, t = segment_batch([0, 10]), torch.randn(2, 64, 128), torch.rand(2)
    mem, mask = net.encode(toks, None, 2, "cpu")
    assert mem.shape[1] == mask.shape[1] == toks.shape[1]  # no context frames in the memory
    with torch.no_grad():  # a context, if given, is ignored
        torch.testing.assert_close(net(x, t, toks, frames(2)), net(x, t, toks, None))


def test_inference_without_gradients_matches_and_reuses_the_memory(tiny):
    toks, ctx = segment_batch([0, 10, 64]), frames(3)
    x, t = torch.randn(3, 64, 128), torch.rand(3)
    with_grad = tiny(x, t, toks, ctx)
    assert with_grad.requires_grad
    with torch.no_grad():
        out = tiny(x, t, toks, ctx)
        memory = tiny.encode(toks, ctx, 3, "cpu")
        reused = tiny(x, t, memory=memory)  # the samplers encode once per segment
        scalar_t = tiny(x, 0.5, toks, ctx)  # one time for the whole batch
    assert not out.requires_grad and torch.isfinite(out).all()
    torch.testing.assert_close(out, with_grad.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(reused, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scalar_t, tiny(x, torch.full((3,), 0.5), toks, ctx).detach())


def test_bad_arguments_are_named():
    net = NoteDecoder(**SMALL).eval()
    toks, ctx = segment_batch([0]), frames(1)
    with pytest.raises(ValueError, match=r"^x: expected noisy frames \(B, frames, 128\)"):
        net(torch.randn(64, 128), torch.rand(1), toks, ctx)  # no batch axis
    with pytest.raises(ValueError, match="^x: "):
        net(np.zeros((1, 64, 128), np.float32), torch.rand(1), toks, ctx)  # not a tensor
    with pytest.raises(ValueError, match=rf"^tokens: ids must be 0 to {V.size - 1}"):
        net(torch.randn(1, 64, 128), torch.rand(1), torch.tensor([[V.size]]), ctx)
    with pytest.raises(ValueError, match="^tokens: ids must be 0 to"):
        net(torch.randn(1, 64, 128), torch.rand(1), torch.tensor([[2, -1]]), ctx)
    with pytest.raises(ValueError, match=r"^tokens: expected int ids \(B, L\)"):
        net(torch.randn(1, 64, 128), torch.rand(1), toks.float(), ctx)
    with pytest.raises(ValueError, match="^heads: must divide dim=32, got 5"):
        NoteDecoder(**{**SMALL, "heads": 5})
    with pytest.raises(ValueError, match="ctx_layers"):
        NoteDecoder(**{**SMALL, "ctx_layers": -1})


def test_roll_input_is_the_tokens_piano_roll_and_is_dropped_with_the_notes():
    import dataclasses

    torch.manual_seed(0)
    net = NoteDecoder(**SMALL, roll=dataclasses.asdict(V)).eval()
    toks, ctx, x, t = segment_batch([0, 40]), frames(2), torch.randn(2, 64, 128), torch.rand(2)
    rolls = torch.from_numpy(np.stack([tk.roll(r, 64, V) for r in toks.numpy()]))
    torch.testing.assert_close(net.roll_of(toks), rolls)
    with torch.no_grad():
        out = net(x, t, toks, ctx)
        torch.testing.assert_close(net(x, t, toks, ctx, roll=rolls), out)  # given = computed
        assert not torch.allclose(net(x, t, toks, ctx, roll=torch.zeros_like(rolls)), out)
        dropped = net(x, t, toks, ctx, drop=torch.tensor([True, False]))
        torch.testing.assert_close(dropped[0], net(x[:1], t[:1])[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(dropped[1], out[1])
    with pytest.raises(ValueError, match=r"roll: expected \(B, 64, 384\)"):
        net(x, t, toks, ctx, roll=rolls[:, :10])
    with pytest.raises(ValueError, match="no roll input"):
        NoteDecoder(**SMALL).roll_of(toks)
    with pytest.raises(TypeError, match="roll: expected None or the Vocabulary"):
        NoteDecoder(**SMALL, roll=V)
