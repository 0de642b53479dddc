"""benchmarks/bench_mel_curve.py: the quality-against-training curve of chapter 4's mel model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from bench_scripts import script as _script

import tutorial_lib as tl
from tutorial_lib.families import drums_mel as fam


def _tiny_run(folder: Path, steps: int = 4, every: int = 2, name: str = "drums-mel"):
    """The recipe's trainer at fast-mode sizes, keeping every ``every``-th checkpoint."""
    settings = {**fam.train_settings("fast"), "steps": steps, "ckpt_every": every}
    trainer = fam._trainer(settings, folder, "cpu", name)
    trainer.keep = None
    trainer.progress = False
    trainer.fit()
    return trainer


def _registered(tmp_path, wave):
    """A 7-step drums-mel registered in a weights folder of its own: (file, folder)."""
    path = tl.checkpoints.save(
        tmp_path / "drums-mel.safetensors", fam.build(), config=fam.CONFIG,
        metadata={"steps": 7, "final_loss": 0.1}, dtype=torch.float16,
    )  # fmt: skip
    wdir = tmp_path / "weights"
    wave._register(tl, path, {"fd": 9.0, "fd_floor": 1.0, "fd_ceiling": 3.0}, weights_dir=wdir)
    return path, wdir


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
    # a run of the conditional model loads as one (the checkpoint's own configuration)
    cond = _tiny_run(tmp_path / "cond", steps=2, name=fam.COND)
    net, _ = bench.ema_net(tl, bench.checkpoints_of(tmp_path / "cond")[-1][1])
    assert fam.labels_of(net, "cycle", 4) is not None
    for name, p in net.state_dict().items():
        torch.testing.assert_close(p, cond.ema_model.state_dict()[name].float())


def test_export_writes_the_ema_weights_as_the_recipe_does(tmp_path, monkeypatch):
    bench = _script("bench_mel_curve")
    trainer = _tiny_run(tmp_path / "run")
    book = {**fam.train_settings("fast"), "steps": 4}
    monkeypatch.setattr(fam, "train_settings", lambda mode: dict(book))
    with pytest.raises(SystemExit, match="trains 4 steps, not 2"):  # not the recipe's length
        bench.export(tl, tmp_path / "run", 2, tmp_path / "out")
    path = bench.export(tl, tmp_path / "run", 4, tmp_path / "out")
    assert path == tmp_path / "out" / "drums-mel.safetensors"
    state, config, meta = tl.checkpoints.load(path)
    assert config == fam.CONFIG and meta["steps"] == 4 and meta["ema"] is True
    assert meta["recipe"] == fam.RECIPE and meta["mode"] == "book" and meta["setting_steps"] == 4
    for name, p in trainer.ema_model.state_dict().items():  # the EMA weights in float16
        assert state[name].dtype == torch.float16
        torch.testing.assert_close(state[name], p.half())


def test_store_keeps_the_registered_metric_and_adds_the_curve(tmp_path):
    bench, wave = _script("bench_mel_curve"), _script("bench_mel_vs_waveform")
    path, wdir = _registered(tmp_path, wave)
    rows = [{"steps": s, "fd": 20.0 / s, "fd_low": 1.0, "fd_high": 30.0} for s in (1, 2)]
    curve = {"n_clips": 8, "rows": rows, "fd_floor": 1.0, "fd_ceiling": 3.0, "seconds": 1.0}
    ref = bench.store(tl, curve, weights_dir=wdir)
    assert ref.metric["fd"] == 9.0 and ref.steps == 7
    assert ref.metric["curve"]["rows"] == rows and "seconds" not in ref.metric["curve"]
    # re-registering the weights with new numbers keeps the stored curve, and the earlier
    # checkpoints' rows (measured by other runs) unless they are measured again
    earlier = {"previous": {"fd": 90.0, "steps": 4}, "same_training": {"fd": 11.0, "steps": 4}}
    wave._register(tl, path, {"fd": 8.5, **earlier}, weights_dir=wdir)
    again = wave._register(tl, path, {"fd": 8.0, "fd_floor": 1.0}, weights_dir=wdir)
    assert again.metric["fd"] == 8.0 and again.metric["curve"]["rows"] == rows
    assert {k: again.metric[k] for k in earlier} == earlier
    new = wave._register(tl, path, {"fd": 7.0, "same_training": {"fd": 10.0}}, weights_dir=wdir)
    assert new.metric["same_training"] == {"fd": 10.0} and new.metric["previous"]["fd"] == 90.0


def test_the_registered_curve_holds_what_chapter_4_reads():
    ref = tl.checkpoints.reference("drums-mel")
    curve = ref.metric["curve"]
    first = ref.metric["same_training"]["steps"]  # the first run, scored by bench_mel_vs_waveform
    steps = [r["steps"] for r in curve["rows"]]
    # the reference is the curve's last checkpoint; the first run's step count is on the curve
    assert steps == sorted(steps) and steps[-1] == ref.steps == 4 * first and first in steps
    assert ref.metric["previous"]["steps"] == first  # eps against v after the same training
    assert curve["fd_floor"] < curve["fd_ceiling"]
    for r in curve["rows"] + curve["larger"]["rows"] + [ref.metric["same_training"]]:
        assert r["fd_low"] <= r["fd"] <= r["fd_high"], r
    big = {r["steps"]: r for r in curve["larger"]["rows"]}
    assert first in big and ref.steps in big
    assert curve["larger"]["n_clips"] > curve["n_clips"]
    # the paired difference compares the last step with the first run's, at the larger size
    paired = curve["paired"]
    assert (paired["later"], paired["earlier"]) == (ref.steps, first)
    assert paired["n_clips"] == curve["larger"]["n_clips"]
    assert abs(paired["fd_earlier"] - big[first]["fd"]) < 1e-9
    assert abs(paired["fd_later"] - big[ref.steps]["fd"]) < 1e-9
    assert paired["low"] <= paired["diff"] <= paired["high"]
    # the run after the reference: later steps, scored alike, and paired with the reference on
    # the larger sets' clips and noise (its earlier FD is the larger curve's point)
    beyond = curve["beyond"]
    assert all(r["steps"] > ref.steps for r in beyond["rows"])
    assert all(r["fd_floor"] == curve["fd_floor"] for r in beyond["rows"])
    late = beyond["paired"]
    assert (late["later"], late["earlier"]) == (beyond["rows"][-1]["steps"], ref.steps)
    assert late["n_clips"] == curve["larger"]["n_clips"]
    assert abs(late["fd_earlier"] - big[ref.steps]["fd"]) < 1e-9
    # the chapter draws the reference with the interval bench_mel_cond.py measured for it, and
    # compares the conditional model with it after the same training
    cond = tl.checkpoints.reference("drums-mel-cond")
    assert abs(cond.metric["uncond"]["fd"] - ref.metric["fd"]) < 1e-9
    assert cond.steps == ref.steps == tl.families.drums_mel.train_settings("book")["steps"]


def test_merge_joins_runs_scored_alike_and_refuses_the_rest():
    bench = _script("bench_mel_curve")

    def run(steps, n=200, floor=2.0):
        rows = [{"steps": s, "fd": 10.0 / s} for s in steps]
        return {"n_clips": n, "sampler_steps": 50, "rows": rows, "fd_floor": floor,
                "fd_ceiling": 4.0, "threads": 2, "seconds": 9.0}  # fmt: skip

    merged = bench.merge([run([10, 12]), run([2, 4, 8])])
    assert [r["steps"] for r in merged["rows"]] == [2, 4, 8, 10, 12]
    assert merged["n_clips"] == 200 and merged["fd_floor"] == 2.0
    assert "seconds" not in merged and "threads" not in merged
    with pytest.raises(ValueError, match="n_clips"):
        bench.merge([run([2]), run([4], n=400)])
    with pytest.raises(ValueError, match="fd_floor"):
        bench.merge([run([2]), run([4], floor=2.1)])
    with pytest.raises(ValueError, match="scored twice"):
        bench.merge([run([2, 4]), run([4])])
    with pytest.raises(ValueError, match="empty"):
        bench.merge([])


def test_paired_difference_resolves_what_two_overlapping_intervals_do_not():
    """The paired bootstrap of FD(real, a) - FD(real, b): its value is the difference of the
    library's two FDs; identical models differ by exactly 0; a model shifted away from the
    real clips is resolved as farther, although each FD's own interval overlaps the other's."""
    import numpy as np

    bench = _script("bench_mel_curve")
    rng = np.random.default_rng(0)
    real = rng.standard_normal((200, 6))
    noise = rng.standard_normal((200, 6))  # clip i of both models starts from the same noise
    a, b = noise, noise + 0.25
    d = bench.paired_difference(tl, real, a, b, bootstrap=300)
    fd_a = tl.metrics.frechet_distance(real, a, bootstrap=300)
    fd_b = tl.metrics.frechet_distance(real, b, bootstrap=300)
    assert d["diff"] == pytest.approx(fd_a.value - fd_b.value, rel=1e-6)
    assert fd_a.high > fd_b.low  # the two intervals overlap...
    assert d["high"] < 0 and d["share_not_lower"] < 0.025  # ...the paired difference does not
    same = bench.paired_difference(tl, real, a, a.copy(), bootstrap=50)
    assert same["diff"] == same["low"] == same["high"] == 0.0
    with pytest.raises(ValueError, match="e_b"):
        bench.paired_difference(tl, real, a, b[:100])


def test_beyond_keeps_the_runs_later_points_and_refuses_earlier_or_unlike_ones(tmp_path):
    bench, wave = _script("bench_mel_curve"), _script("bench_mel_vs_waveform")
    path, wdir = _registered(tmp_path, wave)

    def run(steps, n=200):
        return {"n_clips": n, "sampler_steps": 50, "fd_floor": 1.0, "fd_ceiling": 3.0,
                "rows": [{"steps": s, "fd": 10.0 / s} for s in steps], "seconds": 5.0}  # fmt: skip

    curve = {**run([1, 7]), "larger": {"n_clips": 400}}
    paired = {"later": 9, "earlier": 7, "n_clips": 400, "diff": -0.1, "seconds": 3.0}
    out = bench.beyond(tl, curve, [run([9]), run([8])], paired, weights_dir=wdir)
    assert [r["steps"] for r in out["rows"]] == [8, 9]
    assert out["paired"] == {k: v for k, v in paired.items() if k != "seconds"}
    assert "paired" not in bench.beyond(tl, curve, [run([8])], weights_dir=wdir)
    with pytest.raises(ValueError, match="after the registered model's 7"):
        bench.beyond(tl, curve, [run([7, 9])], weights_dir=wdir)
    with pytest.raises(ValueError, match="n_clips"):
        bench.beyond(tl, curve, [run([9], n=400)], weights_dir=wdir)
    with pytest.raises(ValueError, match="registered 7"):
        bench.beyond(tl, curve, [run([9])], {**paired, "earlier": 1}, weights_dir=wdir)
