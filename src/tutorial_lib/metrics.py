"""How good are generated sounds? Distribution distances, reconstruction errors, class and
memorisation checks, all offline.

**The embedding.** Distances between *sets* of clips are computed on a fixed, download-free
embedding (:func:`embed`): each clip is mixed to mono, resampled to 16 kHz, turned into a
40-band log-mel spectrogram (1024-sample Hann window, hop 256, power floored at -60 dB, the
level that white noise of about -73 dBFS reaches, so that 16-bit quantisation noise and
inaudible hiss leave the embedding unchanged), and
summarised by the mean and the standard deviation over time of each band (its spectral
balance and how it moves) plus the standard deviation over time of MFCCs 1 to 20 (how the
shape of the spectral envelope changes). That is 100 numbers, in bels (dB / 10), with the
band means shifted by +5 B (50 dB) so that every feature is of order 1. (MFCC *means* are
left out: a DCT is linear, so they would only repeat the band means; MFCC 0 is the overall
level, already in the bands.)

**Pretrained embeddings.** Published results use embeddings from networks trained on large
audio collections: VGGish (the original Fréchet Audio Distance), PANNs, CLAP, EnCodec,
available through ``fadtk`` (``pip install fadtk``, which downloads the weights). They follow
perception and semantics better than log-mel statistics. Online users can compute them on the
same WAV folders; this library uses the offline embedding everywhere by default so that every
number in the book can be reproduced without a download.

**Meaning of a number.** A distance alone says little: it depends on the embedding, the
number of clips and the data. Every distribution metric here is reported beside a *floor*,
the same metric between two disjoint sets of real clips of the same size (see
:func:`evaluate`): a model at the floor is as close to the data as more data would be.

Functions:

- :func:`frechet_distance` (FD, as FID / FAD: Gaussians fitted to the two embedding sets),
  with a bootstrap confidence interval; :func:`frechet_from_stats` is the formula.
- :func:`kernel_distance` (KID-style unbiased MMD² with a cubic polynomial kernel, averaged
  over subsets): unbiased, so it behaves with few clips.
- :func:`spectral_convergence`, :func:`log_spectral_distance`: reconstruction errors
  between paired clips.
- :func:`class_check`: does a class-conditional model produce the class it was asked for?
  (a classifier on the embedding, trained on real labelled clips)
- :func:`memorisation_check`: are generated clips copies of training clips? (distance to
  the nearest training clip, compared with the same for held-out real clips)
- :func:`evaluate` / :func:`format_table`: the summary used by ``tutorial-lib eval``.

Introduced in: book/appendix/A_01_metrics.ipynb
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._validate import (
    check_audio,
    check_choice,
    check_int,
    check_number,
    check_sample_rate,
    describe,
    is_tensor,
    to_numpy,
)

__all__ = [
    "EMBEDDING_DIM",
    "TIME_BANDS",
    "EMBEDDING_SR",
    "ClassCheckResult",
    "EmbeddingClassifier",
    "MemorisationResult",
    "MetricResult",
    "class_check",
    "embed",
    "evaluate",
    "format_table",
    "frechet_distance",
    "frechet_from_stats",
    "kernel_distance",
    "log_spectral_distance",
    "memorisation_check",
    "mmd2_unbiased",
    "polynomial_kernel",
    "spectral_convergence",
    "tail_level_db",
]

#: Sample rate (Hz) every clip is resampled to before embedding.
EMBEDDING_SR = 16000
N_FFT = 1024
HOP_LENGTH = 256
N_MELS = 40
N_MFCC = 20
#: Power floor of the log-mel spectrogram (-60 dB; white noise at about -73 dBFS RMS reaches it).
POWER_FLOOR = 1e-6
#: Size of the embedding: band means + band standard deviations + MFCC standard deviations.
EMBEDDING_DIM = 2 * N_MELS + N_MFCC
_MEAN_SHIFT_DB = 50.0


# --------------------------------------------------------------------------------------------
# The embedding
# --------------------------------------------------------------------------------------------
def _clips(x: Any, sr: int | None, name: str) -> tuple[list[np.ndarray], int]:
    """Audio sets as a list of float32 arrays ``(C, T)`` and one sample rate in Hz.

    Datasets (with an ``sr`` attribute and ``"audio"`` items) use their own rate; ``sr`` is
    the rate of raw audio (arrays, tensors, lists of clips).
    """
    ds_sr = getattr(x, "sr", None)
    if ds_sr is not None and hasattr(x, "__getitem__") and hasattr(x, "__len__"):
        clips = [to_numpy(x[i]["audio"], np.float32) for i in range(len(x))]
        return [c[None] if c.ndim == 1 else c for c in clips], int(ds_sr)
    if sr is None:
        raise ValueError(
            f"sr: the sample rate of {name} is missing. Fix: pass sr=<rate in Hz>, e.g. "
            f"sr=16000 (datasets from tl.data carry their own)."
        )
    sr = check_sample_rate(sr, "sr")
    if is_tensor(x) or isinstance(x, np.ndarray):
        if x.ndim != 3:
            raise ValueError(
                f"{name}: expected a batch of audio (B, C, T), a list of clips or a dataset, "
                f"got {describe(x)}. Fix: for one set of mono clips (B, T) use "
                f"{name}[:, None, :]; 2-D arrays are read as embeddings (N, D) by the metrics."
            )
        check_audio(x, name, batch=True)
        arr = to_numpy(x, np.float32)
        return [arr[i] for i in range(arr.shape[0])], sr
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise ValueError(f"{name}: the list of clips is empty.")
        out = []
        for i, c in enumerate(x):
            check_audio(c, f"{name}[{i}]")
            a = to_numpy(c, np.float32)
            out.append(a[None] if a.ndim == 1 else a)
        return out, sr
    raise TypeError(
        f"{name}: expected audio (B, C, T), a list of clips, a dataset or embeddings (N, D), "
        f"got {describe(x)}."
    )


#: Frequency bands (groups of adjacent mel bands) of the time-order features of :func:`embed`.
TIME_BANDS = 4


def _embed_batch(batch: np.ndarray, time_segments: int = 0) -> np.ndarray:
    """``(B, T)`` mono 16 kHz -> ``(B, EMBEDDING_DIM + TIME_BANDS * time_segments)`` float64."""
    import scipy.fft
    import torch

    from . import audio

    with torch.no_grad():
        mel = audio.mel_spectrogram(
            torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)),
            EMBEDDING_SR,
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            n_mels=N_MELS,
        ).double()  # (B, n_mels, frames)
    db = 10.0 * torch.log10(torch.clamp(mel, min=POWER_FLOOR))
    db = db.numpy()
    mfcc = scipy.fft.dct(db, type=2, norm="ortho", axis=1)[:, 1 : N_MFCC + 1]  # (B, 20, frames)
    parts = [(db.mean(-1) + _MEAN_SHIFT_DB), db.std(-1), mfcc.std(-1)]
    if time_segments:
        # mean level of TIME_BANDS groups of mel bands in each of time_segments equal spans
        frames = db.shape[-1]
        if frames < time_segments:
            raise ValueError(
                f"time_segments: {time_segments} segments need at least as many frames, the "
                f"clips have {frames}. Fix: fewer segments or longer clips."
            )
        bands = np.array_split(db, TIME_BANDS, axis=1)
        edges = np.linspace(0, frames, time_segments + 1).round().astype(int)
        for band in bands:
            level = band.mean(axis=1)  # (B, frames)
            parts.append(
                np.stack(
                    [level[:, a:b].mean(-1) for a, b in zip(edges[:-1], edges[1:], strict=True)], -1
                )
                + _MEAN_SHIFT_DB
            )
    return np.concatenate(parts, axis=1) / 10.0


def embed(
    x: Any, sr: int | None = None, *, batch_size: int = 128, time_segments: int = 0
) -> np.ndarray:
    """The fixed log-mel statistics embedding of each clip: ``(N, 100)`` float64.

    Args:
        x: a batch ``(B, C, T)`` (torch or numpy), a list of clips ``(T,)`` / ``(C, T)`` of
            any lengths (at least 513 samples after resampling to 16 kHz), or a dataset
            from ``tl.data`` (items with ``"audio"``; it carries its ``sr``).
        sr: sample rate of ``x`` in Hz (not needed for datasets).
        batch_size: clips per spectrogram batch.
        time_segments: ``0`` (default): statistics over the whole clip, which do not see
            time order (a clip and its reverse embed alike). ``k > 0``: also the mean level
            of :data:`TIME_BANDS` frequency bands in each of ``k`` equal time spans, in
            bels (+5), so that where the energy sits in the clip counts (a drum hit that
            decays and one that swells differ).

    Returns:
        ``(N, EMBEDDING_DIM + TIME_BANDS * time_segments)``: per clip, the time mean (+5 B)
        and standard deviation of 40 log-mel bands and the standard deviation of MFCCs
        1-20, in bels (see the module doc), then the time-order features.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    from . import audio

    batch_size = check_int(batch_size, "batch_size", min_value=1)
    time_segments = check_int(time_segments, "time_segments", min_value=0)
    clips, sr = _clips(x, sr, "x")
    mono = [c.mean(axis=0) for c in clips]
    by_length: dict[int, list[int]] = {}
    for i, c in enumerate(mono):
        by_length.setdefault(c.shape[-1], []).append(i)
    out = np.zeros((len(mono), EMBEDDING_DIM + TIME_BANDS * time_segments))
    for length, idx in by_length.items():
        for start in range(0, len(idx), batch_size):
            part = idx[start : start + batch_size]
            batch = np.stack([mono[i] for i in part]).astype(np.float32)
            if sr != EMBEDDING_SR:
                batch = audio.resample(batch[:, None, :], sr, EMBEDDING_SR)[:, 0]
            if batch.shape[-1] < N_FFT // 2 + 1:
                raise ValueError(
                    f"x: clips of {length} samples at {sr} Hz are too short to embed (need "
                    f"{N_FFT // 2 + 1} samples at {EMBEDDING_SR} Hz). Fix: pad them, e.g. "
                    f"tl.audio.fix_length(x, {int(math.ceil((N_FFT // 2 + 1) * sr / EMBEDDING_SR))})."
                )
            out[part] = _embed_batch(batch, time_segments)
    return out


def _embeddings(x: Any, sr: int | None, name: str) -> np.ndarray:
    """2-D arrays are embeddings ``(N, D)``; anything else is audio, embedded here."""
    if (is_tensor(x) or isinstance(x, np.ndarray)) and x.ndim == 2:
        e = to_numpy(x, np.float32).astype(np.float64)
        if not np.all(np.isfinite(e)):
            raise ValueError(f"{name}: the embeddings hold NaN or Inf values.")
        return e
    return embed(x, sr)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class MetricResult:
    """A metric value with its uncertainty: ``float(result)`` is the value.

    ``low`` / ``high``: an interval (re-centred bootstrap for FD, subset spread for KID; NaN
    when not computed); ``std``: spread of the resampled values; ``n_x`` / ``n_y``: the set
    sizes.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """

    name: str
    value: float
    low: float = math.nan
    high: float = math.nan
    std: float = math.nan
    n_x: int = 0
    n_y: int = 0

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        ci = "" if math.isnan(self.low) else f" [{self.low:.4g}, {self.high:.4g}]"
        return f"{self.name} = {self.value:.4g}{ci} (n = {self.n_x} vs {self.n_y})"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (NaN becomes ``None``)."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in dataclasses.asdict(self).items()
        }


# --------------------------------------------------------------------------------------------
# Fréchet distance
# --------------------------------------------------------------------------------------------
def frechet_from_stats(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet (2-Wasserstein) distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2):

    ``|mu1 - mu2|² + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))``.

    The trace of the matrix square root is computed stably as the sum of the square roots of
    the eigenvalues of the symmetric matrix ``sigma1^(1/2) sigma2 sigma1^(1/2)``, which has
    the same eigenvalues as ``sigma1 sigma2``. Shapes: ``mu (D,)``, ``sigma (D, D)``.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != (mu1.size, mu1.size) or s2.shape != s1.shape:
        raise ValueError(
            f"frechet_from_stats: expected mu1, mu2 of shape (D,) and sigma1, sigma2 of shape "
            f"(D, D), got {mu1.shape}, {mu2.shape}, {s1.shape}, {s2.shape}."
        )
    w, v = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root1 @ s2 @ root1
    tr_sqrt = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None))))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt)


def _stats(e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return e.mean(axis=0), np.cov(e, rowvar=False)


def _check_confidence(confidence: float) -> float:
    return check_number(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)


def frechet_distance(
    x: Any,
    y: Any,
    *,
    sr: int | None = None,
    bootstrap: int = 100,
    confidence: float = 0.95,
    seed: int = 0,
) -> MetricResult:
    """Fréchet distance between two sets of clips on the log-mel statistics embedding.

    Fits a Gaussian (mean, covariance with ``N - 1``) to each set's embeddings and applies
    :func:`frechet_from_stats`, as FID and FAD do. Lower is closer; 0 only for identical
    statistics. It is biased upwards for small sets (the bias shrinks like 1/N), so compare
    numbers only at equal set sizes, and against the real-vs-real floor (:func:`evaluate`).
    Use at least a few hundred clips per set (the embedding has 100 dimensions).

    Args:
        x, y: audio batches ``(B, C, T)``, lists of clips, datasets, or embeddings ``(N, D)``
            (from :func:`embed` or any other embedding).
        sr: sample rate in Hz when ``x`` / ``y`` are raw audio.
        bootstrap: number of bootstrap resamples for the confidence interval (0: none).
            Each resample draws both sets with replacement. Duplicated clips make FD larger,
            so the bootstrap values sit above the estimate; the interval is their percentile
            interval shifted back by that offset (centred on the estimate, floored at 0): it
            shows how much FD would vary with new sets of the same size.
        confidence: level of the interval.
        seed: seed of the resampling.

    Returns:
        A :class:`MetricResult` (value, bootstrap interval ``low``/``high``, ``std``).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    bootstrap = check_int(bootstrap, "bootstrap", min_value=0)
    confidence = _check_confidence(confidence)
    seed = check_int(seed, "seed", min_value=0)
    ex, ey = _embeddings(x, sr, "x"), _embeddings(y, sr, "y")
    if ex.shape[1] != ey.shape[1]:
        raise ValueError(f"y: embeddings of size {ey.shape[1]} do not match x's {ex.shape[1]}.")
    if len(ex) < 2 or len(ey) < 2:
        raise ValueError(
            f"x, y: need at least 2 clips per set for a covariance, got {len(ex)} and {len(ey)}."
        )
    value = frechet_from_stats(*_stats(ex), *_stats(ey))
    result = MetricResult("FD", value, n_x=len(ex), n_y=len(ey))
    if bootstrap:
        rng = np.random.default_rng(seed)
        vals = np.array(
            [
                frechet_from_stats(
                    *_stats(ex[rng.integers(0, len(ex), len(ex))]),
                    *_stats(ey[rng.integers(0, len(ey), len(ey))]),
                )
                for _ in range(bootstrap)
            ]
        )
        alpha = (1 - confidence) / 2
        shift = value - float(vals.mean())  # undo the bias of resampling with duplicates
        low, high = np.quantile(vals, [alpha, 1 - alpha]) + shift
        result.low, result.high = max(0.0, float(low)), max(0.0, float(high))
        result.std = float(vals.std(ddof=1)) if bootstrap > 1 else math.nan
    return result


# --------------------------------------------------------------------------------------------
# Kernel distance (KID-style MMD)
# --------------------------------------------------------------------------------------------
def polynomial_kernel(
    a: np.ndarray, b: np.ndarray, *, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> np.ndarray:
    """``k(a, b) = (gamma * a·b + coef0) ** degree`` for all pairs: ``(N, D), (M, D) -> (N, M)``.

    ``gamma`` defaults to ``1 / D``, as in KID.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    gamma = 1.0 / a.shape[1] if gamma is None else gamma
    return (gamma * (a @ b.T) + coef0) ** degree


def mmd2_unbiased(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    """Unbiased estimate of MMD² from kernel matrices ``(m, m), (n, n), (m, n)``.

    ``sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1))
    - 2 mean k(x_i, y_j)``: diagonal terms left out, so its expectation is the true MMD²
    (it can be slightly negative when the sets come from the same distribution).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    m, n = kxx.shape[0], kyy.shape[0]
    if m < 2 or n < 2:
        raise ValueError(f"mmd2_unbiased: need at least 2 clips per set, got {m} and {n}.")
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kernel_distance(
    x: Any,
    y: Any,
    *,
    sr: int | None = None,
    subset_size: int | None = None,
    n_subsets: int = 100,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    confidence: float = 0.95,
    seed: int = 0,
) -> MetricResult:
    """Kernel distance (KID-style): unbiased MMD² with a polynomial kernel, over subsets.

    Draws ``n_subsets`` pairs of subsets of ``subset_size`` clips (without replacement) from
    the two sets, computes :func:`mmd2_unbiased` with :func:`polynomial_kernel` on each, and
    averages. Unlike FD it is unbiased, so its expected value does not depend on the number
    of clips: it stays usable with a few dozen clips (the spread grows instead). Values near
    0 (even slightly negative) mean "indistinguishable at this sample size".

    Args:
        x, y: as for :func:`frechet_distance`.
        sr: sample rate in Hz for raw audio.
        subset_size: clips per subset; default ``min(1000, N // 2)`` with ``N`` the smaller
            set (half-size subsets give a spread that reflects sampling noise).
        n_subsets: number of subsets.
        degree, gamma, coef0: the kernel ``(gamma * a·b + coef0) ** degree``, gamma = 1/D.
        confidence: level of the interval from the spread of the subset values (a
            conservative interval for the mean, since the subsets are half the data).
        seed: seed of the subset draws.

    Returns:
        A :class:`MetricResult`: ``value`` (mean over subsets), ``std`` (over subsets),
        ``low``/``high`` (percentiles of the subset values).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    n_subsets = check_int(n_subsets, "n_subsets", min_value=1)
    degree = check_int(degree, "degree", min_value=1)
    confidence = _check_confidence(confidence)
    seed = check_int(seed, "seed", min_value=0)
    ex, ey = _embeddings(x, sr, "x"), _embeddings(y, sr, "y")
    if ex.shape[1] != ey.shape[1]:
        raise ValueError(f"y: embeddings of size {ey.shape[1]} do not match x's {ex.shape[1]}.")
    n_min = min(len(ex), len(ey))
    if n_min < 2:
        raise ValueError(f"x, y: need at least 2 clips per set, got {len(ex)} and {len(ey)}.")
    if subset_size is None:
        subset_size = max(2, min(1000, n_min // 2))
    subset_size = check_int(subset_size, "subset_size", min_value=2, max_value=n_min)
    kw = dict(degree=degree, gamma=gamma, coef0=coef0)
    kxx = polynomial_kernel(ex, ex, **kw)
    kyy = polynomial_kernel(ey, ey, **kw)
    kxy = polynomial_kernel(ex, ey, **kw)
    rng = np.random.default_rng(seed)
    vals = np.empty(n_subsets)
    for s in range(n_subsets):
        ix = rng.choice(len(ex), subset_size, replace=False)
        iy = rng.choice(len(ey), subset_size, replace=False)
        vals[s] = mmd2_unbiased(kxx[np.ix_(ix, ix)], kyy[np.ix_(iy, iy)], kxy[np.ix_(ix, iy)])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(vals, [alpha, 1 - alpha])
    return MetricResult(
        "KID",
        float(vals.mean()),
        low=float(low),
        high=float(high),
        std=float(vals.std(ddof=1)) if n_subsets > 1 else math.nan,
        n_x=len(ex),
        n_y=len(ey),
    )


# --------------------------------------------------------------------------------------------
# Reconstruction metrics
# --------------------------------------------------------------------------------------------
def _paired_spectra(
    x_ref: Any, x_est: Any, n_fft: int, hop_length: int, chunk: int = 64
) -> tuple[Any, bool]:
    """Chunks of |STFT|² of both inputs and whether the input was a batch.

    Yields ``(p_ref, p_est)`` float64 tensors ``(b, C, F, N)`` for up to ``chunk`` clips at a
    time (the STFT itself runs in float32, to keep memory and time small).
    """
    import torch

    check_audio(x_ref, "x_ref", batch=None, min_samples=n_fft // 2 + 1)
    check_audio(x_est, "x_est", batch=None, min_samples=n_fft // 2 + 1)
    if tuple(x_ref.shape) != tuple(x_est.shape):
        raise ValueError(
            f"x_est: expected the shape of x_ref {tuple(x_ref.shape)}, got {tuple(x_est.shape)}. "
            f"Fix: compare a reconstruction with its own original (cut both to the same "
            f"length, e.g. tl.audio.fix_length)."
        )
    batched = x_ref.ndim == 3

    def as_bct(x: Any) -> Any:
        t = torch.as_tensor(to_numpy(x, np.float32), dtype=torch.float32)
        return t.reshape(1, 1, -1) if t.ndim == 1 else (t[None] if t.ndim == 2 else t)

    ref, est = as_bct(x_ref), as_bct(x_est)
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float32)

    def power(t: Any) -> Any:
        flat = t.reshape(-1, t.shape[-1])
        spec = torch.stft(
            flat, n_fft, hop_length, window=window, center=True, pad_mode="reflect",
            return_complex=True,
        )  # fmt: skip
        p = spec.abs().double().square()
        return p.reshape(t.shape[0], t.shape[1], p.shape[-2], p.shape[-1])

    def chunks() -> Any:
        for start in range(0, ref.shape[0], chunk):
            yield power(ref[start : start + chunk]), power(est[start : start + chunk])

    return chunks(), batched


def spectral_convergence(
    x_ref: Any, x_est: Any, *, n_fft: int = 1024, hop_length: int = 256
) -> float | np.ndarray:
    """Spectral convergence ``‖ |S_ref| - |S_est| ‖_F / ‖ |S_ref| ‖_F`` (0 is perfect).

    ``S`` is the STFT (Hann window of ``n_fft`` samples, hop ``hop_length``, centred frames);
    the norms run over channels, frequencies and frames. A relative error of the magnitude
    spectrogram (phase ignored): 0.1 means a 10 % error. Shapes: ``(T,)`` / ``(C, T)`` give a
    float; a batch ``(B, C, T)`` gives a numpy array ``(B,)``. Both inputs must have the
    same shape.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    n_fft = check_int(n_fft, "n_fft", min_value=2)
    hop_length = check_int(hop_length, "hop_length", min_value=1)
    import torch

    chunks, batched = _paired_spectra(x_ref, x_est, n_fft, hop_length)
    parts = []
    for p_ref, p_est in chunks:
        a, b = p_ref.sqrt(), p_est.sqrt()
        num = (a - b).square().sum(dim=(1, 2, 3)).sqrt()
        parts.append(num / a.square().sum(dim=(1, 2, 3)).sqrt().clamp_min(1e-12))
    out = torch.cat(parts).numpy()
    return out if batched else float(out[0])


def log_spectral_distance(
    x_ref: Any,
    x_est: Any,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    floor_db: float | None = -80.0,
    eps: float = 1e-10,
) -> float | np.ndarray:
    """Log-spectral distance in dB: per frame, the RMS over frequency of
    ``10 log10((|S_ref|² + f) / (|S_est|² + f))``, averaged over frames (and channels).

    0 dB is perfect; a uniform gain error of g dB gives g dB in every bin well above the floor.
    The floor ``f`` is ``floor_db`` dB below the reference clip's loudest bin (one floor per
    clip, the same for both spectra, plus ``eps`` so that digital silence stays finite): a bin
    far below it counts as equal in both, so the near-silent bins (a decayed tail, the top of a
    band-limited recording) do not dominate the average, as they would with an absolute floor
    (a bin at -150 dB against one at -110 dB is a 40 dB "error" nobody hears). ``floor_db=None``
    uses ``eps`` alone (every bin, however quiet, counts). STFT and shapes as in
    :func:`spectral_convergence`.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    n_fft = check_int(n_fft, "n_fft", min_value=2)
    hop_length = check_int(hop_length, "hop_length", min_value=1)
    if floor_db is not None:
        floor_db = check_number(floor_db, "floor_db", high=0.0, high_open=True)
    eps = check_number(eps, "eps", low=0.0, low_open=True)
    import torch

    chunks, batched = _paired_spectra(x_ref, x_est, n_fft, hop_length)
    parts = []
    for p_ref, p_est in chunks:
        f = torch.full_like(p_ref[:, :1, :1, :1], eps)  # (b, 1, 1, 1): one floor per clip
        if floor_db is not None:
            loudest = p_ref.amax(dim=(1, 2, 3), keepdim=True)
            f = f + loudest * 10.0 ** (floor_db / 10.0)
        d = 10.0 * torch.log10((p_ref + f) / (p_est + f))  # (b, C, F, N)
        parts.append(d.square().mean(dim=2).sqrt().mean(dim=(1, 2)))  # frame RMS, averaged
    out = torch.cat(parts).numpy()
    return out if batched else float(out[0])


# --------------------------------------------------------------------------------------------
# Class check
# --------------------------------------------------------------------------------------------
class EmbeddingClassifier:
    """A small classifier on embeddings: ``'logistic'`` (multinomial, L2) or ``'centroid'``.

    Features are standardised with the training mean and standard deviation. The logistic
    model is fitted with L-BFGS (scipy), deterministic. ``fit(e (N, D), labels (N,))``,
    ``predict_proba(e) -> (N, K)``, ``predict(e) -> (N,)``.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """

    def __init__(self, kind: str = "logistic", *, l2: float = 1e-2, max_iter: int = 500) -> None:
        self.kind = check_choice(kind, "kind", ("logistic", "centroid"))
        self.l2 = check_number(l2, "l2", low=0.0)
        self.max_iter = check_int(max_iter, "max_iter", min_value=1)
        self.classes_: np.ndarray | None = None

    def _z(self, e: np.ndarray) -> np.ndarray:
        return (e - self.mean_) / self.scale_

    def fit(self, e: Any, labels: Any) -> EmbeddingClassifier:
        """Fit on embeddings ``e`` ``(N, D)`` and integer ``labels`` ``(N,)``; return self."""
        from scipy.optimize import minimize

        e = np.asarray(e, np.float64)
        labels = np.asarray(labels).astype(np.int64)
        if e.ndim != 2 or labels.shape != (e.shape[0],):
            raise ValueError(
                f"fit: expected embeddings (N, D) and labels (N,), got {e.shape} and {labels.shape}."
            )
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError(
                f"labels: need at least 2 classes to train a classifier, got {self.classes_.tolist()}."
            )
        self.mean_ = e.mean(0)
        self.scale_ = e.std(0) + 1e-8
        z = self._z(e)
        y = np.searchsorted(self.classes_, labels)
        k, d = len(self.classes_), z.shape[1]
        self.centroids_ = np.stack([z[y == c].mean(0) for c in range(k)])
        if self.kind == "logistic":
            onehot = np.eye(k)[y]
            n = len(z)

            def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
                W, b = w[: k * d].reshape(d, k), w[k * d :]
                logits = z @ W + b
                logits -= logits.max(1, keepdims=True)
                logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
                p = np.exp(logp)
                value = -(onehot * logp).sum() / n + 0.5 * self.l2 * (W * W).sum()
                g = (p - onehot) / n
                grad = np.concatenate([(z.T @ g + self.l2 * W).ravel(), g.sum(0)])
                return value, grad

            res = minimize(
                loss,
                np.zeros(k * d + k),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": self.max_iter},
            )
            self.W_, self.b_ = res.x[: k * d].reshape(d, k), res.x[k * d :]
        return self

    def predict_proba(self, e: Any) -> np.ndarray:
        """Class probabilities ``(N, K)`` (columns in the order of ``classes_``)."""
        if self.classes_ is None:
            raise RuntimeError("EmbeddingClassifier: call fit(embeddings, labels) first.")
        z = self._z(np.asarray(e, np.float64))
        if self.kind == "logistic":
            logits = z @ self.W_ + self.b_
        else:
            logits = -((z[:, None, :] - self.centroids_[None]) ** 2).sum(-1)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def predict(self, e: Any) -> np.ndarray:
        """The most probable label of each embedding, ``(N,)``."""
        return self.classes_[np.argmax(self.predict_proba(e), axis=1)]


@dataclasses.dataclass
class ClassCheckResult:
    """Result of :func:`class_check`.

    ``accuracy``: share of generated clips classified as the class they were asked for;
    ``real_accuracy``: the same classifier on held-out real clips (the ceiling; NaN if no
    held-out set was given); ``chance``: 1 / number of classes; ``per_class``: accuracy per
    requested class name; ``confusion``: counts ``(K, K)``, rows = requested, columns =
    predicted; ``predicted``: predicted label per generated clip; ``real_per_class``: the
    held-out real clips' accuracy per class name (each class's own ceiling; empty if no
    held-out set was given).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """

    accuracy: float
    real_accuracy: float
    chance: float
    per_class: dict[str, float]
    confusion: np.ndarray
    predicted: np.ndarray
    classes: list[str]
    real_per_class: dict[str, float] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        real = (
            ""
            if math.isnan(self.real_accuracy)
            else f", held-out real clips {self.real_accuracy:.1%}"
        )
        return f"class check: generated clips {self.accuracy:.1%} (chance {self.chance:.1%}{real})"


def _labels_of(ds: Any, labels: Any, name: str) -> np.ndarray:
    if labels is None:
        labels = getattr(ds, "labels", None)
        if labels is None:
            raise ValueError(
                f"{name}_labels: the labels of {name} are missing. Fix: pass {name}_labels=..."
            )
    return np.asarray(labels).astype(np.int64).reshape(-1)


def class_check(
    fake: Any,
    requested: Sequence[int] | np.ndarray,
    *,
    train: Any,
    train_labels: Any = None,
    test: Any = None,
    test_labels: Any = None,
    sr: int | None = None,
    classes: Sequence[str] | None = None,
    kind: str = "logistic",
) -> ClassCheckResult:
    """Does a class-conditional model produce the class it was asked for?

    Trains an :class:`EmbeddingClassifier` on the embeddings of real labelled clips
    (``train``), classifies the generated clips (``fake``) and compares the prediction with
    the class each was generated for (``requested``). The accuracy on held-out real clips
    (``test``) is the ceiling: a good conditional model gets close to it; chance is 1/K.

    Args:
        fake: generated clips (audio, dataset or embeddings, as for :func:`frechet_distance`).
        requested: the label each generated clip was asked for, shape ``(N,)``.
        train: real labelled clips (a ``tl.data`` dataset carries ``labels`` and ``classes``).
        train_labels, test_labels: labels when ``train`` / ``test`` are not datasets.
        test: optional held-out real clips.
        sr: sample rate in Hz for raw audio.
        classes: class names (default: ``train.classes`` or the label numbers).
        kind: ``'logistic'`` or ``'centroid'`` (nearest class mean).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    e_train = _embeddings(train, sr, "train")
    y_train = _labels_of(train, train_labels, "train")
    if len(y_train) != len(e_train):
        raise ValueError(f"train_labels: expected {len(e_train)} labels, got {len(y_train)}.")
    clf = EmbeddingClassifier(kind).fit(e_train, y_train)
    e_fake = _embeddings(fake, sr, "fake")
    req = np.asarray(requested).astype(np.int64).reshape(-1)
    if len(req) != len(e_fake):
        raise ValueError(
            f"requested: expected one label per generated clip ({len(e_fake)}), got {len(req)}."
        )
    unknown = sorted(set(req.tolist()) - set(clf.classes_.tolist()))
    if unknown:
        raise ValueError(
            f"requested: labels {unknown} do not occur in the training labels {clf.classes_.tolist()}."
        )
    if classes is None:
        classes = getattr(train, "classes", None)
    names = {
        int(c): (str(classes[int(c)]) if classes is not None else str(int(c))) for c in clf.classes_
    }
    pred = clf.predict(e_fake)
    k = len(clf.classes_)
    pos = {int(c): i for i, c in enumerate(clf.classes_)}
    confusion = np.zeros((k, k), dtype=np.int64)
    for r, p in zip(req, pred, strict=True):
        confusion[pos[int(r)], pos[int(p)]] += 1
    per_class = {
        names[int(c)]: float(np.mean(pred[req == c] == c)) for c in clf.classes_ if np.any(req == c)
    }
    real_acc, real_per_class = math.nan, {}
    if test is not None:
        e_test = _embeddings(test, sr, "test")
        y_test = _labels_of(test, test_labels, "test")
        if len(y_test) != len(e_test):
            raise ValueError(f"test_labels: expected {len(e_test)} labels, got {len(y_test)}.")
        pred_test = clf.predict(e_test)
        real_acc = float(np.mean(pred_test == y_test))
        real_per_class = {
            names[int(c)]: float(np.mean(pred_test[y_test == c] == c))
            for c in clf.classes_
            if np.any(y_test == c)
        }
    return ClassCheckResult(
        accuracy=float(np.mean(pred == req)),
        real_accuracy=real_acc,
        chance=1.0 / k,
        per_class=per_class,
        confusion=confusion,
        predicted=pred,
        classes=[names[int(c)] for c in clf.classes_],
        real_per_class=real_per_class,
    )


# --------------------------------------------------------------------------------------------
# Memorisation check
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class MemorisationResult:
    """Result of :func:`memorisation_check`.

    ``fake_distances`` ``(N,)``: each generated clip's distance to its nearest training clip
    (dB RMS for ``space='logmel'``, standardised units for ``'embedding'``);
    ``nearest_train`` ``(N,)``: that clip's index; ``real_distances`` ``(M,)``: the same for
    held-out real clips (the reference); ``threshold``: the ``quantile`` of
    ``real_distances``; ``suspects``: indices of generated clips closer than it;
    ``fraction_suspect``: their share (about ``quantile`` if the model does not copy, near 1
    if it does); ``median_ratio``: median fake distance / median real distance (well below 1
    suggests copying).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """

    fake_distances: np.ndarray
    nearest_train: np.ndarray
    real_distances: np.ndarray | None
    threshold: float
    quantile: float
    suspects: np.ndarray
    fraction_suspect: float
    median_ratio: float
    space: str = "logmel"

    def __str__(self) -> str:
        unit = " dB" if self.space == "logmel" else ""
        if self.real_distances is None:
            return (
                f"memorisation check: median distance to the nearest training clip "
                f"{np.median(self.fake_distances):.3g}{unit}"
            )
        return (
            f"memorisation check: {self.fraction_suspect:.1%} of generated clips are closer to a "
            f"training clip than {self.quantile:.0%} of held-out real clips are (expected "
            f"~{self.quantile:.0%} without copying); median distance to the nearest training "
            f"clip {np.median(self.fake_distances):.3g}{unit} (fake) vs "
            f"{np.median(self.real_distances):.3g}{unit} (real), ratio {self.median_ratio:.2f}"
        )


def tail_level_db(
    x: Any, *, frame: int = 256, share: float = 0.1, floor_db: float = -120.0
) -> np.ndarray:
    """How quiet each clip gets: the RMS level (dBFS) of its quietest ``share`` of frames.

    Each clip (channels averaged) is cut into frames of ``frame`` samples; the RMS level of
    each frame in dBFS (floored at ``floor_db``: digital silence reads ``floor_db``) is
    sorted, and the mean of the quietest ``share`` of them is the clip's tail level. A real
    drum hit decays to digital silence; a model's noise floor keeps its tail above it.

    Args:
        x: clips ``(N, C, T)`` or ``(N, T)`` (tensor or array), ``T >= frame``.
        frame: samples per frame (256 = 16 ms at 16 kHz).
        share: the quietest share of the frames to average, in ``(0, 1]``.
        floor_db: the level given to silent frames.

    Returns:
        ``(N,)`` float64 levels in dBFS.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    frame = check_int(frame, "frame", min_value=1)
    share = check_number(share, "share", low=0.0, high=1.0, low_open=True)
    floor_db = check_number(floor_db, "floor_db")
    a = to_numpy(x, np.float32)
    if a.ndim == 3:
        a = a.mean(axis=1)
    if a.ndim != 2 or a.shape[-1] < frame:
        raise ValueError(
            f"x: expected clips (N, C, T) or (N, T) with T >= frame = {frame}, got shape "
            f"{a.shape}. Fix: pass a batch of clips, or a smaller frame."
        )
    n_frames = a.shape[-1] // frame
    frames = a[:, : n_frames * frame].reshape(len(a), n_frames, frame).astype(np.float64)
    rms = np.sqrt((frames**2).mean(-1))
    db = np.maximum(20 * np.log10(np.maximum(rms, 1e-300)), floor_db)
    k = max(1, int(round(share * n_frames)))
    return np.sort(db, axis=-1)[:, :k].mean(-1)


#: Dynamic range kept by the log-mel copy detector, in dB below each clip's loudest bin.
COPY_TOP_DB = 50.0


def _mono_16k(x: Any, sr: int | None, name: str) -> list[np.ndarray]:
    """The clips of ``x`` as mono arrays at :data:`EMBEDDING_SR` (16 kHz)."""
    from . import audio

    clips, sr = _clips(x, sr, name)
    mono = [c.mean(axis=0) for c in clips]
    if sr != EMBEDDING_SR:
        mono = [audio.resample(m, sr, EMBEDDING_SR) for m in mono]
    return mono


def _logmel_vectors(x: Any, sr: int | None, name: str, length: int | None) -> np.ndarray:
    """Flattened log-mel spectrograms ``(N, n_mels * frames)`` in dB, floored per clip at
    ``max - COPY_TOP_DB`` (low-level noise does not hide a copy); clips cut to ``length``."""
    import torch

    from . import audio

    mono = _mono_16k(x, sr, name)
    n = min(len(m) for m in mono) if length is None else length
    if n < N_FFT // 2 + 1:
        raise ValueError(f"{name}: clips are too short to compare ({n} samples at 16 kHz).")
    batch = np.stack([np.pad(m[:n], (0, max(0, n - len(m)))) for m in mono]).astype(np.float32)
    mel = audio.mel_spectrogram(
        torch.from_numpy(batch), EMBEDDING_SR, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS
    ).double()
    db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
    peak = db.amax(dim=(1, 2), keepdim=True)
    db = torch.maximum(db, peak - COPY_TOP_DB)
    return db.reshape(len(batch), -1).numpy()


def _unit_waveforms(x: Any, sr: int | None, name: str, length: int) -> np.ndarray:
    """Mono clips at 16 kHz cut to ``length`` samples, each scaled to unit norm ``(N, length)``."""
    v = np.stack([m[:length] for m in _mono_16k(x, sr, name)]).astype(np.float64)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    if np.any(norm == 0):
        raise ValueError(
            f"{name}: clip {int(np.argmin(norm[:, 0]))} is silent, and a silent clip has no "
            f"waveform shape to compare. Fix: drop silent clips, or use space='logmel'."
        )
    return v / norm


def _nearest(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance to (and index of) the nearest row of ``b`` for each row of ``a``."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
    idx = np.argmin(d2, axis=1)
    return np.sqrt(np.clip(d2[np.arange(len(a)), idx], 0, None)), idx


def memorisation_check(
    fake: Any,
    train: Any,
    *,
    real: Any = None,
    sr: int | None = None,
    quantile: float = 0.05,
    space: str = "logmel",
) -> MemorisationResult:
    """Are generated clips copies of training clips?

    For each generated clip, the distance to its nearest training clip. A model that
    generalises produces clips about as far from the training set as new real clips are; a
    model that memorised produces near-copies. So the same distances are computed for
    held-out real clips (``real``, e.g. the test split), and a generated clip is a *suspect*
    when it is closer than the ``quantile`` of those real distances. Listen to the suspects
    next to ``train[nearest_train[i]]``.

    Args:
        fake: generated clips; train: the training clips; real: held-out real clips
            (audio batches, lists of clips or datasets; embeddings ``(N, D)`` with
            ``space='embedding'``).
        sr: sample rate in Hz for raw audio.
        quantile: the share of real clips that defines "suspiciously close".
        space: ``'logmel'`` (default): RMS difference in dB between log-mel spectrograms
            (40 bands, each clip floored 50 dB below its loudest bin, clips cut to the
            shortest): a copy with a little added noise is still a copy. ``'waveform'``:
            ``1 - cosine similarity`` of the waveforms themselves (mono, 16 kHz, cut to the
            shortest; 0 for a copy at any gain, about 1 for unrelated sounds): for clips
            aligned in time (one-shots starting at their onset), and the strictest test, since
            two different sounds of the same kind rarely share a waveform. ``'embedding'``:
            Euclidean distance between :func:`embed` vectors standardised by the training
            set (compares overall character, not the exact sound).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    quantile = check_number(quantile, "quantile", low=0.0, high=1.0, low_open=True, high_open=True)
    check_choice(space, "space", ("logmel", "waveform", "embedding"))
    if space == "embedding":
        e_train = _embeddings(train, sr, "train")
        mean, scale = e_train.mean(0), e_train.std(0) + 1e-8

        def vectors(x: Any, name: str) -> np.ndarray:
            return (_embeddings(x, sr, name) - mean) / scale

        z_train = (e_train - mean) / scale
    else:
        lengths = []
        for x in (fake, train) + (() if real is None else (real,)):
            clips, x_sr = _clips(x, sr, "x")
            lengths.append(min(int(np.ceil(c.shape[-1] * EMBEDDING_SR / x_sr)) for c in clips))
        n = min(lengths)

        def vectors(x: Any, name: str) -> np.ndarray:
            if space == "waveform":
                return _unit_waveforms(x, sr, name, n)
            v = _logmel_vectors(x, sr, name, n)
            return v / np.sqrt(v.shape[1])  # distances become RMS dB

        z_train = vectors(train, "train")

    def nearest_of(x: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
        d, idx = _nearest(vectors(x, name), z_train)
        return (d**2 / 2, idx) if space == "waveform" else (d, idx)  # |a-b|^2/2 = 1 - cos

    fake_d, nearest = nearest_of(fake, "fake")
    if real is None:
        return MemorisationResult(
            fake_d, nearest, None, math.nan, quantile, np.array([], int), math.nan, math.nan, space
        )
    real_d, _ = nearest_of(real, "real")
    threshold = float(np.quantile(real_d, quantile))
    suspects = np.nonzero(fake_d < threshold)[0]
    return MemorisationResult(
        fake_distances=fake_d,
        nearest_train=nearest,
        real_distances=real_d,
        threshold=threshold,
        quantile=quantile,
        suspects=suspects,
        fraction_suspect=float(len(suspects) / len(fake_d)),
        median_ratio=float(np.median(fake_d) / max(np.median(real_d), 1e-12)),
        space=space,
    )


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------
def evaluate(
    real: Any,
    fake: Any,
    *,
    sr: int | None = None,
    reference: Any = None,
    bootstrap: int = 100,
    n_subsets: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """FD and KID of ``fake`` against ``real``, each beside its real-vs-real floor.

    The floor is the same metric between two disjoint real sets of the same sizes as the
    comparison, so a number can be read as "how far from the data, compared with more
    data". With ``reference`` (a second real set, e.g. the test split) the scores are
    ``metric(real, fake)`` and the floor ``metric(real, reference)``; without it ``real`` is
    split at random into halves A and B: scores ``metric(A, fake)``, floor ``metric(A, B)``.
    The larger of ``fake`` / second real set is subsampled to the smaller's size, because
    FD depends on the set size.

    Args:
        real, fake, reference: audio batches ``(B, C, T)``, lists of clips, datasets or
            embeddings ``(N, D)``.
        sr: sample rate in Hz for raw audio.
        bootstrap: resamples for FD's confidence intervals.
        n_subsets: subsets for KID.
        seed: seed of the split, subsampling, bootstrap and subsets.

    Returns:
        ``{"fd": MetricResult, "fd_floor": ..., "kid": ..., "kid_floor": ..., "fd_ratio":
        fd / fd_floor, "n_real": int, "n_fake": int, "embedding": str}``.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    seed = check_int(seed, "seed", min_value=0)
    e_real = _embeddings(real, sr, "real")
    e_fake = _embeddings(fake, sr, "fake")
    rng = np.random.default_rng(seed)
    if reference is None:
        if len(e_real) < 4:
            raise ValueError(
                f"real: need at least 4 real clips to split for the floor, got {len(e_real)}."
            )
        perm = rng.permutation(len(e_real))
        a, b = e_real[perm[: len(perm) // 2]], e_real[perm[len(perm) // 2 :]]
    else:
        a, b = e_real, _embeddings(reference, sr, "reference")
    m = min(len(b), len(e_fake))
    b = b[rng.permutation(len(b))[:m]]
    f = e_fake[rng.permutation(len(e_fake))[:m]]
    kw_fd = dict(bootstrap=bootstrap, seed=seed)
    kw_kid = dict(n_subsets=n_subsets, seed=seed)
    fd, fd_floor = frechet_distance(a, f, **kw_fd), frechet_distance(a, b, **kw_fd)
    kid, kid_floor = kernel_distance(a, f, **kw_kid), kernel_distance(a, b, **kw_kid)
    fd_floor.name, kid_floor.name = "FD floor", "KID floor"
    return {
        "fd": fd,
        "fd_floor": fd_floor,
        "kid": kid,
        "kid_floor": kid_floor,
        "fd_ratio": fd.value / fd_floor.value if fd_floor.value > 0 else math.inf,
        "n_real": len(e_real),
        "n_fake": len(e_fake),
        "embedding": f"log-mel statistics ({EMBEDDING_DIM} dims, {EMBEDDING_SR} Hz)",
    }


def format_table(results: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate`'s results (plus any extra float entries).

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    rows = [("metric", "value", "95% interval", "sets")]
    for key, label in (
        ("fd", "FD (fake vs real)"),
        ("fd_floor", "FD floor (real vs real)"),
        ("kid", "KID (fake vs real)"),
        ("kid_floor", "KID floor (real vs real)"),
    ):
        r = results.get(key)
        if isinstance(r, MetricResult):
            ci = "" if math.isnan(r.low) else f"[{r.low:.4g}, {r.high:.4g}]"
            rows.append((label, f"{r.value:.4g}", ci, f"{r.n_x} vs {r.n_y}"))
    labels = {
        "fd_ratio": "FD / FD floor",
        "spectral_convergence": "spectral convergence (pairs)",
        "log_spectral_distance_db": "log-spectral distance, dB (pairs)",
    }
    for key, value in results.items():
        if isinstance(value, float):
            rows.append((labels.get(key, key), f"{value:.4g}", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    extra = [
        f"{k}: {v}"
        for k, v in results.items()
        if isinstance(v, (int, str)) and not isinstance(v, bool)
    ]
    return "\n".join(lines + extra)
