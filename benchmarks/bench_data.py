"""Dataset generation throughput (clips per second), and the CLI's `data drums --n 200` time.

Run: .venv/bin/python benchmarks/bench_data.py
Every dataset is generated from scratch (cache=False); the CLI run uses an empty cache.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import tutorial_lib as tl


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ok, _ = tl.data.soundfont_available()
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"SoundFont renderer {tl.data.renderer_id() if ok else 'missing'}"
    )


def timed(label: str, fn, n: int, repeats: int = 2) -> None:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        ds = fn()
        best = min(best, time.perf_counter() - start)
    assert len(ds) == n
    print(f"| {label} | {n} | {best:.2f} | {n / best:.0f} |")


def main() -> None:
    print(f"Machine: {machine()}\n")
    print("| dataset (cache off) | clips | seconds | clips/s |")
    print("|---|---|---|---|")
    kw = dict(cache=False, progress=False)
    timed("drums, 16 kHz mono, 16384 samples", lambda: tl.data.drums(500, **kw), 500)
    timed("drums, parametric only", lambda: tl.data.drums(500, backend="parametric", **kw), 500)
    timed(
        "drums, 44.1 kHz stereo, 32768 samples",
        lambda: tl.data.drums(200, **tl.data.TINY_AUDIO_DIFFUSION, **kw),
        200,
    )
    timed("notes, 16 kHz, 1 s", lambda: tl.data.notes(500, **kw), 500)
    timed("notes, parametric only", lambda: tl.data.notes(500, backend="parametric", **kw), 500)
    timed("notes, NSynth framing (4 s)", lambda: tl.data.notes(200, framing="nsynth", **kw), 200)
    timed("midi, 4 s, 16 kHz mono", lambda: tl.data.midi(100, **kw), 100)
    timed("midi, parametric only", lambda: tl.data.midi(50, backend="parametric", **kw), 50)
    times = []
    for _ in range(2):  # the first call generates and writes the cache, the second reads it
        start = time.perf_counter()
        ds = tl.data.drums(500, progress=False, cache=True, seed=12345)
        times.append(time.perf_counter() - start)
        assert len(ds) == 500
    first, again = times
    print(f"\ndrums, 500 clips, cached: first call {first:.2f} s, from the cache {again:.3f} s")

    exe = Path(sys.executable).with_name("tutorial-lib")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TUTORIAL_CACHE": str(Path(tmp) / "cache")}
        cmd = [str(exe), "data", "drums", "--out", str(Path(tmp) / "d"), "--n", "200"]
        for label in ("empty cache", "warm cache"):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, capture_output=True)
            print(
                f"`tutorial-lib data drums --out d --n 200` ({label}): {time.perf_counter() - start:.2f} s wall"
            )


if __name__ == "__main__":
    main()
