"""benchmarks/bench_drums_unet.py writes the registry numbers chapter 3 reads: check its keys."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import tutorial_lib as tl
from tutorial_lib.families import drums_unet as dm

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks/bench_drums_unet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(fd: float, acc: float) -> dict:
    return {
        "fd": fd, "fd_floor": 4.0, "kid": fd / 10, "kid_floor": 0.0, "fd_ratio": fd / 4,
        "class_accuracy": acc, "real_accuracy": 0.9, "tail_db": -50.0, "tail_db_real": -120.0,
        "per_class": {c: acc for c in dm.CLASSES},
    }  # fmt: skip


def test_register_writes_what_the_chapter_reads(tmp_path):
    bench = _bench()
    net = dm.build()
    paths = {}
    for name, steps in (("drums-unet", 60), ("drums-unet-short", 6)):
        paths[name] = tl.checkpoints.save(
            tmp_path / f"{name}.safetensors", net, config=dm.CONFIG,
            metadata={"steps": steps, "final_loss": 0.1}, dtype=torch.float16,
        )  # fmt: skip
    grid = {f"rho{r:g}_w{w:g}": _row(100 * r + w, 0.1 * r + 0.01 * w) for r, w in bench.GRID}
    scores = {
        "sampling": dict(dm.SAMPLING),
        "n_clips": 8,
        "models": {"untrained": _row(900, 0.25), "short": _row(90, 0.3), "reference": _row(9, 0.8)},
        "reference_sampler_grid": grid,
    }
    wdir = tmp_path / "weights"
    bench._register(tl, paths, scores, weights_dir=wdir)
    ref = tl.checkpoints.reference("drums-unet", weights_dir=wdir)
    short = tl.checkpoints.reference("drums-unet-short", weights_dir=wdir)
    assert (ref.steps, short.steps) == (60, 6)
    m = ref.metric
    # every key chapter 3 prints (Section 5's tables)
    for sfx in ("", "_short", "_untrained"):
        for key in ("fd", "kid", "class_accuracy", *(f"class_accuracy_{c}" for c in dm.CLASSES)):
            assert key + sfx in m, key + sfx
    for key in ("n_clips", "sampler_steps", "sampler_rho", "sampler_guidance", "fd_floor",
                "kid_floor", "real_accuracy", "final_loss", "tail_db", "tail_db_real"):  # fmt: skip
        assert key in m, key
    for rho in (1, 3):
        for w in (1, 3):
            assert f"fd_rho{rho}_w{w}" in m and f"class_accuracy_rho{rho}_w{w}" in m
    assert (
        m["fd"] == 9
        and m["fd_short"] == 90
        and m["class_accuracy_rho3_w1"] == grid["rho3_w1"]["class_accuracy"]
    )
    assert short.metric["fd"] == 90 and "fd_short" not in short.metric


def _pair(tmp_path, net) -> dict:
    """Both checkpoints of the recipe, saved from ``net`` (6 steps), by name."""
    return {n: tl.checkpoints.save(tmp_path / f"{n}.safetensors", net, config=dm.CONFIG,
                                   metadata={"steps": 6, "final_loss": 0.1})
            for n in ("drums-unet", "drums-unet-short")}  # fmt: skip


def _scores(bench, fd: float, acc: float) -> dict:
    """What main() passes to _register, every row (fd, acc)."""
    grid = {f"rho{r:g}_w{w:g}": _row(fd, acc) for r, w in bench.GRID}
    return {"sampling": dict(dm.SAMPLING), "n_clips": 8, "reference_sampler_grid": grid,
            "models": {k: _row(fd, acc) for k in ("untrained", "short", "reference")}}  # fmt: skip


def test_reregistering_keeps_what_was_not_measured_again(tmp_path):
    """`previous` and `curve` measured once stay in the metric when a later run does not
    measure them again (and are replaced when it does)."""
    bench = _bench()
    net = dm.build()
    paths = _pair(tmp_path, net)
    base = _scores(bench, 10, 0.5)
    curve = {"constant": [{"steps": 6, **_row(12, 0.4)}]}
    wdir = tmp_path / "weights"
    bench._register(tl, paths, {**base, "previous": {"x": 1}, "curve": curve}, weights_dir=wdir)
    bench._register(tl, paths, base, weights_dir=wdir)
    m = tl.checkpoints.reference("drums-unet", weights_dir=wdir).metric
    assert m["previous"] == {"x": 1} and m["curve"] == curve
    bench._register(tl, paths, {**base, "curve": {"cosine": []}}, weights_dir=wdir)
    assert tl.checkpoints.reference("drums-unet", weights_dir=wdir).metric["curve"] == {
        "cosine": []
    }


def test_curve_reads_a_trainers_checkpoint_by_its_ema_weights(tmp_path):
    bench = _bench()
    net, other = dm.build(), dm.build()
    state = {f"ema.{k}": v.contiguous() for k, v in net.state_dict().items()}
    state.update({f"model.{k}": v.contiguous() for k, v in other.state_dict().items()})
    header = {"format": tl.training._FORMAT, "step": 1500}  # as Trainer.save_checkpoint writes
    tl.checkpoints.save(tmp_path / "step_00001500.safetensors", state, metadata=header)
    loaded = bench._load(tmp_path / "step_00001500.safetensors")
    for a, b in zip(loaded.state_dict().values(), net.state_dict().values(), strict=True):
        assert torch.equal(a, b.float())
    assert bench._steps_of(tl, tmp_path / "step_00001500.safetensors") == 1500


def test_noise_floor_part_is_stored_and_kept_on_reregistering(tmp_path, monkeypatch):
    """`--noise-floor`: white noise on real clips and the sampler rows (here 2 tiny ones), stored
    with the registered model, and kept when the pair is registered again without it."""
    bench = _bench()
    monkeypatch.setattr(bench, "NOISE_FLOOR_ROWS", ((2, 0.0), (2, 1.0)))
    monkeypatch.setattr(bench, "WHITE_NOISE_DB", (-70.0, -40.0))
    net = dm.build().eval()
    part = bench._noise_floor(tl, net, 2)
    assert part["n_clips"] == 8 and [r["noise_db"] for r in part["white_noise"]] == [None, -70, -40]
    white = [r["fd"] for r in part["white_noise"]]
    assert white[2] > white[0]  # louder noise, farther from real clips
    assert [(r["steps"], r["eta"]) for r in part["samplers"]] == [(2, 0.0), (2, 1.0)]
    assert part["samplers"][0]["fd"] != part["samplers"][1]["fd"]  # eta changes the clips
    paths = _pair(tmp_path, net)
    scores = _scores(bench, 9, 0.8)
    wdir = tmp_path / "weights"
    bench._register(tl, paths, scores, weights_dir=wdir)
    bench._store_entry(tl, paths["drums-unet"], "drums-unet", "noise_floor", part, wdir)
    assert tl.checkpoints.reference("drums-unet", weights_dir=wdir).metric["noise_floor"] == part
    bench._register(tl, paths, scores, weights_dir=wdir)  # measured again without it
    assert tl.checkpoints.reference("drums-unet", weights_dir=wdir).metric["noise_floor"] == part


def test_wilson_interval_matches_scipy():
    from scipy.stats import binomtest

    bench = _bench()
    for k, n in ((21, 25), (0, 25), (25, 25), (84, 100), (1, 3)):
        ci = binomtest(k, n).proportion_ci(method="wilson")
        assert bench.wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9), (k, n)
    with pytest.raises(ValueError, match="k=5, n=4"):
        bench.wilson(5, 4)


def test_class_check_part_is_stored_and_kept_on_reregistering(tmp_path, monkeypatch):
    """`--class-check`: each class's share for the model, real clips and white noise, each
    inside its own interval; stored with the registered model and kept on re-registering."""
    bench = _bench()
    monkeypatch.setattr(dm, "SAMPLING", {**dm.SAMPLING, "steps": 2})
    net = dm.build().eval()
    part = bench._class_check(tl, net, 4)
    assert part["n_per_class"] == 4 and part["sampling"]["steps"] == 2
    for key in ("reference", "real", "white_noise"):
        assert set(part[key]) == set(dm.CLASSES)
        for v in part[key].values():
            assert v["low"] <= v["share"] <= v["high"] and (v["share"] * 4) % 1 == 0
    assert sum(v["share"] for v in part["real"].values()) > 2  # real clips: mostly recognised
    paths = _pair(tmp_path, net)
    wdir = tmp_path / "weights"
    bench._register(tl, paths, _scores(bench, 9, 0.8), weights_dir=wdir)
    bench._store_entry(tl, paths["drums-unet"], "drums-unet", "class_check", part, wdir)
    bench._register(tl, paths, _scores(bench, 9, 0.8), weights_dir=wdir)
    assert tl.checkpoints.reference("drums-unet", weights_dir=wdir).metric["class_check"] == part


def test_guidance_screen_scores_each_weight_with_the_familys_sampler(monkeypatch):
    """`--guidance-screen`: one row per weight, each sampled at that weight (the rest of the
    family's sampler kept), with FD, tails and each class's share beside real clips'."""
    bench = _bench()
    monkeypatch.setattr(dm, "SAMPLING", {**dm.SAMPLING, "steps": 2})
    seen = []
    real = dm.evaluate

    def spy(models, **kw):
        seen.append(kw["guidance"])
        return real(models, **kw)

    monkeypatch.setattr(dm, "evaluate", spy)
    part = bench._guidance_screen(tl, dm.build().eval(), 2, [1.0, 4.0])
    assert seen == [1.0, 4.0] and set(part["rows"]) == {"1", "4"}
    assert part["n_per_class"] == 2 and part["sampling"]["steps"] == 2
    for row in part["rows"].values():
        assert set(row["per_class"]) == set(row["real_per_class"]) == set(dm.CLASSES)
        assert row["fd_low"] <= row["fd"] <= row["fd_high"]
