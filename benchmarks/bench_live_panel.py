"""How long chapter 3's live panel takes in headless Chromium: 30 steps of the U-Net, one clip.

The panel of the built book (``tl.export.live_panel``; ``book/_static/live_panel.js``) runs
the reference ``drums-unet`` with ONNX Runtime Web (plain WebAssembly build, one thread) in the
page. This script serves a built book as ``make serve`` does, opens chapter 3 in headless
Chromium (no network), sets the panel to the model's defaults (snare, 30 steps, guidance 3:
60 network evaluations, in 30 calls of a batch of two) and clicks Generate ``--repeats`` times
on one page load. The first click also loads the runtime and the model (``load_s``); each
click's ``generate_s`` is the sampler loop alone, as the panel reports it. It also records the
largest difference from PyTorch (``tl.export.live_sample``) and the size the live files add
to the site.

    .venv/bin/python benchmarks/bench_live_panel.py --html-dir book/_build/html \
        --out benchmarks/live_panel.json

Needs Chromium and a built book (``make book`` or ``make book-fast``). The figure depends on
what else the machine runs: the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"class_name": "snare", "steps": 30, "guidance": 3, "seed": 0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html-dir", type=Path, default=ROOT / "book" / "_build" / "html")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chromium", default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests" / "browser"))  # the browser tests' helpers
    import live_panel
    import rendered_book

    from tutorial_lib import export

    chromium = args.chromium or rendered_book.find_chromium()
    if chromium is None:
        print("bench_live_panel: no Chromium found", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    results = live_panel.run_in_page(args.html_dir, chromium, SETTINGS, repeats=args.repeats)
    load_after = os.getloadavg()[0]
    want = live_panel.pytorch_clip(**SETTINGS)
    live = args.html_dir / export.LIVE_DIR
    sizes = {p.name: p.stat().st_size for p in sorted(live.iterdir()) if p.is_file()}
    times = [r["seconds"] for r in results]
    import subprocess

    version = subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout
    report = {
        "what": "chapter 3 live panel: drums-unet, 30 v-DDIM steps, guidance 3, one clip "
        "(60 network evaluations), ONNX Runtime Web wasm, 1 thread, headless Chromium",
        "settings": SETTINGS,
        "generate_s": [round(t, 3) for t in times],
        "generate_s_median": round(statistics.median(times), 3),
        "load_s": round(results[0]["loadSeconds"], 3),
        "network_evaluations": results[0]["calls"],
        "max_abs_diff_vs_pytorch": float(
            max(np.abs(np.asarray(r["samples"], np.float32) - want).max() for r in results)
        ),
        "site_bytes": sizes,
        "site_mb_total": round(sum(sizes.values()) / 1e6, 2),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "chromium": version.strip(),
            "load_average_before": round(load_before, 2),
            "load_average_after": round(load_after, 2),
        },
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
