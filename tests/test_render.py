"""Your own MIDI file through chapter 6's model: tl.render and ``tutorial-lib render``."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from tutorial_lib import render
from tutorial_lib import tokens as tk
from tutorial_lib.cli import main
from tutorial_lib.data import synth
from tutorial_lib.families import midi_synth

needs_soundfont = pytest.mark.skipif(
    not synth.soundfont_available()[0], reason="SoundFont renderer not installed"
)


@pytest.fixture(autouse=True)
def _fast(tmp_path, monkeypatch):
    # as the other CLI tests: a private cache, fast mode (a missing reference trains in
    # miniature), tracebacks off
    monkeypatch.setenv("TUTORIAL_MODE", "fast")
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TUTORIAL_DEBUG", raising=False)


def _midi(path, notes, drums=()):
    """Write ``notes`` ``(start, end, pitch)`` on a piano and ``drums`` on the drum channel."""
    pm = pretty_midi.PrettyMIDI()
    for program, rows, is_drum in ((0, notes, False), (0, drums, True)):
        if len(rows):
            inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
            for start, end, pitch in rows:
                inst.notes.append(pretty_midi.Note(100, int(pitch), float(start), float(end)))
            pm.instruments.append(inst)
    pm.write(str(path))
    return path


@pytest.fixture
def song(tmp_path):
    """Three piano notes and a kick, 1 s: 50 frames, one segment."""
    return _midi(tmp_path / "song.mid", [(0.0, 0.4, 60), (0.3, 0.7, 64), (0.6, 1.0, 67)],
                 drums=[(0.0, 0.1, 36)])  # fmt: skip


# ------------------------------------------------------------------------------ the library


def test_read_piece_counts_frames_notes_and_segments(song, tmp_path):
    piece = render.read_piece(song)
    assert piece.duration == pytest.approx(1.0) and piece.frames == 50
    assert piece.seconds == pytest.approx(1.0) and piece.segments == 1 and piece.n_notes == 4
    assert set(piece.notes[:, 4]) == {0, tk.DRUM}
    # the end rounds up to whole 20 ms frames; two segments past 1.28 s
    odd = _midi(tmp_path / "odd.mid", [(0.0, 1.305, 60)])
    piece = render.read_piece(odd)
    assert piece.frames == 66 and piece.segments == 2
    assert piece.seconds == pytest.approx(66 * 0.02)
    # seconds= cuts: notes that start later are dropped, held ones end at the cut
    cut = render.read_piece(song, seconds=0.5)
    assert cut.frames == 25 and cut.n_notes == 3 and cut.notes[:, 1].max() <= 0.5
    assert cut.duration == pytest.approx(1.0)


def test_read_piece_errors_name_the_argument_and_the_fix(tmp_path, song):
    with pytest.raises(FileNotFoundError, match=r"^path \(.*nope.mid\): no such file"):
        render.read_piece(tmp_path / "nope.mid")
    wav = tmp_path / "clip.mid"
    sf.write(wav, np.zeros(1600), 16000, format="WAV")
    with pytest.raises(ValueError, match=r"^path \(.*\): not a standard MIDI file.*b'RIFF'"):
        render.read_piece(wav)
    (tmp_path / "empty.mid").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        render.read_piece(tmp_path / "empty.mid")
    with pytest.raises(IsADirectoryError, match="^path"):
        render.read_piece(tmp_path)
    long = _midi(tmp_path / "long.mid", [(0.0, 1.0, 60), (124.0, 125.0, 62)])
    with pytest.raises(ValueError, match=r"^seconds: the piece lasts 125.0 s.*seconds=S"):
        render.read_piece(long)
    assert render.read_piece(long, seconds=2).n_notes == 1  # the fix works
    with pytest.raises(ValueError, match="^seconds: expected a value in"):
        render.read_piece(song, seconds=500)
    late = _midi(tmp_path / "late.mid", [(3.0, 4.0, 60)])
    with pytest.raises(ValueError, match="^seconds: no note starts in the first 1 s"):
        render.read_piece(late, seconds=1)
    dense = _midi(tmp_path / "dense.mid", [(0.01 * k, 0.01 * k + 0.005, 30 + k) for k in range(90)])
    with pytest.raises(ValueError, match=r"^path: the segment 0.00-1.28 s has too many notes"):
        render.read_piece(dense)


def test_render_midi_gives_audio_of_the_frames_length(song):
    x, sr = render.render_midi(song, steps=2)
    assert sr == midi_synth.SR == 16000
    assert x.shape == (1, 50 * 320) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and float(x.abs().max()) > 1e-3
    with pytest.raises(ValueError, match="^model: unknown value 'midi-synt'"):
        render.render_midi(song, model="midi-synt")
    with pytest.raises(ValueError, match="^guidance"):
        render.render_midi(song, guidance=-1.0)
    with pytest.raises(ValueError, match="^steps"):
        render.render_midi(song, steps=0)


@needs_soundfont
def test_render_soundfont_plays_every_program_at_the_same_length(tmp_path):
    def write(path, programs):
        pm = pretty_midi.PrettyMIDI()
        for k, program in enumerate(programs):
            start = 1.0 if k == 4 else 0.0
            inst = pretty_midi.Instrument(program=program)
            inst.notes.append(pretty_midi.Note(100, 60 + k, start, start + 0.3))
            pm.instruments.append(inst)
        pm.write(str(path))
        return path

    # five programs: render_notes plays three at once, so two groups
    five = write(tmp_path / "five.mid", (0, 24, 33, 40, 56))
    four = write(tmp_path / "four.mid", (0, 24, 33, 40))
    x, sr = render.render_soundfont(five)
    assert sr == 16000 and x.shape == (1, render.read_piece(five).frames * 320) == (1, 65 * 320)
    assert float(x.abs().max()) <= 0.99
    y, _ = render.render_soundfont(four, seconds=1.3)
    assert y.shape == x.shape
    late = slice(int(1.05 * sr), int(1.25 * sr))  # only the fifth program's note starts here
    assert float((x - y)[0, late].abs().max()) > 1e-2
    torch.testing.assert_close(x[0, : int(0.9 * sr)], y[0, : int(0.9 * sr)])


# ------------------------------------------------------------------------------ the command


def _wav(path):
    x, sr = sf.read(path, dtype="float32")
    return x, sr


def test_cli_render_writes_a_wav_of_the_frames_length(song, tmp_path, capsys):
    out = tmp_path / "song.wav"
    assert main(["render", str(song), "--out", str(out), "--steps", "2", "--seed", "3"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("Device: cpu (--device auto); song.mid: 1.00 s, 4 notes, "
                                 "1 segment of 1.28 s")  # fmt: skip
    assert printed[-1].startswith(f"Wrote {out}: 1.00 s at 16000 Hz")
    x, sr = _wav(out)
    assert sr == 16000 and x.shape == (50 * 320,)
    assert np.isfinite(x).all() and np.abs(x).max() > 1e-3
    assert not list(tmp_path.glob(".*tmp")) and not (tmp_path / "song.soundfont.wav").exists()


@needs_soundfont
def test_cli_render_soundfont_writes_the_target_beside_it(song, tmp_path, capsys):
    out = tmp_path / "song.wav"
    argv = ["render", str(song), "--out", str(out), "--steps", "2", "--soundfont"]
    assert main(argv) == 0
    assert "song.soundfont.wav (the SoundFont render" in capsys.readouterr().out
    x, sr = _wav(out)
    y, sr_y = _wav(tmp_path / "song.soundfont.wav")
    assert sr_y == sr == 16000 and y.shape == x.shape == (50 * 320,)
    assert np.isfinite(y).all() and np.abs(y).max() > 1e-2


def test_cli_render_seconds_renders_the_start_of_a_long_piece(tmp_path, capsys):
    long = _midi(tmp_path / "long.mid", [(0.0, 1.0, 60), (124.0, 125.0, 62)])
    out = tmp_path / "long.wav"
    assert main(["render", str(long), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--seconds: the piece lasts 125.0 s" in err and "--seconds S" in err
    assert "Traceback" not in err and not out.exists()
    assert main(["render", str(long), "--out", str(out), "--seconds", "0.5", "--steps", "1"]) == 0
    assert "(rendering the first 0.50 s), 1 notes" in capsys.readouterr().out
    assert _wav(out)[0].shape == (25 * 320,)


@pytest.mark.parametrize(
    "case, argument, message",
    [
        ("missing", "FILE", "does not exist"),
        ("not-midi", "FILE", "not a standard MIDI file"),
        ("no-notes", "FILE", "has no notes to play"),
        ("no-folder", "--out", "does not exist. Fix: create it"),
        ("not-wav", "--out", "does not end in .wav"),
        ("seconds", "--seconds", "expected a value in [0.1, 120]"),
        ("guidance", "--guidance", "expected a value in [0, inf], got -2"),
    ],
)
def test_cli_render_errors_name_the_argument(song, tmp_path, capsys, case, argument, message):
    src, out, extra = str(song), str(tmp_path / "x.wav"), []
    if case == "missing":
        src = str(tmp_path / "nope.mid")
    elif case == "not-midi":
        src = str(tmp_path / "fake.mid")
        (tmp_path / "fake.mid").write_text("hello")
    elif case == "no-notes":
        src = str(tmp_path / "silent.mid")
        pretty_midi.PrettyMIDI().write(src)
    elif case == "no-folder":
        out = str(tmp_path / "missing" / "x.wav")
    elif case == "not-wav":
        out = str(tmp_path / "x.mp3")
    elif case == "seconds":
        extra = ["--seconds", "0"]
    elif case == "guidance":
        extra = ["--guidance", "-2"]
    assert main(["render", src, "--out", out, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tutorial-lib render: error: {argument}") and message in err, err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("*.wav"))
