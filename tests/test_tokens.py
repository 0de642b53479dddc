"""Chapter 6's tokenizer: the MT3 / Spectrogram Diffusion event vocabulary, ties, bad MIDI."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pretty_midi
import pytest

import tutorial_lib as tl
from tutorial_lib import tokens as tk

V = tk.Vocabulary(steps_per_second=100, segment_seconds=1.0, velocity_bins=16, max_tokens=128)


def _words(tokens, vocab=V):
    return tk.describe(tokens, vocab, limit=1000).split()


def test_vocabulary_ids_are_contiguous_and_invertible():
    ranges = V.ranges
    assert ranges["shift"] == (3, 101)  # 0 .. 100 steps of 10 ms: a whole segment inclusive
    ids = [V.token(kind, v) for kind, (_, n) in ranges.items() for v in range(n)]
    assert ids == list(range(3, V.size))
    assert all(V.event(V.token(k, v)) == (k, v) for k, (_, n) in ranges.items() for v in (0, n - 1))
    assert V.event(0) == ("pad", 0) and V.event(1) == ("eos", 0)
    for b in range(1, 17):  # velocity bins survive the MIDI value they stand for
        assert V.velocity_bin(V.bin_velocity(b)) == b
    with pytest.raises(ValueError, match="pitch token takes 0 to 127"):
        V.token("pitch", 128)
    with pytest.raises(ValueError, match="kind"):
        V.token("volume", 3)
    with pytest.raises(ValueError, match="ids are 0 to"):
        V.event(V.size)
    assert tk.ORIGINAL.velocity_bins == 1 and tk.ORIGINAL.segment_seconds == 5.12
    assert tk.ORIGINAL.max_tokens == 2048


def test_a_note_crossing_two_boundaries_is_tied_in_both():
    notes = [[0.5, 2.3, 60, 100, 0], [1.2, 1.4, 64, 50, 0], [1.5, 1.6, 36, 90, tk.DRUM]]
    segs = tk.encode_piece(notes, 3.0, V)
    assert len(segs) == 3
    w0, w1, w2 = (_words(s) for s in segs)
    assert w0 == ["tie", "shift:50", "program:0", "velocity:13", "pitch:60", "eos"]
    # segment 1: the note from 0.5 s is tied (program, pitch, then the tie token)
    assert w1[:3] == ["program:0", "pitch:60", "tie"]
    assert "drum:36" in w1 and "velocity:0" in w1  # the 64 ends inside, the drum hits
    # segment 2: still sounding, tied again, then it ends at 2.3 s
    assert w2 == ["program:0", "pitch:60", "tie", "shift:30", "program:0", "velocity:0",
                  "pitch:60", "eos"]  # fmt: skip
    back = tk.decode_piece(segs, V)
    np.testing.assert_allclose(back, tk.quantize(notes, V))


def test_untied_note_ends_at_the_boundary():
    """A decoder that drops a tie (as a model might) gets the note cut at the boundary."""
    segs = tk.encode_piece([[0.5, 1.5, 60, 100, 0]], 2.0, V)
    assert _words(segs[1])[:3] == ["program:0", "pitch:60", "tie"]
    untied = [segs[0], segs[1][2:]]  # remove the tie section's program and pitch
    back = tk.decode_piece(untied, V)
    assert back.shape == (1, 5) and back[0, 1] == pytest.approx(1.0)


def test_round_trip_on_the_books_midi_clips_and_the_original_settings():
    ds = tl.data.midi(6, split="test", sr=16000, seconds=4.0, level="fixed", progress=False)
    programs = [{t: int(ds.meta[i][f"program_{t}"]) for t in tl.data.MIDI_TRACKS} for i in range(6)]
    crossed = 0
    for vocab in (V, tk.ORIGINAL):
        for i in range(6):
            q = tk.quantize(tk.from_tracks(ds.notes(i), programs[i]), vocab, warn=False)
            segs = tk.encode_piece(q, 4.0, vocab)
            back = tk.decode_piece(segs, vocab)
            np.testing.assert_allclose(back, q, atol=1e-9)
            starts = np.arange(len(segs)) * vocab.segment_seconds
            crossed += sum(((q[:, 0] < s) & (q[:, 1] > s)).sum() for s in starts[1:])
        if vocab is tk.ORIGINAL:  # on/off only: every velocity is 127
            assert set(back[:, 3]) == {127.0}
    assert crossed > 10  # the test did exercise ties


def test_overlapping_notes_on_one_pitch_are_repaired_with_a_warning():
    notes = [[0.0, 1.0, 60, 100, 0], [0.5, 0.8, 60, 80, 0], [0.5, 0.6, 60, 80, 1]]
    with pytest.warns(tk.BadMidiWarning, match="1 overlapping"):
        q = tk.quantize(notes, V)
    assert q.tolist() == [[0.0, 0.5, 60, 103, 0], [0.5, 0.8, 60, 87, 0], [0.5, 0.6, 60, 87, 1]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tk.quantize(notes, V, warn=False)


def test_bad_notes_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="pitches must be whole MIDI numbers 0 to 127"):
        tk.quantize([[0, 1, 130, 100, 0]], V)
    with pytest.raises(ValueError, match=r"transposed.*0 to 127"):
        tk.transpose([[0, 1, 125, 100, 0]], 5)
    assert tk.transpose([[0, 1, 60, 100, 0], [0, 1, 36, 100, tk.DRUM]], 5)[:, 2].tolist() == [
        65,
        36,
    ]
    with pytest.raises(ValueError, match="velocities must be 1 to 127"):
        tk.quantize([[0, 1, 60, 0, 0]], V)
    with pytest.raises(ValueError, match="ends at"):
        tk.quantize([[1.0, 0.5, 60, 90, 0]], V)
    with pytest.raises(ValueError, match=r"shape \(K, 5\)"):
        tk.quantize([[0, 1, 60]], V)
    with pytest.raises(ValueError, match="programs must be 0-127, or 128"):
        tk.quantize([[0, 1, 60, 90, 200]], V)


def test_a_segment_over_the_token_budget_names_the_fix():
    dense = [[k * 0.01, k * 0.01 + 0.5, 30 + k % 60, 100, k % 8] for k in range(90)]
    with pytest.raises(ValueError, match=r"over the budget max_tokens=128.*segment_seconds"):
        tk.encode_piece(dense, 1.0, V)


def _midi_bytes(pm: pretty_midi.PrettyMIDI) -> bytes:
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def test_notes_from_midi_matches_pretty_midi(tmp_path):
    """Cross-check: a clip written as a MIDI file and read back gives the dataset's notes."""
    ds = tl.data.midi(2, split="test", sr=16000, seconds=4.0, level="fixed", progress=False)
    path = ds.save_midi(0, tmp_path / "clip.mid")
    programs = {t: int(ds.meta[0][f"program_{t}"]) for t in tl.data.MIDI_TRACKS}
    ours = tk.notes_from_midi(path)
    expected = tk.quantize(tk.from_tracks(ds.notes(0), programs),
                           tk.Vocabulary(steps_per_second=1000, velocity_bins=127), warn=False)  # fmt: skip
    np.testing.assert_allclose(ours, expected, atol=2e-3)  # MIDI ticks vs the 1 ms grid
    pm = pretty_midi.PrettyMIDI(str(path))
    assert len(ours) <= sum(len(i.notes) for i in pm.instruments)
    # and back to the dataset's track format, for the renderer
    tracks = tk.to_tracks(ours, programs)
    assert set(tracks[:, 4].astype(int)) <= {0, 1, 2, 3}


def test_bad_midi_files_fail_clearly(tmp_path):
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        tk.notes_from_midi(empty)
    wav = tmp_path / "not.mid"
    wav.write_bytes(b"RIFF\x00\x00\x00\x00WAVE")
    with pytest.raises(ValueError, match="not a standard MIDI file.*MThd"):
        tk.notes_from_midi(wav)
    with pytest.raises(ValueError, match="damaged"):
        tk.notes_from_midi(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(FileNotFoundError, match="no such file"):
        tk.notes_from_midi(tmp_path / "missing.mid")
    silent = pretty_midi.PrettyMIDI()
    silent.instruments.append(pretty_midi.Instrument(0))
    with pytest.raises(ValueError, match="no notes"):
        tk.notes_from_midi(_midi_bytes(silent))
    long = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes.append(pretty_midi.Note(90, 60, 0.0, 700.0))
    long.instruments.append(inst)
    with pytest.raises(ValueError, match="longer than max_seconds=600"):
        tk.notes_from_midi(_midi_bytes(long))
    # overlapping notes on one key in a file: repaired, with a warning
    both = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes += [pretty_midi.Note(90, 60, 0.0, 1.0), pretty_midi.Note(90, 60, 0.5, 1.5)]
    both.instruments.append(inst)
    with pytest.warns(tk.BadMidiWarning, match="overlapping"):
        got = tk.notes_from_midi(both)
    assert got[:, :2].tolist() == [[0.0, 0.5], [0.5, 1.5]]
    high = pretty_midi.PrettyMIDI()  # a PrettyMIDI object can hold what a file cannot
    inst = pretty_midi.Instrument(0)
    inst.notes.append(pretty_midi.Note(90, 130, 0.0, 1.0))
    high.instruments.append(inst)
    with pytest.raises(ValueError, match="pitches must be whole MIDI numbers 0 to 127"):
        tk.notes_from_midi(high)
    with pytest.raises(TypeError, match="a path, bytes or PrettyMIDI"):
        tk.notes_from_midi(42)


def test_a_program_the_soundfont_lacks_is_said():
    notes = [[0.0, 0.3, 36, 100, 3]]
    programs = {"melody": 0, "chords": 0, "bass": 32, "drums": 99}
    with pytest.warns(tl.data.SoundFontMissingWarning, match="drum kit 99 is not in the SoundFont"):
        x = tl.data.render_notes(notes, programs, seconds=0.5, backend="soundfont")
    assert x.shape == (1, 8000) and float(x.abs().max()) > 0.01
    with pytest.raises(ValueError, match="no program for tracks"):
        tl.data.render_notes(notes, {"melody": 0}, seconds=0.5)
    with pytest.raises(ValueError, match="column 4 is the track"):
        tl.data.render_notes([[0.0, 0.3, 36, 100, 7]], programs, seconds=0.5)


def test_fixed_level_keeps_loudness_and_peak_level_does_not():
    fixed = tl.data.midi(4, split="test", sr=16000, seconds=2.0, level="fixed", progress=False)
    peak = tl.data.midi(4, split="test", sr=16000, seconds=2.0, progress=False)
    peaks = fixed.tensors().abs().amax(dim=(1, 2))
    assert float(peaks.max() - peaks.min()) > 0.05  # levels differ from clip to clip
    np.testing.assert_allclose(peak.tensors().abs().amax(dim=(1, 2)).numpy(), 0.9, atol=1e-4)
    ratio = peak.tensors() / fixed.tensors().clamp_min(1e-9)
    assert fixed.tensors().shape == peak.tensors().shape and ratio.shape[0] == 4
    with pytest.raises(ValueError, match="level"):
        tl.data.midi(2, level="loud", progress=False)


#: midi_synth's vocabulary (1.28 s segments: 64 frames of 20 ms), for the piano roll.
VR = tk.Vocabulary(steps_per_second=100, segment_seconds=1.28, velocity_bins=16, max_tokens=256)


def _roll_from_notes(q, start_frame, frames=64, vocab=None):
    """The piano roll written from the notes themselves (not from tokens): frame f is centred
    on step s0 + 2 f (10 ms steps, 20 ms frames)."""
    vocab = vocab or VR
    s0 = 2 * start_frame
    out = np.zeros((frames, tk.ROLL_CHANNELS), np.float32)
    for start, end, pitch, _, program in q:
        on, off = round(start * vocab.steps_per_second), round(end * vocab.steps_per_second)
        onset = int(np.floor((on - s0) / 2 + 0.5))
        if program == tk.DRUM:
            if s0 <= on < s0 + 2 * frames and onset < frames:
                out[onset, 256 + int(pitch)] = 1
            continue
        if s0 <= on < s0 + 2 * frames and onset < frames:
            out[onset, 128 + int(pitch)] = 1
        for f in range(frames):
            if on <= s0 + 2 * f < off:
                out[f, int(pitch)] = 1
    return out


def test_roll_matches_the_notes_on_the_books_clips():
    """tl.tokens.roll (from a segment's tokens) equals the roll written from the notes, on
    every segment of real clips (ties, drums, notes that end after the segment)."""
    ds = tl.data.midi(6, split="test", sr=16000, seconds=4.0, level="fixed", progress=False)
    checked = tied = 0
    for i in range(6):
        programs = {t: int(ds.meta[i][f"program_{t}"]) for t in tl.data.MIDI_TRACKS}
        q = tk.quantize(tk.from_tracks(ds.notes(i), programs), VR, warn=False)
        for k in range(3):
            toks = tk.encode_segment(q, k * 1.28, VR, quantized=True)
            got = tk.roll(toks, 64, VR)
            np.testing.assert_array_equal(got, _roll_from_notes(q, 64 * k))
            checked += int(got.sum() > 0)
            tied += int(k > 0 and got[0, :128].sum() > got[0, 128:256].sum())
    assert checked >= 12 and tied >= 3  # the test saw notes, and notes held over a boundary


def test_roll_channels_and_arguments():
    q = tk.quantize([[0.0, 0.5, 60, 100, 0], [0.25, 0.26, 38, 90, tk.DRUM]], VR)
    r = tk.roll(tk.encode_segment(q, 0.0, VR, quantized=True), 64, VR)
    assert r.shape == (64, 384) and r.dtype == np.float32
    assert r[:25, 60].all() and not r[25:, 60].any()  # sounds 0-0.5 s: frames 0-24
    assert r[0, 128 + 60] == 1 and r[:, 128:256].sum() == 1  # one pitched onset
    assert r[13, 256 + 38] == 1 and r[:, 256:].sum() == 1  # the hit: step 25 -> frame 13
    assert r[:, 38].sum() == 0  # drums do not sound as pitches
    empty = tk.roll(tk.encode_segment(q, 2.56, VR, quantized=True), 64, VR)
    assert not empty.any()
    first, last = (tk.encode_segment(q, s, VR, quantized=True) for s in (0.0, 2.56))
    batch = np.zeros((2, 32), dtype=np.int64)  # zero-padded rows, as in a training batch
    batch[0, : len(first)], batch[1, : len(last)] = first, last
    np.testing.assert_array_equal(tk.rolls(batch, 64, VR), np.stack([r, empty]))
    with pytest.raises(ValueError, match=r"tokens: expected a batch"):
        tk.rolls(batch[0], 64, VR)
    with pytest.raises(ValueError, match="frames"):
        tk.roll(tk.encode_segment(q, 0.0, VR, quantized=True), 0, VR)
