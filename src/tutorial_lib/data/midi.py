"""Random but musical multi-track MIDI clips, rendered to audio, with their aligned notes.

Each clip is a few bars in one key and tempo: a chord progression (I-V-vi-IV and friends),
a bass line on the chord roots, a melody that walks the scale and lands on chord tones on the
strong beats, and a drum pattern; four styles (``pop``, ``waltz`` in 3/4, ``swing`` with
swung eighths and a walking bass, ``arpeggio``) with their own rhythms, and random
instruments for every track. TinySoundFont renders it with the General MIDI SoundFont
(parametric synthesis without it, with a warning). The notes come back with the audio, on
a 64-sample grid (``synth.BLOCK``), so note times are exact: the data of the MIDI-to-audio chapter.

Introduced in: book/appendix/A_01_metrics.ipynb
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from .._validate import check_choice, check_int, check_number, check_sample_rate, check_subset
from . import synth
from ._base import ClipDataset, build_cached, check_channels, check_split, clip_rng, render_clips
from .drums import DRUM_KITS, DRUM_NOTES
from .notes import _program_family

__all__ = [
    "FIXED_GAIN",
    "LEVELS",
    "MIDI_STYLES",
    "MIDI_TRACKS",
    "MidiDataset",
    "midi",
    "render_notes",
]

_VERSION = 3

#: Styles, in label order.
MIDI_STYLES = ("pop", "waltz", "swing", "arpeggio")
#: Tracks, in the order of the ``track`` column of ``notes``; MIDI channels 0, 1, 2 and 9.
MIDI_TRACKS = ("melody", "chords", "bass", "drums")
_CHANNELS = {"melody": 0, "chords": 1, "bass": 2, "drums": 9}

_MELODY_PROGRAMS = (73, 56, 65, 40, 80, 11, 71, 4, 25, 68, 0, 81)
_CHORD_PROGRAMS = (0, 4, 24, 48, 16, 25, 6, 19, 61)
_BASS_PROGRAMS = (32, 33, 34, 38)
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 3, 4, 3), (1, 4, 0, 0), (0, 5, 3, 4), (5, 3, 0, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 6, 2)),
}
_TEMPI = {"pop": (90, 130), "waltz": (100, 160), "swing": (110, 170), "arpeggio": (70, 110)}
#: How clips are levelled: ``'peak'`` scales each clip to a peak of 0.9 (level says nothing
#: about the notes); ``'fixed'`` applies one gain to every clip, so loudness follows velocity
#: and the number of notes (what a MIDI-to-audio model must learn).
LEVELS = ("peak", "fixed")
#: The gain of ``level='fixed'``: the SoundFont's renders peak at 0.26-0.57 (median 0.38).
FIXED_GAIN = 1.0
_KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def _compose(style: str, seconds: float, rng: np.random.Generator) -> dict[str, Any]:
    """Notes ``(start_s, end_s, pitch, velocity, track)`` and the clip's settings."""
    u, ri = rng.uniform, rng.integers
    tempo = float(round(u(*_TEMPI[style])))
    beat = 60.0 / tempo
    beats_per_bar = 3 if style == "waltz" else 4
    bar = beats_per_bar * beat
    mode = "major" if u() < 0.6 else "minor"
    scale = _MAJOR if mode == "major" else _MINOR
    root = int(ri(12))
    progression = _PROGRESSIONS[mode][int(ri(len(_PROGRESSIONS[mode])))]
    n_bars = int(np.ceil(seconds / bar)) + 1
    swing = style == "swing"
    notes: list[tuple[float, float, int, int, int]] = []

    def vel(center: int) -> int:
        return int(np.clip(center + ri(-10, 11), 20, 127))

    def eighth(b: float, k: int) -> float:  # time of the k-th eighth of beat-position b
        return b * beat + (beat * (2 / 3 if swing else 0.5)) * k

    def degree_pitch(d: int, base: int) -> int:
        return base + root + 12 * (d // 7) + scale[d % 7]

    def add(track: str, start: float, dur: float, pitch: int, velocity: int) -> None:
        if start < seconds and 0 <= pitch <= 127:
            notes.append(
                (start, start + max(dur, 0.03), int(pitch), velocity, MIDI_TRACKS.index(track))
            )

    for b in range(n_bars):
        t0 = b * bar
        deg = progression[b % len(progression)]
        chord = [degree_pitch(deg + k, 48) for k in (0, 2, 4)]
        chord = [p + 12 if p < 55 else p for p in chord]  # voice around middle C
        bass_root = degree_pitch(deg, 36) - (12 if degree_pitch(deg, 36) > 47 else 0)
        # chords
        if style == "pop":
            for half in range(2):
                for p in chord:
                    add("chords", t0 + half * 2 * beat, 2 * beat * 0.95, p, vel(70))
        elif style == "waltz":
            for k in (1, 2):
                for p in chord:
                    add("chords", t0 + k * beat, beat * 0.6, p, vel(62))
        elif style == "swing":
            for k in (1, 3):
                for p in chord:
                    add("chords", t0 + eighth(k, 0), beat * 0.45, p, vel(60))
        else:  # arpeggio: up and down over two octaves in sixteenths
            tones = chord + [p + 12 for p in chord]
            cycle = tones + tones[-2:0:-1]
            for k in range(beats_per_bar * 4):
                add("chords", t0 + k * beat / 4, beat / 4 * 0.9, cycle[k % len(cycle)], vel(64))
        # bass
        if style == "pop":
            for k in range(beats_per_bar * 2):
                p = bass_root + (7 if k in (3, 7) and u() < 0.5 else 0)
                add("bass", t0 + k * beat / 2, beat / 2 * 0.9, p, vel(80 if k % 2 == 0 else 68))
        elif style == "waltz":
            add("bass", t0, beat * 0.9, bass_root, vel(80))
            add("bass", t0 + beat, beat * 1.8, bass_root + 7, vel(60))
        elif style == "swing":  # walking: root, chord tone, chord tone, approach note
            nxt = degree_pitch(progression[(b + 1) % len(progression)], 36)
            nxt -= 12 if nxt > 47 else 0
            walk = [
                bass_root,
                bass_root + (4 if mode == "major" else 3),
                bass_root + 7,
                nxt + (1 if u() < 0.5 else -1),
            ]
            for k, p in enumerate(walk):
                add("bass", t0 + k * beat, beat * 0.9, p, vel(76))
        else:
            add("bass", t0, bar * 0.95, bass_root, vel(74))
        # drums
        kick, snare, hat = 36, 38 if style != "waltz" else 37, 42
        if style == "pop":
            for k in range(8):
                add("drums", t0 + eighth(k // 2, k % 2), 0.1, hat, vel(70 if k % 2 == 0 else 50))
            for k in (0, 2):
                add("drums", t0 + k * beat, 0.1, kick, vel(100))
            if u() < 0.5:
                add("drums", t0 + eighth(2, 1), 0.1, kick, vel(80))
            for k in (1, 3):
                add("drums", t0 + k * beat, 0.1, snare, vel(95))
        elif style == "waltz":
            add("drums", t0, 0.1, kick, vel(95))
            for k in (1, 2):
                add("drums", t0 + k * beat, 0.1, snare, vel(60))
                add("drums", t0 + k * beat, 0.1, hat, vel(55))
        elif style == "swing":
            for k in range(4):
                add("drums", t0 + k * beat, 0.1, 51, vel(75))
                if k in (1, 3):
                    add("drums", t0 + eighth(k, 1), 0.1, 51, vel(60))
                    add("drums", t0 + k * beat, 0.1, 44, vel(60))
            add("drums", t0, 0.1, kick, vel(70))
        else:
            add("drums", t0, 0.1, kick, vel(85))
            for k in range(4):
                add("drums", t0 + k * beat, 0.1, hat, vel(50))
        # melody: scale walk; strong beats on chord tones; some rests and longer notes
        position = 0.0
        degree = int(ri(7, 12))  # around the octave above the tonic
        while position < beats_per_bar - 1e-9:
            step = (
                float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
                if style != "arpeggio"
                else float(rng.choice([1.0, 2.0]))
            )
            step = min(step, beats_per_bar - position)
            strong = abs(position - round(position)) < 1e-9 and int(round(position)) % 2 == 0
            if strong:
                targets = [deg + k for k in (0, 2, 4, 7, 9, 11)]
                degree = min(targets, key=lambda d: abs(d - degree) + u(0, 1.5))
            else:
                degree += int(rng.choice([-2, -1, -1, 1, 1, 2]))
            degree = int(np.clip(degree, 5, 16))
            if u() > 0.12:  # else a rest
                k_beat = int(position)
                start = t0 + (eighth(k_beat, 1) if position % 1 else k_beat * beat)
                add("melody", start, step * beat * 0.9, degree_pitch(degree, 60 - 12), vel(88))
            position += step
    programs = {
        "melody": int(rng.choice(_MELODY_PROGRAMS)),
        "chords": int(rng.choice(_CHORD_PROGRAMS)),
        "bass": int(rng.choice(_BASS_PROGRAMS)),
        "drums": int(rng.choice(list(DRUM_KITS))),
    }
    return dict(
        notes=notes, tempo=tempo, key=f"{_KEY_NAMES[root]} {mode}", style=style,
        time_signature=f"{beats_per_bar}/4", programs=programs,
    )  # fmt: skip


def _quantize(notes: list[tuple], sr: int, length: int) -> list[list[float]]:
    """Snap note times to the renderer's 64-sample grid (so the annotation is exact)."""
    grid = synth.BLOCK
    out = []
    for start, end, pitch, velocity, track in notes:
        s = int(round(start * sr / grid)) * grid
        e = max(s + grid, int(round(end * sr / grid)) * grid)
        if s < length:
            out.append([s / sr, min(e, length) / sr, int(pitch), int(velocity), int(track)])
    out.sort(key=lambda n: (n[0], n[4], n[2]))
    return out


_GM_TO_CLASS = {note: cls for cls, notes in DRUM_NOTES.items() for note in notes}


def _render(
    notes: list[list[float]],
    programs: dict[str, int],
    sr: int,
    length: int,
    backend: str,
    key: tuple,
) -> np.ndarray:
    """Stereo float audio ``(2, length)`` of the quantized notes."""
    if backend == "soundfont":
        events = []
        for start, end, pitch, velocity, track in notes:
            channel = _CHANNELS[MIDI_TRACKS[int(track)]]
            events.append((int(round(start * sr)), "on", channel, pitch, velocity))
            events.append((int(round(end * sr)), "off", channel, pitch, 0))
        chans = {_CHANNELS[t]: p for t, p in programs.items()}
        return synth.renderer(sr).events(events, length, chans)
    fam_of = _program_family()
    out = np.zeros(length)
    rng = clip_rng("midi-parametric", *key)
    for start, end, pitch, velocity, track in notes:
        s = int(round(start * sr))
        name = MIDI_TRACKS[int(track)]
        if name == "drums":
            n = min(length - s, int(0.4 * sr))
            x = synth.parametric_drum(_GM_TO_CLASS.get(int(pitch), "percussion"), rng, sr, n)
            x *= 0.6 * velocity / 127
        else:
            program = programs[name]
            family = fam_of[program]
            hold = max(1, int(round((end - start) * sr)))
            n = min(length - s, hold + int(0.3 * sr))
            x = synth.parametric_note(family, 0, int(pitch), int(velocity), sr, hold, n, rng) * 0.5
        out[s : s + len(x)] += x
    return np.stack([out, out])


def _level(x: np.ndarray, level: str) -> np.ndarray:
    if level == "fixed":
        return np.clip(x * FIXED_GAIN, -0.99, 0.99)
    peak = float(np.max(np.abs(x)))
    return x * (0.9 / peak) if peak > 0 else x


def render_notes(
    notes: Any,
    programs: dict[str, int],
    *,
    sr: int = 16000,
    seconds: float = 4.0,
    level: str = "fixed",
    backend: str = "auto",
) -> torch.Tensor:
    """Render notes in the dataset's format as :func:`midi` does: mono float32 ``(1, T)``.

    Args:
        notes: ``(K, 5)`` rows ``start_s, end_s, pitch, velocity, track`` (``track`` indexes
            :data:`MIDI_TRACKS`), e.g. ``ds[i]["notes"]`` or a transposed copy of it.
        programs: ``{"melody": p, "chords": p, "bass": p, "drums": kit}`` (General MIDI).
        sr, seconds: sample rate in Hz and length in seconds.
        level: ``'fixed'`` (one gain for all clips) or ``'peak'`` (each clip to peak 0.9).
        backend: ``'auto'``, ``'soundfont'`` or ``'parametric'``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    sr = check_sample_rate(sr, "sr")
    seconds = check_number(seconds, "seconds", low=0.1, high=600.0)
    check_choice(level, "level", LEVELS)
    rows = np.asarray(notes.cpu() if isinstance(notes, torch.Tensor) else notes, dtype=float)
    rows = rows.reshape(-1, 5) if rows.size else np.zeros((0, 5))
    if rows.size and (rows[:, 4].min() < 0 or rows[:, 4].max() >= len(MIDI_TRACKS)):
        raise ValueError(
            f"notes: column 4 is the track, 0 to {len(MIDI_TRACKS) - 1} ({MIDI_TRACKS}); got "
            f"{sorted(set(rows[:, 4].astype(int).tolist()))}."
        )
    if rows.size and (rows[:, 2].min() < 0 or rows[:, 2].max() > 127):
        raise ValueError("notes: pitches (column 2) must be MIDI numbers 0 to 127.")
    missing = [t for t in MIDI_TRACKS if t not in programs]
    if missing:
        raise ValueError(f"programs: no program for tracks {missing}; give one per track.")
    length = int(round(seconds * sr))
    used = synth.resolve_backend(backend, "tl.data.render_notes")
    notes_q = _quantize([tuple(r) for r in rows.tolist()], sr, length)
    x = _render(notes_q, programs, sr, length, used, (0, "render", 0)).mean(0, keepdims=True)
    fade = min(length, int(0.02 * sr))
    x[:, length - fade :] *= np.linspace(1.0, 0.0, fade)
    return torch.from_numpy(_level(x, level).astype(np.float32))


class MidiDataset(ClipDataset):
    """A :class:`ClipDataset` whose items also carry their notes.

    ``ds[i]["notes"]`` is a float32 tensor ``(K, 5)``: ``start_s, end_s, pitch, velocity,
    track`` (``track`` indexes :data:`MIDI_TRACKS`); ``K`` varies, so batch with
    ``collate_fn=tl.data.collate``. :meth:`pretty_midi` gives the clip as a
    ``pretty_midi.PrettyMIDI`` object and :meth:`save_midi` writes a ``.mid`` file.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = super().__getitem__(i)
        item["notes"] = self.notes(item["index"])
        return item

    def notes(self, i: int) -> torch.Tensor:
        """The notes of clip ``i``: float32 ``(K, 5)`` (start_s, end_s, pitch, velocity, track)."""
        rows = self.meta[int(i)]["notes"]
        return torch.tensor(rows, dtype=torch.float32).reshape(-1, 5)

    def pretty_midi(self, i: int) -> Any:
        """Clip ``i`` as a ``pretty_midi.PrettyMIDI`` (one instrument per track)."""
        import pretty_midi

        meta = self.meta[int(i)]
        pm = pretty_midi.PrettyMIDI(initial_tempo=float(meta["tempo"]))
        for k, track in enumerate(MIDI_TRACKS):
            program = int(meta[f"program_{track}"])
            inst = pretty_midi.Instrument(program=program, is_drum=track == "drums", name=track)
            for start, end, pitch, velocity, t in meta["notes"]:
                if int(t) == k:
                    inst.notes.append(pretty_midi.Note(int(velocity), int(pitch), start, end))
            pm.instruments.append(inst)
        return pm

    def save_midi(self, i: int, path: Any) -> Any:
        """Write clip ``i`` as a standard MIDI file at ``path``, atomically; return the path."""
        from .._io import atomic_write

        with atomic_write(path, "wb") as f:
            self.pretty_midi(i).write(f)
        return path


def _clip_at(
    i: int, *, seed: int, split: str, styles: tuple[str, ...], seconds: float, sr: int,
    length: int, used: str, channels: int, level: str,
) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
    """Clip ``i`` of a midi set and its metadata (it depends on ``(seed, split, i)`` only)."""
    fade = min(length, int(0.02 * sr))
    rng = clip_rng("midi", seed, split, i)
    style = styles[i % len(styles)]
    song = _compose(style, seconds, rng)
    notes = _quantize(song["notes"], sr, length)
    x = _render(notes, song["programs"], sr, length, used, (seed, split, i))
    x[:, length - fade :] *= np.linspace(1.0, 0.0, fade)
    x = x.mean(0, keepdims=True) if channels == 1 else x
    info = dict(
        label=styles.index(style),
        class_name=style,
        notes=notes,
        tempo=song["tempo"],
        key=song["key"],
        time_signature=song["time_signature"],
        **{f"program_{t}": p for t, p in song["programs"].items()},
        source=used,
    )
    return _level(x, level), info


def midi(
    n: int = 200,
    *,
    split: str = "train",
    sr: int = 16000,
    seconds: float = 4.0,
    channels: int = 1,
    styles: tuple[str, ...] | None = None,
    seed: int = 0,
    backend: str = "auto",
    cache: bool = True,
    progress: bool | None = None,
    level: str = "peak",
) -> MidiDataset:
    """Multi-track MIDI clips (melody, chords, bass, drums) rendered to audio, with their notes.

    Args:
        n: number of clips.
        split: ``'train'``, ``'validation'`` or ``'test'``; each clip comes from its own random
            stream keyed by (seed, split, index), so the splits share no clip.
        sr: sample rate in Hz (8000 to 96000).
        seconds: clip length in seconds (T = round(seconds * sr) samples).
        channels: 1 (mono) or 2 (stereo, the SoundFont's panning).
        styles: a subset of :data:`MIDI_STYLES` (``label`` indexes it); clips cycle through.
        seed, backend, cache, progress: as in :func:`drums`.
        level: ``'peak'`` (each clip scaled to peak 0.9) or ``'fixed'`` (one gain,
            :data:`FIXED_GAIN`, for every clip: loudness follows the notes).

    Returns:
        A :class:`MidiDataset`; ``ds[i]`` is ``{"audio": Tensor (C, T), "label": int (style),
        "class_name": str, "notes": Tensor (K, 5) (start_s, end_s, pitch, velocity, track),
        "tempo": float (BPM), "key": str, "time_signature": str, "program_melody": int,
        "program_chords": int, "program_bass": int, "program_drums": int (kit), "source":
        str, "index": int}``. Note times are exact (on a 64-sample grid); notes still sounding
        at the end are cut with the audio.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """

    n = check_int(n, "n", min_value=1)
    split = check_split(split)
    sr = check_sample_rate(sr, "sr")
    if not 8000 <= sr <= 96000:
        raise ValueError(f"sr: MIDI clips are rendered at 8000 to 96000 Hz, got {sr} Hz.")
    seconds = check_number(seconds, "seconds", low=0.5, high=60.0)
    channels = check_channels(channels)
    seed = check_int(seed, "seed", min_value=0)
    styles = check_subset(styles, "styles", MIDI_STYLES)
    check_choice(level, "level", LEVELS)
    length = int(round(seconds * sr))
    used = synth.resolve_backend(backend, "tl.data.midi")
    spec = dict(
        dataset="midi", version=_VERSION, n=n, split=split, sr=sr, length=length,
        channels=channels, styles=list(styles), seed=seed, backend=used,
        renderer=synth.renderer_id() if used == "soundfont" else None,
    )  # fmt: skip
    if level != "peak":  # the default keeps the caches made before levels existed
        spec["level"] = level

    def generate() -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
        audio = np.zeros((n, channels, length), dtype=np.float32)
        make = functools.partial(
            _clip_at, seed=seed, split=split, styles=tuple(styles), seconds=seconds, sr=sr,
            length=length, used=used, channels=channels, level=level,
        )  # fmt: skip
        return audio, render_clips(make, n, audio, "midi", progress), {}

    audio, items, extra, folder = build_cached("midi", spec, generate, cache=cache)
    return MidiDataset(
        audio, items, sr=sr, classes=styles, name="midi", split=split, backend=used,
        renderer=spec["renderer"] or "parametric", cache_path=folder, extra=extra,
    )  # fmt: skip
