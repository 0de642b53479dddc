"""Audio in and out: load, save, resample, levels, spectrograms and players.

Audio is a torch tensor or a numpy array of float samples in [-1, 1]: one clip ``(T,)`` or
``(C, T)`` (C channels, T samples), a batch ``(B, C, T)``. Functions that take audio return the
same type they were given (numpy in, numpy out; a tensor keeps its device and dtype).
Sample rates ``sr`` are ints in Hz.

Players (:func:`play`, :func:`play_grid`) embed 16-bit WAV data in the page, so they work in
Jupyter, Colab and the static HTML book alike. They never renormalise silently: level
differences are part of the lesson. Samples outside [-1, 1] are clipped, with a warning.

Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
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
    "load",
    "griffin_lim",
    "save",
    "resample",
    "to_mono",
    "to_stereo",
    "fix_length",
    "normalize_peak",
    "normalize_rms",
    "rms_db",
    "stft_db",
    "mel_filterbank",
    "mel_spectrogram",
    "power_to_db",
    "hz_to_mel",
    "mel_to_hz",
    "to_wav_bytes",
    "MAX_PLAY_RMS_DB",
    "play",
    "play_grid",
]

#: Clips longer than this (seconds) make :func:`play` / :func:`play_grid` warn (pages stay light).
MAX_PLAY_SECONDS = 30.0
#: The book's listening policy: no player is louder than this RMS level (dBFS). A louder clip
#: is attenuated to it for listening, and its player says by how many dB (the samples you
#: compute with are never changed). The real drum hits of the book sit around -14 dBFS.
MAX_PLAY_RMS_DB = -12.0
#: A player notes when more than this share of a clip's samples sit at full scale (a clip that
#: was clipped, e.g. by a sampler's clamp to [-1, 1]).
FULL_SCALE_NOTE = 0.01


# --------------------------------------------------------------------------------------------
# Small internal helpers
# --------------------------------------------------------------------------------------------
def _like(result: np.ndarray, template: Any) -> Any:
    """Return ``result`` as the type of ``template`` (numpy stays numpy; tensors keep device)."""
    if is_tensor(template):
        import torch

        dtype = template.dtype if template.is_floating_point() else torch.float32
        return torch.as_tensor(np.ascontiguousarray(result)).to(device=template.device, dtype=dtype)
    dtype = template.dtype if np.issubdtype(template.dtype, np.floating) else np.float32
    return np.asarray(result, dtype=dtype)


def _check_float(x: Any, name: str) -> None:
    floating = x.is_floating_point() if is_tensor(x) else np.issubdtype(x.dtype, np.floating)
    if not floating:
        raise TypeError(
            f"{name}: expected float audio samples in [-1, 1], got {describe(x)}. "
            f"Fix: convert it, e.g. {name}.astype(np.float32) / 32768 for 16-bit integers "
            f"(torch: {name}.float() / 32768)."
        )


def _clip_with_warning(arr: np.ndarray, name: str, stacklevel: int = 3) -> np.ndarray:
    """Clip ``arr`` to [-1, 1], warning how many samples were outside."""
    n_out = int(np.count_nonzero(np.abs(arr) > 1.0))
    if n_out:
        peak = float(np.max(np.abs(arr)))
        warnings.warn(
            f"{name}: {n_out} of {arr.size} samples ({100 * n_out / arr.size:.2g}%) are outside "
            f"[-1, 1] (peak {peak:.3g}) and were clipped. Fix: scale the audio down, e.g. "
            f"tl.audio.normalize_peak({name}), or pass normalize=True to the player.",
            UserWarning,
            stacklevel=stacklevel,
        )
        arr = np.clip(arr, -1.0, 1.0)
    return arr


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
def load(path: str | os.PathLike, sr: int | None = None, *, mono: bool = False) -> tuple[Any, int]:
    """Load an audio file as a float32 torch tensor of shape ``(C, T)`` and its rate in Hz.

    WAV, FLAC, OGG/Vorbis and MP3 are read with soundfile (libsndfile >= 1.1 reads MP3); other
    formats fall back to ``librosa.load`` (audioread / ffmpeg).

    Args:
        path: the audio file.
        sr: resample to this rate in Hz (``None`` keeps the file's rate).
        mono: average the channels, giving shape ``(1, T)``.

    Returns:
        ``(x, sr)``: ``x`` a ``torch.Tensor`` ``(C, T)`` float32 in [-1, 1]; ``sr`` an int in Hz.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    import torch

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or Path), got {describe(path)}.")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"path: no audio file at {str(path)!r}. Fix: check the path (relative paths start "
            f"from the notebook's folder: {os.getcwd()!r})."
        )
    if sr is not None:
        sr = check_sample_rate(sr, "sr")
    import soundfile as sf

    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)  # (T, C)
        data = data.T
    except Exception as sf_error:  # libsndfile cannot read it: try audioread via librosa
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # librosa's "PySoundFile failed" FutureWarning
                data, file_sr = librosa.load(str(path), sr=None, mono=False)
            data = np.atleast_2d(np.asarray(data, dtype=np.float32))
        except Exception as fallback_error:
            raise ValueError(
                f"path: could not read {str(path)!r} as audio. soundfile said: {sf_error}; "
                f"librosa/audioread said: {fallback_error or type(fallback_error).__name__}. "
                f"Fix: check that the file is audio and not damaged, or convert it to WAV or "
                f"FLAC (e.g. ffmpeg -i input output.wav)."
            ) from fallback_error
    file_sr = int(file_sr)
    if mono:
        data = data.mean(axis=0, keepdims=True)
    if sr is not None and sr != file_sr:
        data = resample(data, file_sr, sr)
        file_sr = sr
    return torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)), file_sr


def save(path: str | os.PathLike, x: Any, sr: int, *, subtype: str = "PCM_16") -> Path:
    """Write audio ``x`` (``(T,)`` or ``(C, T)``, float in [-1, 1]) to ``path``, atomically.

    The format comes from the file extension (``.wav``, ``.flac``, ``.ogg``, ``.mp3``, ...).
    ``subtype`` is the sample encoding (``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``); when the
    default ``"PCM_16"`` does not fit the format (OGG, MP3) the format's default is used.
    Samples outside [-1, 1] are clipped, with a warning. The file is written to a temporary
    file in the same folder, then moved into place, so a crash never leaves half a file.

    Returns the path written.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    import soundfile as sf

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or Path), got {describe(path)}.")
    path = Path(path)
    check_audio(x, "x")
    _check_float(x, "x")
    sr = check_sample_rate(sr, "sr")
    ext = path.suffix.lower().lstrip(".")
    formats = {"oga": "OGG", "opus": "OGG", "aif": "AIFF", "aiff": "AIFF", "wave": "WAV"}
    fmt = formats.get(ext, ext.upper())
    if fmt not in sf.available_formats():
        raise ValueError(
            f"path: cannot write audio with extension {path.suffix!r} ({str(path)!r}). "
            f"Fix: use one of .wav, .flac, .ogg, .mp3."
        )
    if not sf.check_format(fmt, subtype):
        if subtype == "PCM_16":
            subtype = sf.default_subtype(fmt)
        else:
            raise ValueError(
                f"subtype: {subtype!r} is not valid for {fmt} files. Valid subtypes: "
                f"{', '.join(sf.available_subtypes(fmt))}."
            )
    data = to_numpy(x).astype(np.float32)
    data = _clip_with_warning(data, "x")
    data = data.T if data.ndim == 2 else data  # soundfile wants (T, C)
    if ext == "opus":
        subtype = "OPUS"
    from ._io import atomic_write  # the library's one atomic-write helper

    with atomic_write(path, "wb") as f:
        sf.write(f, data, sr, subtype=subtype, format=fmt)
    return path


# --------------------------------------------------------------------------------------------
# Rates, channels, lengths, levels
# --------------------------------------------------------------------------------------------
def resample(x: Any, sr_in: int, sr_out: int) -> Any:
    """Resample audio from ``sr_in`` Hz to ``sr_out`` Hz (soxr, high quality, via librosa).

    Shapes: ``(T,)``, ``(C, T)`` or ``(B, C, T)`` in; the same leading axes out, with
    ``T_out = ceil(T * sr_out / sr_in)`` samples. Same type out as in (a tensor goes through
    the CPU and comes back on its device; no gradient flows through).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    check_audio(x, "x", batch=None)
    _check_float(x, "x")
    sr_in = check_sample_rate(sr_in, "sr_in")
    sr_out = check_sample_rate(sr_out, "sr_out")
    if sr_in == sr_out:
        return x.clone() if is_tensor(x) else np.array(x, copy=True)
    import librosa

    y = librosa.resample(
        to_numpy(x).astype(np.float32), orig_sr=sr_in, target_sr=sr_out, res_type="soxr_hq"
    )
    return _like(y, x)


def to_mono(x: Any) -> Any:
    """Average the channels: ``(C, T) -> (1, T)``, ``(B, C, T) -> (B, 1, T)``; ``(T,)`` unchanged.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    check_audio(x, "x", batch=None)
    if x.ndim == 1:
        return x.clone() if is_tensor(x) else np.array(x, copy=True)
    if is_tensor(x):
        return x.mean(dim=-2, keepdim=True)
    return x.mean(axis=-2, keepdims=True).astype(x.dtype, copy=False)


def to_stereo(x: Any) -> Any:
    """Make two channels: ``(T,)`` or ``(1, T) -> (2, T)``, ``(B, 1, T) -> (B, 2, T)``.

    Stereo input is returned unchanged (a copy); more than two channels is an error.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    check_audio(x, "x", batch=None)
    if x.ndim == 1:
        x = x[None]
    channels = x.shape[-2]
    if channels > 2:
        raise ValueError(
            f"x: expected mono or stereo audio, got {channels} channels ({describe(x)}). "
            f"Fix: mix down first, e.g. tl.audio.to_mono(x), or pick two channels x[..., :2, :]."
        )
    if channels == 2:
        return x.clone() if is_tensor(x) else np.array(x, copy=True)
    reps = [1] * x.ndim
    reps[-2] = 2
    if is_tensor(x):
        return x.repeat(*reps)
    return np.tile(x, reps)


def fix_length(x: Any, length: int, *, align: str = "left") -> Any:
    """Pad with zeros or crop the last axis to exactly ``length`` samples.

    Args:
        x: audio ``(T,)``, ``(C, T)`` or ``(B, C, T)``.
        length: the number of samples wanted (``T_out``).
        align: ``"left"`` keeps the start (pads / crops at the end), ``"center"`` keeps the
            middle (pads / crops both ends), ``"right"`` keeps the end.

    Returns the same type with the last axis ``length``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    check_audio(x, "x", batch=None)
    length = check_int(length, "length", min_value=1)
    check_choice(align, "align", ("left", "center", "right"))
    n = x.shape[-1]
    if n == length:
        return x.clone() if is_tensor(x) else np.array(x, copy=True)
    diff = abs(length - n)
    before = {"left": 0, "center": diff // 2, "right": diff}[align]
    after = diff - before
    if n > length:  # crop
        return (
            x[..., before : n - after].clone()
            if is_tensor(x)
            else x[..., before : n - after].copy()
        )
    if is_tensor(x):
        import torch.nn.functional as F

        return F.pad(x, (before, after))
    pad = [(0, 0)] * (x.ndim - 1) + [(before, after)]
    return np.pad(x, pad)


def _per_clip_reduce(x: Any, fn_np: Callable, fn_torch: Callable) -> Any:
    """Reduce over (C, T) per clip: a scalar for one clip, shape (B,) for a batch."""
    if is_tensor(x):
        flat = x.reshape(x.shape[0], -1) if x.ndim == 3 else x.reshape(1, -1)
        return fn_torch(flat)
    flat = x.reshape(x.shape[0], -1) if x.ndim == 3 else x.reshape(1, -1)
    return fn_np(flat)


def _peak(x: Any) -> Any:
    return _per_clip_reduce(x, lambda a: np.max(np.abs(a), axis=1), lambda t: t.abs().amax(dim=1))


def _rms(x: Any) -> Any:
    return _per_clip_reduce(
        x,
        lambda a: np.sqrt(np.mean(np.square(a, dtype=np.float64), axis=1)),
        lambda t: t.double().square().mean(dim=1).sqrt(),
    )


def _apply_gain(x: Any, level: Any, target: float, what: str) -> Any:
    """Multiply each clip by ``target / level``; silent clips (level 0) stay as they are."""
    level_np = np.asarray(to_numpy(level), dtype=np.float64)
    silent = level_np <= 1e-12
    if np.any(silent):
        warnings.warn(
            f"x: {int(silent.sum())} of {silent.size} clip(s) are silent ({what} is 0); they "
            f"were left unchanged instead of dividing by zero.",
            UserWarning,
            stacklevel=3,
        )
    gain = np.where(silent, 1.0, target / np.where(silent, 1.0, level_np))
    shape = (-1, 1, 1) if x.ndim == 3 else ()
    if is_tensor(x):
        import torch

        g = torch.as_tensor(gain, dtype=x.dtype, device=x.device).reshape(shape)
        return x * g
    return (x * gain.reshape(shape)).astype(x.dtype, copy=False)


def normalize_peak(x: Any, peak: float = 0.95) -> Any:
    """Scale each clip so that its largest absolute sample is ``peak`` (linear, 0 to 1].

    One clip ``(T,)`` / ``(C, T)`` is scaled as a whole (stereo balance kept); a batch
    ``(B, C, T)`` clip by clip. Silent clips are returned unchanged, with a warning.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    check_audio(x, "x", batch=None)
    _check_float(x, "x")
    peak = check_number(peak, "peak", low=0.0, high=1.0, low_open=True)
    return _apply_gain(x, _peak(x), peak, "the peak")


def normalize_rms(x: Any, rms_db: float = -20.0) -> Any:
    """Scale each clip to an RMS level of ``rms_db`` dB re full scale (1.0), e.g. -20 dB.

    Shapes as in :func:`normalize_peak`. Silent clips are returned unchanged, with a warning.
    Loud targets can push samples past 1: that warns (players and :func:`save` would clip).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    check_audio(x, "x", batch=None)
    _check_float(x, "x")
    target_db = check_number(rms_db, "rms_db", high=0.0)
    y = _apply_gain(x, _rms(x), 10.0 ** (target_db / 20.0), "the RMS")
    peak = float(np.max(np.abs(to_numpy(y)))) if y.shape[-1] else 0.0
    if peak > 1.0:
        warnings.warn(
            f"normalize_rms: at {target_db:g} dB RMS the peak is {peak:.3g} > 1; playing or "
            f"saving will clip. Fix: use a lower rms_db or tl.audio.normalize_peak.",
            UserWarning,
            stacklevel=2,
        )
    return y


def rms_db(x: Any) -> Any:
    """RMS level in dB re full scale: ``20 * log10(sqrt(mean(x**2)))``; silence gives ``-inf``.

    One clip ``(T,)`` / ``(C, T)`` gives a Python float; a batch ``(B, C, T)`` gives shape
    ``(B,)`` (numpy array or tensor, matching the input). A full-scale sine is about -3 dB.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    check_audio(x, "x", batch=None)
    _check_float(x, "x")
    r = np.asarray(to_numpy(_rms(x)), dtype=np.float64)
    with np.errstate(divide="ignore"):
        db = np.where(r > 0, 20.0 * np.log10(np.maximum(r, 1e-300)), -np.inf)
    if x.ndim < 3:
        return float(db[0])
    return _like(db, x) if is_tensor(x) else db


# --------------------------------------------------------------------------------------------
# Spectrograms (torch, so later chapters can run them on a GPU and in batches)
# --------------------------------------------------------------------------------------------
def hz_to_mel(f: Any, *, htk: bool = False) -> Any:
    """Frequency in Hz to mel (Slaney's scale by default: linear below 1 kHz, log above).

    Works on numbers and numpy arrays. ``htk=True``: ``2595 log10(1 + f / 700)``. The
    library's one mel scale, as librosa's ``hz_to_mel``: the filterbanks here, the plots'
    mel axes and the band splitter of :mod:`tutorial_lib.schedules` use it.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    f = np.asarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_part = min_log_mel + np.log(np.maximum(f, 1e-300) / min_log_hz) / logstep
    return np.where(f >= min_log_hz, log_part, mels)


def mel_to_hz(m: Any, *, htk: bool = False) -> Any:
    """Mel (Slaney's scale by default) to frequency in Hz; the inverse of :func:`hz_to_mel`.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    m = np.asarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    with np.errstate(over="ignore"):
        log_part = min_log_hz * np.exp(logstep * (m - min_log_mel))
    return np.where(m >= min_log_mel, log_part, f_sp * m)


@functools.lru_cache(maxsize=32)
def _mel_filterbank_np(
    sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, norm: str | None, htk: bool
) -> np.ndarray:
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_pts = mel_to_hz(
        np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels + 2), htk=htk
    )
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))  # (n_mels, n_freqs)
    if norm == "slaney":
        weights *= (2.0 / (mel_pts[2 : n_mels + 2] - mel_pts[:n_mels]))[:, None]
    weights.setflags(write=False)
    return weights


def mel_filterbank(
    sr: int,
    n_fft: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    *,
    norm: str | None = "slaney",
    htk: bool = False,
) -> np.ndarray:
    """Triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)`` (float64 numpy array).

    Slaney's mel scale and area normalisation by default, the same as
    ``librosa.filters.mel``. ``fmin`` / ``fmax`` in Hz (``fmax`` defaults to ``sr / 2``).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    sr = check_sample_rate(sr, "sr")
    n_fft = check_int(n_fft, "n_fft", min_value=2)
    n_mels = check_int(n_mels, "n_mels", min_value=1)
    fmin = check_number(fmin, "fmin", low=0.0)
    fmax = sr / 2.0 if fmax is None else check_number(fmax, "fmax", low=0.0, high=sr / 2.0)
    if fmax <= fmin:
        raise ValueError(f"fmax: expected fmax > fmin = {fmin:g} Hz, got {fmax:g} Hz.")
    check_choice(norm, "norm", ("slaney", None))
    return np.array(
        _mel_filterbank_np(sr, n_fft, n_mels, float(fmin), float(fmax), norm, bool(htk))
    )


def _stft_power(
    x: Any, n_fft: int, hop_length: int, power: float, center: bool, pad_mode: str
) -> Any:
    """|STFT|**power in torch: ``(..., T) -> (..., n_fft // 2 + 1, frames)`` (a tensor)."""
    import torch

    xt = torch.as_tensor(x) if not is_tensor(x) else x
    if not xt.is_floating_point():
        xt = xt.float()
    lead = xt.shape[:-1]
    flat = xt.reshape(-1, xt.shape[-1])
    window = torch.hann_window(n_fft, periodic=True, dtype=flat.dtype, device=flat.device)
    spec = torch.stft(
        flat,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=n_fft,
        window=window,
        center=center,
        pad_mode=pad_mode,
        return_complex=True,
    )
    mag = spec.abs()
    out = mag.square() if power == 2.0 else mag.pow(power)
    return out.reshape(*lead, out.shape[-2], out.shape[-1])


def _check_spec_args(x: Any, n_fft: int, hop_length: int, center: bool, pad_mode: str) -> tuple:
    n_fft = check_int(n_fft, "n_fft", min_value=2)
    hop_length = check_int(hop_length, "hop_length", min_value=1)
    check_choice(pad_mode, "pad_mode", ("reflect", "constant", "replicate", "circular"))
    check_audio(x, "x", batch=None, min_samples=n_fft // 2 + 1 if center else n_fft)
    return n_fft, hop_length


def stft_db(
    x: Any,
    sr: int,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    ref: float | Callable = 1.0,
    top_db: float | None = 80.0,
    center: bool = True,
    pad_mode: str = "reflect",
) -> Any:
    """Linear-frequency power spectrogram in dB: ``power_to_db(|STFT(x)|**2)``.

    Hann window of ``n_fft`` samples, hop ``hop_length`` samples, frames centred (reflect
    padding), as ``librosa.stft``. Shapes: ``(T,) -> (F, N)``, ``(C, T) -> (C, F, N)``,
    ``(B, C, T) -> (B, C, F, N)`` with ``F = n_fft // 2 + 1`` bins (bin ``k`` at
    ``k * sr / n_fft`` Hz) and ``N = 1 + T // hop_length`` frames (frame ``n`` centred at
    ``n * hop_length / sr`` s). ``sr`` (Hz) is checked; it does not change the numbers.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    check_sample_rate(sr, "sr")
    n_fft, hop_length = _check_spec_args(x, n_fft, hop_length, center, pad_mode)
    S = _stft_power(x, n_fft, hop_length, 2.0, center, pad_mode)
    if not is_tensor(x):
        S = _like(S.cpu().numpy(), np.asarray(x))
    return power_to_db(S, ref=ref, top_db=top_db)


def mel_spectrogram(
    x: Any,
    sr: int,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    power: float = 2.0,
    center: bool = True,
    pad_mode: str = "reflect",
    norm: str | None = "slaney",
    htk: bool = False,
) -> Any:
    """Mel spectrogram (power by default, linear scale, not dB), computed in torch.

    Equals ``librosa.feature.melspectrogram(y=x, sr=sr, n_fft=n_fft, hop_length=hop_length,
    n_mels=n_mels, fmin=fmin, fmax=fmax, power=power, center=True, pad_mode="reflect")``
    (Hann window, Slaney mel filters). Runs on the tensor's device, in batches:
    ``(T,) -> (n_mels, N)``, ``(C, T) -> (C, n_mels, N)``, ``(B, C, T) -> (B, C, n_mels, N)``
    with ``N = 1 + T // hop_length`` frames. ``power=2`` gives power, ``power=1`` magnitude.
    Numpy in, numpy out. Turn into dB with :func:`power_to_db`.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    import torch

    sr = check_sample_rate(sr, "sr")
    n_fft, hop_length = _check_spec_args(x, n_fft, hop_length, center, pad_mode)
    power = check_number(power, "power", low=0.0, low_open=True)
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, norm=norm, htk=htk)
    S = _stft_power(x, n_fft, hop_length, power, center, pad_mode)
    fb_t = torch.as_tensor(fb, dtype=S.dtype, device=S.device)
    mel = torch.matmul(fb_t, S)  # (n_mels, F) @ (..., F, N) -> (..., n_mels, N)
    return mel if is_tensor(x) else _like(mel.cpu().numpy(), np.asarray(x))


def power_to_db(
    S: Any, *, ref: float | Callable = 1.0, top_db: float | None = 80.0, amin: float = 1e-10
) -> Any:
    """Power to decibels: ``10 * log10(max(S, amin) / ref)``, floored at ``max - top_db``.

    As ``librosa.power_to_db``: ``ref`` is a number (1.0 gives dB re full scale) or a
    function of ``S`` such as ``np.max`` / ``torch.amax`` (then the loudest bin is 0 dB);
    ``top_db`` (dB, ``None`` for no floor) is applied relative to the maximum of the whole
    array. For magnitudes (``power=1``) use ``power_to_db(S**2)``. Any shape; same type out.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    import torch

    if not (is_tensor(S) or isinstance(S, np.ndarray)):
        raise TypeError(
            f"S: expected a numpy array or torch tensor of power values, got {describe(S)}."
        )
    amin = check_number(amin, "amin", low=0.0, low_open=True)
    if top_db is not None:
        top_db = check_number(top_db, "top_db", low=0.0)
    was_numpy = not is_tensor(S)
    St = torch.as_tensor(S) if was_numpy else S
    if not St.is_floating_point():
        St = St.float()
    if St.is_complex():
        raise TypeError("S: expected real power values, got complex. Fix: pass S.abs()**2.")
    ref_value = ref(S) if callable(ref) else ref
    ref_value = float(to_numpy(ref_value)) if not isinstance(ref_value, (int, float)) else ref_value
    if ref_value < 0:
        raise ValueError(f"ref: expected a non-negative reference power, got {ref_value:g}.")
    db = 10.0 * torch.log10(torch.clamp(St, min=amin))
    db = db - 10.0 * math.log10(max(amin, ref_value))
    if top_db is not None and db.numel():
        db = torch.maximum(db, db.max() - top_db)
    if was_numpy:
        return _like(db.cpu().numpy(), np.asarray(S))
    return db


# --------------------------------------------------------------------------------------------
# Players
# --------------------------------------------------------------------------------------------
def griffin_lim(
    mag: Any,
    *,
    n_fft: int,
    hop_length: int,
    length: int,
    win_length: int | None = None,
    n_iter: int = 32,
    momentum: float = 0.99,
    seed: int | None = 0,
) -> Any:
    """A phase for a magnitude STFT, and its audio: ``(B, n_fft // 2 + 1, frames) -> (B, length)``.

    Fast Griffin-Lim in torch, as ``librosa.griffinlim`` (momentum 0.99, Hann window, centred
    frames with zero padding): ``n_iter`` rounds of "take the STFT of the current audio, keep
    its phase, put back the wanted magnitude". ``seed``: the random starting phase (``None``:
    zero phase, librosa's ``init=None``). Runs without autograd.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    import torch

    if not isinstance(mag, torch.Tensor) or mag.ndim != 3 or mag.shape[1] != n_fft // 2 + 1:
        raise ValueError(
            f"mag: expected a magnitude STFT (B, {n_fft // 2 + 1}, frames) for n_fft={n_fft}, "
            f"got {describe(mag)}."
        )
    n_iter = check_int(n_iter, "n_iter", min_value=0)
    win = check_int(win_length or n_fft, "win_length", min_value=2, max_value=n_fft)
    window = torch.hann_window(win, device=mag.device)

    def stft(y: Any) -> Any:
        return torch.stft(y, n_fft, hop_length, win, window=window, center=True,
                          pad_mode="constant", return_complex=True)  # fmt: skip

    def istft(spec: Any) -> Any:
        return torch.istft(spec, n_fft, hop_length, win, window=window, length=length)

    with torch.no_grad():
        mag = mag.float()
        if seed is None:
            angles = torch.ones(mag.shape, dtype=torch.complex64, device=mag.device)
        else:
            gen = torch.Generator(device="cpu").manual_seed(int(seed))
            phase = torch.exp(2j * torch.pi * torch.rand(mag.shape, generator=gen))
            angles = phase.to(torch.complex64).to(mag.device)
        previous = torch.zeros_like(angles)
        for _ in range(n_iter):
            rebuilt = stft(istft(mag * angles))
            accelerated = rebuilt - (momentum / (1 + momentum)) * previous
            angles = accelerated / (accelerated.abs() + 1e-16)
            previous = rebuilt
        return istft(mag * angles)


def _prepare_playback(x: Any, sr: int, name: str, normalize: bool) -> tuple[np.ndarray, int]:
    """Validate a clip for playback; return float32 numpy ``(C, T)`` in [-1, 1] and ``sr``."""
    if not (is_tensor(x) or isinstance(x, np.ndarray)):
        if isinstance(x, (list, tuple)):
            x = np.asarray(x, dtype=np.float32)
    if (is_tensor(x) or isinstance(x, np.ndarray)) and x.ndim == 3:
        raise ValueError(
            f"{name}: expected one clip (T,) or (C, T), got a batch {describe(x)}. "
            f"Fix: play one clip ({name}[0]) or several with "
            f"tl.audio.play_grid({{str(i): c for i, c in enumerate({name})}}, sr)."
        )
    check_audio(x, name)
    _check_float(x, name)
    sr = check_sample_rate(sr, "sr")
    arr = to_numpy(x).astype(np.float32)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.shape[0] > 2:
        raise ValueError(
            f"{name}: players take mono or stereo audio, got {arr.shape[0]} channels "
            f"({describe(x)}). Fix: mix down with tl.audio.to_mono({name})."
        )
    seconds = arr.shape[-1] / sr
    if seconds > MAX_PLAY_SECONDS:
        warnings.warn(
            f"{name}: the clip is {seconds:.1f} s long; clips over {MAX_PLAY_SECONDS:g} s make "
            f"pages heavy. Fix: play an excerpt, e.g. {name}[..., : {int(10 * sr)}] (10 s).",
            UserWarning,
            stacklevel=3,
        )
    if normalize:
        peak = float(np.max(np.abs(arr)))
        if peak > 0:
            arr = arr * (0.99 / peak)
    return _clip_with_warning(arr, name, stacklevel=4), sr


def _listening_level(arr: np.ndarray) -> tuple[np.ndarray, str]:
    """The listening policy: ``arr`` attenuated to :data:`MAX_PLAY_RMS_DB` if louder, and the
    note its player shows ("" when nothing is worth saying)."""
    notes = []
    full = float(np.mean(np.abs(arr) >= 0.999)) if arr.size else 0.0
    if full > FULL_SCALE_NOTE:
        notes.append(f"{100 * full:.0f}% of samples at full scale")
    rms = float(np.sqrt(np.mean(np.square(arr, dtype=np.float64)))) if arr.size else 0.0
    if rms > 0 and 20 * math.log10(rms) > MAX_PLAY_RMS_DB:
        gain_db = MAX_PLAY_RMS_DB - 20 * math.log10(rms)
        arr = (arr * 10 ** (gain_db / 20)).astype(np.float32)
        notes.append(f"played {-gain_db:.0f} dB quieter")
    return arr, "; ".join(notes)


def _wav_bytes(arr: np.ndarray, sr: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, arr.T, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def to_wav_bytes(x: Any, sr: int, *, normalize: bool = False) -> bytes:
    """Encode a clip ``(T,)`` or ``(C, T)`` (C = 1 or 2) as a 16-bit PCM WAV file, in memory.

    The bytes the players embed, at the level they play (:data:`MAX_PLAY_RMS_DB` at most).
    ``normalize=True`` scales the peak to 0.99 first; otherwise the level is kept and samples
    outside [-1, 1] are clipped, with a warning.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    arr, sr = _prepare_playback(x, sr, "x", normalize)
    return _wav_bytes(_listening_level(arr)[0], sr)


def _label_html(label: str | None, note: str) -> str:
    """A player's label, with the listening note under it in small type."""
    out = ""
    if label:
        out += f'<div class="tl-audio-label" style="font-weight:600">{html.escape(label)}</div>'
    if note:
        out += f'<div class="tl-audio-note" style="font-size:80%;opacity:0.8">{html.escape(note)}</div>'
    return out


def _wav_data_uri(wav: bytes) -> str:
    return "data:audio/wav;base64," + base64.b64encode(wav).decode("ascii")


@functools.lru_cache(maxsize=1)
def _audio_class() -> type:
    from IPython.display import Audio

    class LabelledAudio(Audio):
        """IPython ``Audio`` that shows an optional label above the player."""

        label: str | None = None
        note: str = ""

        def _repr_html_(self) -> str:
            player = super()._repr_html_()
            if not self.label and not self.note:
                return player
            return f'<div class="tl-audio">{_label_html(self.label, self.note)}{player}</div>'

    return LabelledAudio


def play(x: Any, sr: int, *, normalize: bool = False, label: str | None = None) -> Any:
    """An audio player for one clip: an ``IPython.display.Audio`` (16-bit WAV, embedded).

    Args:
        x: torch tensor or numpy array, mono ``(T,)`` / ``(1, T)`` or stereo ``(2, T)``,
            float in [-1, 1]. NaN/Inf, batches and more than two channels are rejected.
        sr: sample rate in Hz.
        normalize: ``False`` (default) keeps the level, so loudness differences stay audible;
            samples outside [-1, 1] are clipped with a warning that says how many.
            ``True`` scales the peak to 0.99.
        label: optional text shown above the player.

    The book's listening policy: a clip louder than :data:`MAX_PLAY_RMS_DB` (RMS, dBFS) is
    played attenuated to that level, and the player says so ("played 8 dB quieter"); a clip
    with more than 1 % of its samples at full scale says that too. Clips longer than 30 s warn (they make pages heavy). Show it by making it the last line of
    a cell, or with ``IPython.display.display(tl.audio.play(x, sr))``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label: expected a str or None, got {describe(label)}.")
    arr, sr = _prepare_playback(x, sr, "x", normalize)
    arr, note = _listening_level(arr)
    player = _audio_class()(data=_wav_bytes(arr, sr), rate=sr, normalize=False)
    player.label = label
    player.note = note
    return player


def play_grid(
    clips: Mapping[str, Any], sr: int, *, columns: int = 4, normalize: bool = False
) -> Any:
    """A table of labelled players, ``columns`` per row: an ``IPython.display.HTML`` object.

    Args:
        clips: ``{label: clip}``, each clip ``(T,)`` or ``(C, T)`` (C = 1 or 2), float in
            [-1, 1], all at ``sr`` Hz. Insertion order is kept.
        sr: sample rate in Hz.
        columns: players per row.
        normalize: as in :func:`play` (``False`` keeps the levels; clipping warns).

    The listening policy of :func:`play` applies to each clip (and its note is shown under
    its label).

    The WAV data (16-bit PCM) is embedded as base64 ``<source>`` elements, so the grid plays
    in Jupyter, Colab and the static HTML book.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    from IPython.display import HTML

    if not isinstance(clips, Mapping):
        raise TypeError(
            f"clips: expected a dict {{label: clip}}, got {describe(clips)}. "
            f'Fix: pass e.g. {{"clean": x0, "noisy": xt}}.'
        )
    if len(clips) == 0:
        raise ValueError("clips: the dict is empty. Fix: pass at least one {label: clip}.")
    columns = check_int(columns, "columns", min_value=1)
    sr = check_sample_rate(sr, "sr")
    cells = []
    for label, clip in clips.items():
        arr, _ = _prepare_playback(clip, sr, f"clips[{label!r}]", normalize)
        arr, note = _listening_level(arr)
        src = _wav_data_uri(_wav_bytes(arr, sr))
        cells.append(
            '<td style="padding:4px 8px;text-align:center;vertical-align:top">'
            f"{_label_html(str(label), note)}"
            f'<audio controls style="width:200px">'
            f'<source src="{src}" type="audio/wav">'
            "Your browser does not support the audio element.</audio></td>"
        )
    rows = [
        "<tr>" + "".join(cells[i : i + columns]) + "</tr>" for i in range(0, len(cells), columns)
    ]
    table = '<table class="tl-play-grid" style="border-collapse:collapse">' + "".join(rows)
    return HTML(table + "</table>")
