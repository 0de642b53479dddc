"""Tests for tutorial_lib.audio: files, levels, spectrograms (against librosa), players."""

from __future__ import annotations

import base64
import io
import os
import re
import warnings

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from tutorial_lib import audio

SR = 16000


def sine(freq: float = 440.0, seconds: float = 0.5, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(shape: tuple[int, ...], seed: int = 0, amp: float = 0.3) -> np.ndarray:
    x = amp * np.random.default_rng(seed).standard_normal(shape)
    return np.clip(x, -0.99, 0.99).astype(np.float32)


# ---------------------------------------------------------------------------------- files
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_save_load_round_trip_lossless(tmp_path, channels, ext):
    x = noise((channels, 4000))
    path = audio.save(tmp_path / f"clip.{ext}", x, SR)
    y, sr = audio.load(path)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    assert sr == SR and tuple(y.shape) == (channels, 4000)
    # 16-bit quantisation: error at most one step.
    assert np.max(np.abs(y.numpy() - x)) <= 1.0 / 32768 + 1e-7
    # Independent reader agrees.
    ref, ref_sr = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(y.numpy(), ref.T)


def test_save_accepts_torch_and_1d(tmp_path):
    x = torch.from_numpy(sine())
    audio.save(tmp_path / "a.wav", x, SR)
    y, _ = audio.load(tmp_path / "a.wav")
    assert tuple(y.shape) == (1, len(x))


def test_save_float_subtype_is_exact(tmp_path):
    x = noise((1, 1000))
    audio.save(tmp_path / "f.wav", x, SR, subtype="FLOAT")
    y, _ = audio.load(tmp_path / "f.wav")
    np.testing.assert_array_equal(y.numpy(), x)


def test_save_ogg_uses_format_default_subtype(tmp_path):
    x = sine(seconds=1.0)
    audio.save(tmp_path / "a.ogg", x, SR)
    y, sr = audio.load(tmp_path / "a.ogg")
    assert sr == SR and y.shape[0] == 1
    n = min(y.shape[-1], len(x))
    corr = np.corrcoef(y.numpy()[0, 1000 : n - 1000], x[1000 : n - 1000])[0, 1]
    assert corr > 0.95  # lossy, but the same sine


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile without MP3")
def test_mp3_round_trip(tmp_path):
    x = sine(seconds=1.0)
    audio.save(tmp_path / "a.mp3", x, SR)
    y, sr = audio.load(tmp_path / "a.mp3")
    assert sr == SR and y.shape[0] == 1
    assert abs(audio.rms_db(y) - audio.rms_db(x)) < 1.0


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    target = tmp_path / "keep.wav"
    audio.save(target, sine(), SR)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sf, "write", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        audio.save(target, noise((1, 100)), SR)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]


def test_save_clips_with_warning(tmp_path):
    x = np.array([0.0, 2.0, -3.0, 0.5], dtype=np.float32)
    with pytest.warns(UserWarning, match=r"2 of 4 samples"):
        audio.save(tmp_path / "c.wav", x, SR)
    y, _ = audio.load(tmp_path / "c.wav")
    assert y.abs().max() <= 1.0


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        audio.save(tmp_path / "a.xyz", sine(), SR)
    with pytest.raises(ValueError, match="subtype"):
        audio.save(tmp_path / "a.wav", sine(), SR, subtype="VORBIS")
    with pytest.raises(TypeError, match="float"):
        audio.save(tmp_path / "a.wav", np.zeros(100, dtype=np.int16), SR)
    with pytest.raises(ValueError, match="sr"):
        audio.save(tmp_path / "a.wav", sine(), 5)


def test_load_resamples_and_mixes_to_mono(tmp_path):
    x = np.stack([sine(440), sine(440, amp=0.1)])
    audio.save(tmp_path / "s.wav", x, SR, subtype="FLOAT")
    y, sr = audio.load(tmp_path / "s.wav", sr=8000, mono=True)
    assert sr == 8000 and tuple(y.shape) == (1, len(x[0]) // 2)
    ref = librosa.resample(x.mean(0), orig_sr=SR, target_sr=8000, res_type="soxr_hq")
    np.testing.assert_allclose(y.numpy()[0], ref, atol=1e-5)


def test_load_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        audio.load(tmp_path / "nope.wav")
    bad = tmp_path / "garbage.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(ValueError, match="garbage.wav"):
        audio.load(bad)


# ------------------------------------------------------------------ rates, channels, levels
def test_resample_matches_the_analytic_sine():
    x = sine(440, seconds=1.0)
    y = audio.resample(x, SR, 22050)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    assert len(y) == int(np.ceil(len(x) * 22050 / SR))
    t = np.arange(len(y)) / 22050
    expected = 0.5 * np.sin(2 * np.pi * 440 * t)
    np.testing.assert_allclose(y[500:-500], expected[500:-500], atol=2e-3)


def test_resample_keeps_type_and_batch_shape():
    x = torch.from_numpy(noise((2, 1, 1600)))
    y = audio.resample(x, SR, 8000)
    assert isinstance(y, torch.Tensor) and tuple(y.shape) == (2, 1, 800)
    ref = librosa.resample(x.numpy(), orig_sr=SR, target_sr=8000, res_type="soxr_hq")
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-6)
    same = audio.resample(x, SR, SR)
    assert same is not x and torch.equal(same, x)


def test_to_mono_and_to_stereo():
    x = noise((2, 100))
    m = audio.to_mono(x)
    assert m.shape == (1, 100)
    np.testing.assert_allclose(m[0], (x[0] + x[1]) / 2, rtol=1e-6)
    t = torch.from_numpy(noise((3, 2, 50)))
    assert tuple(audio.to_mono(t).shape) == (3, 1, 50)
    assert audio.to_mono(x[0]).shape == (100,)
    s = audio.to_stereo(x[0])
    assert s.shape == (2, 100) and np.array_equal(s[0], s[1]) and np.array_equal(s[0], x[0])
    st = audio.to_stereo(torch.from_numpy(noise((4, 1, 10))))
    assert tuple(st.shape) == (4, 2, 10)
    assert np.array_equal(audio.to_stereo(x), x)
    with pytest.raises(ValueError, match="channels"):
        audio.to_stereo(noise((3, 100)))


@pytest.mark.parametrize("length", [50, 100, 137, 300])
def test_fix_length_left_matches_librosa(length):
    x = noise((2, 137))
    y = audio.fix_length(x, length)
    np.testing.assert_array_equal(y, librosa.util.fix_length(x, size=length, axis=-1))
    yt = audio.fix_length(torch.from_numpy(x), length)
    assert isinstance(yt, torch.Tensor)
    np.testing.assert_array_equal(yt.numpy(), y)


def test_fix_length_center_and_right():
    x = np.arange(1, 7, dtype=np.float32)  # 1..6
    np.testing.assert_array_equal(audio.fix_length(x, 4, align="center"), [2, 3, 4, 5])
    np.testing.assert_array_equal(audio.fix_length(x, 4, align="right"), [3, 4, 5, 6])
    np.testing.assert_array_equal(
        audio.fix_length(x, 9, align="center"), [0, 1, 2, 3, 4, 5, 6, 0, 0]
    )
    np.testing.assert_array_equal(audio.fix_length(x, 8, align="right"), [0, 0, 1, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match="align"):
        audio.fix_length(x, 4, align="middle")
    with pytest.raises(ValueError, match="length"):
        audio.fix_length(x, 0)


def test_normalize_peak_per_clip_and_silence():
    x = noise((3, 2, 200))
    y = audio.normalize_peak(x, peak=0.5)
    np.testing.assert_allclose(np.abs(y).reshape(3, -1).max(1), 0.5, rtol=1e-6)
    # Stereo balance kept: one gain per clip.
    np.testing.assert_allclose(y[0] / x[0], np.full_like(x[0], y[0, 0, 0] / x[0, 0, 0]), rtol=1e-5)
    silent = np.zeros((1, 100), dtype=np.float32)
    with pytest.warns(UserWarning, match="silent"):
        out = audio.normalize_peak(silent)
    assert np.all(out == 0) and np.all(np.isfinite(out))
    yt = audio.normalize_peak(torch.from_numpy(x[0]))
    assert isinstance(yt, torch.Tensor)
    assert torch.isclose(yt.abs().max(), torch.tensor(0.95))
    with pytest.raises(ValueError, match="peak"):
        audio.normalize_peak(x, peak=1.5)


def test_normalize_rms_hits_target_and_guards_silence():
    x = noise((1, 8000), amp=0.01)
    y = audio.normalize_rms(x, rms_db=-20.0)
    rms = np.sqrt(np.mean(y.astype(np.float64) ** 2))
    assert abs(20 * np.log10(rms) + 20.0) < 1e-4
    with pytest.warns(UserWarning, match="silent"):
        z = audio.normalize_rms(torch.zeros(2, 100))
    assert torch.all(z == 0)
    with pytest.warns(UserWarning, match="clip"):
        audio.normalize_rms(sine(amp=0.1), rms_db=-0.5)  # a sine peak is rms * sqrt(2)


def test_rms_db():
    assert audio.rms_db(sine(440, seconds=1.0, amp=1.0)) == pytest.approx(-3.0103, abs=1e-3)
    assert audio.rms_db(np.zeros(10, dtype=np.float32)) == -np.inf
    batch = torch.from_numpy(np.stack([sine(amp=1.0)[None], sine(amp=0.1)[None]]))
    db = audio.rms_db(batch)
    assert isinstance(db, torch.Tensor) and tuple(db.shape) == (2,)
    assert float(db[0] - db[1]) == pytest.approx(20.0, abs=1e-3)
    with pytest.raises(TypeError):
        audio.rms_db([0.1, 0.2])


# ---------------------------------------------------------------------------- spectrograms
def test_hz_mel_conversions_match_librosa():
    f = np.array([0.0, 100.0, 999.0, 1000.0, 4000.0, 8000.0])
    for htk in (False, True):
        np.testing.assert_allclose(audio.hz_to_mel(f, htk=htk), librosa.hz_to_mel(f, htk=htk))
        m = audio.hz_to_mel(f, htk=htk)
        np.testing.assert_allclose(audio.mel_to_hz(m, htk=htk), f, atol=1e-6)


@pytest.mark.parametrize(
    ("n_fft", "n_mels", "fmin", "fmax", "htk"),
    [(1024, 80, 0.0, None, False), (512, 40, 50.0, 6000.0, False), (2048, 128, 0.0, None, True)],
)
def test_mel_filterbank_matches_librosa(n_fft, n_mels, fmin, fmax, htk):
    fb = audio.mel_filterbank(SR, n_fft, n_mels, fmin, fmax, htk=htk)
    ref = librosa.filters.mel(sr=SR, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk)
    assert fb.shape == ref.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(fb, ref, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"n_fft": 512, "hop_length": 128, "n_mels": 64, "fmin": 30.0, "fmax": 7000.0},
        {"power": 1.0, "n_mels": 40},
    ],
)
def test_mel_spectrogram_matches_librosa(kwargs):
    x = noise((5000,), seed=3) + sine(880, seconds=5000 / SR)
    ours = audio.mel_spectrogram(x, SR, **kwargs)
    params = {
        "n_fft": 1024,
        "hop_length": 256,
        "n_mels": 80,
        "fmin": 0.0,
        "fmax": None,
        "power": 2.0,
    }
    params.update(kwargs)
    ref = librosa.feature.melspectrogram(
        y=x, sr=SR, center=True, pad_mode="reflect", window="hann", **params
    )
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float32
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * ref.max())


def test_mel_spectrogram_batches_in_torch():
    x = torch.from_numpy(noise((3, 2, 4096)))
    mel = audio.mel_spectrogram(x, SR, n_mels=32)
    assert isinstance(mel, torch.Tensor) and tuple(mel.shape) == (3, 2, 32, 1 + 4096 // 256)
    one = audio.mel_spectrogram(x[1, 0].numpy(), SR, n_mels=32)
    np.testing.assert_allclose(mel[1, 0].numpy(), one, rtol=1e-5, atol=1e-6)
    assert tuple(audio.mel_spectrogram(x[0], SR).shape) == (2, 80, 17)


def test_mel_spectrogram_rejects_bad_input():
    with pytest.raises(ValueError, match="too short"):
        audio.mel_spectrogram(np.zeros(100, dtype=np.float32), SR, n_fft=1024)
    with pytest.raises(ValueError, match="NaN"):
        audio.mel_spectrogram(np.full(2048, np.nan, dtype=np.float32), SR)
    with pytest.raises(ValueError, match="fmax"):
        audio.mel_spectrogram(noise((2048,)), SR, fmin=5000.0, fmax=4000.0)
    with pytest.raises(ValueError, match="n_mels"):
        audio.mel_spectrogram(noise((2048,)), SR, n_mels=0)


def test_stft_db_matches_librosa():
    x = noise((4000,), seed=1)
    ours = audio.stft_db(x, SR, n_fft=512, hop_length=128)
    S = np.abs(librosa.stft(x, n_fft=512, hop_length=128, center=True, pad_mode="reflect")) ** 2
    ref = librosa.power_to_db(S, ref=1.0, top_db=80.0)
    assert ours.shape == ref.shape == (257, 1 + 4000 // 128)
    np.testing.assert_allclose(ours, ref, atol=2e-3)
    rel = audio.stft_db(x, SR, n_fft=512, hop_length=128, ref=np.max, top_db=None)
    np.testing.assert_allclose(rel, librosa.power_to_db(S, ref=np.max, top_db=None), atol=2e-3)
    t = audio.stft_db(torch.from_numpy(x)[None], SR, n_fft=512, hop_length=128)
    assert isinstance(t, torch.Tensor) and tuple(t.shape) == (1, 257, 32)


@pytest.mark.parametrize(("ref", "top_db"), [(1.0, 80.0), (np.max, None), (0.5, 40.0)])
def test_power_to_db_matches_librosa(ref, top_db):
    S = np.abs(noise((20, 30), seed=2)) ** 2
    S[0, 0] = 0.0
    ours = audio.power_to_db(S, ref=ref, top_db=top_db)
    expected = librosa.power_to_db(S, ref=ref, top_db=top_db)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-4)
    t = audio.power_to_db(
        torch.from_numpy(S), ref=torch.amax if ref is np.max else ref, top_db=top_db
    )
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-5, atol=1e-4)


def test_griffin_lim_with_a_shorter_window_matches_librosa():
    y = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=320, win_length=640, pad_mode="constant"))
    ref = librosa.griffinlim(S, n_iter=8, hop_length=320, win_length=640, n_fft=1024,
                             init=None, length=8000, pad_mode="constant")  # fmt: skip
    ours = audio.griffin_lim(torch.from_numpy(S)[None], n_fft=1024, hop_length=320,
                             win_length=640, length=8000, n_iter=8, seed=None)[0]  # fmt: skip
    np.testing.assert_allclose(ours.numpy(), ref, atol=2e-3)
    with pytest.raises(ValueError, match=r"\(B, 513, frames\)"):
        audio.griffin_lim(torch.zeros(1, 100, 4), n_fft=1024, hop_length=320, length=100)


# --------------------------------------------------------------------------------- players
def decode(wav: bytes) -> tuple[np.ndarray, int]:
    data, sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    return data.T, sr


def test_to_wav_bytes_is_16_bit_pcm_of_the_samples():
    x = sine(amp=0.3)
    wav = audio.to_wav_bytes(x, SR)
    info = sf.info(io.BytesIO(wav))
    assert info.format == "WAV" and info.subtype == "PCM_16" and info.samplerate == SR
    y, _ = decode(wav)
    assert np.max(np.abs(y[0] - x)) <= 1.0 / 32768 + 1e-7


def test_play_keeps_level_and_is_an_ipython_audio():
    from IPython.display import Audio

    x = torch.from_numpy(sine(amp=0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for an in-range clip
        player = audio.play(x, SR, label="quiet <sine>")
    assert isinstance(player, Audio)
    y, sr = decode(player.data)
    assert sr == SR and abs(np.max(np.abs(y)) - 0.1) < 1e-3  # no silent renormalisation
    html = player._repr_html_()
    assert "quiet &lt;sine&gt;" in html and "<audio" in html and "audio/wav" in html
    # normalize=True scales the peak to 0.99 (RMS -3 dBFS for a sine), then the listening
    # policy plays it at MAX_PLAY_RMS_DB
    loud = audio.play(x, SR, normalize=True)
    y, _ = decode(loud.data)
    assert abs(_rms_db(y) - audio.MAX_PLAY_RMS_DB) < 0.05
    assert "played 9 dB quieter" in loud._repr_html_()


def _rms_db(y):
    return 20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


def test_listening_policy_caps_the_level_and_says_so():
    """No player is louder than MAX_PLAY_RMS_DB; a louder clip's player says by how much, and
    a clip with many samples at full scale says that too. Quieter clips are untouched."""
    full = np.clip(2 * np.random.default_rng(1).standard_normal(16000), -1, 1).astype(np.float32)
    player = audio.play(full, SR, label="noise")
    y, _ = decode(player.data)
    assert abs(_rms_db(y) - audio.MAX_PLAY_RMS_DB) < 0.05
    page = player._repr_html_()
    assert "noise" in page and "dB quieter" in page and "% of samples at full scale" in page
    quiet = sine(amp=0.2)  # -17 dBFS: played as it is, with no note
    page = audio.play(quiet, SR)._repr_html_()
    assert "tl-audio-note" not in page
    grid = audio.play_grid({"full": full, "quiet": quiet}, SR).data
    sources = re.findall(r'base64,([^"]+)"', grid)
    levels = [_rms_db(decode(base64.b64decode(src))[0]) for src in sources]
    assert abs(levels[0] - audio.MAX_PLAY_RMS_DB) < 0.05 and abs(levels[1] - _rms_db(quiet)) < 0.01
    assert grid.count("tl-audio-note") == 1
    assert abs(_rms_db(decode(audio.to_wav_bytes(full, SR))[0]) - audio.MAX_PLAY_RMS_DB) < 0.05


def test_play_stereo_and_clipping_warning():
    x = np.stack([sine(amp=0.5), sine(amp=0.5)])
    x[0, :10] = 1.5
    with pytest.warns(UserWarning, match=r"10 of 16000 samples .* clipped"):
        player = audio.play(x, SR)
    y, _ = decode(player.data)
    assert y.shape == (2, 8000) and np.max(y) <= 1.0


def test_play_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        audio.play(np.array([0.0, np.nan, 0.1], dtype=np.float32), SR)
    with pytest.raises(ValueError, match="channels"):
        audio.play(noise((3, 1000)), SR)
    with pytest.raises(ValueError, match="batch"):
        audio.play(noise((2, 1, 1000)), SR)
    with pytest.raises(ValueError, match="plausible"):
        audio.play(sine(), 44)
    with pytest.raises(TypeError, match="float"):
        audio.play(np.zeros(100, dtype=np.int16), SR)
    with pytest.raises(TypeError, match="label"):
        audio.play(sine(), SR, label=3)


def test_play_warns_on_long_clips():
    with pytest.warns(UserWarning, match="31.0 s"):
        audio.play(np.zeros(31 * 1000, dtype=np.float32), 1000)


def test_play_grid_embeds_one_player_per_clip():
    from IPython.display import HTML

    clips = {
        "clean": sine(amp=0.2),
        "t=250": torch.from_numpy(noise((8000,), amp=0.1)),
        "a&b": sine(220),
    }
    grid = audio.play_grid(clips, SR, columns=2)
    assert isinstance(grid, HTML)
    page = grid.data
    assert page.count("<audio controls") == 3 and page.count("<tr>") == 2
    assert "a&amp;b" in page and "t=250" in page
    sources = re.findall(r'<source src="data:audio/wav;base64,([^"]+)" type="audio/wav">', page)
    assert len(sources) == 3
    y, sr = decode(base64.b64decode(sources[0]))
    assert sr == SR and np.max(np.abs(y[0] - clips["clean"])) <= 1.0 / 32768 + 1e-7


def test_play_grid_warns_naming_the_clip_and_rejects_bad_input():
    with pytest.warns(UserWarning, match=r"clips\['loud'\]"):
        audio.play_grid({"ok": sine(), "loud": 2 * sine(amp=1.0)}, SR)
    with pytest.raises(ValueError, match="empty"):
        audio.play_grid({}, SR)
    with pytest.raises(TypeError, match="dict"):
        audio.play_grid([sine()], SR)
    with pytest.raises(ValueError, match="channels"):
        audio.play_grid({"x": noise((4, 100))}, SR)


def test_no_temp_files_in_cwd(tmp_path):
    # Sanity check that save wrote nowhere else than the target folder.
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        audio.save("rel.wav", sine(), SR)
        assert sorted(os.listdir(tmp_path)) == ["rel.wav"]
    finally:
        os.chdir(cwd)
