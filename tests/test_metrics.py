"""Tests for tutorial_lib.metrics, against independent computations (scipy, librosa, formulas)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

import tutorial_lib as tl
from tutorial_lib import metrics as M


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def drum_sets(tmp_path_factory):
    """Three disjoint real drum sets (train, validation, test), short clips, made once."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TUTORIAL_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        kw = dict(length=8192, progress=False)
        sets = tuple(
            tl.data.drums(n, split=s, **kw)
            for n, s in ((280, "train"), (140, "validation"), (140, "test"))
        )
    finally:
        mp.undo()
    return sets


# -- embedding -------------------------------------------------------------------------------
def test_embedding_matches_librosa():
    import librosa

    rng = np.random.default_rng(0)
    t = np.arange(8000) / 16000
    clips = np.stack(
        [0.3 * np.sin(2 * np.pi * 330 * t) * np.exp(-t * 8), 0.1 * rng.standard_normal(8000)]
    )
    e = M.embed(clips[:, None, :].astype(np.float32), 16000)
    assert e.shape == (2, M.EMBEDDING_DIM)
    for i, y in enumerate(clips.astype(np.float32)):
        mel = librosa.feature.melspectrogram(
            y=y, sr=16000, n_fft=1024, hop_length=256, n_mels=40, pad_mode="reflect"
        )
        db = 10 * np.log10(np.maximum(mel, 1e-6))
        mfcc = librosa.feature.mfcc(S=db, n_mfcc=21)[1:]
        ref = np.concatenate([db.mean(1) + 50, db.std(1), mfcc.std(1)]) / 10
        np.testing.assert_allclose(e[i], ref, atol=2e-3)


def test_embedding_resamples_and_accepts_lists_and_datasets(drum_sets):
    x = drum_sets[2].tensors()[:3]
    e16 = M.embed(x, 16000)
    e44 = M.embed(tl.audio.resample(x, 16000, 44100), 44100)
    assert np.max(np.abs(e16 - e44)) < 0.15  # same sound at another rate, same features
    np.testing.assert_allclose(M.embed([c for c in x], 16000), e16)
    np.testing.assert_allclose(M.embed(drum_sets[2])[:3], e16)
    with pytest.raises(ValueError, match="sr"):
        M.embed(x)


# -- Fréchet distance ------------------------------------------------------------------------
def _fd_scipy(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_matches_scipy_sqrtm_formula():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((400, 12)) @ rng.standard_normal((12, 12))
    b = rng.standard_normal((300, 12)) * 1.5 + 0.7
    r = M.frechet_distance(a, b, bootstrap=0)
    assert r.value == pytest.approx(_fd_scipy(a, b), rel=1e-6)
    # a closed form: identity covariances, mean shift d -> FD = |d|^2
    big = rng.standard_normal((20000, 3))
    shifted = rng.standard_normal((20000, 3)) + np.array([1.0, 2.0, 0.0])
    assert M.frechet_distance(big, shifted, bootstrap=0).value == pytest.approx(5.0, rel=0.03)


def test_frechet_bootstrap_interval_contains_the_value():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((200, 5)), rng.standard_normal((200, 5)) + 0.5
    r = M.frechet_distance(a, b, bootstrap=50, seed=3)
    assert r.low <= r.value <= r.high and r.std > 0
    assert M.frechet_distance(a, b, bootstrap=50, seed=3).low == r.low  # seeded


# -- kernel distance -------------------------------------------------------------------------
def _kid_direct(a: np.ndarray, b: np.ndarray) -> float:
    d = a.shape[1]
    k = lambda x, y: (x @ y / d + 1.0) ** 3  # noqa: E731
    m, n = len(a), len(b)
    sxx = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    syy = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    sxy = sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    return sxx + syy - 2 * sxy


def test_kernel_distance_matches_direct_formula():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((30, 6)), rng.standard_normal((30, 6)) * 1.3 + 0.2
    r = M.kernel_distance(a, b, subset_size=30, n_subsets=1)
    assert r.value == pytest.approx(_kid_direct(a, b), rel=1e-6)
    # same distribution: unbiased, so it averages to ~0 even with few samples
    vals = [M.kernel_distance(rng.standard_normal((20, 6)), rng.standard_normal((20, 6)),
                              n_subsets=5, seed=s).value for s in range(40)]  # fmt: skip
    assert abs(np.mean(vals)) < 3 * np.std(vals) / np.sqrt(len(vals))


# -- floor: halves of one dataset vs noise ----------------------------------------------------
def test_real_sets_score_near_the_floor_and_noise_far_from_it(drum_sets):
    train, valid, test = (M.embed(ds) for ds in drum_sets)
    same = M.evaluate(train, test, reference=valid, bootstrap=20, n_subsets=30)
    assert same["fd"].value < 3 * same["fd_floor"].value
    assert same["kid"].low < same["kid_floor"].high
    noise = M.embed(0.3 * torch.randn(140, 1, 8192), 16000)
    far = M.evaluate(train, noise, reference=valid, bootstrap=20, n_subsets=30)
    assert far["fd"].value > 20 * far["fd_floor"].value
    assert far["kid"].low > far["kid_floor"].high
    assert "FD floor" in M.format_table(far)
    halves = M.evaluate(train, test, bootstrap=0, n_subsets=10)  # floor from two halves of train
    assert halves["fd_ratio"] < 3


# -- reconstruction metrics ------------------------------------------------------------------
def test_spectral_convergence_and_lsd_against_librosa():
    import librosa

    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 1, 4000)).astype(np.float32) * 0.3
    y = x + 0.05 * rng.standard_normal(x.shape).astype(np.float32)
    sc = M.spectral_convergence(x, y)
    lsd = M.log_spectral_distance(x, y)
    assert sc.shape == (2,) and lsd.shape == (2,)
    for i in range(2):
        a = np.abs(librosa.stft(x[i, 0], n_fft=1024, hop_length=256, pad_mode="reflect"))
        b = np.abs(librosa.stft(y[i, 0], n_fft=1024, hop_length=256, pad_mode="reflect"))
        assert sc[i] == pytest.approx(np.linalg.norm(a - b) / np.linalg.norm(a), rel=1e-4)
        f = 1e-10 + (a**2).max() * 10 ** (-80 / 10)  # the floor: 80 dB below the loudest bin
        d = 10 * np.log10((a**2 + f) / (b**2 + f))
        assert lsd[i] == pytest.approx(np.mean(np.sqrt(np.mean(d**2, axis=0))), rel=1e-4)
        d = 10 * np.log10((a**2 + 1e-10) / (b**2 + 1e-10))  # floor_db=None: eps alone
        plain = M.log_spectral_distance(x[i], y[i], floor_db=None)
        assert plain == pytest.approx(np.mean(np.sqrt(np.mean(d**2, axis=0))), rel=1e-4)
    assert M.spectral_convergence(x[0], x[0]) == 0.0
    assert M.spectral_convergence(x[0], 0.5 * x[0]) == pytest.approx(0.5, rel=1e-6)
    assert M.log_spectral_distance(x[0], x[0] * 10 ** (-6 / 20)) == pytest.approx(6.0, rel=1e-3)
    with pytest.raises(ValueError, match="x_est"):
        M.spectral_convergence(x[0], x[0][..., :3000])
    with pytest.raises(ValueError, match="floor_db"):
        M.log_spectral_distance(x[0], x[0], floor_db=6.0)


def test_lsd_floor_keeps_inaudible_bins_from_dominating():
    """A hit with a digitally silent tail, and the same hit with noise 100 dB below its peak
    in that tail (inaudible): without a relative floor the tail's bins are 'errors' of tens of
    dB and dominate the average; with the floor (80 dB below the loudest bin) they count as equal,
    while an audible fault (the same noise 40 dB below the peak) still counts."""
    rng = np.random.default_rng(1)
    t = np.arange(8192) / 16000
    hit = np.sin(2 * np.pi * 200 * t) * np.exp(-t / 0.05)
    hit[4096:] = 0.0
    noise = rng.standard_normal(8192) * (t >= 4096 / 16000)
    faint, loud = hit + 1e-5 * noise, hit + 1e-2 * noise  # -100 dB and -40 dB under the peak
    assert M.log_spectral_distance(hit, faint, floor_db=None) > 8.0
    assert M.log_spectral_distance(hit, faint) < 0.1
    assert M.log_spectral_distance(hit, loud) > 10.0


# -- class and memorisation checks -----------------------------------------------------------
def test_class_check(drum_sets):
    train, valid, test = drum_sets
    good = M.class_check(test, test.labels, train=train, test=valid)
    assert good.accuracy > 0.6 and good.real_accuracy > 0.6 and good.chance == pytest.approx(1 / 7)
    assert good.confusion.sum() == len(test) and set(good.per_class) == set(train.classes)
    wrong = M.class_check(test, np.roll(test.labels, 1), train=train)  # asked for another class
    assert wrong.accuracy < 0.3
    centroid = M.class_check(test, test.labels, train=train, kind="centroid")
    assert centroid.accuracy > 2 * centroid.chance
    assert centroid.real_per_class == {}  # no held-out set, no per-class ceiling


def test_class_check_gives_each_class_its_real_ceiling(drum_sets):
    """real_per_class: the held-out real clips' accuracy per class; classifying those same
    clips as if generated gives the same numbers, and their mean weighted by the class
    counts is real_accuracy."""
    train, valid, _ = drum_sets
    r = M.class_check(valid, valid.labels, train=train, test=valid)
    assert set(r.real_per_class) == set(train.classes)
    assert r.real_per_class == pytest.approx(r.per_class)
    counts = {train.classes[c]: int(np.sum(valid.labels == c)) for c in np.unique(valid.labels)}
    weighted = sum(r.real_per_class[k] * n for k, n in counts.items()) / len(valid)
    assert weighted == pytest.approx(r.real_accuracy)
    assert min(r.real_per_class.values()) < 1.0  # the ceiling differs between classes
    with pytest.raises(ValueError, match="test_labels"):
        M.class_check(valid, valid.labels, train=train, test=valid, test_labels=[0, 1])


def test_memorisation_check_flags_copies_not_new_clips(drum_sets):
    train, valid, test = drum_sets
    honest = M.memorisation_check(test, train, real=valid)
    assert honest.fraction_suspect < 0.25 and 0.6 < honest.median_ratio < 1.6
    copies = train.tensors()[:40] + 1e-3 * torch.randn(40, 1, 8192)
    caught = M.memorisation_check(copies, train, real=valid, sr=16000)
    assert caught.fraction_suspect > 0.8 and caught.median_ratio < 0.2
    assert (caught.nearest_train == np.arange(40)).mean() > 0.9
    emb = M.memorisation_check(test, train, real=valid, space="embedding")
    assert emb.fraction_suspect < 0.25


def test_memorisation_check_in_waveform_space(drum_sets):
    """space='waveform': 1 - cosine similarity to the nearest training clip, checked by hand
    with numpy; a quieter copy with hiss is still a copy; new real clips are not suspects."""
    train, valid, test = drum_sets
    honest = M.memorisation_check(test, train, real=valid, space="waveform")
    assert honest.fraction_suspect < 0.25 and 0.5 < honest.median_ratio < 2.0
    x = test.tensors()[:, 0].double().numpy()
    t = train.tensors()[:, 0].double().numpy()
    cos = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (
        t / np.linalg.norm(t, axis=1)[:, None]
    ).T
    np.testing.assert_allclose(honest.fake_distances, 1 - cos.max(1), atol=1e-9)
    np.testing.assert_array_equal(honest.nearest_train, cos.argmax(1))
    g = torch.Generator().manual_seed(0)
    copies = 0.5 * train.tensors()[:40] + 3e-3 * torch.randn(40, 1, 8192, generator=g)
    caught = M.memorisation_check(copies, train, real=valid, sr=16000, space="waveform")
    assert caught.fraction_suspect > 0.9 and caught.median_ratio < 0.1
    assert (caught.nearest_train == np.arange(40)).mean() > 0.9
    silent = torch.zeros(2, 1, 8192)
    with pytest.raises(ValueError, match="fake: clip 0 is silent"):
        M.memorisation_check(silent, train, real=valid, sr=16000, space="waveform")


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="sr"):
        M.frechet_distance(torch.zeros(4, 1, 2000), torch.zeros(4, 1, 2000))
    with pytest.raises(ValueError, match="embeddings of size"):
        M.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="subset_size"):
        M.kernel_distance(np.zeros((5, 3)), np.zeros((5, 3)), subset_size=9)
    with pytest.raises(ValueError, match="x"):
        M.embed(torch.zeros(2, 1, 100), 16000)


def test_embedding_with_time_segments_sees_time_order():
    """Without time segments a clip and its reverse embed alike; with them, where the energy
    sits counts: a tone in the second half only is loud in the last segments and quiet in
    the first (checked against the clip's own level, by hand)."""
    sr = 16000
    t = np.arange(sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * (t >= 0.5)).astype(np.float32)
    x = np.stack([tone, tone[::-1].copy()])[:, None, :]
    plain = M.embed(x, sr)
    assert plain.shape == (2, M.EMBEDDING_DIM)
    np.testing.assert_allclose(plain[0], plain[1], atol=0.1)  # blind to time order (1 dB)
    timed = M.embed(x, sr, time_segments=4)
    assert timed.shape == (2, M.EMBEDDING_DIM + 4 * M.TIME_BANDS)
    np.testing.assert_array_equal(timed[:, : M.EMBEDDING_DIM], plain)
    # the band holding 440 Hz (the lowest of TIME_BANDS groups), segment by segment
    low_band = timed[:, M.EMBEDDING_DIM : M.EMBEDDING_DIM + 4]
    assert low_band[0, 3] - low_band[0, 0] > 2  # bels: loud at the end, silent at the start
    np.testing.assert_allclose(low_band[1], low_band[0][::-1], atol=0.3)  # the reverse
    with pytest.raises(ValueError, match="time_segments"):
        M.embed(x, sr, time_segments=-1)
    with pytest.raises(ValueError, match="time_segments"):
        M.embed(x[..., :2048], sr, time_segments=100)


def test_tail_level_db_reads_the_quietest_frames():
    """A hit that decays to digital silence reads the floor; a noise floor reads its level."""
    t = np.arange(8192) / 16000
    hit = np.sin(2 * np.pi * 200 * t) * np.exp(-t / 0.02)
    hit[4096:] = 0.0  # digital silence after the hit
    rng = np.random.default_rng(0)
    hiss = hit + 10 ** (-50 / 20) * rng.standard_normal(t.shape)  # a -50 dBFS noise floor
    levels = tl.metrics.tail_level_db(
        torch.tensor(np.stack([hit, hiss])[:, None], dtype=torch.float32)
    )
    assert levels.shape == (2,)
    assert levels[0] == -120.0  # floor_db
    assert abs(levels[1] - (-50.0)) < 1.0
    assert tl.metrics.tail_level_db(np.stack([hit]), floor_db=-90.0)[0] == -90.0
    with pytest.raises(ValueError, match="frame"):
        tl.metrics.tail_level_db(np.zeros((1, 100)))
    with pytest.raises(ValueError, match="share"):
        tl.metrics.tail_level_db(np.zeros((1, 1024)), share=0.0)
