"""The debugging chapter's checks: data report, overfitting one batch, loss by noise level,
the memory autograd keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import tutorial_lib as tl
from tutorial_lib import diagnostics as dg

ROOT = Path(__file__).resolve().parents[1]


def test_check_data_finds_each_fault_and_passes_good_data():
    g = torch.Generator().manual_seed(0)
    good = torch.randn(8, 1, 2000, generator=g)
    report = dg.check_data(good * 0.1, 16000, scale=1.0, std_range=(0.05, 5))
    assert report.ok and "no problem found" in str(report)
    pcm = dg.check_data(good * 3000, 16000)  # int16-scaled, not divided
    assert any("outside [-1, 1]" in p for p in pcm.problems)
    assert any("std" in p and "+70 dB" in p for p in pcm.problems)
    dc = dg.check_data(good + 0.5, 16000, scale=0.1)
    assert any("DC offset" in p for p in dc.problems) and len(dc.problems) == 1
    rate = dg.check_data(good, 44100, expected_sr=16000, scale=0.1)
    assert any("0.36x speed, -17.6 semitones" in p for p in rate.problems)
    silent = good.clone()
    silent[:4] = 0
    assert any("silent" in p for p in dg.check_data(silent, 16000, scale=0.1).problems)
    nan = good.clone()
    nan[0, 0, 0] = float("nan")
    assert "NaN" in dg.check_data(nan, 16000).problems[0]
    with pytest.raises(ValueError, match=r"\(B, C, T\)"):
        dg.check_data(good[0], 16000)


def _tiny_loss(prediction_input_bug: bool):
    abar = tl.schedules.alpha_bar("linear", 100)

    def loss(net, x0):
        if not prediction_input_bug:
            return tl.objectives.ddpm_loss(net, x0, abar)
        # the bug: the network sees the clean clip, not the noisy one
        step = torch.randint(0, 100, (x0.shape[0],))
        noise = torch.randn_like(x0)
        return ((net(x0, (step + 1) / 100) - noise) ** 2).mean()

    return loss


def test_overfit_one_batch_separates_a_wiring_bug():
    x0 = torch.randn(4, 1, 128, generator=torch.Generator().manual_seed(1))
    cfg = {"channels": 1, "width": 8, "mults": [1, 2], "factor": 2, "kernel_size": 3,
           "time_dim": 16, "patch": 4}  # fmt: skip
    ok = dg.overfit_one_batch(tl.models.small.SmallConv1d(**cfg), _tiny_loss(False), x0,
                              steps=120, lr=3e-3)  # fmt: skip
    bug = dg.overfit_one_batch(tl.models.small.SmallConv1d(**cfg), _tiny_loss(True), x0,
                               steps=120, lr=3e-3)  # fmt: skip
    assert len(ok) == 120
    tail = lambda h: sum(h[-20:]) / 20  # noqa: E731
    assert tail(ok) < 0.85 * tail(bug)
    assert tail(bug) > 0.9  # predicting noise it cannot see: the loss stays near 1


def test_loss_by_noise_level_and_autograd_bytes():
    net = tl.families.drums_small.load("drums-small-ddpm")
    x0 = tl.families.drums_small.dataset(8).tensors() / tl.families.drums_small.SCALE
    t, loss = dg.loss_by_noise_level(net, x0, tl.families.drums_small.alpha_bars(), bins=4)
    assert t.shape == loss.shape == (4,) and (t > 0).all() and (t <= 1).all()
    assert loss[0] > loss[-1]  # eps is hard to see at low noise, easy at high noise

    def two_steps():
        z = torch.randn(2, 1, 4096)
        for tt in (0.9, 0.5):
            z = z - 0.1 * net(z, torch.full((2,), tt))
        return z

    _, with_grad = dg.autograd_bytes(two_steps)
    with torch.no_grad():
        _, without = dg.autograd_bytes(two_steps)
    assert with_grad > 1_000_000 and without == 0


def test_measured_autograd_memory_of_chapter_3s_sampler():
    """The figures chapter 7 prints (benchmarks/bench_autograd_memory.py, stored as
    drums-unet's 'autograd_memory' metric and in benchmarks/autograd_memory.json): with
    autograd on, the peak grows with the steps and the output keeps a graph; the library's
    sampler (no_grad) keeps none and needs a small fraction of the memory."""
    stored = tl.checkpoints.reference("drums-unet").metric["autograd_memory"]
    bench = json.loads((ROOT / "benchmarks" / "autograd_memory.json").read_text())
    assert stored["rows"] == bench["rows"], "registry and JSON differ: rerun with --register"
    rows = stored["rows"]
    off = [r for r in rows if not r["autograd"]]
    on = sorted((r for r in rows if r["autograd"]), key=lambda r: r["steps"])
    assert len(off) == 1 and not off[0]["output_keeps_graph"] and len(on) >= 3
    assert all(r["output_keeps_graph"] for r in on)
    peaks = [r["peak_memory_mib"] for r in on]
    assert peaks == sorted(peaks) and peaks[-1] > 2 * peaks[0]
    same = [r for r in on if r["steps"] == off[0]["steps"]]
    assert same and same[0]["peak_memory_mib"] > 5 * off[0]["peak_memory_mib"]
