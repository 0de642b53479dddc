"""benchmarks/bench_train_gap.py: the loss on training clips against held-out clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from bench_scripts import script as _script

import tutorial_lib as tl
from tutorial_lib import vdiffusion
from tutorial_lib.families import drums_mel as fam

ROOT = Path(__file__).resolve().parents[1]


def test_the_gap_is_zero_on_the_same_clips_and_positive_on_clips_learned_by_heart():
    bench = _script("bench_train_gap")
    x = torch.randn(8, 1, 16)
    other = torch.randn(8, 1, 16)

    def fn(x0, labels, seed):  # a "model" that knows the training clips and nothing else
        known = torch.stack([(c == x).flatten(1).all(1).any() for c in x0]).float()
        err = x0.pow(2).mean((1, 2)) * (1.0 - 0.5 * known)
        return np.array([float(err.mean()), float(err.mean()) + seed])

    same = bench.measure(fn, {"train": (x, None), "held_out": (x.clone(), None)}, chunks=2)
    assert same["gap"] == 0.0 and same["gap_chunks"] == [0.0, 0.0]
    learned = bench.measure(fn, {"train": (x, None), "held_out": (other, None)}, chunks=2)
    assert learned["gap"] > 0.2 and len(learned["train"]) == 2


def test_v_loss_by_level_is_the_v_loss_at_the_centre_of_each_bin():
    bench = _script("bench_train_gap")
    zero = lambda xt, t, labels: torch.zeros_like(xt)  # noqa: E731
    x0 = torch.zeros(64, 1, 4096)  # v = alpha * eps - sigma * x0 = alpha * eps: loss ~ alpha^2
    loss = bench.v_loss_by_level(zero, x0, None, bins=4, seed=0)
    alpha, _ = vdiffusion.alpha_sigma(torch.tensor([0.125, 0.375, 0.625, 0.875]))
    np.testing.assert_allclose(loss, alpha.double().numpy() ** 2, rtol=0.02)
    again = bench.v_loss_by_level(zero, x0, None, bins=4, seed=0)
    np.testing.assert_array_equal(loss, again)  # the noise comes from the seed


def test_mel_rows_measure_the_runs_ema_weights_with_chapter_7s_tool(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # it reads bench_mel_curve's runs
    bench, curve = _script("bench_train_gap"), _script("bench_mel_curve")
    settings = {**fam.train_settings("fast"), "steps": 2, "ckpt_every": 2}
    trainer = fam._trainer(settings, tmp_path / "run", "cpu", "drums-mel")
    trainer.keep, trainer.progress = None, False
    trainer.fit()
    [row] = bench.mel_rows(tl, tmp_path / "run", [2], n=4, bins=2, chunks=2)
    assert row["model"] == "drums-mel" and row["steps"] == 2
    net, _ = curve.ema_net(tl, curve.checkpoints_of(tmp_path / "run")[-1][1])
    images = fam.images(fam.dataset(4))  # chunk i of the training clips gets noise seed i
    expected = [
        tl.diagnostics.loss_by_noise_level(
            net, images[2 * i : 2 * i + 2], fam.alpha_bars(), prediction=fam.PREDICTION,
            bins=2, seed=i,
        )[1]
        for i in range(2)
    ]  # fmt: skip
    np.testing.assert_allclose(row["train"], np.mean(expected, axis=0), rtol=1e-5)
    with pytest.raises(SystemExit, match="no step_"):
        bench.mel_rows(tl, tmp_path / "run", [3], n=4, bins=2, chunks=2)


def test_store_keeps_each_row_with_its_registered_model(tmp_path):
    bench = _script("bench_train_gap")
    wdir = tmp_path / "weights"
    for name, family in (("drums-mel", fam), ("drums-unet", tl.families.drums_unet)):
        path = tl.checkpoints.save(
            tmp_path / f"{name}.safetensors", family.build(), config=family.CONFIG,
            metadata={"steps": 7}, dtype=torch.float16,
        )  # fmt: skip
        tl.checkpoints.add_reference(path, name, recipe=name, steps=7, metric={"fd": 1.0},
                                     description="test", weights_dir=wdir)  # fmt: skip
    rows = [{"model": m, "steps": s, "gap": 0.01}
            for m, s in (("drums-mel", 4), ("drums-unet-short", 1), ("drums-unet", 7))]  # fmt: skip
    out = {"n_clips": 8, "bins": 2, "chunks": 2, "rows": rows, "seconds": 3.0}
    bench.store(tl, out, weights_dir=wdir)
    mel = tl.checkpoints.reference("drums-mel", weights_dir=wdir).metric
    unet = tl.checkpoints.reference("drums-unet", weights_dir=wdir).metric
    assert mel["fd"] == 1.0 and mel["train_gap"]["rows"] == rows[:1]
    assert unet["train_gap"]["rows"] == rows[1:] and unet["train_gap"]["n_clips"] == 8
    with pytest.raises(ValueError, match="guitar"):
        bench.store(tl, {**out, "rows": [{"model": "guitar-latent"}]}, weights_dir=wdir)


def test_the_registered_gaps_hold_what_chapter_3_reads():
    unet = tl.checkpoints.reference("drums-unet").metric["train_gap"]
    assert [r["model"] for r in unet["rows"]] == ["drums-unet-short", "drums-unet"]
    assert [r["steps"] for r in unet["rows"]] == [
        tl.checkpoints.reference(n).steps for n in ("drums-unet-short", "drums-unet")
    ]
    mel = tl.checkpoints.reference("drums-mel").metric["train_gap"]
    for gap in (unet, mel):
        for r in gap["rows"]:
            assert len(r["train"]) == len(r["held_out"]) == gap["bins"]
            assert len(r["gap_chunks"]) == gap["chunks"]
            assert abs(np.mean(r["gap_chunks"]) - r["gap"]) < 1e-6
