"""Notes as tokens: the event vocabulary of MT3 and Spectrogram Diffusion, segment by segment.

A piece is cut into segments (5.12 s in the original, shorter on a CPU). Each segment becomes
one token sequence that a transformer encoder reads:

1. the **tie section**: ``program, pitch`` of every note still sounding from the previous
   segment, closed by one ``tie`` token (always present, even when empty);
2. the **events**, in time order: ``shift`` to an *absolute* time within the segment (10 ms
   steps), then ``program``, ``velocity``, ``pitch`` for a note-on (``velocity 0`` for a
   note-off) or ``velocity``, ``drum`` for a drum hit; ``program`` and ``velocity`` are only
   written when they change (MT3's run-length state);
3. ``eos``, then ``pad`` up to the token budget.

Notes are float arrays ``(K, 5)``: ``start_s, end_s, pitch, velocity, program`` with
``program`` :data:`DRUM` (128) for drums. :func:`quantize` snaps them to the vocabulary's
grid; :func:`encode_piece` and :func:`decode_piece` round-trip quantized notes exactly,
including notes that cross segment boundaries.

Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._validate import check_int, check_number, to_numpy

__all__ = [
    "DRUM",
    "ORIGINAL",
    "Vocabulary",
    "BadMidiWarning",
    "quantize",
    "encode_segment",
    "decode_segment",
    "encode_piece",
    "decode_piece",
    "roll",
    "rolls",
    "ROLL_CHANNELS",
    "describe",
    "from_tracks",
    "to_tracks",
    "transpose",
    "notes_from_midi",
    "check_notes",
]

#: The ``program`` of drum notes (General MIDI channel 10); pitched programs are 0-127.
DRUM = 128


class BadMidiWarning(UserWarning):
    """A MIDI file or note list had something the tokenizer had to repair (and says what)."""


@dataclass(frozen=True)
class Vocabulary:
    """The token ids of the event vocabulary.

    Args:
        steps_per_second: time resolution of ``shift`` tokens (100: 10 ms steps).
        segment_seconds: segment length; ``shift`` tokens cover ``0 .. segment`` inclusive.
        velocity_bins: 1 in the original (a note is on or off); more bins keep loudness.
        max_tokens: the token budget of one segment (the original: 2048).

    Ids: ``pad`` 0, ``eos`` 1, ``unk`` 2, then the ``shift``, ``pitch``, ``velocity``
    (bin 0 = note-off), ``tie``, ``program`` and ``drum`` ranges, in that order.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """

    steps_per_second: int = 100
    segment_seconds: float = 1.28
    velocity_bins: int = 16
    max_tokens: int = 512

    PAD = 0
    EOS = 1
    UNK = 2

    def __post_init__(self) -> None:
        check_int(self.steps_per_second, "steps_per_second", min_value=1, max_value=1000)
        check_number(self.segment_seconds, "segment_seconds", low=0.05, high=60.0)
        check_int(self.velocity_bins, "velocity_bins", min_value=1, max_value=127)
        check_int(self.max_tokens, "max_tokens", min_value=8)

    @property
    def segment_steps(self) -> int:
        """Shift steps in one segment."""
        return int(round(self.segment_seconds * self.steps_per_second))

    @property
    def ranges(self) -> dict[str, tuple[int, int]]:
        """``kind -> (first id, count)``."""
        sizes = [
            ("shift", self.segment_steps + 1),
            ("pitch", 128),
            ("velocity", self.velocity_bins + 1),
            ("tie", 1),
            ("program", 128),
            ("drum", 128),
        ]
        out, start = {}, 3
        for kind, n in sizes:
            out[kind] = (start, n)
            start += n
        return out

    @property
    def size(self) -> int:
        """Number of token ids (the embedding table's rows)."""
        first, n = self.ranges["drum"]
        return first + n

    def token(self, kind: str, value: int = 0) -> int:
        """The id of event ``kind`` with ``value`` (e.g. ``token('pitch', 60)``)."""
        if kind not in self.ranges:
            raise ValueError(f"kind: one of {sorted(self.ranges)}, got {kind!r}.")
        first, n = self.ranges[kind]
        if not 0 <= int(value) < n:
            raise ValueError(f"value: a {kind} token takes 0 to {n - 1}, got {value}.")
        return first + int(value)

    def event(self, token: int) -> tuple[str, int]:
        """``(kind, value)`` of a token id; ``('pad', 0)``, ``('eos', 0)``, ``('unk', 0)``."""
        token = int(token)
        special = {0: "pad", 1: "eos", 2: "unk"}
        if token in special:
            return special[token], 0
        for kind, (first, n) in self.ranges.items():
            if first <= token < first + n:
                return kind, token - first
        raise ValueError(f"token: ids are 0 to {self.size - 1}, got {token}.")

    def velocity_bin(self, velocity: float) -> int:
        """MIDI velocity 1-127 -> bin 1..velocity_bins (0 is reserved for note-off)."""
        return max(1, min(self.velocity_bins, int(np.ceil(velocity * self.velocity_bins / 127))))

    def bin_velocity(self, b: int) -> int:
        """Bin -> the MIDI velocity it stands for (the top of its range, rounded down)."""
        return int(b * 127 // self.velocity_bins)


#: The original's settings: 5.12 s segments, on/off velocity, 2048 tokens per segment.
ORIGINAL = Vocabulary(steps_per_second=100, segment_seconds=5.12, velocity_bins=1, max_tokens=2048)


def check_notes(notes: Any, name: str = "notes") -> np.ndarray:
    """Validate notes ``(K, 5)`` (start_s, end_s, pitch, velocity, program); float64 copy.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    try:
        arr = np.array(to_numpy(notes), dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{name}: expected an array (K, 5) of numbers, got {type(notes).__name__}"
        ) from e
    if arr.size == 0:
        return np.zeros((0, 5))
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise ValueError(
            f"{name}: expected shape (K, 5) = start_s, end_s, pitch, velocity, program; got "
            f"{tuple(arr.shape)}."
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity.")
    pitch, vel, prog = arr[:, 2], arr[:, 3], arr[:, 4]
    bad = (pitch < 0) | (pitch > 127) | (pitch != np.round(pitch))
    if bad.any():
        raise ValueError(
            f"{name}: pitches must be whole MIDI numbers 0 to 127; got {pitch[bad][:5].tolist()} "
            "(transposing too far? clip or drop those notes)."
        )
    if ((vel < 1) | (vel > 127)).any():
        raise ValueError(
            f"{name}: velocities must be 1 to 127; got {vel[(vel < 1) | (vel > 127)][:5].tolist()}."
        )
    if ((prog < 0) | (prog > DRUM) | (prog != np.round(prog))).any():
        raise ValueError(f"{name}: programs must be 0-127, or {DRUM} for drums.")
    if (arr[:, 0] < 0).any():
        raise ValueError(f"{name}: start times must be >= 0 s.")
    if (arr[:, 1] <= arr[:, 0]).any():
        k = int(np.argmax(arr[:, 1] <= arr[:, 0]))
        raise ValueError(
            f"{name}: note {k} ends at {arr[k, 1]} s, not after its start {arr[k, 0]} s."
        )
    return arr


def quantize(notes: Any, vocab: Vocabulary = Vocabulary(), *, warn: bool = True) -> np.ndarray:
    """Snap notes to the vocabulary: times to its steps, velocities to its bins.

    Every pitched note lasts at least one step; drum notes keep one step (their length is not
    tokenised). Overlapping notes of one program and pitch are repaired (the earlier one ends
    where the later starts), with a :class:`BadMidiWarning` if ``warn``. Sorted by start,
    program, pitch.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    arr = check_notes(notes)
    sps = vocab.steps_per_second
    out = arr.copy()
    out[:, 0] = np.round(arr[:, 0] * sps)
    out[:, 1] = np.maximum(np.round(arr[:, 1] * sps), out[:, 0] + 1)
    drum = out[:, 4] == DRUM
    out[drum, 1] = out[drum, 0] + 1
    out[:, 3] = [vocab.bin_velocity(vocab.velocity_bin(v)) for v in arr[:, 3]]
    out = out[np.lexsort((out[:, 2], out[:, 4], out[:, 0]))]
    # one program and pitch cannot sound twice at once: end the earlier note, drop duplicates
    keep = np.ones(len(out), dtype=bool)
    repaired = 0
    last: dict[tuple[int, int], int] = {}
    for k in range(len(out)):
        key = (int(out[k, 4]), int(out[k, 2]))
        j = last.get(key)
        if j is not None and out[j, 1] > out[k, 0]:
            repaired += int(key[0] != DRUM)
            if out[j, 0] == out[k, 0]:
                keep[j] = False
            else:
                out[j, 1] = out[k, 0]
        last[key] = k
    if repaired and warn:
        warnings.warn(
            f"notes: {repaired} overlapping notes on one program and pitch; the earlier note now "
            "ends where the later starts (a synthesizer cannot play one key twice at once).",
            BadMidiWarning,
            stacklevel=2,
        )
    out = out[keep]
    out[:, :2] /= sps
    return out


def encode_segment(
    notes: Any, start: float, vocab: Vocabulary = Vocabulary(), *, quantized: bool = False
) -> np.ndarray:
    """Tokens of the segment ``[start, start + segment_seconds)``: tie section, events, eos.

    ``notes`` are the whole piece's notes (quantized by :func:`quantize` unless
    ``quantized=True``). Returns int64 token ids without padding; more than
    ``vocab.max_tokens`` is an error that names the fix.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    q = notes if quantized else quantize(notes, vocab)
    sps, seg = vocab.steps_per_second, vocab.segment_steps
    s0 = int(round(float(start) * sps))
    on = np.round(q[:, 0] * sps).astype(int) if len(q) else np.zeros(0, int)
    off = np.round(q[:, 1] * sps).astype(int) if len(q) else np.zeros(0, int)
    drum = q[:, 4] == DRUM if len(q) else np.zeros(0, bool)
    tok = vocab.token
    out: list[int] = []
    tied = np.flatnonzero(~drum & (on < s0) & (off > s0))
    for k in sorted(tied, key=lambda k: (q[k, 4], q[k, 2])):
        out += [tok("program", int(q[k, 4])), tok("pitch", int(q[k, 2]))]
    out.append(tok("tie"))
    events = []  # (step, order, program, pitch, velocity bin); offs before ons
    for k in np.flatnonzero((on >= s0) & (on < s0 + seg)):
        events.append((on[k] - s0, 1, int(q[k, 4]), int(q[k, 2]), vocab.velocity_bin(q[k, 3])))
    for k in np.flatnonzero(~drum & (off > s0) & (off < s0 + seg)):
        events.append((off[k] - s0, 0, int(q[k, 4]), int(q[k, 2]), 0))
    events.sort()
    step = program = velocity = None
    for t, _, prog, pitch, vbin in events:
        if t != step:
            out.append(tok("shift", t))
            step = t
        if prog == DRUM:
            if vbin != velocity:
                out.append(tok("velocity", vbin))
                velocity = vbin
            out.append(tok("drum", pitch))
            continue
        if prog != program:
            out.append(tok("program", prog))
            program = prog
        if vbin != velocity:
            out.append(tok("velocity", vbin))
            velocity = vbin
        out.append(tok("pitch", pitch))
    out.append(vocab.EOS)
    if len(out) > vocab.max_tokens:
        raise ValueError(
            f"notes: the segment at {start:.2f} s needs {len(out)} tokens, over the budget "
            f"max_tokens={vocab.max_tokens}; use a larger max_tokens or shorter segments "
            "(segment_seconds), or thin out the notes."
        )
    return np.asarray(out, dtype=np.int64)


def decode_segment(tokens: Any, vocab: Vocabulary = Vocabulary()) -> dict[str, Any]:
    """Parse one segment's tokens: ``{"tied": [(program, pitch)], "events": [...]}``.

    ``events`` are ``(step, kind, program, pitch, velocity)`` with ``kind`` in ``'on'``,
    ``'off'``, ``'drum'``; ``velocity`` is MIDI (0 for offs). Stops at ``eos``; ignores ``pad``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    tied: list[tuple[int, int]] = []
    events: list[tuple[int, str, int, int, int]] = []
    in_tie = True
    step = program = 0
    velocity = 1
    pending_program: int | None = None
    for t in np.asarray(tokens).reshape(-1).tolist():
        kind, value = vocab.event(t)
        if kind == "eos":
            break
        if kind in ("pad", "unk"):
            continue
        if in_tie:
            if kind == "program":
                pending_program = value
            elif kind == "pitch":
                tied.append((pending_program if pending_program is not None else 0, value))
            elif kind == "tie":
                in_tie = False
            continue
        if kind == "shift":
            step = value
        elif kind == "program":
            program = value
        elif kind == "velocity":
            velocity = value
        elif kind == "pitch":
            v = vocab.bin_velocity(velocity) if velocity else 0
            events.append((step, "on" if velocity else "off", program, value, v))
        elif kind == "drum":
            events.append((step, "drum", DRUM, value, vocab.bin_velocity(max(velocity, 1))))
    return {"tied": tied, "events": events}


#: Channels of :func:`roll`: pitched notes sounding (pitches 0-127), pitched onsets (128-255),
#: drum hits (256-383).
ROLL_CHANNELS = 384


def roll(
    tokens: Any, frames: int, vocab: Vocabulary = Vocabulary(), *, steps_per_frame: float = 2.0
) -> np.ndarray:
    """One segment's tokens laid out on the frame grid: a piano roll ``(frames, 384)``.

    The same notes as the tokens, placed in time: channel ``p`` is 1 in every frame where
    pitched note ``p`` sounds (a tied note from frame 0; a note not ended in the segment to
    its end), channel ``128 + p`` in the frame of its onset, channel ``256 + k`` in the frame
    of a hit on drum ``k``. Frame ``f`` is centred on shift step ``f * steps_per_frame``
    (10 ms steps and 20 ms frames: 2); a note sounds in frame ``f`` when it starts at or before
    that step and ends after it. Programs and velocities are not in the roll (the tokens carry
    them).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    frames = check_int(frames, "frames", min_value=1)
    spf = check_number(steps_per_frame, "steps_per_frame", low=0.01)
    seg = decode_segment(tokens, vocab)
    out = np.zeros((frames, ROLL_CHANNELS), dtype=np.float32)
    start: dict[tuple[int, int], float] = {key: 0.0 for key in seg["tied"]}
    spans: list[tuple[float, float, int]] = []
    for step, kind, program, pitch, _ in seg["events"]:
        onset = int(np.floor(step / spf + 0.5))  # the nearest frame, halves up
        if kind == "drum":
            if onset < frames:
                out[onset, 256 + pitch] = 1.0
        elif kind == "on":
            if (program, pitch) in start:  # restruck before its off: the old one ends here
                spans.append((start.pop((program, pitch)), step, pitch))
            start[(program, pitch)] = step
            if onset < frames:
                out[onset, 128 + pitch] = 1.0
        elif (program, pitch) in start:  # an off
            spans.append((start.pop((program, pitch)), step, pitch))
    spans += [(s, frames * spf, pitch) for (_, pitch), s in start.items()]
    for s, e, pitch in spans:
        out[int(np.ceil(s / spf)) : min(frames, int(np.ceil(e / spf))), pitch] = 1.0
    return out


def rolls(
    tokens: Any, frames: int, vocab: Vocabulary = Vocabulary(), *, steps_per_frame: float = 2.0
) -> np.ndarray:
    """:func:`roll` of each row of a batch of segments' tokens ``(B, L)``: ``(B, frames, 384)``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    rows = np.asarray(tokens)
    if rows.ndim != 2:
        raise ValueError(f"tokens: expected a batch of token rows (B, L), got shape {rows.shape}.")
    return np.stack([roll(r, frames, vocab, steps_per_frame=steps_per_frame) for r in rows])


def _segment_starts(duration: float, vocab: Vocabulary) -> np.ndarray:
    n = max(1, int(np.ceil(round(duration * vocab.steps_per_second) / vocab.segment_steps)))
    return np.arange(n) * vocab.segment_steps / vocab.steps_per_second


def encode_piece(
    notes: Any, duration: float | None = None, vocab: Vocabulary = Vocabulary()
) -> list[np.ndarray]:
    """Tokens of every segment of a piece (``duration`` s; default: until the last note ends).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    q = quantize(notes, vocab)
    if duration is None:
        duration = float(q[:, 1].max()) if len(q) else vocab.segment_seconds
    duration = check_number(duration, "duration", low=1e-3)
    return [encode_segment(q, s, vocab, quantized=True) for s in _segment_starts(duration, vocab)]


def decode_piece(segments: list[Any], vocab: Vocabulary = Vocabulary()) -> np.ndarray:
    """Notes ``(K, 5)`` from consecutive segments' tokens: the inverse of :func:`encode_piece`.

    A note still sounding at a boundary continues if the next segment's tie section lists it
    and ends at the boundary otherwise (as in MT3); notes sounding at the end end there.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    sps, seg = vocab.steps_per_second, vocab.segment_steps
    active: dict[tuple[int, int], tuple[int, int]] = {}  # (program, pitch) -> (on step, vel)
    notes: list[tuple[float, float, int, int, int]] = []

    def close(key: tuple[int, int], step: int) -> None:
        on, vel = active.pop(key)
        notes.append((on / sps, max(step, on + 1) / sps, key[1], vel, key[0]))

    for i, tokens in enumerate(segments):
        s0 = i * seg
        parsed = decode_segment(tokens, vocab)
        for key in [k for k in active if k not in set(parsed["tied"])]:
            close(key, s0)
        for step, kind, prog, pitch, vel in parsed["events"]:
            t = s0 + step
            if kind == "drum":
                notes.append((t / sps, (t + 1) / sps, pitch, vel, DRUM))
            elif kind == "off":
                if (prog, pitch) in active:
                    close((prog, pitch), t)
            else:
                if (prog, pitch) in active:
                    close((prog, pitch), t)
                active[(prog, pitch)] = (t, vel)
    end = len(segments) * seg
    for key in list(active):
        close(key, end)
    if not notes:
        return np.zeros((0, 5))
    arr = np.asarray(notes, dtype=np.float64)
    return arr[np.lexsort((arr[:, 2], arr[:, 4], arr[:, 0]))]


def describe(tokens: Any, vocab: Vocabulary = Vocabulary(), *, limit: int = 40) -> str:
    """Tokens as readable words: ``tie shift:12 program:33 velocity:9 pitch:45 ...``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    words = []
    for t in np.asarray(tokens).reshape(-1).tolist()[:limit]:
        kind, value = vocab.event(t)
        words.append(kind if kind in ("pad", "eos", "unk", "tie") else f"{kind}:{value}")
    more = len(np.asarray(tokens).reshape(-1)) - limit
    return " ".join(words) + (f" ... (+{more})" if more > 0 else "")


def from_tracks(notes: Any, programs: dict[str, int]) -> np.ndarray:
    """The ``tl.data.midi`` format (track column) -> tokenizer notes (program column).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from .data.midi import MIDI_TRACKS

    arr = np.array(to_numpy(notes), dtype=np.float64).reshape(-1, 5)
    out = arr.copy()
    for k, track in enumerate(MIDI_TRACKS):
        out[arr[:, 4] == k, 4] = DRUM if track == "drums" else programs[track]
    return out


def to_tracks(notes: Any, programs: dict[str, int]) -> np.ndarray:
    """Tokenizer notes -> the ``tl.data.midi`` format, for :func:`tl.data.render_notes`.

    Each note goes to the track whose program it has (drums to ``drums``); a program no track
    has goes to ``melody``.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from .data.midi import MIDI_TRACKS

    arr = check_notes(notes).copy()
    track_of = {p: MIDI_TRACKS.index(t) for t, p in programs.items() if t != "drums"}
    arr[:, 4] = [
        MIDI_TRACKS.index("drums") if p == DRUM else track_of.get(int(p), 0) for p in arr[:, 4]
    ]
    return arr


def transpose(notes: Any, semitones: int) -> np.ndarray:
    """Shift every pitched note (not drums) by ``semitones``; out-of-range pitches are an error.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    arr = check_notes(notes).copy()
    semitones = check_int(semitones, "semitones", min_value=-127, max_value=127)
    pitched = arr[:, 4] != DRUM
    arr[pitched, 2] += semitones
    return check_notes(arr, "notes (transposed)")


def notes_from_midi(source: Any, *, max_seconds: float = 600.0) -> np.ndarray:
    """Read a standard MIDI file (a path, bytes, or a ``pretty_midi.PrettyMIDI``) as notes.

    Bad input fails with a message that says what is wrong: a missing or empty file, bytes
    that are not MIDI, a file with no notes, a piece longer than ``max_seconds``. Overlapping
    notes on one program and pitch are repaired with a :class:`BadMidiWarning`.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import pretty_midi

    max_seconds = check_number(max_seconds, "max_seconds", low=0.1)
    name = "source"
    if isinstance(source, pretty_midi.PrettyMIDI):
        pm = source
    else:
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            name = f"source ({path})"
            if not path.is_file():
                raise FileNotFoundError(f"{name}: no such file.")
            data = path.read_bytes()
        else:
            raise TypeError(f"source: a path, bytes or PrettyMIDI, got {type(source).__name__}.")
        if not data:
            raise ValueError(f"{name}: the file is empty (0 bytes); it is not a MIDI file.")
        if data[:4] != b"MThd":
            raise ValueError(
                f"{name}: not a standard MIDI file (it starts with {data[:4]!r}; a MIDI file "
                "starts with b'MThd'). Is it audio, or a MIDI file inside an archive?"
            )
        try:
            pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
        except Exception as e:  # mido raises many kinds
            raise ValueError(f"{name}: a damaged MIDI file ({type(e).__name__}: {e}).") from e
    rows = [
        (n.start, n.end, n.pitch, n.velocity, DRUM if inst.is_drum else inst.program)
        for inst in pm.instruments
        for n in inst.notes
        if n.end > n.start and n.velocity > 0
    ]
    if not rows:
        raise ValueError(f"{name}: the MIDI file has no notes to play.")
    arr = np.asarray(rows, dtype=np.float64)
    if arr[:, 1].max() > max_seconds:
        raise ValueError(
            f"{name}: the piece lasts {arr[:, 1].max():.1f} s, longer than max_seconds="
            f"{max_seconds:g}; cut it, or pass a larger max_seconds."
        )
    return quantize(arr, Vocabulary(steps_per_second=1000, velocity_bins=127))
