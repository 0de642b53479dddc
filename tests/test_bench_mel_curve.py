"""benchmarks/bench_mel_curve.py: the quality-against-training curve of chapter 4's mel model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import tutorial_lib as tl
from tutorial_lib.families import drums_mel as fam

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"benchmarks/{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _tiny_run(folder: Path, steps: int = 4, every: int = 2):
    """The recipe's trainer at fast-mode sizes, keeping every ``every``-th checkpoint."""
    settings = {**fam.train_settings("fast"), "steps": steps, "ckpt_every": every}
    trainer = fam._trainer(settings, folder, "cpu")
    trainer.keep = None
    trainer.progress = False
    trainer.fit()
    return trainer


def test_a_run_keeps_every_step_asked_and_the_ema_weights_load(tmp_path):
    bench = _script("bench_mel_curve")
    trainer = _tiny_run(tmp_path / "run")
    found = bench.checkpoints_of(tmp_path / "run")
    assert [s for s, _ in found] == [2, 4]
    assert [s for s, _ in bench.checkpoints_of(tmp_path / "run", [4])] == [4]
    with pytest.raises(SystemExit, match="no step_"):
        bench.checkpoints_of(tmp_path / "run", [3])
    net, meta = bench.ema_net(tl, found[-1][1])
    assert meta["step"] == 4 and not net.training
    for name, p in net.state_dict().items():  # the EMA weights, not the raw ones
        torch.testing.assert_close(p, trainer.ema_model.state_dict()[name].float())


def test_store_keeps_the_registered_metric_and_adds_the_curve(tmp_path):
    bench = _script("bench_mel_curve")
    wave = _script("bench_mel_vs_waveform")
    path = tl.checkpoints.save(
        tmp_path / "drums-mel.safetensors", fam.build(), config=fam.CONFIG,
        metadata={"steps": 7, "final_loss": 0.1}, dtype=torch.float16,
    )  # fmt: skip
    wdir = tmp_path / "weights"
    wave._register(tl, path, {"fd": 9.0, "fd_floor": 1.0, "fd_ceiling": 3.0}, weights_dir=wdir)
    rows = [{"steps": s, "fd": 20.0 / s, "fd_low": 1.0, "fd_high": 30.0} for s in (1, 2)]
    curve = {"n_clips": 8, "rows": rows, "fd_floor": 1.0, "fd_ceiling": 3.0, "seconds": 1.0}
    ref = bench.store(tl, curve, weights_dir=wdir)
    assert ref.metric["fd"] == 9.0 and ref.steps == 7
    assert ref.metric["curve"]["rows"] == rows and "seconds" not in ref.metric["curve"]
    # re-registering the weights with new numbers keeps the stored curve
    again = wave._register(tl, path, {"fd": 8.0, "fd_floor": 1.0}, weights_dir=wdir)
    assert again.metric["fd"] == 8.0 and again.metric["curve"]["rows"] == rows


def test_the_registered_curve_holds_what_chapter_4_reads():
    ref = tl.checkpoints.reference("drums-mel")
    curve = ref.metric["curve"]
    steps = [r["steps"] for r in curve["rows"]]
    assert steps == sorted(steps) and ref.steps in steps and 2 * ref.steps in steps
    assert curve["fd_floor"] < curve["fd_ceiling"]
    for r in curve["rows"] + curve["larger"]["rows"]:
        assert r["fd_low"] <= r["fd"] <= r["fd_high"], r
    assert [r["steps"] for r in curve["larger"]["rows"]] == [ref.steps, 2 * ref.steps]
    assert curve["larger"]["n_clips"] > curve["n_clips"]
    # the chapter draws the reference with the interval bench_mel_cond.py measured for it
    uncond = tl.checkpoints.reference("drums-mel-cond").metric["uncond"]
    assert abs(uncond["fd"] - ref.metric["fd"]) < 1e-9
