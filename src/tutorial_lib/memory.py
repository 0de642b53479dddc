"""How much memory one training step takes, measured.

A training step holds the weights, their gradients, the optimiser's state and, for the
backward pass, the activations of the forward pass; the activations grow with the batch and
the clip length. :func:`peak_step_memory` measures the peak of one step (forward, backward,
optimiser step) of a network you built, in this process; :func:`measure_step_memory` builds
the network in a fresh Python process and measures there, so that memory cached by earlier
work cannot hide or inflate the number.

The module knows no network and no loss: the caller passes them (chapter 3 measures its
U-Net with the v-diffusion loss, the benchmarks their own steps).

Example::

    r = tl.memory.measure_step_memory(tl.models.unet1d.UNet1d, config, 32768,
                                      loss=tl.vdiffusion.loss, gradient_checkpointing=True)
    print(r["bytes"] / 2**20, "MiB", r["method"])

Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ._validate import check_int, check_number, describe

__all__ = ["measure_step_memory", "peak_step_memory"]


def peak_step_memory(
    model: Any,
    x0: Any,
    step_fn: Callable[[Any, Any], Any],
    *,
    poll_s: float = 0.0005,
) -> dict[str, Any]:
    """Peak memory of one training step (forward, backward, optimiser step), measured.

    On a CUDA device: ``torch.cuda.max_memory_allocated`` minus the memory allocated before
    the step (weights, gradients and optimiser state already there are not counted twice).
    On a CPU: the process's resident memory (RSS, via ``psutil``) is polled from a
    background thread every ``poll_s`` seconds during the step; the result is the peak minus
    the RSS before the step. The CPU figure is approximate (the allocator may keep freed
    memory, other threads allocate too): run it in a fresh process for clean numbers
    (:func:`measure_step_memory`).

    Args:
        model: the network (on the device to measure); put in training mode.
        x0: a batch ``(B, C, T)`` of clean audio on the same device.
        step_fn: ``step_fn(model, x0)`` running one full training step: the loss, its
            backward pass and the optimiser's step (an optimiser made before the call, so
            that its state, created by the first step, is counted).

    Returns:
        ``{"bytes": peak increase, "method": "cuda" | "cpu-rss", "seconds": step time}``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import gc
    import threading
    import time

    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}.")
    if not torch.is_tensor(x0):
        raise TypeError(f"x0: expected a tensor batch (B, C, T), got {describe(x0)}.")
    if not callable(step_fn):
        raise TypeError(
            f"step_fn: expected a function step_fn(model, x0) running one training step, got "
            f"{describe(step_fn)}. Fix: write one (loss, backward, optimiser step)."
        )
    poll_s = check_number(poll_s, "poll_s", low=0.0, low_open=True)

    model.train()
    gc.collect()
    if x0.device.type == "cuda":
        torch.cuda.synchronize(x0.device)
        torch.cuda.reset_peak_memory_stats(x0.device)
        before = torch.cuda.memory_allocated(x0.device)
        start = time.perf_counter()
        step_fn(model, x0)
        torch.cuda.synchronize(x0.device)
        seconds = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated(x0.device) - before
        return {"bytes": int(peak), "method": "cuda", "seconds": seconds}
    import psutil

    proc = psutil.Process()
    before = proc.memory_info().rss
    peak = [before]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(poll_s)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        step_fn(model, x0)
    finally:
        seconds = time.perf_counter() - start
        done.set()
        thread.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return {"bytes": int(peak[0] - before), "method": "cpu-rss", "seconds": seconds}


def _loss_step(model: Any, loss: Callable[..., Any], mixed_precision: bool) -> Callable:
    """``step_fn(model, x0)`` of :func:`peak_step_memory` for ``loss(model, x0)``: the loss
    (under bfloat16 autocast if ``mixed_precision``), backward, and a step of an AdamW made
    now (its state is created by the measured step)."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(m: Any, x: Any) -> None:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=mixed_precision):
            value = loss(m, x)
        value.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def _name_of(obj: Any, what: str, example: str) -> str:
    """``"module:qualname"`` of a class or function a fresh process can import."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not callable(obj) or not module or module == "__main__" or not qualname or "<" in qualname:
        raise TypeError(
            f"{what}: expected a class or function defined at the top of a module (a fresh "
            f"process imports it by name), got {describe(obj)}. Fix: pass e.g. {example}."
        )
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not obj:
        raise TypeError(
            f"{what}: {module}.{qualname} cannot be imported by that name from a fresh process. "
            f"Fix: define it at the top of a module (not in a notebook or a function)."
        )
    return f"{module}:{qualname}"


_MEASURE_CODE = """
import importlib, json, sys, torch
from tutorial_lib.memory import _loss_step, peak_step_memory
a = json.loads(sys.argv[1])
def named(name):
    module, qualname = name.split(":")
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found
torch.manual_seed(0)
torch.set_num_threads(a["threads"])
dev = torch.device(a["device"])
model = named(a["network"])(**a["config"]).to(dev)
if a["checkpointing"]:
    model.gradient_checkpointing = True
x = 0.1 * torch.randn(a["batch"], a["config"]["in_channels"], a["length"], device=dev)
step = _loss_step(model, named(a["loss"]), a["mixed_precision"])
r = peak_step_memory(model, x, step)
r["parameters"] = sum(p.numel() for p in model.parameters())
print("RESULT" + json.dumps(r))
"""


def measure_step_memory(
    network: Any,
    config: dict[str, Any],
    length: int,
    *,
    loss: Callable[..., Any],
    batch: int = 1,
    gradient_checkpointing: bool = False,
    mixed_precision: bool = False,
    device: str = "cpu",
    threads: int = 2,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Peak memory of the first training step of ``network(**config)``, in a fresh process.

    A fresh Python process builds the network (seeded), makes a batch ``(batch,
    config["in_channels"], length)`` and runs :func:`peak_step_memory` once: ``loss(model,
    x0)``, backward, an AdamW step. Memory cached by earlier work in this process can then
    neither hide nor inflate the number.

    Args:
        network: the network's class, e.g. ``tl.models.unet1d.UNet1d`` (the fresh process
            imports it by name, so it must live at the top of a module).
        config: its keyword arguments (``model.config``), with ``"in_channels"``.
        length: samples T per clip.
        loss: ``loss(model, x0) -> scalar tensor``, e.g. ``tl.vdiffusion.loss`` (imported by
            name too).
        batch: clips per step.
        gradient_checkpointing: recompute activations in the backward pass (the network
            needs a ``gradient_checkpointing`` switch).
        mixed_precision: run the forward pass and the loss under ``torch.autocast`` in
            bfloat16.
        device: ``"cpu"`` or ``"cuda"``.
        threads: torch CPU threads in the child process.
        timeout: seconds before giving up.

    Returns:
        ``{"bytes", "method", "seconds", "parameters"}`` (see :func:`peak_step_memory`).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import json
    import subprocess
    import sys

    network_name = _name_of(network, "network", "tl.models.unet1d.UNet1d")
    loss_name = _name_of(loss, "loss", "tl.vdiffusion.loss")
    if not isinstance(config, dict) or "in_channels" not in config:
        raise TypeError(
            f"config: expected the network's keyword arguments as a dict with 'in_channels' "
            f"(the batch's channels), got {describe(config)}. Fix: pass model.config."
        )
    model = network(**config)  # validate here, with a clear error, before starting a process
    if gradient_checkpointing and not hasattr(model, "gradient_checkpointing"):
        raise ValueError(
            f"gradient_checkpointing: {type(model).__name__} has no gradient_checkpointing "
            f"switch. Fix: gradient_checkpointing=False, or a network that has one (UNet1d)."
        )
    del model
    args = dict(network=network_name, loss=loss_name, config=config,
                length=check_int(length, "length", min_value=1),
                batch=check_int(batch, "batch", min_value=1), checkpointing=bool(gradient_checkpointing),
                mixed_precision=bool(mixed_precision), device=str(device),
                threads=check_int(threads, "threads", min_value=1))  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE_CODE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=check_number(timeout, "timeout", low=0.0, low_open=True),
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[len("RESULT") :])
    raise RuntimeError(f"measure_step_memory: the child process failed:\n{out.stderr[-2000:]}")
