"""Chapter 6's library code: MelFrames, the cosine log-SNR schedule, the NoteDecoder, guidance,
segment stitching, the note-following measures, and the midi_synth family."""

from __future__ import annotations

import math

import librosa
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


# ------------------------------------------------------------------------------ features


def test_mel_frames_match_librosa_and_the_originals_scaling():
    mf = tl.mel.MelFrames()
    assert mf.frames_per_second == 50 and mf.filters.shape == (128, 513)
    x = 0.3 * torch.sin(2 * math.pi * 440 * torch.arange(16000) / 16000)[None]
    S = np.abs(librosa.stft(x[0].numpy(), n_fft=1024, hop_length=320, win_length=640,
                            center=True, pad_mode="constant"))  # fmt: skip
    ref = librosa.feature.melspectrogram(S=S, sr=16000, n_mels=128, fmin=0, fmax=8000,
                                         htk=True, norm=None, power=1.0)  # fmt: skip
    ours = mf.magnitudes(x)[0].numpy()
    assert ours.shape == (50, 128)  # the last centred frame dropped: frames tile the clip
    np.testing.assert_allclose(ours, ref[:, :50].T, rtol=1e-4, atol=1e-3)
    f = mf(x)
    lo = math.log(1e-5)
    expected = np.clip((np.log(np.maximum(ours, 1e-5)) - lo) / (4.0 - lo) * 2 - 1, -1, 1)
    np.testing.assert_allclose(f[0].numpy(), expected, atol=1e-5)
    assert float(mf(torch.zeros(1, 3200)).max()) == -1.0  # silence is the floor
    np.testing.assert_allclose(mf.unscale(mf.scale(torch.tensor([1e-3, 1.0, 20.0]))),
                               [1e-3, 1.0, 20.0], rtol=1e-5)  # fmt: skip


def test_mel_frames_to_audio_and_bad_inputs():
    mf = tl.mel.MelFrames()
    ds = fam.dataset(2, "test")
    f = mf(ds.tensors())
    y = mf.to_audio(f, n_iter=16)
    assert y.shape == (2, f.shape[1] * 320)
    assert float((mf(y) - f).abs().mean()) < 0.05  # Griffin-Lim keeps the mel magnitudes
    with pytest.raises(ValueError, match=r"\(B, frames, 128\)"):
        mf.to_audio(torch.zeros(1, 10, 64))
    with pytest.raises(ValueError, match="mono clips"):
        mf(torch.zeros(2, 2, 3200))
    with pytest.raises(ValueError, match="fmax"):
        tl.mel.MelFrames(fmax=9000)


def test_griffin_lim_with_a_shorter_window_matches_librosa():
    y = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=320, win_length=640, pad_mode="constant"))
    ref = librosa.griffinlim(S, n_iter=8, hop_length=320, win_length=640, n_fft=1024,
                             init=None, length=8000, pad_mode="constant")  # fmt: skip
    ours = tl.audio.griffin_lim(torch.from_numpy(S)[None], n_fft=1024, hop_length=320,
                                win_length=640, length=8000, n_iter=8, seed=None)[0]  # fmt: skip
    np.testing.assert_allclose(ours.numpy(), ref, atol=2e-3)
    with pytest.raises(ValueError, match=r"\(B, 513, frames\)"):
        tl.audio.griffin_lim(torch.zeros(1, 100, 4), n_fft=1024, hop_length=320, length=100)


def test_cosine_log_snr_is_the_cosine_schedule_within_its_limits():
    t = torch.linspace(0.02, 0.98, 25, dtype=torch.float64)
    lam = tl.schedules.cosine_log_snr(t, log_snr_min=-700, log_snr_max=700)
    torch.testing.assert_close(lam, tl.schedules.log_snr(torch.cos(math.pi * t / 2) ** 2))
    ends = tl.schedules.cosine_log_snr(torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(ends, torch.tensor([20.0, -20.0], dtype=torch.float64))
    assert (tl.schedules.cosine_log_snr(t).diff() < 0).all()
    with pytest.raises(ValueError, match="times"):
        tl.schedules.cosine_log_snr(torch.tensor([1.5]))
    with pytest.raises(ValueError, match="min < max"):
        tl.schedules.cosine_log_snr(t, log_snr_min=5, log_snr_max=1)


# ------------------------------------------------------------------------------ the network


def test_note_decoder_shapes_and_bad_inputs(tiny, clips):
    _, feats, notes = clips
    toks = fam.segment_batch(notes[:3], [0, 10, 64])
    ctx, x = feats[:3, :64], torch.randn(3, 64, 128)
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
    no_ctx = NoteDecoder(**{**fam.CONFIG, "dim": 32, "ff": 64, "enc_layers": 1, "ctx_layers": 0,
                            "dec_layers": 1}).eval()  # fmt: skip
    assert no_ctx(x, torch.rand(3), toks, None).shape == (3, 64, 128)
    assert not hasattr(no_ctx, "context_encoder")


def test_tokens_carry_their_event_time():
    """EVENT_TIME_CONFIG (the experiment) gives each token the time of its last shift; the
    shipped CONFIG (sequence positions only, as the original) has none."""
    small = {"dim": 32, "ff": 64, "enc_layers": 1, "ctx_layers": 1, "dec_layers": 1}
    timed = NoteDecoder(**{**fam.EVENT_TIME_CONFIG, **small}).eval()
    v = fam.VOCAB
    toks = torch.tensor([[v.token("program", 0), v.token("pitch", 60), v.token("tie"),
                          v.token("shift", 10), v.token("velocity", 3), v.token("pitch", 62),
                          v.token("shift", 33), v.token("pitch", 64), v.EOS, v.PAD]])  # fmt: skip
    times = timed.event_times(toks)[0].tolist()
    assert times == [0, 0, 0, 5, 5, 5, 16.5, 16.5, 16.5, 16.5]  # shift steps / 2 = frames
    plain = NoteDecoder(**{**fam.CONFIG, **small}).eval()
    assert plain.time_tokens is None and plain(torch.zeros(1, 64, 128), torch.rand(1), toks,
                                               torch.zeros(1, 64, 128)).shape == (1, 64, 128)  # fmt: skip


def test_dropping_the_conditions_is_the_unconditional_model(tiny, clips):
    _, feats, notes = clips
    toks = fam.segment_batch(notes[:4], [0, 0, 64, 64])
    ctx, x, t = feats[:4, :64], torch.randn(4, 64, 128), torch.rand(4)
    with torch.no_grad():
        dropped = tiny(x, t, toks, ctx, drop=torch.tensor([True, False, True, False]))
        uncond = tiny(x, t)  # tokens=None, context=None
        cond = tiny(x, t, toks, ctx)
    torch.testing.assert_close(dropped[[0, 2]], uncond[[0, 2]], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(dropped[[1, 3]], cond[[1, 3]])
    assert not torch.allclose(cond, uncond, atol=1e-3)  # the conditions do change the output


def _hand_ddim(net, toks, ctx, noise, w, steps=4):
    """The DDIM loop written out: eps = u + w (c - u), w = 1 calls only the conditional."""
    times = torch.linspace(1, 0, steps + 1)
    lam = tl.schedules.cosine_log_snr(times).float()
    a, s = torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()
    z = noise.clone()
    with torch.no_grad():
        for i in range(steps):
            tt = torch.full((len(z),), float(times[i]))
            eps = net(z, tt, toks, ctx)
            if w != 1:
                u = net(z, tt)
                eps = u + w * (eps - u)
            x0 = ((z - s[i] * eps) / a[i]).clamp(-1, 1)
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
