"""Does a rendering follow its notes? Measures of mel frames against the notes they render.

Chapter 6 renders MIDI to mel frames (``tl.mel.MelFrames``) and asks whether the frames follow
the notes, not only whether they sound like the data. Every measure here compares features
``(B, frames, bins)`` with the notes of each clip (the tokenizer's note arrays, ``tl.tokens``:
rows ``(start s, end s, pitch, velocity, program)``), and is given the frame grid (sample rate
and hop) or the :class:`~tutorial_lib.mel.MelFrames` that made the features:

- :func:`retrieval_accuracy`: is the nearest real clip (mel L1) of a generated clip its own?
- :func:`onset_f1`: onsets detected in the frames (librosa's spectral flux) against the notes'
  onsets (``mir_eval.onset``);
- :func:`pitch_accuracy`: is the strongest of the 12 pitch classes of a frame a sounding one?
  (:func:`pitch_chance` is the score of a tracker that picks a class at random);
- :func:`scores`: all of them, with the mel L1 overall, just after segment boundaries and
  inside segments.

Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import tokens as tk
from ._validate import check_int, check_number, describe

__all__ = ["onset_f1", "pitch_accuracy", "pitch_chance", "retrieval_accuracy", "scores"]


def retrieval_accuracy(generated: Any, real: Any) -> float:
    """Share of generated clips whose nearest real clip (mel L1) is their own (chance: 1/B).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    g, r = torch.as_tensor(generated).float(), torch.as_tensor(real).float()
    if g.shape != r.shape or g.ndim != 3:
        raise ValueError(f"generated, real: expected equal shapes (B, frames, bins), got "
                         f"{describe(generated)} and {describe(real)}.")  # fmt: skip
    d = (g[:, None] - r[None]).abs().mean(dim=(2, 3))  # (generated, real)
    return float((d.argmin(1) == torch.arange(len(g))).float().mean())


def _grid(sr: Any, hop: Any) -> tuple[int, int]:
    return check_int(sr, "sr", min_value=1), check_int(hop, "hop", min_value=1)


def _onsets_from_features(feats: Any, sr: int, hop: int) -> list[np.ndarray]:
    """Onset times (s): librosa's spectral flux on the features (x40, about a dB scale).

    ``center=False``: the frames are already centred on ``k * hop``, so the envelope needs
    no shift (librosa's default would move it by ``n_fft // (2 * hop)`` frames).
    """
    import librosa

    out = []
    for f in np.asarray(feats, dtype=np.float64):
        env = librosa.onset.onset_strength(S=f.T * 40.0, sr=sr, hop_length=hop, lag=1,
                                           max_size=1, center=False)  # fmt: skip
        frames = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=hop,
                                            delta=0.05, wait=2, units="frames")  # fmt: skip
        out.append(frames * hop / sr)
    return out


def _reference_onsets(notes: np.ndarray, seconds: float) -> np.ndarray:
    """The notes' onsets, those closer than 50 ms to the previous one merged (one event)."""
    on = np.unique(np.round(np.asarray(notes)[:, 0], 2))
    on = on[on < seconds - 0.05]
    keep = np.concatenate([[True], np.diff(on) > 0.05]) if len(on) else on.astype(bool)
    return on[keep]


def _check_pairs(feats: Any, notes: Any) -> None:
    if np.ndim(feats) != 3 or not isinstance(notes, (list, tuple)) or len(notes) != len(feats):
        raise ValueError(
            f"feats, notes: expected features (B, frames, bins) and a list of B note arrays, "
            f"got {describe(feats)} and {describe(notes)}."
        )


def onset_f1(feats: Any, notes: list[Any], *, sr: int, hop: int, window: float = 0.05) -> float:
    """Mean onset F-measure (``mir_eval.onset``, +-``window`` s) of onsets detected in the
    features (librosa's spectral flux on the mel frames, ``hop`` samples apart at ``sr`` Hz)
    against the notes' onsets.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import mir_eval

    sr, hop = _grid(sr, hop)
    window = check_number(window, "window", low=0.0, low_open=True)
    _check_pairs(feats, notes)
    est = _onsets_from_features(feats, sr, hop)
    seconds = np.asarray(feats).shape[1] * hop / sr
    f = [mir_eval.onset.f_measure(_reference_onsets(n, seconds), e, window=window)[0]
         for n, e in zip(notes, est, strict=True)]  # fmt: skip
    return float(np.mean(f))


@functools.lru_cache(maxsize=4)
def _chroma_map(mel: Any) -> np.ndarray:
    """(12, n_mels): how much of each mel band lies in each pitch class, 50 Hz to 2 kHz."""
    import librosa

    sr = mel.sample_rate
    pinv = np.linalg.pinv(mel.filters)  # (bins, n_mels)
    chroma = librosa.filters.chroma(sr=sr, n_fft=mel.n_fft, n_chroma=12, ctroct=5.0, octwidth=None)
    freqs = np.linspace(0, sr / 2, mel.n_fft // 2 + 1)
    chroma = chroma * ((freqs > 50) & (freqs < 2000))[None]
    return np.roll(chroma, 0, axis=0) @ np.clip(pinv, 0, None)


def _pitch_classes(notes: np.ndarray, frames: int, hop_s: float) -> list[set[int]]:
    """The pitch classes of the pitched notes sounding in each of ``frames`` frames."""
    active: list[set[int]] = [set() for _ in range(frames)]
    for start, end, pitch, _, prog in np.asarray(notes):
        if prog == tk.DRUM:
            continue
        for f in range(int(start / hop_s), min(frames, int(np.ceil(end / hop_s)))):
            active[f].add(int(pitch) % 12)
    return active


def _check_mel(mel: Any) -> Any:
    from .mel import MelFrames

    if not isinstance(mel, MelFrames):
        raise TypeError(
            f"mel: expected the tl.mel.MelFrames that made the features, got {describe(mel)}."
        )
    return mel


def pitch_accuracy(feats: Any, notes: list[Any], *, mel: Any) -> float:
    """Share of frames (with pitched notes) whose strongest pitch class is a sounding one.

    A simple tracker: the magnitudes of ``mel`` (the :class:`~tutorial_lib.mel.MelFrames`
    that made ``feats``) folded onto 12 pitch classes (50 Hz to 2 kHz), the strongest class
    per frame, compared with the pitch classes of the notes sounding then. Chance is the
    share of the 12 classes that are sounding (:func:`pitch_chance`).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    mel = _check_mel(mel)
    _check_pairs(feats, notes)
    f = np.asarray(feats, dtype=np.float64)
    mag = mel.unscale(f).numpy() - mel.floor  # (B, frames, n_mels)
    chroma = np.einsum("cm,btm->btc", _chroma_map(mel), mag)
    hop_s = mel.hop_length / mel.sample_rate
    hits = total = 0
    for c, n in zip(chroma, notes, strict=True):
        for frame, classes in enumerate(_pitch_classes(n, len(c), hop_s)):
            if classes:
                total += 1
                hits += int(np.argmax(c[frame])) in classes
    return hits / max(total, 1)


def pitch_chance(notes: list[Any], frames: int, *, sr: int, hop: int) -> float:
    """The pitch-class accuracy of a tracker that picks one of the 12 classes at random.

    Over the frames (of ``frames`` per clip, ``hop`` samples apart at ``sr`` Hz) where
    pitched notes sound, the mean share of the 12 pitch classes that are sounding: the score
    :func:`pitch_accuracy` gives to frames whose strongest class has nothing to do with the
    notes.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    sr, hop = _grid(sr, hop)
    frames = check_int(frames, "frames", min_value=1)
    if not isinstance(notes, (list, tuple)) or not notes:
        raise ValueError(f"notes: expected a non-empty list of note arrays, got {describe(notes)}.")
    shares = [len(c) / 12 for n in notes for c in _pitch_classes(n, frames, hop / sr) if c]
    return float(np.mean(shares)) if shares else float("nan")


def scores(
    generated: Any, real: Any, notes: list[Any], *, mel: Any, segment: int
) -> dict[str, float]:
    """All the measures of ``generated`` features against the ``real`` ones.

    ``mel_l1`` (mean absolute difference of features), ``retrieval`` (chance 1/B),
    ``onset_f1`` and ``pitch_accuracy`` (against ``notes``, on the frame grid of ``mel``, the
    :class:`~tutorial_lib.mel.MelFrames` that made the features), ``boundary_l1`` (mel L1
    over the first 4 frames after each boundary between segments of ``segment`` frames,
    boundaries 1 and later) and ``inside_l1`` (over the other frames).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    import torch

    mel = _check_mel(mel)
    segment = check_int(segment, "segment", min_value=1)
    g, r = torch.as_tensor(generated).float(), torch.as_tensor(real).float()
    err = (g - r).abs().mean(dim=(0, 2))  # per frame
    pos = torch.arange(len(err))
    after = (pos >= segment) & (pos % segment < 4)
    return {
        "mel_l1": float(err.mean()),
        "retrieval": retrieval_accuracy(g, r),
        "onset_f1": onset_f1(g, notes, sr=mel.sample_rate, hop=mel.hop_length),
        "pitch_accuracy": pitch_accuracy(g, notes, mel=mel),
        "boundary_l1": float(err[after].mean()) if after.any() else float("nan"),
        "inside_l1": float(err[(pos >= segment) & ~after].mean()) if after.any() else float("nan"),
    }
