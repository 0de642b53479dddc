"""Tests for tutorial_lib.memory: the peak memory of one training step, in this process and in
a fresh one. The CPU figure is checked against a step that holds a tensor of known size."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

import tutorial_lib as tl
from tutorial_lib.memory import measure_step_memory, peak_step_memory
from tutorial_lib.models.unet1d import UNet1d

TINY = dict(in_channels=1, channels=[8, 16], kernel_size=3, emb_dim=16, heads=2, norm_groups=4)


_HOLD = """
import json, time, torch
from torch import nn
from tutorial_lib.memory import peak_step_memory
size = 64 * 2**20  # 64 MiB of float32, touched (written), held for a while, freed
def step(m, x):
    held = torch.ones(size // 4)
    time.sleep(0.05)
    m(x).sum().backward()
    del held
model = nn.Linear(4, 4)
r = peak_step_memory(model, torch.zeros(2, 4), step)
r["grad"], r["training"] = model.weight.grad is not None, model.training
print(json.dumps(r))
"""


def test_a_step_that_holds_a_known_tensor_measures_at_least_its_size():
    # in a fresh process, as the docstring advises: a process that has run other work may
    # hold freed memory that the step reuses without growing its resident size
    out = subprocess.run([sys.executable, "-c", _HOLD], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    size = 64 * 2**20
    assert r["method"] == "cpu-rss" and isinstance(r["bytes"], int) and r["seconds"] >= 0.05
    assert 0.9 * size <= r["bytes"] < 4 * size, r
    assert r["grad"] and r["training"]  # the step ran, on the model given, in training mode


def test_a_small_step_measures_little():
    model = nn.Linear(4, 4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.weight.detach().clone()

    def step(m, x):
        m(x).pow(2).mean().backward()
        opt.step()

    r = peak_step_memory(model.eval(), torch.ones(2, 4), step)
    assert 0 <= r["bytes"] < 32 * 2**20, r
    assert not torch.equal(model.weight, before)


def test_peak_step_memory_bad_arguments():
    model = nn.Linear(4, 4)
    with pytest.raises(TypeError, match="step_fn: expected a function"):
        peak_step_memory(model, torch.zeros(2, 4), None)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        peak_step_memory("net", torch.zeros(2, 4), lambda m, x: None)
    with pytest.raises(TypeError, match="x0: expected a tensor"):
        peak_step_memory(model, [0.0], lambda m, x: None)
    with pytest.raises(ValueError, match="poll_s"):
        peak_step_memory(model, torch.zeros(2, 4), lambda m, x: None, poll_s=0)


def test_measure_step_memory_in_a_fresh_process():
    r = measure_step_memory(UNet1d, TINY, 256, loss=tl.vdiffusion.loss, batch=2, threads=1,
                            gradient_checkpointing=True)  # fmt: skip
    assert set(r) == {"bytes", "method", "seconds", "parameters"}
    assert r["method"] == "cpu-rss" and r["bytes"] >= 0 and r["seconds"] > 0
    assert r["parameters"] == UNet1d(**TINY).num_parameters()


class _Plain(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, in_channels, 1)


def test_measure_step_memory_bad_arguments():
    loss = tl.vdiffusion.loss
    with pytest.raises(TypeError, match="network: expected a class or function defined at the"):
        measure_step_memory(lambda **kw: UNet1d(**kw), TINY, 256, loss=loss)
    with pytest.raises(TypeError, match="loss: expected a class or function defined at the"):
        measure_step_memory(UNet1d, TINY, 256, loss=lambda m, x: m(x).mean())
    with pytest.raises(TypeError, match="config: expected .* 'in_channels'"):
        measure_step_memory(UNet1d, {"channels": [8, 16]}, 256, loss=loss)
    with pytest.raises(ValueError, match="gradient_checkpointing: _Plain has no"):
        measure_step_memory(_Plain, {"in_channels": 1}, 256, loss=loss, gradient_checkpointing=True)
    with pytest.raises(ValueError, match="length"):
        measure_step_memory(UNet1d, TINY, 0, loss=loss)
