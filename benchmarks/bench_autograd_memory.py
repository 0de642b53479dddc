"""What sampling with autograd on costs: chapter 3's U-Net sampled with and without a graph.

Chapter 3's ``vdiffusion.sample`` once ran without ``torch.no_grad()``, and ``make book`` was
killed for memory. This script measures that case for real: the reference ``drums-unet``
samples 8 clips (0.51 s each) with its default sampler settings (30 v-DDIM steps, guidance 3,
so 60 network calls), once as the library runs it (``vdiffusion.sample``, decorated with
``torch.no_grad()``), and with autograd on (the same function's undecorated body,
``vdiffusion.sample.__wrapped__``, called with grad mode on: what the old code did), at
several step counts so the growth per step shows. Each case is a fresh process; its peak
resident memory is the child's ``ru_maxrss`` (the whole process: Python, torch, the model).

    .venv/bin/python benchmarks/bench_autograd_memory.py --out benchmarks/autograd_memory.json \
        --register

About 3 minutes and up to ~13 GB of memory on a 2-core CPU: run it on a machine with 16 GB
or more, never in CI. ``--register`` stores the rows in the shipped registry as the
``autograd_memory`` metric of ``drums-unet`` (the same file, re-hashed), where chapter 7
(section "Memory") reads them; ``tests/test_diagnostics.py`` checks them (autograd on grows
with the steps, off does not) and that the JSON and the registry agree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CLIPS = 8
#: (steps, autograd): the library's sampler at 30 steps, and autograd on at growing steps.
CASES = [(30, False), (1, True), (10, True), (20, True), (30, True)]

_CODE = """
import resource, sys, time, torch
import tutorial_lib as tl
steps, grad = int(sys.argv[1]), sys.argv[2] == "1"
fam = tl.families.drums_unet
model = fam.load("drums-unet")
s = fam.SAMPLING
noise = torch.randn(CLIPS, 1, fam.LENGTH, generator=torch.Generator().manual_seed(0))
labels = [fam.CLASSES[i % len(fam.CLASSES)] for i in range(CLIPS)]
fn = tl.vdiffusion.sample.__wrapped__ if grad else tl.vdiffusion.sample
start = time.perf_counter()
with torch.set_grad_enabled(grad):
    x = fn(model, x_init=noise, class_labels=labels, steps=steps, guidance=s["guidance"],
           rho=s["rho"])
print(time.perf_counter() - start, bool(x.requires_grad))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""".replace("CLIPS", str(CLIPS))


def _run(steps: int, grad: bool) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", _CODE, str(steps), "1" if grad else "0"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    lines = out.stdout.strip().splitlines()
    seconds, keeps_graph = lines[-2].split()
    return {"clips": CLIPS, "steps": steps, "autograd": grad,
            "output_keeps_graph": keeps_graph == "True",
            "seconds": round(float(seconds), 1),
            "peak_memory_mib": round(int(lines[-1]) / 1024)}  # fmt: skip


def main() -> None:
    from bench_data import machine

    import tutorial_lib as tl

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--register", action="store_true",
                        help="store the rows as drums-unet's 'autograd_memory' metric")  # fmt: skip
    args = parser.parse_args()
    rows = []
    start = time.perf_counter()
    for steps, grad in CASES:
        rows.append(_run(steps, grad))
        r = rows[-1]
        print(f"{r['clips']} clips, {steps:2d} steps, autograd {'on ' if grad else 'off'}: "
              f"{r['seconds']:6.1f} s, peak {r['peak_memory_mib']:6d} MiB", flush=True)  # fmt: skip
    result = {"machine": machine(), "model": "drums-unet", "rows": rows,
              "seconds": round(time.perf_counter() - start)}  # fmt: skip
    if args.out:
        with tl.checkpoints.atomic_write(args.out, "w") as f:
            f.write(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    if args.register:
        tl.checkpoints.set_metric(
            "drums-unet", "autograd_memory", {"machine": result["machine"], "rows": rows}
        )
        print("registered: drums-unet metric 'autograd_memory'")


if __name__ == "__main__":
    main()
