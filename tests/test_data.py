"""Tests for tutorial_lib.data: generated datasets, cache, splits, fallback and AudioFolder."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

import tutorial_lib as tl
from tutorial_lib.data import synth


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TUTORIAL_NO_FLUIDSYNTH", raising=False)


def _f0(x: np.ndarray, sr: int) -> float:
    """Fundamental frequency by autocorrelation (independent of the generators)."""
    x = x[: sr // 2] - x[: sr // 2].mean()
    ac = np.correlate(x, x, mode="full")[len(x) - 1 :]
    lo, hi = int(sr / 2000), int(sr / 30)
    lag = lo + int(np.argmax(ac[lo:hi]))
    # parabolic interpolation of the peak
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    lag = lag + 0.5 * (a - c) / (a - 2 * b + c)
    return sr / lag


# -- drums ---------------------------------------------------------------------------------
def test_drums_items_shapes_labels_and_loader():
    ds = tl.data.drums(21, length=4096)
    assert len(ds) == 21 and ds.sr == 16000 and ds.classes == list(tl.data.DRUM_CLASSES)
    item = ds[0]
    assert item["audio"].shape == (1, 4096) and item["audio"].dtype == torch.float32
    assert isinstance(item["label"], int) and item["class_name"] == ds.classes[item["label"]]
    x = ds.tensors()
    assert x.shape == (21, 1, 4096)
    assert float(x.abs().max()) <= 1.0 and float(x.abs().amax(-1).min()) > 0.3  # gain -6..-0.5 dB
    assert np.bincount(ds.labels).tolist() == [3] * 7  # balanced
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=5)))
    assert batch["audio"].shape == (5, 1, 4096) and batch["label"].shape == (5,)
    assert set(batch["source"]) <= {"soundfont", "parametric"}


def test_drums_deterministic_prefix_and_cached(tmp_path):
    a = tl.data.drums(12, length=2048, cache=False)
    b = tl.data.drums(12, length=2048)
    assert torch.equal(a.tensors(), b.tensors())
    assert b.cache_path is not None and (b.cache_path / "audio.npy").is_file()
    assert b.cache_path.is_relative_to(tmp_path / "cache")
    c = tl.data.drums(12, length=2048)  # from the cache
    assert c.cache_path == b.cache_path and torch.equal(b.tensors(), c.tensors())
    tl.data.notes(5, families=["organ"], cache=False)  # other rendering in between...
    again = tl.data.drums(12, length=2048, cache=False)  # ...changes nothing
    assert torch.equal(again.tensors(), a.tensors())
    longer = tl.data.drums(20, length=2048, cache=False)
    assert torch.allclose(longer.tensors()[:12], a.tensors(), atol=1 / 32767)
    other = tl.data.drums(12, length=2048, seed=1, cache=False)
    assert not torch.equal(other.tensors(), a.tensors())
    assert not list(tmp_path.rglob("*.tmp"))


def test_drums_splits_do_not_share_clips():
    train = tl.data.drums(28, length=2048, cache=False).tensors().reshape(28, -1)
    test = tl.data.drums(28, split="test", length=2048, cache=False).tensors().reshape(28, -1)
    d = torch.cdist(train, test)
    assert float(d.min()) > 0.1


def test_drums_stereo_tiny_audio_diffusion_format():
    ds = tl.data.drums(7, **tl.data.TINY_AUDIO_DIFFUSION)
    assert ds.sr == 44100 and ds.tensors().shape == (7, 2, 32768)


def test_drums_use_the_soundfont_renderer_and_record_it():
    # make installs tinysoundfont (requirements-nodeps.txt): the real instruments are a promise
    ok, reason = synth.soundfont_available()
    assert ok, f"the SoundFont renderer should be installed by make: {reason}"
    ds = tl.data.drums(20, length=2048, parametric_fraction=0.0)
    assert ds.backend == "soundfont" and {m["source"] for m in ds.meta} == {"soundfont"}
    assert ds.renderer == synth.renderer_id() and ds.renderer.startswith("tinysoundfont-0.3.7+")
    assert "TimGM6mb.sf2" in ds.renderer and "renderer=" in repr(ds)
    assert {m["kit"] for m in ds.meta} <= set(tl.data.DRUM_KITS.values())
    assert float(ds.tensors().abs().amax(-1).min()) > 0.3  # no silent hit (a kit missing a note)


def test_two_renderers_never_share_a_cache_entry(monkeypatch):
    a = tl.data.drums(6, length=2048)
    monkeypatch.setattr(synth, "renderer_id", lambda: "tinysoundfont-9.9.9+other.sf2:1")
    b = tl.data.drums(6, length=2048)
    assert b.renderer == "tinysoundfont-9.9.9+other.sf2:1"
    assert a.cache_path != b.cache_path
    monkeypatch.setenv("TUTORIAL_NO_SOUNDFONT", "1")
    with pytest.warns(tl.data.SoundFontMissingWarning):
        c = tl.data.drums(6, length=2048)
    assert c.renderer == "parametric" and c.cache_path not in (a.cache_path, b.cache_path)


def test_soundfont_notes_are_in_tune_and_independent_of_history():
    r = synth.renderer(16000)
    a4 = r.note(0, 69, 100, hold=8000, length=16000).mean(0)  # piano, A4
    spectrum = np.abs(np.fft.rfft(a4[2000:10000] * np.hanning(8000)))
    f_peak = np.argmax(spectrum) * 16000 / 8000
    assert abs(f_peak - 440.0) <= 4.0, f_peak  # the fundamental, within a bin
    first = r.note(0, 36, 100, hold=512, length=4096, drum=True)
    r.note(24, 60, 127, hold=4000, length=8000)  # something else in between
    again = r.note(0, 36, 100, hold=512, length=4096, drum=True)
    assert np.array_equal(first, again) and float(np.abs(first).max()) > 0.05
    ev = r.events([(0, "on", 0, 60, 100), (1024, "off", 0, 60, 0)], 4096, {0: 0})
    assert ev.shape == (2, 4096) and ev.dtype == np.float32
    assert np.allclose(ev, r.note(0, 60, 100, hold=1024, length=4096), atol=1e-6)
    with pytest.raises(ValueError, match="sr"):
        synth.renderer(4000)


def test_fallback_is_announced_never_silent(monkeypatch):
    monkeypatch.setenv("TUTORIAL_NO_SOUNDFONT", "1")
    with pytest.warns(tl.data.SoundFontMissingWarning, match="pip install --no-deps tinysoundfont"):
        ds = tl.data.drums(7, length=2048)
    assert ds.backend == "parametric"
    with pytest.raises(RuntimeError, match="pip install --no-deps tinysoundfont"):
        tl.data.drums(7, length=2048, backend="soundfont")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asking for parametric explicitly: no warning
        tl.data.notes(3, families=["guitar"], backend="parametric")


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="split"):
        tl.data.drums(4, split="training")
    with pytest.raises(ValueError, match="classes"):
        tl.data.drums(4, classes=["kik"])
    with pytest.raises(ValueError, match="channels"):
        tl.data.drums(4, channels=3)
    with pytest.raises(ValueError, match="name"):
        tl.data.load("drumz")


def test_pitch_shift_against_fft():
    sr = 16000
    x = np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    y = synth.pitch_shift(x, 12.0, sr // 2)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert abs(np.argmax(spectrum) * sr / len(y) - 880) < 4


# -- notes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["auto", "parametric"])
def test_notes_have_the_labelled_pitch(backend):
    ds = tl.data.notes(6, families=["guitar", "string", "reed"], pitch_range=(48, 72),
                       label_by="pitch", backend=backend)  # fmt: skip
    assert ds.tensors().shape == (6, 1, 16000)
    for i in range(len(ds)):
        item = ds[i]
        assert item["label"] == item["pitch"] and ds.classes[item["pitch"]] == item["class_name"]
        f0 = _f0(item["audio"][0].numpy().astype(np.float64), ds.sr)
        expected = 440 * 2 ** ((item["pitch"] - 69) / 12)
        cents = 1200 * np.log2(f0 / expected)
        assert abs(cents) < 50 or abs(abs(cents) - 1200) < 50, (item, f0, expected)


def test_notes_splits_partition_the_pool():
    kw = dict(families=["guitar"], pitch_range=(50, 55), velocities=(64, 127), backend="parametric")
    keys = {}
    for split in tl.data.SPLITS:
        ds = tl.data.notes(split=split, **kw)
        keys[split] = {(m["instrument"], m["pitch"], m["velocity"]) for m in ds.meta}
    total = 7 * 6 * 2
    assert sum(len(k) for k in keys.values()) == total
    assert not (keys["train"] & keys["validation"]) and not (keys["train"] & keys["test"])
    assert len(keys["train"]) > len(keys["test"])
    with pytest.raises(ValueError, match="n <="):
        tl.data.notes(1000, split="test", **kw)


def test_notes_framings_and_labels():
    ds = tl.data.notes(
        2, families=["keyboard"], framing="nsynth", label_by="instrument", backend="parametric"
    )
    assert ds.tensors().shape == (2, 1, 64000)
    assert ds.classes == list(tl.data.INSTRUMENTS["keyboard"].values())
    assert ds[0]["family_name"] == "keyboard"


# -- midi ----------------------------------------------------------------------------------
def test_midi_notes_are_aligned_with_the_audio(tmp_path):
    import librosa
    import pretty_midi

    ds = tl.data.midi(4, seconds=2.0)
    item = ds[0]
    assert item["audio"].shape == (1, 32000)
    notes = item["notes"]
    assert notes.ndim == 2 and notes.shape[1] == 5 and len(notes) > 5
    assert float(notes[:, 0].min()) >= 0 and float(notes[:, 1].max()) <= 2.0
    assert np.allclose((notes[:, 0].numpy() * ds.sr) % 64, 0, atol=1e-3)  # on the block grid
    # independent check: detected onsets fall on note starts
    y = item["audio"][0].numpy()
    onsets = librosa.onset.onset_detect(y=y, sr=ds.sr, units="time", hop_length=128)
    starts = np.unique(notes[:, 0].numpy())
    near = [np.min(np.abs(starts - t)) < 0.05 for t in onsets]  # detectors peak ~20-30 ms late
    assert len(onsets) >= 3 and np.mean(near) > 0.7
    # round trip through a MIDI file
    path = ds.save_midi(0, tmp_path / "clip.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    assert sum(len(inst.notes) for inst in pm.instruments) == len(notes)
    batch = tl.data.collate([ds[0], ds[1]])
    assert batch["audio"].shape == (2, 1, 32000) and isinstance(batch["notes"], list)


# -- AudioFolder ---------------------------------------------------------------------------
def test_audio_folder_reads_resamples_and_reports_bad_files(tmp_path):
    root = tmp_path / "mine"
    (root / "kick").mkdir(parents=True)
    (root / "snare").mkdir()
    t = np.arange(22050) / 22050
    sf.write(root / "kick" / "a.wav", 0.5 * np.sin(2 * np.pi * 100 * t), 22050)
    sf.write(root / "kick" / "b.flac", 0.5 * np.stack([np.sin(2 * np.pi * 90 * t)] * 2, 1), 22050)
    sf.write(root / "snare" / "c.ogg", 0.3 * np.random.default_rng(0).standard_normal(8000), 8000)
    (root / "snare" / "broken.wav").write_bytes(b"RIFF not really a wav")
    (root / "notes.txt").write_text("ignored")
    with pytest.warns(tl.data.UnreadableAudioWarning, match="broken.wav"):
        ds = tl.data.AudioFolder(root, sr=16000, length=8000, channels=2)
    assert len(ds) == 3 and len(ds.skipped) == 1 and "broken.wav" in ds.skipped[0][0]
    assert ds.classes == ["kick", "snare"] and ds.labels.tolist() == [0, 0, 1]
    assert ds.tensors().shape == (3, 2, 8000)
    # resampled: 100 Hz stays 100 Hz at 16 kHz
    assert abs(_f0(ds[0]["audio"][0].numpy().astype(np.float64), 16000) - 100) < 2
    with pytest.warns(tl.data.UnreadableAudioWarning, match="skipped 1 of 3"):
        var = tl.data.AudioFolder(root, sr=16000, channels=1, extensions=(".wav", ".flac"))
    assert [c.shape[-1] for c in var._clips] == [16000, 16000]
    with pytest.raises(FileNotFoundError, match="root"):
        tl.data.AudioFolder(tmp_path / "nope")


def test_audio_folder_splits_partition_files(tmp_path):
    for i in range(30):
        sf.write(tmp_path / f"{i}.wav", np.zeros(600) + 0.1, 16000)
    parts = []
    for split in tl.data.SPLITS:
        try:
            parts.append({str(p) for p in tl.data.AudioFolder(tmp_path, split=split).paths})
        except FileNotFoundError:
            parts.append(set())
    assert sum(len(p) for p in parts) == 30 and len(set().union(*parts)) == 30


def test_rendering_is_the_same_for_any_number_of_workers(monkeypatch):
    """Full mode renders datasets in worker processes: clip i depends on (seed, split, i)
    alone, so 1 and 3 workers give the same audio and metadata, in order."""
    import numpy as np

    from tutorial_lib import data

    out = {}
    for workers in ("1", "3"):
        monkeypatch.setenv("TUTORIAL_WORKERS", workers)
        d = data.drums(70, split="test", sr=8000, length=1024, seed=5, cache=False)
        m = data.midi(64, split="test", sr=8000, seconds=0.5, seed=5, cache=False)
        out[workers] = (d.tensors().numpy(), d.meta, m.tensors().numpy(), m.meta)
    a, b = out["1"], out["3"]
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    assert np.array_equal(a[2], b[2]) and len(a[3]) == len(b[3])
    assert all(str(x) == str(y) for x, y in zip(a[3], b[3], strict=True))
