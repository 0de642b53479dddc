"""Shared plots: waveforms, spectrograms, schedules and loss curves, in one style.

Every function takes ``ax=`` (draw into an existing matplotlib Axes) and returns the handles it
drew into, labels its axes in seconds / Hz / dB, and closes nothing: the notebook decides
what to show. Importing this module changes no global state; :func:`set_style` (called by
``tl.setup()``) sets the book's look.

Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._style import STYLE, set_style
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
    "STYLE",
    "set_style",
    "waveform",
    "spectrogram",
    "mel_image",
    "mel_frames",
    "piano_roll",
    "schedule_curves",
    "loss_curves",
    "audio_panel",
]


def _get_ax(ax: Any, figsize: tuple[float, float] | None = None) -> Any:
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
        return ax
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(
            f"ax: expected a matplotlib Axes or None, got {describe(ax)}. "
            f"Fix: pass one Axes, e.g. fig, axes = plt.subplots(1, 2); ...(ax=axes[0])."
        )
    return ax


def _check_clip(x: Any, name: str = "x") -> None:
    if (is_tensor(x) or isinstance(x, np.ndarray)) and x.ndim == 3:
        raise ValueError(
            f"{name}: expected one clip (T,) or (C, T), got a batch {describe(x)}. "
            f"Fix: plot one clip, e.g. {name}[0]."
        )
    check_audio(x, name)


def waveform(x: Any, sr: int, *, ax: Any = None, title: str | None = None) -> Any:
    """Plot a waveform against time in seconds; return the Axes.

    Args:
        x: one clip ``(T,)`` or ``(C, T)`` (numpy or torch); each channel is drawn (stereo as
            "left" / "right").
        sr: sample rate in Hz (sets the time axis).
        ax: an Axes to draw into (a new figure when ``None``).
        title: optional title.

    Long clips are drawn as their min/max envelope (what the eye sees anyway), which keeps
    plotting fast.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    _check_clip(x)
    sr = check_sample_rate(sr, "sr")
    ax = _get_ax(ax)
    y = to_numpy(x, float_tensors=True).astype(np.float64)
    y = y[None] if y.ndim == 1 else y
    n_ch, n = y.shape
    names = ["left", "right"] if n_ch == 2 else [f"channel {i}" for i in range(n_ch)]
    max_points = 4000
    for i in range(n_ch):
        label = names[i] if n_ch > 1 else None
        color = f"C{i}"
        if n > 2 * max_points:
            k = int(np.ceil(n / max_points))
            m = n // k
            blocks = y[i, : m * k].reshape(m, k)
            t = (np.arange(m) * k + k / 2) / sr
            ax.fill_between(
                t, blocks.min(1), blocks.max(1), color=color, alpha=0.7, lw=0, label=label
            )
        else:
            ax.plot(np.arange(n) / sr, y[i], color=color, lw=0.8, label=label)
    ax.set_xlim(0, n / sr)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Amplitude")
    if n_ch > 1:
        ax.legend(loc="upper right")
    if title is not None:
        ax.set_title(title)
    return ax


def spectrogram(
    x: Any,
    sr: int,
    *,
    ax: Any = None,
    kind: str = "mel",
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    top_db: float | None = 80.0,
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
    title: str | None = None,
) -> Any:
    """Plot a spectrogram in dB (re full scale) with time in s and frequency in Hz; return the Axes.

    Args:
        x: one mono clip ``(T,)`` or ``(1, T)`` (numpy or torch).
        sr: sample rate in Hz.
        ax: an Axes to draw into (a new figure when ``None``).
        kind: ``"mel"`` (``n_mels`` mel bands; the frequency axis is in Hz on a mel scale) or
            ``"linear"`` (``n_fft // 2 + 1`` STFT bins from 0 to ``sr / 2`` Hz).
        n_fft, hop_length: STFT window and hop in samples (Hann window, centred frames).
        n_mels, fmin, fmax: mel bands and their range in Hz (``kind="mel"`` only).
        top_db: dynamic range shown, in dB below the loudest bin (``None``: all).
        vmin, vmax: fix the colour range in dB (to compare several plots).
        colorbar: add a colour bar in dB.
        title: optional title.

    Computed with :func:`tutorial_lib.audio.mel_spectrogram` / :func:`~tutorial_lib.audio.stft_db`
    and shown with ``0 dB`` = a full-scale power of 1, so louder sounds look brighter.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    from . import audio

    _check_clip(x)
    check_audio(x, "x", mono=True)
    sr = check_sample_rate(sr, "sr")
    check_choice(kind, "kind", ("mel", "linear"))
    n_fft = check_int(n_fft, "n_fft", min_value=2)
    hop_length = check_int(hop_length, "hop_length", min_value=1)
    ax = _get_ax(ax)
    y = to_numpy(x, float_tensors=True).astype(np.float32).reshape(-1)
    if kind == "mel":
        n_mels = check_int(n_mels, "n_mels", min_value=1)
        S = audio.mel_spectrogram(
            y, sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax
        )
        db = audio.power_to_db(S, top_db=top_db)
        f_hi = sr / 2.0 if fmax is None else float(fmax)
        mel_lo, mel_hi = audio.hz_to_mel(float(fmin)), audio.hz_to_mel(f_hi)
        # Band centres are evenly spaced in mel; edges halfway between them.
        d = (mel_hi - mel_lo) / (n_mels + 1)
        edges_mel = mel_lo + d / 2 + d * np.arange(n_mels + 1)
        f_edges = audio.mel_to_hz(edges_mel)
        ylabel = "Frequency (Hz, mel scale)"
    else:
        db = audio.stft_db(y, sr, n_fft=n_fft, hop_length=hop_length, top_db=top_db)
        df = sr / n_fft
        f_edges = np.clip((np.arange(db.shape[0] + 1) - 0.5) * df, 0.0, sr / 2.0)
        ylabel = "Frequency (Hz)"
    n_frames = db.shape[-1]
    t_edges = np.clip((np.arange(n_frames + 1) - 0.5) * hop_length / sr, 0.0, len(y) / sr)
    mesh = ax.pcolormesh(
        t_edges, f_edges, db, shading="flat", vmin=vmin, vmax=vmax, rasterized=True
    )
    if kind == "mel":
        from matplotlib.ticker import FixedLocator, ScalarFormatter

        ax.set_yscale("function", functions=(audio.hz_to_mel, audio.mel_to_hz))
        ticks = [0, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000]
        ax.yaxis.set_major_locator(FixedLocator([f for f in ticks if f <= f_edges[-1]]))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_locator(FixedLocator([]))
    ax.set_ylim(f_edges[0], f_edges[-1])
    ax.set_xlim(0, len(y) / sr)
    ax.grid(False)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel(ylabel)
    if colorbar:
        cbar = ax.figure.colorbar(mesh, ax=ax, format="%.0f")
        cbar.set_label("Power (dB)")
    if title is not None:
        ax.set_title(title)
    return ax


def _mel_axes(
    ax: Any,
    mesh: Any,
    t_edges: np.ndarray,
    f_edges: np.ndarray,
    scale: tuple[Any, Any],
    ticks: list[float],
    cbar_label: str,
    *,
    colorbar: bool,
    title: str | None,
) -> Any:
    """The axes of a mel picture: a mel-scaled frequency axis with ticks in Hz, time in s."""
    from matplotlib.ticker import FixedLocator, ScalarFormatter

    ax.set_yscale("function", functions=scale)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_locator(FixedLocator([]))
    ax.set_ylim(f_edges[0], f_edges[-1])
    ax.set_xlim(t_edges[0], t_edges[-1])
    ax.grid(False)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Frequency (Hz, mel scale)")
    if colorbar:
        cbar = ax.figure.colorbar(mesh, ax=ax, format="%.0f")
        cbar.set_label(cbar_label)
    if title is not None:
        ax.set_title(title)
    return ax


def mel_image(
    image: Any,
    sr: int,
    hop_length: int,
    *,
    top_db: float = 80.0,
    ax: Any = None,
    colorbar: bool = True,
    title: str | None = None,
) -> Any:
    """Show a mel-spectrogram image (the Audio Diffusion pipeline's picture) in dB, time in s.

    Args:
        image: 8-bit bytes ``(n_mels, frames)`` (``tl.mel.Mel.audio_slice_to_image``), or a
            model's image in [-1, 1], ``(n_mels, frames)`` or ``(1, n_mels, frames)``.
        sr, hop_length: the sample rate (Hz) and hop (samples) that made it; the mel bands
            span 0 to ``sr / 2`` Hz (librosa's Slaney mel scale).
        top_db: the image's dynamic range: byte 0 is ``-top_db`` dB, byte 255 is 0 dB (the
            slice's loudest bin).
        ax, colorbar, title: as in :func:`spectrogram`.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from . import audio

    sr = check_sample_rate(sr, "sr")
    hop_length = check_int(hop_length, "hop_length", min_value=1)
    arr = to_numpy(image, float_tensors=True)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"image: expected (n_mels, frames), got {describe(image)}.")
    if arr.dtype == np.uint8:
        db = arr.astype(np.float64) * top_db / 255 - top_db
    elif np.issubdtype(arr.dtype, np.floating):
        db = (np.clip(arr.astype(np.float64), -1, 1) + 1) / 2 * top_db - top_db
    else:
        raise TypeError(f"image: expected uint8 bytes or floats in [-1, 1], got {describe(image)}.")
    ax = _get_ax(ax)
    n_mels, frames = db.shape
    mel_hi = audio.hz_to_mel(sr / 2.0)
    d = mel_hi / (n_mels + 1)
    f_edges = audio.mel_to_hz(d / 2 + d * np.arange(n_mels + 1))
    t_edges = np.arange(frames + 1) * hop_length / sr
    mesh = ax.pcolormesh(t_edges, f_edges, db, shading="flat", vmin=-top_db, vmax=0,
                         rasterized=True)  # fmt: skip
    ticks = [0, 250, 500, 1000, 2000, 4000, 8000, 16000]
    return _mel_axes(ax, mesh, t_edges, f_edges, (audio.hz_to_mel, audio.mel_to_hz),
                     [f for f in ticks if f <= f_edges[-1]], "dB re the loudest bin",
                     colorbar=colorbar, title=title)  # fmt: skip


def mel_frames(
    features: Any,
    *,
    sr: int = 16000,
    hop_length: int = 320,
    fmin: float = 0.0,
    fmax: float = 8000.0,
    floor: float = 1e-5,
    top: float = 4.0,
    ax: Any = None,
    colorbar: bool = True,
    title: str | None = None,
    boundaries: Any = None,
) -> Any:
    """Show Spectrogram Diffusion features (``tl.mel.MelFrames``) in dB, time in s, Hz.

    Args:
        features: ``(frames, n_mels)`` in [-1, 1] (or ``(1, frames, n_mels)``).
        sr, hop_length, fmin, fmax, floor, top: the ``MelFrames`` settings that made them
            (HTK mel bands from ``fmin`` to ``fmax``; -1 is ``log(floor)``, +1 is ``top``).
        ax, colorbar, title: as in :func:`spectrogram`.
        boundaries: times (s) to mark with dashed lines, e.g. the segment boundaries.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from . import audio

    arr = to_numpy(features, float_tensors=True).astype(np.float64)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"features: expected (frames, n_mels), got {describe(features)}.")
    frames, n_mels = arr.shape
    lo = np.log(floor)
    db = ((np.clip(arr, -1, 1) + 1) / 2 * (top - lo) + lo) * (20 / np.log(10))
    m_lo, m_hi = audio.hz_to_mel(fmin, htk=True), audio.hz_to_mel(fmax, htk=True)
    d = (m_hi - m_lo) / (n_mels + 1)
    f_edges = audio.mel_to_hz(m_lo + d / 2 + d * np.arange(n_mels + 1), htk=True)
    t_edges = np.arange(frames + 1) * hop_length / sr
    ax = _get_ax(ax)
    mesh = ax.pcolormesh(t_edges, f_edges, db.T, shading="flat", vmin=lo * 20 / np.log(10),
                         vmax=top * 20 / np.log(10), rasterized=True)  # fmt: skip
    for b in [] if boundaries is None else list(boundaries):
        ax.axvline(float(b), color="w", ls="--", lw=1)
    ticks = [0, 250, 500, 1000, 2000, 4000, 8000]
    scale = (lambda f: audio.hz_to_mel(f, htk=True), lambda m: audio.mel_to_hz(m, htk=True))
    return _mel_axes(ax, mesh, t_edges, f_edges, scale,
                     [f for f in ticks if f_edges[0] <= f <= f_edges[-1]], "mel magnitude (dB)",
                     colorbar=colorbar, title=title)  # fmt: skip


def piano_roll(
    notes: Any,
    *,
    seconds: float | None = None,
    drum_program: int = 128,
    ax: Any = None,
    title: str | None = None,
    boundaries: Any = None,
) -> Any:
    """Draw notes ``(K, 5)`` (start_s, end_s, pitch, velocity, program) as a piano roll.

    Pitched notes are bars (darker = louder), one colour per program; drum hits are
    crosses at their General MIDI key. ``boundaries``: times (s) to mark (segment edges).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import matplotlib.pyplot as plt

    arr = (
        to_numpy(notes, float_tensors=True).astype(np.float64).reshape(-1, 5)
        if np.size(to_numpy(notes, float_tensors=True))
        else np.zeros((0, 5))
    )
    ax = _get_ax(ax)
    programs = sorted({int(p) for p in arr[:, 4] if int(p) != drum_program})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, prog in enumerate(programs):
        rows = arr[arr[:, 4] == prog]
        for start, end, pitch, vel, _ in rows:
            ax.add_patch(plt.Rectangle((start, pitch - 0.4), end - start, 0.8,
                                       color=colours[k % len(colours)],
                                       alpha=0.35 + 0.65 * vel / 127, lw=0))  # fmt: skip
        ax.plot([], [], color=colours[k % len(colours)], lw=6, label=f"program {prog}")
    drums = arr[arr[:, 4] == drum_program]
    if len(drums):
        ax.scatter(drums[:, 0], drums[:, 2], marker="x", s=18, color="k", label="drums")
    end = seconds if seconds is not None else (float(arr[:, 1].max()) if len(arr) else 1.0)
    ax.set_xlim(0, end)
    if len(arr):
        ax.set_ylim(arr[:, 2].min() - 2, arr[:, 2].max() + 2)
    for b in [] if boundaries is None else list(boundaries):
        ax.axvline(float(b), color="0.3", ls="--", lw=1)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("MIDI pitch")
    if len(arr):
        ax.legend(loc="upper right", fontsize="small", ncol=2)
    if title is not None:
        ax.set_title(title)
    return ax


def _as_1d(values: Any, name: str) -> np.ndarray:
    arr = to_numpy(values, float_tensors=True) if is_tensor(values) else np.asarray(values)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(
            f"{name}: expected numbers (a list, numpy array or tensor), got {describe(values)}."
        )
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of values, got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty. Fix: pass at least one value.")
    return arr.astype(np.float64)


def schedule_curves(
    curves: Mapping[str, Any],
    *,
    ax: Any = None,
    x: Any = None,
    xlabel: str = "t",
    ylabel: str = "value",
    logy: bool = False,
    title: str | None = None,
) -> Any:
    """Plot several 1-D curves against a shared x axis, e.g. ``alpha_bar`` and ``snr`` vs ``t``.

    Args:
        curves: ``{name: values}``, each values a 1-D list / numpy array / tensor of the same
            length N.
        ax: an Axes to draw into (a new figure when ``None``).
        x: the x values, length N (default ``0 .. N-1``, e.g. the step ``t``).
        xlabel, ylabel: axis labels (give units).
        logy: log-scale y axis (all values must be > 0), e.g. for the SNR.
        title: optional title.

    Returns the Axes (one line per curve, with a legend).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    if not isinstance(curves, Mapping) or len(curves) == 0:
        raise TypeError(
            f"curves: expected a non-empty dict {{name: values}}, got {describe(curves)}. "
            f'Fix: pass e.g. {{"alpha_bar": alpha_bar}}.'
        )
    arrays = {str(k): _as_1d(v, f"curves[{k!r}]") for k, v in curves.items()}
    n = {len(a) for a in arrays.values()}
    if len(n) != 1:
        lens = ", ".join(f"{k}: {len(a)}" for k, a in arrays.items())
        raise ValueError(f"curves: all curves must have the same length, got {lens}.")
    (n,) = n
    xs = np.arange(n, dtype=np.float64) if x is None else _as_1d(x, "x")
    if len(xs) != n:
        raise ValueError(f"x: expected {n} values (one per curve point), got {len(xs)}.")
    if logy:
        for k, a in arrays.items():
            if np.any(a <= 0):
                raise ValueError(
                    f"curves[{k!r}]: logy=True needs values > 0, got a minimum of {a.min():g}. "
                    f"Fix: plot with logy=False, or clip, e.g. np.clip(values, 1e-12, None)."
                )
    ax = _get_ax(ax)
    for k, a in arrays.items():
        ax.plot(xs, a, label=k)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    if title is not None:
        ax.set_title(title)
    return ax


def _ema(values: np.ndarray, smooth: float) -> np.ndarray:
    """Debiased exponential moving average (as TensorBoard's smoothing slider)."""
    out = np.empty_like(values)
    acc = 0.0
    for i, v in enumerate(values):
        acc = smooth * acc + (1.0 - smooth) * v
        out[i] = acc / (1.0 - smooth ** (i + 1))
    return out


def loss_curves(
    history: Any,
    *,
    ax: Any = None,
    smooth: float = 0.9,
    logy: bool = False,
    title: str | None = None,
) -> Any:
    """Plot a training loss against the step, with an exponential moving average on top.

    Args:
        history: a dict, or an object with ``.as_dict()`` (e.g. ``tl.training.History``),
            holding ``"loss"`` (N values) and optionally ``"step"`` (N step numbers), and
            optionally ``"val_loss"`` with ``"val_step"``; or a plain 1-D sequence of losses.
        ax: an Axes to draw into (a new figure when ``None``).
        smooth: EMA factor in [0, 1) for the overlay (0 draws no overlay).
        logy: log-scale y axis (losses must be > 0).
        title: optional title.

    Returns the Axes (raw loss faint, smoothed loss solid).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    smooth = check_number(smooth, "smooth", low=0.0, high=1.0, high_open=True)
    if hasattr(history, "as_dict") and callable(history.as_dict):
        data = history.as_dict()
    elif isinstance(history, Mapping):
        data = history
    elif is_tensor(history) or isinstance(history, (list, tuple, np.ndarray)):
        data = {"loss": history}
    else:
        raise TypeError(
            f"history: expected a dict with 'loss', an object with .as_dict(), or a list of "
            f"losses, got {describe(history)}."
        )
    if "loss" not in data:
        raise ValueError(
            f"history: no 'loss' entry; it has {sorted(map(str, data))}. "
            f"Fix: pass {{'loss': losses, 'step': steps}}."
        )
    loss = _as_1d(data["loss"], "history['loss']")
    step = (
        np.arange(len(loss), dtype=np.float64)
        if data.get("step") is None
        else _as_1d(data["step"], "history['step']")
    )
    if len(step) != len(loss):
        raise ValueError(
            f"history: 'step' has {len(step)} values but 'loss' has {len(loss)}; they must match."
        )
    ax = _get_ax(ax)
    if smooth > 0 and len(loss) > 1:
        ax.plot(step, loss, color="C0", alpha=0.3, lw=1.0, label="loss")
        ax.plot(step, _ema(loss, smooth), color="C0", lw=1.8, label=f"loss (EMA {smooth:g})")
    else:
        ax.plot(step, loss, color="C0", marker="o" if len(loss) == 1 else None, label="loss")
    if data.get("val_loss") is not None:
        val = _as_1d(data["val_loss"], "history['val_loss']")
        vstep = data.get("val_step")
        vstep = (
            np.arange(len(val), dtype=np.float64)
            if vstep is None
            else _as_1d(vstep, "history['val_step']")
        )
        if len(vstep) != len(val):
            raise ValueError(
                f"history: 'val_step' has {len(vstep)} values but 'val_loss' has {len(val)}."
            )
        ax.plot(vstep, val, color="C1", marker="o", ms=3, label="validation loss")
    if logy:
        if np.any(loss <= 0):
            raise ValueError("history['loss']: logy=True needs losses > 0.")
        ax.set_yscale("log")
    ax.set_xlabel("Training step")
    ax.set_ylabel("Loss")
    ax.legend()
    if title is not None:
        ax.set_title(title)
    return ax


def audio_panel(
    x: Any, sr: int, title: str | None = None, *, kind: str = "mel", **spectrogram_kwargs: Any
) -> tuple[Any, Any]:
    """Waveform and spectrogram of one mono clip side by side; return ``(fig, axes)``.

    Args:
        x: one mono clip ``(T,)`` or ``(1, T)``.
        sr: sample rate in Hz.
        title: optional figure title.
        kind, **spectrogram_kwargs: passed to :func:`spectrogram`.

    ``axes`` is a numpy array of two Axes: ``[waveform, spectrogram]``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    import matplotlib.pyplot as plt

    _check_clip(x)
    check_audio(x, "x", mono=True)
    sr = check_sample_rate(sr, "sr")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3), layout="constrained")
    waveform(x, sr, ax=axes[0], title="Waveform")
    spectrogram(
        x, sr, ax=axes[1], kind=kind, title=f"{kind.capitalize()} spectrogram", **spectrogram_kwargs
    )
    if title is not None:
        fig.suptitle(title)
    return fig, axes
