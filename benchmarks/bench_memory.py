"""Peak memory of the command line's main uses: `tutorial-lib sample` and `tutorial-lib eval`.

Each command runs as a fresh process; its peak resident memory is the child's ``ru_maxrss``
(the whole process: Python, torch, the model, the sampling). ``sample`` streams batches of
16 clips, so ``--n 256`` should need about what ``--n 1`` needs (before the no-autograd fix,
``sample drums-unet-kick --n 8`` peaked at 19.1 GB).

    .venv/bin/python benchmarks/bench_memory.py --out benchmarks/memory.json   # about 5 min

The README's command-line section quotes these figures (``tests/test_readme_figures.py``
checks that it quotes this file).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = [
    ("sample drums-unet-kick --n 1", ["sample", "drums-unet-kick", "--n", "1"]),
    ("sample drums-unet-kick --n 256", ["sample", "drums-unet-kick", "--n", "256"]),
    ("sample drums-small-rf --n 256", ["sample", "drums-small-rf", "--n", "256"]),
]


def _run(args: list[str]) -> tuple[float, float]:
    """``(seconds, peak MiB)`` of ``tutorial-lib ARGS`` in a fresh process."""
    code = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    exe = Path(sys.executable).with_name("tutorial-lib")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(exe), *args], capture_output=True,
                         text=True, check=True)  # fmt: skip
    seconds = time.perf_counter() - start
    kib = int(out.stdout.strip().splitlines()[-1])
    return seconds, kib / 1024.0


def main() -> None:
    from bench_data import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    tmp = Path(tempfile.mkdtemp())
    try:
        for label, cmd in CASES:
            out = tmp / label.split()[1]
            seconds, mib = _run([*cmd, "--out", str(out)])
            rows.append({"command": f"tutorial-lib {label}", "seconds": round(seconds, 1),
                         "peak_memory_mib": round(mib)})  # fmt: skip
            print(f"{rows[-1]['command']:45s} {seconds:7.1f} s {mib:8.0f} MiB", flush=True)
        real = tmp / "real"
        seconds, mib = _run(["data", "drums", "--n", "256", "--length", "8192", "--out", str(real)])
        fake = tmp / "drums-unet-kick"
        seconds, mib = _run(["eval", "--real", str(real), "--fake", str(fake)])
        rows.append({"command": "tutorial-lib eval (256 real vs 256 generated clips)",
                     "seconds": round(seconds, 1), "peak_memory_mib": round(mib)})  # fmt: skip
        print(f"{rows[-1]['command']:45s} {seconds:7.1f} s {mib:8.0f} MiB", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"machine": machine(), "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
