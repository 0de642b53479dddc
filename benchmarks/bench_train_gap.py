"""Training clips against new clips: is a reference limited by its data or by its network? (issue 25)

A diffusion network that has started to learn its training clips by heart denoises them
better than clips it has never seen; one that is limited by its size or its training denoises
both alike. This script measures the training loss of a model **on its own training clips
and on held-out clips** (the validation split, never trained on) at ``--bins`` noise levels,
with the same noise for both sets (chapter 7's ``loss_by_noise_level`` for the mel model; the
same measurement with the v-diffusion loss for the waveform U-Net), in ``--chunks`` chunks of
clips, each with its own noise, so that the gap comes with its spread:

- ``--mel-run DIR --at STEP ...``: the EMA weights of ``bench_mel_curve.py``'s run at those
  steps (``drums-mel``, unconditional, v prediction, the recipe's 2,000 training clips);
- ``--unet``: the shipped ``drums-unet-short`` (600 steps) and ``drums-unet`` (6,000 steps),
  class-conditional, each clip told its class (the recipe's 2,000 training clips, ``/ SCALE``).

Each row: the loss at each noise level on both sets, and the relative gap
``held-out / training - 1`` of the losses averaged over the levels, with the mean and the
standard error over the chunks. Run on 2 CPU cores, 2 threads (about 40 s a model with the
defaults)::

    .venv/bin/python benchmarks/bench_train_gap.py --mel-run runs/mel-curve \
        --at 1000 4000 16000 24000 --unet --n 256 --chunks 4 --bins 5 \
        --out benchmarks/train_gap.json                                   # 294 s
    # kept with the registered models (metric["train_gap"]), where chapters 3 and 4 read it:
    .venv/bin/python benchmarks/bench_train_gap.py --store-file benchmarks/train_gap.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np


def v_loss_by_level(net: Any, x0: Any, labels: Any, *, bins: int, seed: int) -> np.ndarray:
    """The v-diffusion loss of ``net`` on ``x0`` at ``bins`` evenly spaced times (the centre of
    each bin), noise from ``seed``: ``loss_by_noise_level`` for chapter 3's continuous time."""
    import torch

    from tutorial_lib import vdiffusion

    gen = torch.Generator().manual_seed(seed)
    out = []
    with torch.no_grad():
        for i in range(bins):
            t = torch.full((x0.shape[0],), (i + 0.5) / bins)
            eps = torch.randn(x0.shape, generator=gen)
            pred = net(vdiffusion.noise(x0, t, eps), t, labels)
            out.append(float(((pred.float() - vdiffusion.v_target(x0, eps, t)) ** 2).mean()))
    return np.asarray(out)


def gap_row(losses: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """Chunk-wise losses of both sets -> the row: losses by level, the gap and its spread."""
    train, held = np.stack(losses["train"]), np.stack(losses["held_out"])  # (chunks, bins)
    gaps = held.mean(axis=1) / train.mean(axis=1) - 1.0
    return {
        "train": train.mean(axis=0).round(6).tolist(),
        "held_out": held.mean(axis=0).round(6).tolist(),
        "gap": float(gaps.mean()),
        "gap_se": float(gaps.std(ddof=1) / np.sqrt(len(gaps))) if len(gaps) > 1 else 0.0,
        "gap_chunks": gaps.round(6).tolist(),
    }


def measure(fn: Any, sets: dict[str, Any], chunks: int) -> dict[str, Any]:
    """``fn(x0_part, labels_part, seed)`` on each chunk of both sets (chunk i: the same noise)."""
    losses: dict[str, list[np.ndarray]] = {"train": [], "held_out": []}
    for name, (x0, labels) in sets.items():
        size = len(x0) // chunks
        for i in range(chunks):
            part = slice(i * size, (i + 1) * size)
            losses[name].append(fn(x0[part], None if labels is None else labels[part], i))
    return gap_row(losses)


def mel_rows(tl: Any, run: Path, steps: list[int], n: int, bins: int, chunks: int) -> list:
    """The gap of ``drums-mel``'s run at ``steps`` (EMA weights, float32)."""
    from bench_mel_curve import checkpoints_of, ema_net

    fam = tl.families.drums_mel
    sets = {"train": (fam.images(fam.dataset(n)), None),
            "held_out": (fam.images(fam.dataset(n, "validation")), None)}  # fmt: skip
    rows = []
    for step, path in checkpoints_of(run, steps):
        net, _ = ema_net(tl, path)
        t0 = time.perf_counter()

        def fn(x0: Any, _labels: Any, seed: int, net: Any = net) -> np.ndarray:
            return tl.diagnostics.loss_by_noise_level(
                net, x0, fam.alpha_bars(), prediction=fam.PREDICTION, bins=bins, seed=seed
            )[1]

        row = {"model": "drums-mel", "steps": step, **measure(fn, sets, chunks)}
        rows.append(row)
        print(f"drums-mel {step:>6} steps: gap {100 * row['gap']:+.1f} % "
              f"(+- {100 * row['gap_se']:.1f}) ({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    return rows


def unet_rows(tl: Any, n: int, bins: int, chunks: int) -> list:
    """The gap of the shipped ``drums-unet-short`` and ``drums-unet``."""
    import torch

    fam = tl.families.drums_unet
    sets = {}
    for name, split in (("train", "train"), ("held_out", "validation")):
        ds = fam.dataset(n, split)
        sets[name] = (ds.tensors() / fam.SCALE, torch.from_numpy(ds.labels).long())
    rows = []
    for name in ("drums-unet-short", "drums-unet"):
        net = fam.load(name)
        t0 = time.perf_counter()

        def fn(x0: Any, labels: Any, seed: int, net: Any = net) -> np.ndarray:
            return v_loss_by_level(net, x0, labels, bins=bins, seed=seed)

        row = {"model": name, "steps": tl.checkpoints.reference(name).steps,
               **measure(fn, sets, chunks)}  # fmt: skip
        rows.append(row)
        print(f"{name}: gap {100 * row['gap']:+.1f} % (+- {100 * row['gap_se']:.1f}) "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    return rows


#: Which registered model keeps each measured model's row.
OWNER = {"drums-mel": "drums-mel", "drums-unet-short": "drums-unet", "drums-unet": "drums-unet"}


def store(tl: Any, out: dict[str, Any], weights_dir: Path | None = None) -> list[Any]:
    """Keep ``out``'s rows as ``metric["train_gap"]`` of the registered models (same weights):
    ``drums-mel``'s run's rows with ``drums-mel``, the waveform pair's with ``drums-unet``."""
    owners: dict[str, list[dict[str, Any]]] = {}
    for row in out["rows"]:
        if row["model"] not in OWNER:
            raise ValueError(f"--store-file: no registered model keeps {row['model']!r}'s row "
                             f"(known: {sorted(OWNER)}).")  # fmt: skip
        owners.setdefault(OWNER[row["model"]], []).append(row)
    gap = {k: out[k] for k in ("n_clips", "bins", "chunks")}
    return [
        tl.checkpoints.set_metric(name, "train_gap", {**gap, "rows": rows}, weights_dir=weights_dir)
        for name, rows in owners.items()
    ]


def main() -> None:
    import torch

    import tutorial_lib as tl

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mel-run", type=Path, default=None,
                        help="bench_mel_curve.py's run folder (drums-mel)")  # fmt: skip
    parser.add_argument("--at", type=int, nargs="*", default=None, help="its steps to measure")
    parser.add_argument("--unet", action="store_true", help="the shipped drums-unet pair too")
    parser.add_argument("--n", type=int, default=256, help="clips of each set")
    parser.add_argument("--bins", type=int, default=10, help="noise levels")
    parser.add_argument("--chunks", type=int, default=4, help="chunks of clips (the spread)")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    parser.add_argument("--store-file", type=Path, default=None,
                        help="keep an earlier --out file with the registered models")  # fmt: skip
    args = parser.parse_args()
    if args.store_file is not None:
        store(tl, json.loads(args.store_file.read_text()))
        return
    if args.mel_run is None and not args.unet:
        parser.error("nothing to do: give --mel-run DIR --at STEP ... and/or --unet.")
    if args.n < 2 * args.chunks or args.chunks < 1:
        parser.error(f"--n {args.n} / --chunks {args.chunks}: need at least 2 clips a chunk.")
    tl.setup(seed=0)
    t0 = time.perf_counter()
    rows = []
    if args.mel_run is not None:
        rows += mel_rows(tl, args.mel_run, args.at, args.n, args.bins, args.chunks)
    if args.unet:
        rows += unet_rows(tl, args.n, args.bins, args.chunks)
    out = {"n_clips": args.n, "bins": args.bins, "chunks": args.chunks, "rows": rows,
           "threads": torch.get_num_threads(), "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    if args.out is not None:
        with tl.checkpoints.atomic_write(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
