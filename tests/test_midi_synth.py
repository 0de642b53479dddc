"""Tests for tutorial_lib.families.midi_synth: the wiring (segment stitching, the batches and
loss, the scores on the family's frame grid), training and the reference model (the
NoteDecoder network is tested in test_note_decoder.py, MelFrames in test_mel.py, the segment
sampler in test_samplers_segment.py, guidance in test_samplers_guidance.py, the loss in
test_objectives.py, the note-following measures in test_note_metrics.py)."""

from __future__ import annotations

import pytest
import torch

import tutorial_lib as tl
from tutorial_lib import checkpoints as ck
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


class _Spy(torch.nn.Module):
    """Wraps a NoteDecoder and records the context of every encode call."""

    def __init__(self, net):
        super().__init__()
        self.net, self.contexts = net, []
        self.n_mels, self.dim, self.has_context = net.n_mels, net.dim, True
        self.frames = net.frames

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


def test_the_family_scores_on_its_frame_grid(clips):
    """scores = tl.note_metrics.scores with the family's MelFrames and segment length."""
    _, feats, notes = clips
    noisy = feats + 0.1 * torch.randn(feats.shape, generator=torch.Generator().manual_seed(0))
    noisy = noisy.clamp(-1, 1)
    got = fam.scores(noisy, feats, notes)
    want = tl.note_metrics.scores(noisy, feats, notes, mel=fam.mel_frames(), segment=fam.FRAMES)
    assert got == want
    assert fam.mel_frames().hop_length == fam.HOP and fam.mel_frames().sample_rate == fam.SR


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
    # the family's loss is tl.objectives.continuous_loss with the batch as the conditions
    torch.manual_seed(1)
    mine = fam.loss(net, b, prediction="eps", norm="l2")
    torch.manual_seed(1)
    cond = {"tokens": b["tokens"], "context": b["context"], "drop": b["drop"], "roll": None}
    lib = tl.objectives.continuous_loss(net, b["x"], prediction="eps", norm="l2", cond=cond)
    assert torch.equal(mine, lib)
    # the context of a segment starting at frame 0 is silence; at frame 64 the real frames
    torch.testing.assert_close(batches.padded[0, 64:128], feats[0, :64].float())
    assert (batches.padded[:, :64] == -1).all()


def test_public_batches_are_the_recipes_and_refuse_bad_input(clips):
    """fam.batches (chapter 6 trains its short run with it) is the recipe's batch function:
    the same segments, tokens, drops and rolls for the same global seed; wrong input names
    the argument."""
    _, feats, notes = clips
    torch.manual_seed(3)
    got = fam.batches(feats, notes, 4)(0)
    torch.manual_seed(3)
    want = fam._Batches(feats, notes, 4, fam.P_DROP, roll=True)(0)
    assert got.keys() == want.keys() == {"x", "context", "tokens", "drop", "roll"}
    for key in want:
        assert torch.equal(got[key], want[key]), key
    assert "roll" not in fam.batches(feats, notes, 4, roll=False)(0)
    torch.manual_seed(0)
    assert fam.batches(feats, notes, 64, p_drop=1.0)(0)["drop"].all()
    with pytest.raises(ValueError, match="feats"):
        fam.batches(feats[:, : fam.FRAMES - 1], notes, 4)
    with pytest.raises(ValueError, match="notes"):
        fam.batches(feats, notes[:-1], 4)
    with pytest.raises(ValueError, match="batch"):
        fam.batches(feats, notes, 0)
    with pytest.raises(ValueError, match="p_drop"):
        fam.batches(feats, notes, 4, p_drop=1.5)


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
