"""Tests for tutorial_lib.families.midi_synth: guidance, segment stitching, the note-following
measures, training and the reference model (the NoteDecoder network is tested in
test_note_decoder.py, MelFrames in test_mel.py, cosine_log_snr in test_schedules.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tutorial_lib as tl
from tutorial_lib import checkpoints as ck
from tutorial_lib import tokens as tk
from tutorial_lib.families import midi_synth as fam
from tutorial_lib.models.note_decoder import NoteDecoder


def _have(name: str) -> bool:
    try:
        return ck.reference(name).path.is_file()
    except ValueError:
        return False


@pytest.fixture(scope="module")
def clips():
    ds = fam.dataset(6, "test")
    return ds, fam.features(ds), [fam.notes_of(ds, i) for i in range(len(ds))]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = {**fam.CONFIG, "dim": 32, "ff": 64, "enc_layers": 1, "ctx_layers": 1, "dec_layers": 1}
    return NoteDecoder(**cfg).eval()


# ------------------------------------------------------------------------------ the network


def test_the_shipped_config_reads_the_roll_and_the_originals_does_not():
    """CONFIG: sequence positions (as the original) plus the piano roll of the tokens, decoded
    with the family's vocabulary; ATTENTION_ONLY_CONFIG: the original's conditioning."""
    import dataclasses

    assert fam.CONFIG["time_tokens"] is None
    assert fam.CONFIG["roll"] == dataclasses.asdict(fam.VOCAB)
    assert fam.ATTENTION_ONLY_CONFIG == {**fam.CONFIG, "roll": None}
    assert fam.CONFIG["frames"] == fam.FRAMES and fam.CONFIG["vocab_size"] == fam.VOCAB.size
    assert fam.PREDICTION == "x0" and fam.train_settings("book")["prediction"] == "x0"


def test_training_batches_carry_the_rolls_of_their_tokens(clips):
    _, feats, notes = clips
    batch = fam._Batches(feats, notes, 4, 0.0, roll=True)(0)
    net = fam.build()
    torch.testing.assert_close(batch["roll"], net.roll_of(batch["tokens"]))
    assert "roll" not in fam._Batches(feats, notes, 4, 0.0)(0)


def _hand_ddim(net, toks, ctx, noise, w, steps=4, prediction="x0"):
    """The DDIM loop written out: out = u + w (c - u), w = 1 calls only the conditional;
    the network predicts x0 (the family's default) or eps."""
    times = torch.linspace(1, 0, steps + 1)
    lam = tl.schedules.cosine_log_snr(times).float()
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


def test_guidance_one_is_plain_conditional_and_zero_unconditional(tiny, clips):
    _, feats, notes = clips
    toks, ctx = fam.segment_batch(notes[:2], [0, 0]), feats[:2, :64]
    noise = torch.randn(2, 64, 128)
    one = fam.sample_segment(tiny, toks, ctx, steps=4, guidance=1.0, noise=noise, sampler="ddim")
    torch.testing.assert_close(one, _hand_ddim(tiny, toks, ctx, noise, 1.0))
    three = fam.sample_segment(tiny, toks, ctx, steps=4, guidance=3.0, noise=noise, sampler="ddim")
    torch.testing.assert_close(three, _hand_ddim(tiny, toks, ctx, noise, 3.0))
    eps = fam.sample_segment(tiny, toks, ctx, steps=4, guidance=3.0, noise=noise, sampler="ddim",
                             prediction="eps")  # fmt: skip
    torch.testing.assert_close(eps, _hand_ddim(tiny, toks, ctx, noise, 3.0, prediction="eps"))
    assert not torch.allclose(three, one)
    zero = fam.sample_segment(tiny, toks, ctx, steps=4, guidance=0.0, noise=noise, sampler="ddim")
    uncond = fam.sample_segment(tiny, None, None, steps=4, noise=noise, sampler="ddim")
    torch.testing.assert_close(zero, uncond)
    anc = fam.sample_segment(tiny, toks, ctx, steps=4, sampler="ancestral", noise=noise)
    assert anc.shape == one.shape and anc.abs().max() <= 1
    with pytest.raises(ValueError, match="guidance"):
        fam.sample_segment(tiny, toks, ctx, guidance=-1.0, noise=noise)
    with pytest.raises(ValueError, match="sampler"):
        fam.sample_segment(tiny, toks, ctx, sampler="euler", noise=noise)


class _Spy(torch.nn.Module):
    """Wraps a NoteDecoder and records the context of every encode call."""

    def __init__(self, net):
        super().__init__()
        self.net, self.contexts = net, []
        self.n_mels, self.dim, self.has_context = net.n_mels, net.dim, True

    def encode(self, tokens, context, b, device):
        self.contexts.append(context.clone())
        return self.net.encode(tokens, context, b, device)

    def forward(self, *args, **kwargs):
        return self.net(*args, **kwargs)


def test_segments_are_stitched_and_each_sees_the_one_before(tiny, clips):
    _, feats, notes = clips
    spy = _Spy(tiny)
    out = fam.generate(notes[:2], model=spy, steps=2, seconds=3.0)
    assert out.shape == (2, 150, 128)  # 3 s: two whole segments and a part of a third
    assert len(spy.contexts) == 3
    assert (spy.contexts[0] == -1).all()  # the first segment follows silence
    torch.testing.assert_close(spy.contexts[1], out[:, :64])
    torch.testing.assert_close(spy.contexts[2], out[:, 64:128])
    spy.contexts.clear()
    fam.generate(notes[:2], model=spy, steps=2, seconds=3.0, context="truth", truth=feats[:2, :150])
    torch.testing.assert_close(spy.contexts[1], feats[:2, :64])
    spy.contexts.clear()
    fam.generate(notes[:2], model=spy, steps=2, seconds=3.0, context="silence")
    assert all((c == -1).all() for c in spy.contexts)
    with pytest.raises(ValueError, match="truth"):
        fam.generate(notes[:2], model=spy, steps=2, context="truth")
    with pytest.raises(TypeError, match="list of note arrays"):
        fam.generate(notes[0], model=spy, steps=2)


# ------------------------------------------------------------------------------ measures


def test_measures_reach_their_ceiling_on_truth_and_fall_for_shuffled_notes(clips):
    _, feats, notes = clips
    assert fam.retrieval_accuracy(feats, feats) == 1.0
    assert fam.retrieval_accuracy(feats, feats.roll(1, 0)) == 0.0
    truth = fam.scores(feats, feats, notes)
    assert truth["mel_l1"] == 0 and truth["retrieval"] == 1
    shuffled = [notes[(i + 1) % len(notes)] for i in range(len(notes))]
    # the trackers, validated on the ground truth: far better with the right notes
    assert truth["onset_f1"] > 0.6 and truth["pitch_accuracy"] > 0.5
    assert fam.onset_f1(feats, shuffled) < truth["onset_f1"] - 0.2
    assert fam.pitch_accuracy(feats, shuffled) < truth["pitch_accuracy"] - 0.1
    # transposed notes against untransposed audio score worse than the right notes
    up5 = [tk.transpose(n, 5) for n in notes]
    assert fam.pitch_accuracy(feats, up5) < truth["pitch_accuracy"] - 0.1
    with pytest.raises(ValueError, match="equal shapes"):
        fam.retrieval_accuracy(feats, feats[:2])


def test_pitch_chance_is_the_score_of_a_random_class(clips):
    """pitch_chance = the mean share of sounding classes; a tracker that picks a random class
    per frame scores it on average (checked by simulation on the same notes)."""
    _, feats, notes = clips
    frames = feats.shape[1]
    chance = fam.pitch_chance(notes, frames)
    assert 0 < chance < 1
    rng = np.random.default_rng(0)
    hits = total = 0
    for n in notes:
        for classes in fam._pitch_classes(n, frames):
            if classes:
                picks = rng.integers(0, 12, size=200)
                hits += int(np.isin(picks, list(classes)).sum())
                total += 200
    assert abs(hits / total - chance) < 0.02
    # the real frames score far above it (the tracker works), the pitch classes matter
    assert fam.pitch_accuracy(feats, notes) > chance + 0.2
    with pytest.raises(ValueError, match="notes"):
        fam.pitch_chance([], frames)


def test_training_batches_and_loss(clips):
    ds, feats, notes = clips
    batches = fam._Batches(feats, notes, 5, p_drop=0.5)
    torch.manual_seed(0)
    b = batches(0)
    assert b["x"].shape == b["context"].shape == (5, 64, 128)
    assert (
        b["tokens"].dtype == torch.long
        and b["tokens"].shape[0] == 5
        and b["drop"].dtype == torch.bool
    )
    net = fam.build(
        {**fam.CONFIG, "dim": 32, "ff": 64, "enc_layers": 1, "ctx_layers": 1, "dec_layers": 1}
    )
    loss = fam.loss(net, b)
    assert loss.ndim == 0 and torch.isfinite(loss)
    # the context of a segment starting at frame 0 is silence; at frame 64 the real frames
    torch.testing.assert_close(batches.padded[0, 64:128], feats[0, :64].float())
    assert (batches.padded[:, :64] == -1).all()


def test_recipe_in_fast_mode_writes_both_checkpoints(tmp_path):
    path = fam.train("fast", tmp_path)
    assert path.name == "midi-synth.safetensors"
    for name in fam.CHECKPOINTS:
        state, config, meta = ck.load(tmp_path / f"{name}.safetensors")
        assert meta["recipe"] == "midi-synth"
        assert config["ctx_layers"] == (0 if name.endswith("nocontext") else 2)


@pytest.mark.skipif(not _have("midi-synth"), reason="reference model not shipped")
def test_reference_follows_the_notes_and_the_registry_samples_it():
    a, sr = tl.registry.sample("midi-synth", 2, steps=3, seed=1)
    assert sr == fam.SR and a.shape == (2, 1, fam.LENGTH)
    # the numbers chapter 6 prints, written by benchmarks/bench_midi_synth.py
    m = ck.reference("midi-synth").metric
    for key in ("model", "ceiling", "shuffled", "guidance", "steps", "context_masked",
                "no_context", "transposed", "parameters", "train_s_per_step", "batch",
                "segment_s", "n_clips"):  # fmt: skip
        assert key in m, key
    # the chapter's claims: the notes matter (shuffled falls to chance), the trackers'
    # ceiling is above the model
    assert m["model"]["retrieval"] > 2 * m["shuffled"]["retrieval"]
    assert m["model"]["mel_l1"] < m["shuffled"]["mel_l1"]
    assert m["ceiling"]["onset_f1"] >= m["model"]["onset_f1"]


def test_baseline_script_trains_the_attention_only_model(tmp_path):
    """scripts/train_midi_synth_baseline.py: the recipe (fast mode) with the original's
    conditioning, written as safetensors with its config (no roll input)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "base.safetensors"
    subprocess.run([sys.executable, str(root / "scripts" / "train_midi_synth_baseline.py"),
                    "--mode", "fast", "--out", str(out)], check=True, capture_output=True)  # fmt: skip
    _, config, meta = tl.checkpoints.load(out)
    assert config == fam.ATTENTION_ONLY_CONFIG and meta["variant"] == "attention-only"
    bad = subprocess.run([sys.executable, str(root / "scripts" / "train_midi_synth_baseline.py"),
                          "--out", str(tmp_path / "x.pt")], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0 and "--out: expected a .safetensors file" in bad.stderr
