"""Quality against training steps for chapter 4's mel model (``drums-mel``; issue 25).

Two parts, each its own command:

- ``--train DIR``: the ``drums-mel`` recipe of ``book`` mode (``tl.families.drums_mel``'s
  trainer: the same data, seed, learning rate, warm-up and EMA) run for ``--steps`` steps
  instead of its 4,000, keeping the resumable checkpoint of every ``--every``-th step in
  ``DIR`` (``step_*.safetensors``; ``--resume`` continues an interrupted run). The learning
  rate is constant after the warm-up, so its first 4,000 steps follow the reference's recipe
  exactly; run with another number of torch threads than the reference's (one), the
  floating-point sums round differently and the two runs part ways, so its checkpoint at
  4,000 steps is a second sample of the recipe, to score next to the reference.
- ``--score DIR``: every kept checkpoint of ``DIR`` (its EMA weights, float32), scored as the
  registry scores the reference (``drums_mel.evaluate``: ``--n`` clips, 50 DDIM steps, the
  same noise for every checkpoint): FD to real test clips with its 95 % bootstrap interval,
  KID, the tails, and the seconds of training each checkpoint took on this machine. The rows
  are written with ``--out`` (JSON) and, with ``--store``, kept as the registered reference's
  ``metric["curve"]`` (with the floor and the Griffin-Lim ceiling, the ends of the scale).

Run (measured on 2 CPU cores, 2 threads: training 2.6 steps/s, 52 min for 8,000 steps;
scoring about 100 s a checkpoint at n = 200, 4 min at n = 400):

    .venv/bin/python benchmarks/bench_mel_curve.py --train runs/mel-curve --steps 8000
    .venv/bin/python benchmarks/bench_mel_curve.py --score runs/mel-curve \
        --out benchmarks/mel_curve.json
    # two of its steps again with twice the clips, and both kept with the registered model:
    .venv/bin/python benchmarks/bench_mel_curve.py --score runs/mel-curve --at 4000 8000 \
        --n 400 --out benchmarks/mel_curve_400.json
    .venv/bin/python benchmarks/bench_mel_curve.py --store-file benchmarks/mel_curve.json \
        --larger benchmarks/mel_curve_400.json

``bench_mel_vs_waveform.py --register`` keeps a stored curve when it replaces the weights.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

#: Keys of an evaluate row kept in a curve point.
KEEP = ("fd", "fd_low", "fd_high", "fd_floor", "kid", "kid_floor", "fd_ratio", "tail_db")


def train(tl: Any, folder: Path, steps: int, every: int, resume: bool) -> Path:
    """Run the book recipe for ``steps`` steps, keeping every ``every``-th checkpoint."""
    fam = tl.families.drums_mel
    settings = {**fam.train_settings("book"), "steps": steps, "ckpt_every": every}
    trainer = fam._trainer(settings, folder, "cpu", "drums-mel")
    trainer.keep = None  # the curve needs every kept step, not the newest two
    trainer.fit(resume=resume, overwrite=not resume)
    return folder


def checkpoints_of(folder: Path, steps: list[int] | None = None) -> list[tuple[int, Path]]:
    """The run's ``step_*.safetensors`` as ``(step, path)``, in order (only ``steps``, if given)."""
    from tutorial_lib.training import _checkpoint_files  # the trainer's own listing

    found = _checkpoint_files(folder)
    if steps is not None:
        found = [(s, p) for s, p in found if s in steps]
    if not found:
        raise SystemExit(f"--score: no step_*.safetensors{'' if steps is None else f' at {steps}'} "
                         f"in {folder}")  # fmt: skip
    return found


def ema_net(tl: Any, path: Path) -> tuple[Any, dict[str, Any]]:
    """The EMA weights of a trainer checkpoint as a float32 ``UNet2d``, with its header."""
    fam = tl.families.drums_mel
    tensors, _, meta = tl.checkpoints.load(path)
    net = fam.build()
    net.load_state_dict({k[4:]: v.float() for k, v in tensors.items() if k.startswith("ema.")})
    return net.eval(), meta


def score(tl: Any, folder: Path, n: int, steps: list[int] | None) -> dict[str, Any]:
    """Every kept checkpoint's row, with the floor and the ceiling of the same real sets."""
    fam = tl.families.drums_mel
    rows, ceiling = [], None
    for i, (step, path) in enumerate(checkpoints_of(folder, steps)):
        net, meta = ema_net(tl, path)
        t0 = time.perf_counter()
        out = fam.evaluate({"net": net}, n=n, ceiling=i == 0)
        if i == 0:
            ceiling = out["real through Mel + Griffin-Lim"]
        row = {"steps": step, "train_s": round(float(meta.get("elapsed_s", 0.0)), 1),
               **{k: float(out["net"][k]) for k in KEEP}}  # fmt: skip
        rows.append(row)
        print(f"{step:>6} steps ({row['train_s']:.0f} s): FD {row['fd']:.2f} "
              f"[{row['fd_low']:.2f}, {row['fd_high']:.2f}] tail {row['tail_db']:.1f} dB "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    assert ceiling is not None
    return {"n_clips": n, "sampler_steps": fam.SAMPLING["steps"], "rows": rows,
            "fd_floor": rows[0]["fd_floor"], "fd_ceiling": float(ceiling["fd"])}  # fmt: skip


def main() -> None:
    import torch

    import tutorial_lib as tl

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, default=None, help="run the recipe into this folder")
    parser.add_argument("--steps", type=int, default=8000, help="training steps (--train)")
    parser.add_argument("--every", type=int, default=1000, help="keep every N-th step (--train)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted --train")
    parser.add_argument("--score", type=Path, default=None, help="score the checkpoints here")
    parser.add_argument("--at", type=int, nargs="*", default=None,
                        help="only these steps of --score")  # fmt: skip
    parser.add_argument("--n", type=int, default=200, help="clips per set (--score)")
    parser.add_argument("--out", type=Path, default=None, help="write the curve as JSON here")
    parser.add_argument("--store", action="store_true",
                        help="keep the curve as the registered drums-mel's metric['curve']")  # fmt: skip
    parser.add_argument("--store-file", type=Path, default=None,
                        help="keep the curve of an earlier --out FILE (no scoring)")  # fmt: skip
    parser.add_argument("--larger", type=Path, default=None,
                        help="with --store-file: an earlier --out of a few steps scored with a "
                             "larger --n, kept as the curve's 'larger' part")  # fmt: skip
    args = parser.parse_args()
    if args.store_file is not None:
        curve = json.loads(args.store_file.read_text())
        if args.larger is not None:
            larger = json.loads(args.larger.read_text())
            curve["larger"] = {k: v for k, v in larger.items() if k != "seconds"}
        store(tl, curve)
        return
    if args.train is None and args.score is None:
        parser.error("nothing to do: give --train DIR and/or --score DIR (or --store-file).")
    tl.setup(seed=0)
    if args.train is not None:
        train(tl, args.train, args.steps, args.every, args.resume)
    if args.score is None:
        return
    t0 = time.perf_counter()
    curve = score(tl, args.score, args.n, args.at)
    curve.update(threads=torch.get_num_threads(), seconds=round(time.perf_counter() - t0, 1))
    print(json.dumps(curve, indent=1))
    if args.out is not None:
        with tl.checkpoints.atomic_write(args.out, "w") as f:
            json.dump(curve, f, indent=1)
    if args.store:
        store(tl, curve)


def store(tl: Any, curve: dict[str, Any], weights_dir: Path | None = None) -> Any:
    """Keep ``curve`` as the registered ``drums-mel``'s ``metric["curve"]`` (same weights)."""
    ref = tl.checkpoints.reference("drums-mel", weights_dir=weights_dir)
    metric = {**ref.metric, "curve": {k: v for k, v in curve.items() if k != "seconds"}}
    return tl.checkpoints.add_reference(
        ref.path, ref.name, recipe=ref.recipe, steps=ref.steps, metric=metric,
        description=ref.description, weights_dir=weights_dir,
    )  # fmt: skip


if __name__ == "__main__":
    main()
