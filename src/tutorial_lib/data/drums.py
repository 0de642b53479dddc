"""Drum one-shots: kicks, snares, hats, toms, cymbals and percussion from the General MIDI kits.

Each General MIDI drum sound of the SoundFont (``TimGM6mb.sf2``, 7 kits: Standard, Room,
Power, Electronic, TR-808, Jazz, Brush) is rendered once per (kit, note, velocity layer) with
the SoundFont renderer (``synth.SoundFontRenderer``); every clip then gets its own cheap variety: a resample-based pitch shift
(+-3 semitones, like a sampler's tuning knob), an optional extra decay envelope, optional
low-/high-pass EQ, a gain and (stereo) a pan. A quarter of the clips (``parametric_fraction``)
are synthesized from scratch (swept sines, filtered noise, metallic square clusters) for more
diversity. Without the renderer every clip is parametric, with a warning.

Introduced in: book/appendix/A_01_metrics.ipynb
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import check_int, check_number, check_sample_rate, check_subset
from . import synth
from ._base import (
    ClipDataset,
    build_cached,
    check_channels,
    check_split,
    clip_rng,
    render_clips,
)

__all__ = ["DRUM_CLASSES", "DRUM_NOTES", "DRUM_KITS", "TINY_AUDIO_DIFFUSION", "drums"]

_VERSION = 2

#: The drum classes, in label order.
DRUM_CLASSES = ("kick", "snare", "closed_hat", "open_hat", "tom", "cymbal", "percussion")

#: General MIDI percussion notes (channel 10) of each class.
DRUM_NOTES: dict[str, tuple[int, ...]] = {
    "kick": (35, 36),
    "snare": (38, 40),
    "closed_hat": (42, 44),
    "open_hat": (46,),
    "tom": (41, 43, 45, 47, 48, 50),
    "cymbal": (49, 51, 52, 53, 55, 57, 59),
    "percussion": (37, 39, 54, 56, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 75, 76, 77),
}

#: Drum kits of the SoundFont used (bank 128 program: name).
DRUM_KITS = {
    0: "Standard",
    8: "Room",
    16: "Power",
    24: "Electronic",
    25: "TR-808",
    32: "Jazz",
    40: "Brush",
}

#: Velocity layers rendered once each (clips differ by the DSP variety on top).
VELOCITIES = (40, 64, 88, 112, 127)

#: The clip format of Tiny Audio Diffusion's drum models: ``tl.data.drums(**TINY_AUDIO_DIFFUSION)``.
TINY_AUDIO_DIFFUSION = {"sr": 44100, "channels": 2, "length": 32768}


@functools.lru_cache(maxsize=4096)
def _gm_hit(sr: int, kit: int, note: int, velocity: int, n: int) -> np.ndarray:
    """One GM drum hit rendered from the SoundFont: float32 stereo ``(2, n)`` (cached per process)."""
    out = synth.renderer(sr).note(kit, note, velocity, hold=n // 4, length=n, drum=True)
    out.setflags(write=False)
    return out


def _one_clip(
    cls: str, rng: np.random.Generator, *, sr: int, length: int, channels: int, parametric: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """Clip ``(channels, length)`` float64 and its metadata."""
    u = rng.uniform
    semitones = float(u(-3.0, 3.0))
    base_len = int(np.ceil(length * 2.0 ** (3.0 / 12.0))) + 64
    info: dict[str, Any] = {"class_name": cls, "semitones": round(semitones, 3)}
    if parametric:
        mono = synth.parametric_drum(cls, rng, sr, base_len)
        x = np.stack([mono, mono])
        info.update(source="parametric", kit="parametric", note=-1, velocity=-1)
    else:
        kit = int(rng.choice(list(DRUM_KITS)))
        note = int(rng.choice(DRUM_NOTES[cls]))
        velocity = int(rng.choice(VELOCITIES))
        x = np.asarray(_gm_hit(sr, kit, note, velocity, base_len), dtype=np.float64)
        info.update(source="soundfont", kit=DRUM_KITS[kit], note=note, velocity=velocity)
    x = synth.pitch_shift(x, semitones, length)
    t = np.arange(length) / sr
    if u() < 0.4:  # a shorter decay
        scale = {"cymbal": 3.0, "open_hat": 1.5}.get(cls, 1.0)
        x = x * np.exp(-t / (scale * np.exp(u(np.log(0.04), np.log(0.6)))))
    if u() < 0.35:  # darker
        x = synth.filter_audio(x, "lowpass", float(np.exp(u(np.log(1500), np.log(0.45 * sr)))), sr)
    if u() < 0.35:  # thinner
        top = 60.0 if cls == "kick" else 400.0
        x = synth.filter_audio(x, "highpass", float(np.exp(u(np.log(25), np.log(top)))), sr)
    fade = max(1, length // 10)  # no click where the clip is cut
    x[:, -fade:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade)))
    if channels == 1:
        x = x.mean(axis=0, keepdims=True)
    else:
        pan = u(-0.3, 0.3)
        x = x * np.array([[np.sqrt(0.5 - 0.5 * pan)], [np.sqrt(0.5 + 0.5 * pan)]]) * np.sqrt(2)
    gain_db = float(u(-6.0, -0.5))
    peak = np.max(np.abs(x))
    if peak > 0:
        x = x * (10 ** (gain_db / 20) / peak)
    info["gain_db"] = round(gain_db, 2)
    return x, info


def _clip_at(
    i: int, *, seed: int, split: str, classes: tuple[str, ...], frac: float, sr: int,
    length: int, channels: int,
) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
    """Clip ``i`` of a drums set and its metadata (it depends on ``(seed, split, i)`` only)."""
    rng = clip_rng("drums", seed, split, i)
    cls = classes[i % len(classes)]
    parametric = bool(rng.uniform() < frac)
    x, info = _one_clip(cls, rng, sr=sr, length=length, channels=channels, parametric=parametric)
    info["label"] = classes.index(cls)
    return x, info


def drums(
    n: int = 1000,
    *,
    split: str = "train",
    sr: int = 16000,
    length: int = 16384,
    channels: int = 1,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    parametric_fraction: float = 0.25,
    backend: str = "auto",
    cache: bool = True,
    progress: bool | None = None,
) -> ClipDataset:
    """Drum one-shots with class labels, as a torch ``Dataset`` (deterministic and cached).

    Args:
        n: number of clips in this split.
        split: ``'train'``, ``'validation'`` or ``'test'``. The splits never share a clip:
            each clip comes from its own random stream keyed by (seed, split, index); they are
            three disjoint draws from the same distribution (same kits, independent variety).
        sr: sample rate in Hz (8000 to 96000).
        length: samples per clip T (e.g. 8192, 16384; 32768 for Tiny Audio Diffusion).
        channels: 1 (mono, default) or 2 (stereo, with random pan).
        seed: the dataset seed; clip ``i`` depends only on (seed, split, i), so a bigger ``n``
            extends a smaller one.
        classes: a subset of :data:`DRUM_CLASSES` (labels then index this subset); clips cycle
            through the classes, so they are balanced.
        parametric_fraction: share of parametric (synthesized) clips when the SoundFont is used.
        backend: ``'auto'`` (the SoundFont renderer if installed, else parametric with a warning),
            ``'soundfont'`` or ``'parametric'``.
        cache: load from / save to the cache (``$TUTORIAL_CACHE``).
        progress: show a progress bar (``None``: for more than 200 clips).

    Returns:
        A :class:`ClipDataset`; ``ds[i]`` is ``{"audio": Tensor (C, T) float32, "label": int,
        "class_name": str, "source": "soundfont" | "parametric", "kit": str, "note": int
        (GM note, -1 if parametric), "velocity": int, "semitones": float, "gain_db": float,
        "index": int}``. ``tl.data.drums(**tl.data.TINY_AUDIO_DIFFUSION)`` gives 44.1 kHz
        stereo clips of 32768 samples.

    Example::

        train = tl.data.drums(200, split="train")
        batch = next(iter(torch.utils.data.DataLoader(train, batch_size=16, shuffle=True)))
        batch["audio"].shape  # (16, 1, 16384)

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    n = check_int(n, "n", min_value=1)
    split = check_split(split)
    sr = check_sample_rate(sr, "sr")
    if not 8000 <= sr <= 96000:
        raise ValueError(f"sr: drums are rendered at 8000 to 96000 Hz, got {sr} Hz.")
    length = check_int(length, "length", min_value=256)
    channels = check_channels(channels)
    seed = check_int(seed, "seed", min_value=0)
    parametric_fraction = check_number(parametric_fraction, "parametric_fraction", low=0, high=1)
    classes = check_subset(classes, "classes", DRUM_CLASSES)
    used = synth.resolve_backend(backend, "tl.data.drums")
    frac = 1.0 if used == "parametric" else parametric_fraction
    spec = dict(
        dataset="drums", version=_VERSION, n=n, split=split, sr=sr, length=length,
        channels=channels, seed=seed, classes=list(classes), parametric_fraction=frac,
        backend=used, renderer=synth.renderer_id() if used == "soundfont" else None,
    )  # fmt: skip

    def generate() -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
        audio = np.zeros((n, channels, length), dtype=np.float32)
        make = functools.partial(
            _clip_at, seed=seed, split=split, classes=tuple(classes), frac=frac, sr=sr,
            length=length, channels=channels,
        )  # fmt: skip
        return audio, render_clips(make, n, audio, "drums", progress), {}

    audio, items, extra, folder = build_cached("drums", spec, generate, cache=cache)
    kinds = {m["source"] for m in items}
    return ClipDataset(
        audio, items, sr=sr, classes=classes, name="drums", split=split,
        backend=kinds.pop() if len(kinds) == 1 else "mixed",
        renderer=spec["renderer"] or "parametric", cache_path=folder, extra=extra,
    )  # fmt: skip
