"""Your own MIDI file through chapter 6's model: notes in, audio out.

What users of the original Spectrogram Diffusion expect: give it a standard MIDI file and
hear it. :func:`read_piece` reads the file (``tl.tokens.notes_from_midi``, with its messages
for bad files), cuts it to whole 20 ms frames and checks that every segment fits the model's
token budget; :func:`render_midi` renders it with ``tl.families.midi_synth`` (segment by
segment, Griffin-Lim); :func:`render_soundfont` renders the same notes with the SoundFont at
16 kHz and ``level="fixed"`` (``tl.data.render_notes``): the target the model learned to
imitate. On the command line::

    tutorial-lib render song.mid --out song.wav --soundfont   # also song.soundfont.wav

Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import tokens as tk
from ._validate import check_choice, check_int, check_number, describe
from .families import midi_synth

__all__ = [
    "MAX_SECONDS",
    "MIN_SECONDS",
    "SEGMENT_SECONDS",
    "Piece",
    "read_piece",
    "render_midi",
    "render_soundfont",
]

#: The longest stretch rendered at once (seconds); longer pieces need ``seconds=``.
MAX_SECONDS = 120.0
#: The shortest render (seconds): the SoundFont renderer's minimum.
MIN_SECONDS = 0.1
_HOP_S = 320 / midi_synth.SR  # one feature frame: 20 ms
#: One segment of the model (``midi_synth.FRAMES`` frames): 1.28 s.
SEGMENT_SECONDS = midi_synth.FRAMES * _HOP_S


class Piece(NamedTuple):
    """A MIDI file read for rendering (:func:`read_piece`).

    ``notes``: the notes that start in the rendered stretch, ends cut at ``seconds``,
    quantized to ``midi_synth.VOCAB``; ``duration``: the whole piece (its last note's end,
    s); ``seconds``: the rendered stretch, whole 20 ms frames; ``frames`` and ``segments``
    (of ``midi_synth.FRAMES`` frames) of it.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """

    notes: np.ndarray
    duration: float
    seconds: float
    frames: int
    segments: int

    @property
    def n_notes(self) -> int:
        """The number of notes rendered."""
        return len(self.notes)


def _read_notes(path: Any) -> np.ndarray:
    """``tl.tokens.notes_from_midi`` with its messages, the argument called ``path``."""
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise TypeError(f"path: expected the path of a MIDI file (str or Path), got "
                        f"{describe(path)}.")  # fmt: skip
    p = Path(path).expanduser()
    if p.is_dir():
        raise IsADirectoryError(f"path ({p}): a folder, not a MIDI file.")
    try:
        # no length limit here: render_midi's own (MAX_SECONDS) names seconds= as the fix
        return tk.notes_from_midi(p, max_seconds=1e9)
    except (FileNotFoundError, ValueError) as error:
        message = str(error)
        if message.startswith("source"):
            message = "path" + message[len("source") :]
        raise type(error)(message) from None


def read_piece(path: Any, *, seconds: float | None = None) -> Piece:
    """Read a MIDI file for rendering: its notes, length, frames and segments.

    ``seconds``: render only the first ``seconds`` (default: the whole piece, up to its last
    note's end), rounded up to whole 20 ms frames; at most :data:`MAX_SECONDS`. Bad input
    fails with a message that names the argument and the fix: a missing file, one that is not
    MIDI or has no notes, a piece longer than :data:`MAX_SECONDS` without ``seconds``, a
    segment with more notes than the model reads.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    if seconds is not None:
        seconds = check_number(seconds, "seconds", low=MIN_SECONDS, high=MAX_SECONDS)
    notes = _read_notes(path)
    duration = float(notes[:, 1].max())
    if seconds is None:
        if duration > MAX_SECONDS:
            raise ValueError(
                f"seconds: the piece lasts {duration:.1f} s, longer than the {MAX_SECONDS:g} s "
                f"rendered at once. Fix: render a part of it with seconds=S (S up to "
                f"{MAX_SECONDS:g})."
            )
        seconds = max(duration, MIN_SECONDS)
    frames = math.ceil(round(seconds / _HOP_S, 6))  # whole 20 ms frames (round: float noise)
    seconds = frames * _HOP_S
    kept = notes[notes[:, 0] < seconds - 1e-9].copy()
    if not len(kept):
        raise ValueError(
            f"seconds: no note starts in the first {seconds:g} s (the first starts at "
            f"{notes[:, 0].min():.2f} s). Fix: a larger seconds=S."
        )
    kept[:, 1] = np.minimum(kept[:, 1], seconds)
    q = tk.quantize(kept, midi_synth.VOCAB, warn=False)
    segments = math.ceil(frames / midi_synth.FRAMES)
    unlimited = dataclasses.replace(midi_synth.VOCAB, max_tokens=10**9)
    for k in range(segments):
        n = len(tk.encode_segment(q, k * SEGMENT_SECONDS, unlimited, quantized=True))
        if n > midi_synth.VOCAB.max_tokens:
            raise ValueError(
                f"path: the segment {k * SEGMENT_SECONDS:.2f}-{(k + 1) * SEGMENT_SECONDS:.2f} s has too "
                f"many notes for the model ({n} tokens, over its budget of "
                f"{midi_synth.VOCAB.max_tokens}). Fix: thin out the notes there, or render "
                f"the part before it with seconds=S."
            )
    return Piece(q, duration, seconds, frames, segments)


def _piece(path: Any, seconds: float | None) -> Piece:
    """``path`` itself when it is a :class:`Piece` (read once, rendered twice), else read."""
    return path if isinstance(path, Piece) else read_piece(path, seconds=seconds)


def render_midi(
    path: Any,
    *,
    seconds: float | None = None,
    model: str = "midi-synth",
    steps: int | None = None,
    guidance: float | None = None,
    seed: int = 0,
    device: Any = None,
    progress: bool = False,
) -> tuple[Any, int]:
    """A MIDI file rendered by chapter 6's model: ``(audio (1, N), sr)``, float32 on the CPU.

    ``N`` is the piece's frames times 320 (16 kHz, 20 ms frames; see :func:`read_piece` for
    ``path`` and ``seconds``; ``path`` may also be a :class:`Piece` already read, which is
    used as it is, ``seconds`` then ignored). ``model``: a reference in ``midi_synth.CHECKPOINTS``;
    ``steps``, ``guidance`` (default: ``midi_synth.SAMPLING``) and ``seed`` go to
    ``midi_synth.generate``, which renders segment by segment without autograd; ``device``:
    where the network runs (``None``/``"auto"``: the GPU in ``full`` mode, else the CPU);
    ``progress``: a bar over the segments.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from .config import resolve_device

    check_choice(model, "model", midi_synth.CHECKPOINTS)
    if steps is not None:
        check_int(steps, "steps", min_value=1)
    if guidance is not None:
        check_number(guidance, "guidance", low=0.0)
    seed = check_int(seed, "seed", min_value=0)
    piece = _piece(path, seconds)
    dev = resolve_device(device)
    feats = midi_synth.generate([piece.notes], seconds=piece.seconds, model=midi_synth.load(model),
                                steps=steps, guidance=guidance, seed=seed, progress=progress,
                                device=dev)  # fmt: skip
    audio = midi_synth.to_audio(feats)[0].float()
    return audio, midi_synth.SR


def render_soundfont(path: Any, *, seconds: float | None = None) -> tuple[Any, int]:
    """The MIDI file rendered by the SoundFont, as the model's training data: ``(audio, sr)``.

    Audio ``(1, N)`` at 16 kHz, ``level="fixed"`` (``tl.data.render_notes``): the target the
    model learned to imitate.

    ``render_notes`` plays three pitched programs and the drums at once, so the programs go
    in groups of three and the groups' renders are summed (then clipped as ``level="fixed"``
    clips). Drum notes use the standard kit. The SoundFont renderer must be installed (the
    error says how). Same ``N`` as :func:`render_midi`; ``path`` may be a :class:`Piece`, as
    there.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    from .data.midi import MIDI_TRACKS, render_notes

    piece = _piece(path, seconds)
    notes = piece.notes
    pitched = sorted({int(p) for p in notes[:, 4] if p != tk.DRUM})
    groups = [pitched[i : i + 3] for i in range(0, len(pitched), 3)] or [[]]
    out = torch.zeros(1, piece.frames * 320)
    for k, group in enumerate(groups):
        slots = (group + group[:1] * 3 + [0] * 3)[:3]  # unused tracks get a program, no notes
        programs = dict(zip(MIDI_TRACKS[:3], slots, strict=True)) | {"drums": 0}
        mine = np.isin(notes[:, 4], group) | ((notes[:, 4] == tk.DRUM) & (k == 0))
        if mine.any():
            rows = tk.to_tracks(notes[mine], programs)
            out += render_notes(rows, programs, sr=midi_synth.SR, seconds=piece.seconds,
                                level="fixed", backend="soundfont")  # fmt: skip
    return out.clamp(-0.99, 0.99), midi_synth.SR
