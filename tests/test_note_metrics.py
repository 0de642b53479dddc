"""Tests for tutorial_lib.note_metrics: the note-following measures of chapter 6 on real
features (their ceiling), shuffled and transposed notes (they fall), the chance level
(checked by simulation), the frame grid as a parameter, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tutorial_lib import note_metrics as nm
from tutorial_lib import tokens as tk
from tutorial_lib.families import midi_synth as fam
from tutorial_lib.mel import MelFrames

GRID = {"sr": fam.SR, "hop": fam.HOP}


@pytest.fixture(scope="module")
def clips():
    ds = fam.dataset(6, "test")
    return fam.features(ds), [fam.notes_of(ds, i) for i in range(len(ds))]


@pytest.fixture(scope="module")
def mel():
    return fam.mel_frames()


def test_measures_reach_their_ceiling_on_truth_and_fall_for_shuffled_notes(clips, mel):
    feats, notes = clips
    assert nm.retrieval_accuracy(feats, feats) == 1.0
    assert nm.retrieval_accuracy(feats, feats.roll(1, 0)) == 0.0
    truth = nm.scores(feats, feats, notes, mel=mel, segment=fam.FRAMES)
    assert truth["mel_l1"] == 0 and truth["retrieval"] == 1
    shuffled = [notes[(i + 1) % len(notes)] for i in range(len(notes))]
    # the trackers, validated on the ground truth: far better with the right notes
    assert truth["onset_f1"] > 0.6 and truth["pitch_accuracy"] > 0.5
    assert nm.onset_f1(feats, shuffled, **GRID) < truth["onset_f1"] - 0.2
    assert nm.pitch_accuracy(feats, shuffled, mel=mel) < truth["pitch_accuracy"] - 0.1
    # transposed notes against untransposed audio score worse than the right notes
    up5 = [tk.transpose(n, 5) for n in notes]
    assert nm.pitch_accuracy(feats, up5, mel=mel) < truth["pitch_accuracy"] - 0.1
    with pytest.raises(ValueError, match="equal shapes"):
        nm.retrieval_accuracy(feats, feats[:2])


def test_pitch_chance_is_the_score_of_a_random_class(clips, mel):
    """pitch_chance = the mean share of sounding classes; a tracker that picks a random class
    per frame scores it on average (checked by simulation on the same notes)."""
    feats, notes = clips
    frames = feats.shape[1]
    chance = nm.pitch_chance(notes, frames, **GRID)
    assert 0 < chance < 1
    rng = np.random.default_rng(0)
    hits = total = 0
    for n in notes:
        for classes in nm._pitch_classes(n, frames, fam.HOP / fam.SR):
            if classes:
                picks = rng.integers(0, 12, size=200)
                hits += int(np.isin(picks, list(classes)).sum())
                total += 200
    assert abs(hits / total - chance) < 0.02
    # the real frames score far above it (the tracker works), the pitch classes matter
    assert nm.pitch_accuracy(feats, notes, mel=mel) > chance + 0.2
    with pytest.raises(ValueError, match="notes"):
        nm.pitch_chance([], frames, **GRID)


def test_the_frame_grid_is_a_parameter(clips):
    """The measures read the grid they are given, not chapter 6's: the same onsets and notes
    on a grid twice as coarse (hop 640 at 16 kHz, every other frame) still match, and the
    wrong grid (frames read as 10 ms apart) loses the onsets."""
    feats, notes = clips
    fine = nm.onset_f1(feats, notes, **GRID)
    coarse = nm.onset_f1(feats[:, ::2], notes, sr=fam.SR, hop=2 * fam.HOP)
    wrong = nm.onset_f1(feats, notes, sr=fam.SR, hop=fam.HOP // 2)
    assert coarse > fine - 0.2 and wrong < fine - 0.2
    # pitch classes follow the hop: a frame at 40 ms hears the notes sounding at 40 ms
    note = np.array([[0.04, 0.06, 60, 100, 0]])
    assert nm._pitch_classes(note, 4, 0.02)[2] == {0}
    assert nm._pitch_classes(note, 4, 0.04)[1] == {0}
    coarse_mel = MelFrames(fam.SR, hop_length=2 * fam.HOP)
    assert nm.pitch_accuracy(feats[:, ::2], notes, mel=coarse_mel) > 0.5


@pytest.mark.filterwarnings("ignore:.*onsets are empty")
def test_boundary_and_inside_errors_split_at_the_segment_length(mel):
    real = -torch.ones(1, 24, 128)
    gen = real.clone()
    gen[:, 13] += 1.0  # just after the boundary at 12 of segments of 12 frames
    notes = [np.zeros((0, 5))]
    s = nm.scores(gen, real, notes, mel=mel, segment=12)
    assert s["boundary_l1"] > 0 and s["inside_l1"] == 0
    s = nm.scores(gen, real, notes, mel=mel, segment=8)  # frame 13 is inside segment 2 now
    assert s["boundary_l1"] == 0 and s["inside_l1"] > 0


def test_bad_input_is_refused(clips, mel):
    feats, notes = clips
    with pytest.raises(ValueError, match="feats, notes"):
        nm.onset_f1(feats, notes[:2], **GRID)
    with pytest.raises(ValueError, match="feats, notes"):
        nm.pitch_accuracy(feats[0], notes, mel=mel)
    with pytest.raises(TypeError, match="MelFrames"):
        nm.pitch_accuracy(feats, notes, mel=fam.SR)
    with pytest.raises(ValueError, match="hop"):
        nm.onset_f1(feats, notes, sr=fam.SR, hop=0)
