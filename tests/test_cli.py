"""Tests for the tutorial-lib command line (tutorial_lib.cli): every subcommand and bad input."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from tutorial_lib import registry
from tutorial_lib.cli import main


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TUTORIAL_DEBUG", raising=False)
    # a private registry for every test
    monkeypatch.setattr(registry, "_MODELS", {})
    monkeypatch.setattr(registry, "_RECIPES", {})
    monkeypatch.setattr(registry, "_FAMILY_PACKAGES", ())


def _dummy_sample(n, steps, sampler, seed):
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(n, 1, 4000, generator=g), 16000


@pytest.mark.parametrize("args", [[], ["data"], ["sample"], ["eval"], ["train"], ["render"]])
def test_help_on_every_subcommand(args, capsys):
    assert main([*args, "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: tutorial-lib" in out
    if args:
        assert "--" in out


def test_data_writes_wavs_and_labels(tmp_path, capsys):
    out = tmp_path / "d"
    assert (
        main(["data", "drums", "--out", str(out), "--n", "14", "--length", "4096", "--seed", "3"])
        == 0
    )
    assert "Wrote 14 WAV files" in capsys.readouterr().out
    with open(out / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 14 and {"file", "label", "class_name"} <= set(rows[0])
    x, sr = sf.read(out / rows[0]["file"])
    assert sr == 16000 and x.shape == (4096,)
    assert sorted(r["class_name"] for r in rows).count("kick") == 2
    assert not list(out.glob(".*tmp"))


def test_data_midi_also_writes_midi_files(tmp_path):
    out = tmp_path / "m"
    assert (
        main(["data", "midi", "--out", str(out), "--n", "2", "--seconds", "1", "--split", "test"])
        == 0
    )
    assert len(list(out.glob("*.mid"))) == 2 and len(list(out.glob("*.wav"))) == 2


def test_bad_dataset_lists_valid_names(tmp_path, capsys):
    assert main(["data", "drumz", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "drums, drums-stereo, notes, guitar, midi" in err and "Did you mean 'drums'" in err
    assert "Traceback" not in err
    assert main(["data", "drums", "--out", str(tmp_path), "--n", "0"]) == 2  # argparse check
    assert main(["data", "notes", "--out", str(tmp_path), "--length", "10"]) == 2
    assert "--length" in capsys.readouterr().err


def test_sample_list_empty_then_registered(tmp_path, capsys):
    assert main(["sample", "--list"]) == 0
    assert "No models are registered yet" in capsys.readouterr().out
    registry.register_model("dummy-noise", _dummy_sample, "Quiet white noise for tests")
    assert main(["sample", "--list"]) == 0
    assert capsys.readouterr().out.strip() == "dummy-noise\tQuiet white noise for tests"
    out = tmp_path / "s"
    assert (
        main(
            ["sample", "dummy-noise", "--n", "3", "--out", str(out), "--steps", "5", "--seed", "1"]
        )
        == 0
    )
    assert sorted(p.name for p in out.glob("*.wav")) == [
        f"dummy-noise_0000{i}.wav" for i in range(3)
    ]
    info = json.loads((out / "samples.json").read_text())
    assert info["steps"] == 5 and info["sr"] == 16000
    assert main(["sample", "dummy-nois", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Valid models: dummy-noise" in err and "Traceback" not in err


def test_train_runs_a_registered_recipe(tmp_path, capsys):
    calls = []

    def recipe(mode, out_dir, resume):
        calls.append((mode, resume))
        path = out_dir / "model.safetensors"
        path.write_bytes(b"x")
        return path

    registry.register_recipe("dummy-recipe", recipe, "Writes a file")
    assert main(["train", "--list"]) == 0
    assert "dummy-recipe\tWrites a file" in capsys.readouterr().out
    out = tmp_path / "run"
    assert main(["train", "dummy-recipe", "--mode", "fast", "--resume", "--out", str(out)]) == 0
    assert calls == [("fast", True)] and (out / "model.safetensors").is_file()
    assert main(["train", "nope"]) == 2
    assert "Valid recipes: dummy-recipe" in capsys.readouterr().err
    assert main(["train", "dummy-recipe", "--mode", "huge"]) == 2


def test_eval_reports_and_skips_bad_files(tmp_path, capsys):
    real, fake = tmp_path / "real", tmp_path / "fake"
    assert main(["data", "drums", "--out", str(real), "--n", "40", "--length", "4096"]) == 0
    fake.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        sf.write(fake / f"noise_{i}.wav", 0.2 * rng.standard_normal(4096), 16000)
    (fake / "corrupt.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    capsys.readouterr()
    assert (
        main(["eval", "--real", str(real), "--fake", str(fake), "--json", "--bootstrap", "10"]) == 0
    )
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["fd"]["value"] > 5 * result["fd_floor"]["value"]
    assert result["skipped_files"] == 1 and result["n_fake"] == 20
    assert "corrupt.wav" in captured.err and "Skipped 1 unreadable" in captured.err
    # the same folder twice: paired reconstruction metrics appear, at 0
    assert main(["eval", "--real", str(real), "--fake", str(real), "--bootstrap", "0"]) == 0
    table = capsys.readouterr().out
    assert "FD floor (real vs real)" in table
    assert re.search(r"spectral convergence \(pairs\) +0\n", table)
    assert main(["eval", "--real", str(tmp_path / "missing"), "--fake", str(fake)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_console_script_and_python_m(tmp_path):
    env = {**os.environ, "TUTORIAL_CACHE": str(tmp_path / "cache")}
    ok = subprocess.run([sys.executable, "-m", "tutorial_lib", "data", "--list"],
                        capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert ok.returncode == 0 and "drums-stereo" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "tutorial_lib", "sample", "no-such-model", "--out", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "unknown model" in bad.stderr and "Traceback" not in bad.stderr


def test_sample_streams_in_batches_with_one_seed_per_batch(tmp_path):
    calls = []

    def recording(n, steps, sampler, seed):
        calls.append((n, seed))
        return _dummy_sample(n, steps, sampler, seed)

    registry.register_model("dummy-noise", recording, "Quiet white noise for tests")
    out = tmp_path / "s"
    assert main(["sample", "dummy-noise", "--n", "7", "--batch", "3", "--seed", "5",
                 "--out", str(out)]) == 0  # fmt: skip
    assert calls == [(3, 5), (3, 6), (1, 7)]  # never more than --batch clips at once
    assert len(list(out.glob("*.wav"))) == 7
    info = json.loads((out / "samples.json").read_text())
    assert info["batch"] == 3 and info["seed"] == 5
    # the first batch does not depend on --n
    first = sf.read(out / "dummy-noise_00000.wav", dtype="float32")[0]
    again = tmp_path / "t"
    assert main(["sample", "dummy-noise", "--n", "1", "--batch", "3", "--seed", "5",
                 "--out", str(again)]) == 0  # fmt: skip
    assert np.array_equal(first, sf.read(again / "dummy-noise_00000.wav", dtype="float32")[0])
    assert main(["sample", "dummy-noise", "--n", "2", "--batch", "0", "--out", str(out)]) == 2


def test_render_is_wired_with_its_options(tmp_path, capsys):
    # the command itself is tested in tests/test_render.py
    assert main(["render", "--help"]) == 0
    usage = capsys.readouterr().out
    for option in ("--out", "--model", "--steps", "--guidance", "--seed", "--seconds",
                   "--soundfont", "--device", "midi-synth-nocontext"):  # fmt: skip
        assert option in usage, option
    song = tmp_path / "song.mid"
    assert main(["render", str(song)]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err
    assert main(["render", str(song), "--out", "x.wav", "--model", "nope"]) == 2
    assert "midi-synth" in capsys.readouterr().err
    assert main(["render", str(song), "--out", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tutorial-lib render: error: FILE:") and "Traceback" not in err


def test_sample_page_noise_is_the_live_panels_clip(tmp_path):
    """``--page-noise``: clip i is ``tl.export.live_sample`` for seed + i, the clip the book's
    live panel makes for that seed (tests/browser/test_live_panel.py checks the page)."""
    from tutorial_lib import export

    out = tmp_path / "p"
    assert main(["sample", "drums-unet-snare", "--page-noise", "--n", "2", "--steps", "2",
                 "--seed", "7", "--out", str(out)]) == 0  # fmt: skip
    for i in range(2):
        got, sr = sf.read(out / f"drums-unet-snare_{i:05d}.wav", dtype="float32")
        want = export.live_sample(seed=7 + i, class_name="snare", steps=2)
        assert sr == 16000 and np.abs(got - want).max() <= 1e-6
    info = json.loads((out / "samples.json").read_text())
    assert info["classes"] == ["snare", "snare"] and "seeded_noise" in info["noise"]
    assert main(["sample", "drums-mel", "--page-noise", "--out", str(out)]) == 2
