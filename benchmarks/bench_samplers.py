"""Time the samplers of tl.samplers: seconds per network evaluation (NFE), and their overhead
over the bare network calls, on the chapter's SmallConv1d (random weights) and a tiny MLP.

Run from the benchmarks folder: ``../.venv/bin/python bench_samplers.py``.
"""

from __future__ import annotations

import time

import torch

import tutorial_lib as tl


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ab = tl.families.drums_small.alpha_bars()
    cases = {
        "SmallConv1d, 16 clips x 4096": (
            tl.families.drums_small.build().eval(),
            torch.randn(16, 1, 4096),
        ),
        "TimeMLP, 4096 points x 2": (tl.models.TimeMLP(dim=2).eval(), torch.randn(4096, 2)),
    }
    nfe = 16
    print(f"torch {torch.__version__}, 1 thread, {nfe} NFE per run, best of 3\n")
    for label, (net, x) in cases.items():
        with torch.no_grad():
            bare = best_of(lambda: [net(x, 0.5) for _ in range(nfe)])  # noqa: B023
            print(f"{label}: bare network {1000 * bare / nfe:.2f} ms per call")
            for name, info in tl.samplers.SAMPLERS.items():
                kw = {"alpha_bars": ab} if info.family == "ddpm" else {}
                sec = best_of(lambda: tl.samplers.sample(name, net, x, nfe=nfe, **kw))  # noqa: B023
                print(
                    f"  {name:8s} {1000 * sec / nfe:7.2f} ms per NFE, overhead {100 * (sec / bare - 1):+5.1f}%"
                )
        print()


if __name__ == "__main__":
    main()
