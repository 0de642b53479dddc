"""Inference never keeps an autograd graph: every sampling, evaluation and embedding path.

Sampling 8 clips for 30 steps with autograd on peaks at about 18 GiB (measured by
benchmarks/bench_autograd_memory.py; the issue: `make book` killed on a 24 GB machine);
inside ``torch.no_grad()`` the whole process needs about 0.3 GiB. These tests fail when a
path loses its ``no_grad``: the returned tensors would carry a ``grad_fn``, and the memory
test's growth would be several times its bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import tutorial_lib as tl
from tutorial_lib import samplers, vdiffusion
from tutorial_lib.models.unet1d import UNet1d


def _no_graph(x: torch.Tensor, what: str) -> None:
    assert torch.is_tensor(x), what
    assert x.grad_fn is None and not x.requires_grad, f"{what} kept an autograd graph"


@pytest.fixture(scope="module")
def tiny_unet():
    torch.manual_seed(0)
    net = UNet1d(in_channels=1, channels=[8, 8], blocks=[1, 1], attn_levels=[], emb_dim=16,
                 norm_groups=4, classes=["a", "b"])  # fmt: skip
    assert any(p.requires_grad for p in net.parameters())
    return net.eval()


class _Affine(torch.nn.Module):
    """``model(x, t)``: a model with trainable parameters (so a graph would be recorded)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        return self.w * x


def test_vdiffusion_sample_keeps_no_graph(tiny_unet):
    x = vdiffusion.sample(tiny_unet, (2, 1, 64), steps=3, class_labels=["a", "b"], guidance=2.0)
    _no_graph(x, "vdiffusion.sample")
    with torch.enable_grad():  # even when the caller has autograd on
        _no_graph(vdiffusion.sample(tiny_unet, (1, 1, 64), steps=2), "vdiffusion.sample")


@pytest.mark.parametrize("name", sorted(samplers.SAMPLERS))
def test_every_sampler_keeps_no_graph(name):
    kw = {}
    if samplers.SAMPLERS[name].family == "ddpm":
        kw = {"alpha_bars": tl.schedules.alpha_bar("linear", 100)}
    z = torch.randn(2, 1, 32)
    _no_graph(samplers.sample(name, _Affine(), z, steps=4, **kw), f"samplers.sample({name!r})")


def test_direct_samplers_keep_no_graph():
    z, ab = torch.randn(2, 1, 16), tl.schedules.alpha_bar("linear", 100)
    for fn in (samplers.ddpm_sample, samplers.ddim_sample, samplers.dpm_solver_pp_2m_sample):
        _no_graph(fn(_Affine(), z, ab, steps=3), fn.__name__)
    for fn in (samplers.euler_sample, samplers.heun_sample):
        _no_graph(fn(_Affine(), z, steps=3), fn.__name__)


def test_drums_unet_sample_and_evaluate_keep_no_graph():
    x, sr = tl.families.drums_unet.sample(3, steps=2, seed=0)
    _no_graph(x, "drums_unet.sample")
    assert x.shape == (3, 1, tl.families.drums_unet.LENGTH) and sr == tl.families.drums_unet.SR
    out = tl.families.drums_unet.evaluate(
        {"reference": tl.families.drums_unet.load()}, n_per_class=2, steps=2, n_train=16
    )
    _no_graph(out["reference"]["audio"], "drums_unet.evaluate")


def test_drums_unet_sample_does_not_depend_on_the_batch_size(monkeypatch):
    a, _ = tl.families.drums_unet.sample(5, steps=2, seed=3)
    monkeypatch.setattr(tl.families.drums_unet, "BATCH", 2)  # three batches instead of one
    b, _ = tl.families.drums_unet.sample(5, steps=2, seed=3)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "name", ["drums-unet-kick", "drums-small-ddpm", "drums-small-rf", "drums-small-ddpm-v"]
)
def test_registry_sample_keeps_no_graph(name):
    x, _ = tl.registry.sample(name, 2, steps=2)
    _no_graph(x, f"registry.sample({name!r})")


def test_registry_sample_turns_autograd_off_for_any_model(monkeypatch):
    seen = {}

    def leaky(n, steps, sampler, seed):  # a model function that forgot no_grad
        seen["grad"] = torch.is_grad_enabled()
        return _Affine()(torch.zeros(n, 1, 2048), None), 16000

    monkeypatch.setitem(tl.registry._MODELS, "leaky", tl.registry._Entry(leaky, "test"))
    x, _ = tl.registry.sample("leaky", 2)
    assert seen["grad"] is False
    _no_graph(x, "registry.sample('leaky')")


def test_metrics_embed_accepts_tensors_that_require_grad():
    x = torch.randn(3, 1, 4096, requires_grad=True)
    e = tl.metrics.embed(x * 0.1, 16000)
    assert e.shape == (3, tl.metrics.EMBEDDING_DIM) and np.isfinite(e).all()


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, torch
    import tutorial_lib as tl
    torch.set_num_threads(1)
    model = tl.families.drums_unet.load("drums-unet")
    labels = list(tl.families.drums_unet.CLASSES)
    # warm-up: allocator and first-call costs, 1 clip, 2 steps
    tl.vdiffusion.sample(model, (1, 1, 8192), steps=2, class_labels=labels[:1], seed=0)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # 4 clips of the real reference, 5 steps with guidance (two network calls a step)
    x = tl.vdiffusion.sample(model, (4, 1, 8192), steps=5, class_labels=labels, guidance=3.0,
                             rho=3.0, seed=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"base_mib": base / 1024, "peak_mib": peak / 1024,
                      "growth_mib": (peak - base) / 1024, "grad_fn": x.grad_fn is not None}))
    """
)
#: Growth of peak memory allowed while sampling (MiB). Measured: about 90 MiB inside
#: ``no_grad``; with autograd on, about 1,500 MiB (the graph of 10 network calls on 4 clips;
#: 8 clips and 20 calls grew by 6,100 MiB).
MEMORY_BOUND_MIB = 400


def test_sampling_the_reference_model_stays_within_its_memory_bound():
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["growth_mib"] < MEMORY_BOUND_MIB, (
        f"sampling 4 clips grew the process's peak memory by {r['growth_mib']:.0f} MiB "
        f"(bound {MEMORY_BOUND_MIB} MiB): is autograd on during sampling?"
    )
    assert not r["grad_fn"]
