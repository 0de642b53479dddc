"""The class-conditional mel model (``drums-mel-cond``): does it make the class it is asked for?

Scores the checkpoint the way chapter 3 scores its class-conditional waveform U-Net, with
``tl.families.drums_mel.evaluate`` (the same noise for every row):

- for each guidance weight ``w`` of ``--guidance`` (default 1, 2, 3, 4): ``n`` clips, the
  classes asked in turn, 50 DDIM steps; their Fréchet distance to real test clips with its
  95 % bootstrap interval (``fd``, ``fd_low``, ``fd_high``), KID, the median level of their
  quietest tenth (``tail_db``), and the class check: a classifier trained on real clips names
  the class of each generated clip (``class_accuracy``, ``per_class``; ``real_accuracy`` is
  the same classifier on real test clips, the ceiling);
- the unconditional ``drums-mel`` on the same noise (``uncond``), the floor (real vs real)
  and the ceiling (real clips through Mel + Griffin-Lim);
- ``sample_s_per_clip`` at the chosen weight (network and Griffin-Lim, this machine).

The chosen weight (``guidance``, the family's ``SAMPLING["guidance"]``) is the one with the
lowest FD among those whose class accuracy is at least 0.9, or the most accurate if none is.

The rows use the family's sampler, whose guided steps take their noise direction from the
clamped picture (``drums_mel.clamp_options``). ``--seed-step`` scores the seed's DDIM step
instead (the network's noise kept while its picture is clamped: what made guided pictures
drift brighter); ``--register`` keeps those rows as ``seed_step_rows``: from the run itself
with ``--seed-step``, else from the registered metric (the rows registered before the family's
sampler changed, on 2026-12-06, were the seed step's: ``git show b53fc29:benchmarks/mel_cond.json``).

Run (about 15 min on 2 CPU cores with the defaults):

    tutorial-lib train drums-mel --mode book --out runs/drums-mel    # writes both checkpoints
    .venv/bin/python benchmarks/bench_mel_cond.py --weights runs/drums-mel --register

``--register`` copies ``drums-mel-cond.safetensors`` into the package with
``tl.checkpoints.add_reference`` and stores these numbers as its ``metric``: chapter 4 prints
them from there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

#: Keys of an evaluate row kept in the metric (the audio is not).
KEEP = ("fd", "fd_low", "fd_high", "fd_floor", "kid", "kid_floor", "fd_ratio", "tail_db",
        "class_accuracy", "real_accuracy", "per_class")  # fmt: skip


def choose(rows: dict[str, dict[str, Any]], accuracy: float = 0.9) -> float:
    """The guidance weight to ship: the lowest FD among rows with ``class_accuracy >=
    accuracy``, else the most accurate (``rows`` keyed by the weight as text)."""
    good = {w: r for w, r in rows.items() if r["class_accuracy"] >= accuracy}
    if good:
        return float(min(good, key=lambda w: good[w]["fd"]))
    return float(max(rows, key=lambda w: rows[w]["class_accuracy"]))


def measure(
    tl: Any, net: Any, n: int, weights: list[float], seed: int = 0, seed_step: bool = False
) -> dict[str, Any]:
    """Every number of the benchmark for the conditional network ``net`` (with ``seed_step``,
    sampled with the seed's DDIM step: ``SAMPLING["clipped_eps"]`` off)."""
    fam = tl.families.drums_mel
    if seed_step:
        saved = fam.SAMPLING["clipped_eps"]
        fam.SAMPLING["clipped_eps"] = False
        try:
            out = measure(tl, net, n, weights, seed)
        finally:
            fam.SAMPLING["clipped_eps"] = saved
        return {**out, "seed_step_rows": out["rows"]}
    rows: dict[str, dict[str, Any]] = {}
    uncond: dict[str, Any] = {}
    for i, w in enumerate(weights):
        models = {"cond": net} if i else {"cond": net, "uncond": fam.load("drums-mel")}
        out = fam.evaluate(models, n=n, seed=seed, guidance=w, ceiling=i == 0)
        rows[f"{w:g}"] = {k: out["cond"][k] for k in KEEP}
        print(f"guidance {w:g}: " + json.dumps({k: rows[f"{w:g}"][k] for k in KEEP[:2]}))
        if i == 0:
            uncond = {k: out["uncond"][k] for k in KEEP if k in out["uncond"]}
            ceiling = out["real through Mel + Griffin-Lim"]
    best = choose(rows)
    start = time.perf_counter()
    fam.to_audio(fam.sample_images(16, seed=seed, model=net, classes="cycle", guidance=best))
    main = rows[f"{best:g}"]
    return {
        **main,
        "guidance": best,
        "rows": rows,
        "uncond": uncond,
        "fd_ceiling": ceiling["fd"],
        "kid_ceiling": ceiling["kid"],
        "n_clips": n,
        "sampler_steps": fam.SAMPLING["steps"],
        "sample_s_per_clip": (time.perf_counter() - start) / 16,
    }


def main() -> None:
    import torch

    import tutorial_lib as tl

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=None,
                        help="folder with drums-mel-cond.safetensors (default: the shipped one)")  # fmt: skip
    parser.add_argument("--n", type=int, default=200, help="clips per set")
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 2.0, 3.0, 4.0],
                        help="guidance weights to score")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    parser.add_argument("--register", action="store_true",
                        help="add the checkpoint of --weights to the package with these numbers")  # fmt: skip
    parser.add_argument("--seed-step", action="store_true",
                        help="sample with the seed's DDIM step (the network's noise kept under the clamp)")  # fmt: skip
    args = parser.parse_args()
    if args.register and args.weights is None:
        parser.error("--register needs --weights (the folder the recipe wrote).")
    tl.setup(seed=0)
    fam = tl.families.drums_mel
    path = (tl.checkpoints.reference(fam.COND).path if args.weights is None
            else args.weights / f"{fam.COND}.safetensors")  # fmt: skip
    net = fam.build(fam.COND_CONFIG)
    tl.checkpoints.load_into(net, path, config=fam.COND_CONFIG)
    t0 = time.perf_counter()
    numbers = measure(tl, net.float().eval(), args.n, args.guidance, seed_step=args.seed_step)
    numbers["threads"] = torch.get_num_threads()
    numbers["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(numbers, indent=1))
    if args.out is not None:
        with tl.checkpoints.atomic_write(args.out, "w") as f:
            json.dump(numbers, f, indent=1)
    if args.register:
        register(tl, path, numbers)


def register(tl: Any, path: Path, numbers: dict[str, Any], weights_dir: Path | None = None) -> Any:
    """Add the conditional checkpoint to the registry with ``numbers`` as its metric."""
    meta = tl.checkpoints.load(path)[2]
    metric = {k: v for k, v in numbers.items() if k != "seconds"}
    if "seed_step_rows" not in metric:
        try:
            before = tl.checkpoints.reference("drums-mel-cond", weights_dir=weights_dir).metric
        except (KeyError, FileNotFoundError, ValueError):
            before = {}
        if "seed_step_rows" in before:
            metric["seed_step_rows"] = before["seed_step_rows"]
    metric["final_loss"] = float(meta["final_loss"])
    ref = tl.checkpoints.add_reference(
        path, "drums-mel-cond", recipe="drums-mel", steps=int(meta["steps"]), metric=metric,
        description=("drums-mel told the drum class (one learned embedding per class, 10 % of "
                     "labels dropped in training for classifier-free guidance); "
                     "`tutorial-lib train drums-mel --mode book`."),
        weights_dir=weights_dir,
    )  # fmt: skip
    print(f"registered {ref.name}: {ref.steps} steps, {ref.file}")
    return ref


if __name__ == "__main__":
    main()
