"""NSynth-style single notes: pitched General MIDI instruments over a pitch range and velocities.

Like NSynth (Engel et al., 2017), every clip is one note of one instrument, started at time 0,
held, then released, labelled with its pitch (MIDI number), velocity and instrument, and the
instrument's family (NSynth's family names). The sounds are the SoundFont's instruments played
by TinySoundFont (parametric additive synthesis without it, with a warning).

The pool of possible notes (instrument x pitch x velocity) is split 80/10/10 into train,
validation and test by a fixed hash of each note, so no note appears in two splits.

Introduced in: book/appendix/A_01_metrics.ipynb
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import check_choice, check_int, check_sample_rate, check_subset
from . import synth
from ._base import ClipDataset, build_cached, check_split, clip_rng, progress_bar, split_of

__all__ = ["NOTE_FAMILIES", "INSTRUMENTS", "PITCH_RANGES", "FRAMINGS", "notes", "note_name"]

_VERSION = 2

#: General MIDI programs used for each NSynth instrument family (program: name).
INSTRUMENTS: dict[str, dict[int, str]] = {
    "bass": {32: "acoustic bass", 33: "finger bass", 34: "picked bass", 38: "synth bass"},
    "brass": {56: "trumpet", 57: "trombone", 60: "french horn", 61: "brass section"},
    "flute": {72: "piccolo", 73: "flute", 74: "recorder", 75: "pan flute"},
    "guitar": {
        24: "nylon guitar",
        25: "steel guitar",
        26: "jazz guitar",
        27: "clean electric guitar",
        28: "muted guitar",
        29: "overdriven guitar",
        30: "distortion guitar",
    },  # fmt: skip
    "keyboard": {
        0: "grand piano",
        2: "electric grand",
        4: "electric piano",
        6: "harpsichord",
        7: "clavinet",
    },
    "mallet": {8: "celesta", 11: "vibraphone", 12: "marimba", 13: "xylophone"},
    "organ": {16: "drawbar organ", 17: "percussive organ", 19: "church organ", 21: "accordion"},
    "reed": {
        64: "soprano sax",
        65: "alto sax",
        66: "tenor sax",
        68: "oboe",
        70: "bassoon",
        71: "clarinet",
    },
    "string": {
        40: "violin",
        41: "viola",
        42: "cello",
        45: "pizzicato strings",
        48: "string ensemble",
    },
    "synth_lead": {80: "square lead", 81: "saw lead", 84: "charang", 87: "bass and lead"},
    "vocal": {52: "choir aahs", 53: "voice oohs", 54: "synth voice"},
}

#: Instrument families, in label order (NSynth's names and order).
NOTE_FAMILIES = tuple(INSTRUMENTS)

#: Playable MIDI pitch range (inclusive) of each family.
PITCH_RANGES: dict[str, tuple[int, int]] = {
    "bass": (28, 67), "brass": (40, 84), "flute": (60, 96), "guitar": (40, 88),
    "keyboard": (36, 96), "mallet": (48, 96), "organ": (36, 96), "reed": (45, 84),
    "string": (36, 96), "synth_lead": (36, 96), "vocal": (48, 79),
}  # fmt: skip

#: Clip framings: seconds per clip and seconds the note is held before its release.
FRAMINGS = {"short": (1.0, 0.75), "nsynth": (4.0, 3.0)}

_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    """MIDI pitch to a name: 60 -> 'C4', 69 -> 'A4'.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    return f"{_NAMES[int(pitch) % 12]}{int(pitch) // 12 - 1}"


@functools.lru_cache(maxsize=512)
def _calibration(sr: int, program: int, family: str, hold: int, length: int) -> float:
    """Gain that brings the instrument's loudest note (mid pitch, velocity 127) to peak 0.9."""
    lo, hi = PITCH_RANGES[family]
    x = synth.renderer(sr).note(program, (lo + hi) // 2, 127, hold, length)
    peak = float(np.max(np.abs(x)))
    return 0.9 / peak if peak > 0 else 1.0


def _program_family() -> dict[int, str]:
    return {p: fam for fam, progs in INSTRUMENTS.items() for p in progs}


def notes(
    n: int | None = None,
    *,
    split: str = "train",
    sr: int = 16000,
    framing: str = "short",
    families: Sequence[str] | None = None,
    instruments: Sequence[int] | None = None,
    pitch_range: tuple[int, int] | None = None,
    velocities: Sequence[int] = (25, 50, 75, 100, 127),
    label_by: str = "family",
    seed: int = 0,
    backend: str = "auto",
    cache: bool = True,
    progress: bool | None = None,
) -> ClipDataset:
    """Single pitched notes (NSynth-style), mono, as a torch ``Dataset`` (deterministic, cached).

    Args:
        n: number of notes; ``None`` takes every note of the split (it can be thousands:
            about 12,000 over all families). Asking for more than the split holds is an error.
        split: ``'train'``, ``'validation'`` or ``'test'`` (80/10/10 of the pool of notes;
            no note is in two splits).
        sr: sample rate in Hz (8000 to 96000; 16000 like NSynth).
        framing: ``'short'`` (1 s clips, note held 0.75 s; the default) or ``'nsynth'``
            (NSynth's 4 s clips, held 3 s).
        families: a subset of :data:`NOTE_FAMILIES`, e.g. ``['guitar']`` (the default is all).
        instruments: GM program numbers to keep (within ``families``), see :data:`INSTRUMENTS`.
        pitch_range: ``(low, high)`` MIDI pitches, inclusive, intersected with each family's
            playable range (:data:`PITCH_RANGES`).
        velocities: MIDI velocities (1 to 127) in the pool.
        label_by: what ``label`` holds: ``'family'`` (index into ``families``),
            ``'instrument'`` (index into the selected programs), ``'pitch'`` (the MIDI pitch
            itself, 0..127) or ``'velocity'`` (index into ``velocities``).
        seed: which notes of the split are picked (and their order).
        backend: ``'auto'``, ``'soundfont'`` or ``'parametric'`` (see :func:`drums`).
        cache: load from / save to the cache (``$TUTORIAL_CACHE``).
        progress: show a progress bar (``None``: for more than 200 notes).

    Returns:
        A :class:`ClipDataset`; ``ds[i]`` is ``{"audio": Tensor (1, T) float32, "label": int,
        "class_name": str, "pitch": int, "velocity": int, "instrument": int (GM program),
        "instrument_name": str, "family": int, "family_name": str, "source": str,
        "index": int}`` with ``T = 1 s * sr`` (``'short'``) or ``4 s * sr`` (``'nsynth'``).

    Example::

        guitar = tl.data.notes(500, families=["guitar"], label_by="pitch")

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    if n is not None:
        n = check_int(n, "n", min_value=1)
    split = check_split(split)
    sr = check_sample_rate(sr, "sr")
    if not 8000 <= sr <= 96000:
        raise ValueError(f"sr: notes are rendered at 8000 to 96000 Hz, got {sr} Hz.")
    check_choice(framing, "framing", tuple(FRAMINGS))
    check_choice(label_by, "label_by", ("family", "instrument", "pitch", "velocity"))
    seed = check_int(seed, "seed", min_value=0)
    families = check_subset(families, "families", NOTE_FAMILIES)
    programs = [p for f in families for p in INSTRUMENTS[f]]
    if instruments is not None:
        wanted = [check_int(p, "instruments", min_value=0, max_value=127) for p in instruments]
        missing = [p for p in wanted if p not in programs]
        if missing:
            raise ValueError(
                f"instruments: programs {missing} are not in the families {list(families)}. "
                f"Valid programs: {programs}."
            )
        programs = [p for p in programs if p in wanted]
    velocities = tuple(check_int(v, "velocities", min_value=1, max_value=127) for v in velocities)
    if len(velocities) == 0:
        raise ValueError("velocities: expected at least one MIDI velocity, e.g. (64, 127).")
    lo_req, hi_req = (0, 127) if pitch_range is None else pitch_range
    lo_req = check_int(lo_req, "pitch_range[0]", min_value=0, max_value=127)
    hi_req = check_int(hi_req, "pitch_range[1]", min_value=lo_req, max_value=127)
    fam_of = _program_family()

    pool = []
    for program in programs:
        lo, hi = PITCH_RANGES[fam_of[program]]
        for pitch in range(max(lo, lo_req), min(hi, hi_req) + 1):
            for velocity in velocities:
                if split_of(f"notes:{program}:{pitch}:{velocity}") == split:
                    pool.append((program, pitch, velocity))
    if not pool:
        raise ValueError(
            f"pitch_range: no note of {list(families)} falls in {pitch_range} for split "
            f"{split!r}. Fix: widen pitch_range (family ranges: "
            f"{ {f: PITCH_RANGES[f] for f in families} })."
        )
    if n is None:
        n = len(pool)
    if n > len(pool):
        raise ValueError(
            f"n: the {split!r} split holds {len(pool)} notes for these families, pitches and "
            f"velocities, but n={n} were asked for. Fix: pass n <= {len(pool)} or widen the "
            f"pool (more families, instruments, velocities or a wider pitch_range)."
        )
    order = clip_rng("notes-select", seed, split).permutation(len(pool))[:n]
    chosen = [pool[k] for k in order]
    seconds, held = FRAMINGS[framing]
    length, hold = int(round(seconds * sr)), int(round(held * sr))
    if label_by == "family":
        classes = list(families)
    elif label_by == "instrument":
        classes = [INSTRUMENTS[fam_of[p]][p] for p in programs]
    elif label_by == "pitch":
        classes = [note_name(p) for p in range(128)]
    else:
        classes = [str(v) for v in velocities]
    used = synth.resolve_backend(backend, "tl.data.notes")
    spec = dict(
        dataset="notes", version=_VERSION, split=split, sr=sr, framing=framing,
        notes=[list(c) for c in chosen], label_by=label_by, backend=used,
        renderer=synth.renderer_id() if used == "soundfont" else None,
    )  # fmt: skip

    def generate() -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
        audio = np.zeros((n, 1, length), dtype=np.float32)
        items = []
        with progress_bar(n, "notes", progress) as bar:
            for i, (program, pitch, velocity) in enumerate(chosen):
                family = fam_of[program]
                if used == "soundfont":
                    gain = _calibration(sr, program, family, hold, length)
                    x = synth.renderer(sr).note(program, pitch, velocity, hold, length).mean(0)
                    x = x * gain
                else:
                    rng = clip_rng("notes", program, pitch, velocity)
                    variant = list(INSTRUMENTS[family]).index(program)
                    x = synth.parametric_note(
                        family, variant, pitch, velocity, sr, hold, length, rng
                    )
                peak = float(np.max(np.abs(x)))
                if peak > 0.99:
                    x = x * (0.99 / peak)
                audio[i, 0] = x
                if label_by == "family":
                    label = families.index(family)
                elif label_by == "instrument":
                    label = programs.index(program)
                elif label_by == "pitch":
                    label = pitch
                else:
                    label = velocities.index(velocity)
                items.append(
                    dict(
                        label=label,
                        class_name=classes[label],
                        pitch=pitch,
                        velocity=velocity,
                        instrument=program,
                        instrument_name=INSTRUMENTS[family][program],
                        family=NOTE_FAMILIES.index(family),
                        family_name=family,
                        source=used,
                    )  # fmt: skip
                )
                bar.update()
        return audio, items, {}

    audio, items, extra, folder = build_cached("notes", spec, generate, cache=cache)
    return ClipDataset(
        audio, items, sr=sr, classes=classes, name="notes", split=split, backend=used,
        renderer=spec["renderer"] or "parametric", cache_path=folder, extra=extra,
    )  # fmt: skip
