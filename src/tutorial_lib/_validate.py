"""Input checks shared by every public function.

Each check raises ``TypeError`` or ``ValueError`` whose message names the argument, says what
was expected and what was received, and how to fix it, e.g.::

    x: expected mono audio of shape (T,) or (1, T), got shape (2, 16000) (stereo).
    Fix: pass tl.audio.to_mono(x).

Internal module: the public names live in the topic modules.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_audio",
    "check_batch",
    "check_choice",
    "check_finite",
    "check_int",
    "check_number",
    "check_sample_rate",
    "check_subset",
    "describe",
]


def describe(x: Any) -> str:
    """A short description of ``x`` for error messages (type and shape)."""
    shape = getattr(x, "shape", None)
    if shape is not None:
        dtype = getattr(x, "dtype", "?")
        return f"{type(x).__name__} of shape {tuple(shape)} and dtype {dtype}"
    return f"{type(x).__name__} {x!r:.60}"


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def to_numpy(x: Any, dtype: Any = None, *, float_tensors: bool = False) -> np.ndarray:
    """A NumPy array of an array or tensor (a tensor detached, on the CPU).

    ``dtype`` converts (a tensor in torch first, so bfloat16 and half tensors work);
    ``float_tensors=True`` makes a tensor float32 and leaves an array's dtype as it is.
    """
    if is_tensor(x):
        x = x.detach().cpu()
        if x.is_complex():
            x = x.resolve_conj()  # a conjugate view has no NumPy array
        if dtype is not None or float_tensors:
            import torch

            x = x.to(getattr(torch, np.dtype(dtype or np.float32).name))
        return x.numpy()
    return np.asarray(x, dtype=dtype)


def check_finite(x: Any, name: str) -> None:
    """Raise ``ValueError`` if the array/tensor ``x`` holds NaN or Inf (a tensor on the
    ``meta`` device has no values to check)."""
    if is_tensor(x):
        import torch

        if x.device.type == "meta":
            return

        bad = ~torch.isfinite(x)
        n_bad = int(bad.sum())
        n_nan = int(torch.isnan(x).sum()) if n_bad else 0
    else:
        arr = np.asarray(x)
        bad = ~np.isfinite(arr)
        n_bad = int(bad.sum())
        n_nan = int(np.isnan(arr).sum()) if n_bad else 0
    if n_bad:
        raise ValueError(
            f"{name}: holds {n_nan} NaN and {n_bad - n_nan} Inf values out of "
            f"{int(np.prod(x.shape))}. Fix: find where they came from (a diverged model, a "
            f"division by zero) or replace them, e.g. torch.nan_to_num({name})."
        )


def check_batch(
    x: Any, name: str, *, what: str = "a torch tensor", fix: str | None = None, finite: bool = False
) -> None:
    """``x`` is a floating-point torch tensor with the batch axis first, ``(B, ...)``.

    ``what`` and ``fix`` word the error for a non-tensor; ``finite`` also refuses NaN/Inf.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        fix = fix or f"torch.as_tensor({name}, dtype=torch.float32)"
        raise TypeError(f"{name}: expected {what}, got {describe(x)}. Fix: {fix}.")
    if not x.is_floating_point():
        raise TypeError(
            f"{name}: expected a floating-point tensor, got {describe(x)}. Fix: {name}.float()."
        )
    if x.ndim < 2:
        raise ValueError(
            f"{name}: expected a batch with the batch axis first, (B, ...) e.g. (B, C, T) audio "
            f"or (B, 2) points, got {describe(x)}. Fix: add a batch axis, {name}[None]."
        )
    if finite:
        check_finite(x, name)


def check_audio(
    x: Any,
    name: str = "x",
    *,
    mono: bool | None = None,
    min_samples: int = 1,
    batch: bool | None = False,
) -> None:
    """Check that ``x`` is audio: a real, finite numpy array or torch tensor.

    Shapes (T = samples, C = channels, B = batch):

    - ``batch=False``: ``(T,)`` or ``(C, T)``;
    - ``batch=True``: ``(B, C, T)``;
    - ``batch=None``: any of the three.

    ``mono=True`` requires one channel, ``mono=False`` requires two (stereo); ``None`` allows
    either. ``min_samples`` is the least number of samples along the last axis.
    """
    if not (is_tensor(x) or isinstance(x, np.ndarray)):
        raise TypeError(
            f"{name}: expected a numpy array or torch tensor of audio samples, got {describe(x)}. "
            f"Fix: convert it with np.asarray({name}) or torch.as_tensor({name})."
        )
    if x.dtype.is_complex if is_tensor(x) else np.iscomplexobj(x):
        raise TypeError(
            f"{name}: expected real audio samples, got a complex {describe(x)}. "
            f"Fix: take .real, or the magnitude with abs()."
        )
    allowed = {False: (1, 2), True: (3,), None: (1, 2, 3)}[batch]
    shapes = {1: "(T,)", 2: "(C, T)", 3: "(B, C, T)"}
    if x.ndim not in allowed:
        want = " or ".join(shapes[d] for d in allowed)
        hint = ""
        if batch is False and x.ndim == 3:
            hint = f" Fix: pass one clip, e.g. {name}[0]."
        elif batch is True and x.ndim in (1, 2):
            hint = f" Fix: add the missing axes, e.g. {name}.reshape(1, 1, -1) for one mono clip."
        raise ValueError(f"{name}: expected audio of shape {want}, got {describe(x)}.{hint}")
    if x.shape[-1] < min_samples:
        raise ValueError(
            f"{name}: audio is too short: {x.shape[-1]} samples, need at least {min_samples}. "
            f"Fix: pad it (tl.audio.fix_length) or pass a longer clip."
        )
    if x.ndim == 2 and x.shape[0] > 8 and x.shape[1] <= 8:
        raise ValueError(
            f"{name}: shape {tuple(x.shape)} looks like (T, C) (samples first). "
            f"The library uses (C, T). Fix: pass {name}.T."
        )
    channels = 1 if x.ndim == 1 else x.shape[-2]
    if mono is True and channels != 1:
        raise ValueError(
            f"{name}: expected mono audio (one channel), got {channels} channels "
            f"({describe(x)}). Fix: pass tl.audio.to_mono({name})."
        )
    if mono is False and channels != 2:
        raise ValueError(
            f"{name}: expected stereo audio (two channels, shape (2, T)), got {channels} "
            f"channel(s) ({describe(x)}). Fix: duplicate a mono clip with "
            f"{name}.repeat(2, 1) (torch) or np.repeat({name}, 2, axis=0)."
        )
    check_finite(x, name)


def check_sample_rate(sr: Any, name: str = "sr", *, expected: int | None = None) -> int:
    """Check a sample rate in Hz and return it as ``int``.

    ``expected`` (optional) is the rate the caller needs, e.g. a model's training rate.
    """
    if sr is None:
        raise ValueError(
            f"{name}: the sample rate is missing. Fix: pass {name}=<rate in Hz>, e.g. {name}=16000."
        )
    if isinstance(sr, bool) or not isinstance(sr, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a sample rate in Hz (a number), got {describe(sr)}.")
    if not math.isfinite(float(sr)) or float(sr) != int(sr) or int(sr) <= 0:
        raise ValueError(
            f"{name}: expected a positive whole number of samples per second, got {sr!r}."
        )
    sr = int(sr)
    if sr < 1000 or sr > 384_000:
        raise ValueError(
            f"{name}: {sr} Hz is not a plausible audio sample rate (expected 1000 to 384000 Hz, "
            f"e.g. 16000 or 44100). Did you swap the audio and the rate?"
        )
    if expected is not None and sr != expected:
        raise ValueError(
            f"{name}: expected {expected} Hz, got {sr} Hz. "
            f"Fix: resample first, e.g. tl.audio.resample(x, {sr}, {expected})."
        )
    return sr


def check_int(
    value: Any, name: str, *, min_value: int | None = None, max_value: int | None = None
) -> int:
    """Check that ``value`` is a whole number in ``[min_value, max_value]``; return it as int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {describe(value)}.")
    value = int(value)
    if min_value is not None and value < min_value:
        raise ValueError(f"{name}: expected an integer >= {min_value}, got {value}.")
    if max_value is not None and value > max_value:
        raise ValueError(f"{name}: expected an integer <= {max_value}, got {value}.")
    return value


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Check that ``value`` is a finite real number in the given interval; return it as float.

    ``low_open`` / ``high_open`` exclude the end points, e.g. ``(0, 1)`` for a beta.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {describe(value)}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}.")
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        lb = "(" if low_open else "["
        rb = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name}: expected a value in {lb}{lo}, {hi}{rb}, got {value:g}.")
    return value


def check_choice(value: Any, name: str, choices: Iterable[str] | Sequence[str]) -> str:
    """Check that ``value`` is one of ``choices``; the error lists the valid names."""
    choices = list(choices)
    if value not in choices:
        import difflib

        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"{name}: unknown value {value!r}. Valid values: {', '.join(map(repr, choices))}.{hint}"
        )
    return value


def check_subset(
    values: Iterable[str] | None, name: str, choices: Sequence[str]
) -> tuple[str, ...]:
    """A non-empty selection from ``choices`` (``None``: all of them), as a tuple.

    Each value is checked with :func:`check_choice`, so a typo lists the valid names.
    """
    if values is None:
        return tuple(choices)
    if isinstance(values, str) or len(values := tuple(values)) == 0:
        raise ValueError(
            f"{name}: expected a non-empty list of names from {tuple(choices)}, got {values!r}. "
            f"Fix: e.g. {name}=[{choices[0]!r}]."
        )
    return tuple(check_choice(v, name, choices) for v in values)
