"""Tests for tutorial_lib.mel: the seed's Mel contract, byte-identical to diffusers' Mel; and
MelFrames, chapter 6's log-mel frames (against librosa)."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import torch
from reference_impl import reference

import tutorial_lib as tl
from tutorial_lib.mel import Mel

PARAMS = [
    dict(x_res=64, y_res=64, sample_rate=16000, n_fft=1024, hop_length=256, top_db=80),
    dict(x_res=32, y_res=48, sample_rate=22050, n_fft=2048, hop_length=512, top_db=60),
    dict(x_res=40, y_res=80, sample_rate=16000, n_fft=512, hop_length=128, top_db=100),
]


def _audio(sr: int, seconds: float = 3.0) -> np.ndarray:
    """Real instrument sound: drum hits and notes of the book's datasets, end to end."""
    n = int(sr * seconds)
    drums = tl.data.drums(4, sr=sr, length=n // 4, progress=False).tensors()[:, 0].reshape(-1)
    return np.resize(drums.numpy().astype(np.float64), n)


def _reference(params: dict):
    mel_module = reference("diffusers.pipelines.deprecated.audio_diffusion.mel")
    return mel_module.Mel(**params, n_iter=8)


@pytest.mark.parametrize("params", PARAMS)
def test_images_are_byte_identical_to_diffusers(params):
    ref = _reference(params)
    mine = Mel(**params, n_iter=8)
    audio = _audio(params["sample_rate"])
    ref.load_audio(raw_audio=audio)
    mine.load_audio(raw_audio=audio)
    assert mine.slice_size == ref.slice_size == params["x_res"] * params["hop_length"] - 1
    assert mine.get_number_of_slices() == ref.get_number_of_slices() >= 2
    loud = [k for k in range(mine.get_number_of_slices()) if np.any(mine.get_audio_slice(k))]
    assert len(loud) >= 2
    for k in loud:  # (a silent slice has no loudest bin: ours refuses it, tested below)
        want = np.asarray(ref.audio_slice_to_image(k))
        got = mine.audio_slice_to_image(k)
        assert got.dtype == np.uint8 and got.shape == (params["y_res"], params["x_res"])
        assert got.tobytes() == want.tobytes(), f"slice {k}"


def test_audio_from_an_image_matches_diffusers_with_the_same_random_start(monkeypatch):
    """The seed's Griffin-Lim draws its start from a fresh, unseeded NumPy generator (librosa's
    ``random_state=None``), so it differs on every call; ours is seeded. Given the same start
    they agree, and ours repeats itself."""
    params = PARAMS[0]
    ref, mine = _reference(params), Mel(**params, n_iter=8, seed=5)
    audio = _audio(params["sample_rate"])
    mine.load_audio(raw_audio=audio)
    image = mine.audio_slice_to_image(0)
    from PIL import Image

    monkeypatch.setattr(np.random, "default_rng", lambda *a, **k: np.random.RandomState(5))
    want = ref.image_to_audio(Image.fromarray(image))
    monkeypatch.undo()
    got = mine.image_to_audio(image)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got, mine.image_to_audio(image))  # reproducible
    assert got.dtype == np.float32 and got.shape == ((params["x_res"] - 1) * params["hop_length"],)


def test_the_true_phase_beats_griffin_lim():
    """With the slice's own phase, only the mel and 8-bit losses remain: the round trip is
    closer to the input than Griffin-Lim's (spectral convergence, tl.metrics)."""
    import librosa
    import torch

    mel = Mel(**PARAMS[0], n_iter=16)
    mel.load_audio(raw_audio=_audio(16000))
    y = mel.get_audio_slice(1)
    image = mel.audio_slice_to_image(1)
    phase = np.angle(librosa.stft(y, n_fft=mel.n_fft, hop_length=mel.hop_length))
    with_phase = mel.image_to_audio(image, phase=phase)
    guessed = mel.image_to_audio(image)
    n = min(len(with_phase), len(guessed))

    def sc(x):
        ref = torch.from_numpy(y[:n].astype(np.float32))[None, None]
        est = torch.from_numpy(x[:n] * (np.abs(y).max() / np.abs(x).max()))[None, None]
        return float(tl.metrics.spectral_convergence(ref, est).mean())

    assert sc(with_phase) < sc(guessed)


def test_images_hold_no_absolute_level():
    mel = Mel(**PARAMS[0])
    audio = _audio(16000)
    mel.load_audio(raw_audio=audio)
    loud = mel.audio_slice_to_image(0)
    mel.load_audio(raw_audio=0.01 * audio)
    np.testing.assert_array_equal(mel.audio_slice_to_image(0), loud)


def test_short_audio_is_padded_and_bad_input_is_refused():
    mel = Mel(**PARAMS[0])
    with pytest.raises(RuntimeError, match="load_audio"):
        mel.get_number_of_slices()
    mel.load_audio(raw_audio=np.ones(100) * 0.1)
    assert len(mel.audio) == mel.x_res * mel.hop_length and mel.get_number_of_slices() == 1
    with pytest.raises(ValueError, match="past the last slice"):
        mel.get_audio_slice(1)
    mel.load_audio(raw_audio=np.zeros(mel.slice_size))
    with pytest.raises(ValueError, match="silent"):
        mel.audio_slice_to_image(0)
    with pytest.raises(TypeError, match="exactly one"):
        mel.load_audio()
    with pytest.raises(ValueError, match="mono float"):
        mel.load_audio(raw_audio=np.zeros((2, 100)))
    with pytest.raises(ValueError, match="NaN"):
        mel.load_audio(raw_audio=np.array([0.0, np.nan]))
    with pytest.raises(FileNotFoundError):
        mel.load_audio(audio_file="no_such_file.wav")
    with pytest.raises(ValueError, match=r"shape \(y_res, x_res\) = \(64, 64\)"):
        mel.image_to_audio(np.zeros((64, 32), dtype=np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        mel.image_to_audio(np.zeros((64, 64)))
    with pytest.raises(ValueError, match="hop_length"):
        Mel(n_fft=256, hop_length=512)
    with pytest.raises(ValueError, match="y_res"):
        Mel(y_res=600, n_fft=512)


# ------------------------------------------------------------------------------ MelFrames


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
    ds = tl.data.midi(2, split="test", sr=16000, seconds=3.84, level="fixed", progress=False)
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
