"""Quality against training steps for chapter 4's mel model (``drums-mel``; issue 25).

Its parts, each its own command:

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
- ``--compare LATER EARLIER`` (with ``--score DIR``): two of its checkpoints scored on the
  same real clips from the same noise, and the paired bootstrap interval of the difference
  of their FDs (:func:`paired_difference`), which resolves a gain that the two FDs' own
  intervals, overlapping, do not.
- ``--store-file ... --beyond FILE ... [--beyond-paired FILE]``: the run's points after the
  registered model's step (``--score`` files scored alike) and a ``--compare`` of a later step
  against the registered one, kept as the curve's ``beyond`` part: where the curve goes once the
  shipped checkpoint is passed (:func:`beyond`).
- ``--train ... --name drums-mel-cond``: the same for the recipe's class-conditional model.
- ``--export RUN STEP OUT``: the EMA weights of ``RUN``'s checkpoint at ``STEP`` written as the
  recipe writes its reference (``OUT/<name>.safetensors``, float16, the recipe's header), for
  ``bench_mel_vs_waveform.py`` / ``bench_mel_cond.py --weights OUT --register``. ``STEP`` must
  be the book recipe's step count, so that ``tutorial-lib train`` reproduces what is shipped.

Run (measured on 2 CPU cores, 2 threads: training 2.6 steps/s, 52 min for 8,000 steps;
scoring about 100 s a checkpoint at n = 200, 4 min at n = 400); the files are kept in
``benchmarks/`` and the commands that made each are in ``benchmarks/README.md``:

    .venv/bin/python benchmarks/bench_mel_curve.py --train runs/mel-curve --steps 8000
    # continued later to 16,000 steps (a checkpoint every 2,000):
    .venv/bin/python benchmarks/bench_mel_curve.py --train runs/mel-curve --steps 16000 \
        --every 2000 --resume
    .venv/bin/python benchmarks/bench_mel_curve.py --score runs/mel-curve \
        --out benchmarks/mel_curve.json
    # some of its steps again with twice the clips, and the paired difference:
    .venv/bin/python benchmarks/bench_mel_curve.py --score runs/mel-curve --at 4000 8000 \
        --n 400 --out benchmarks/mel_curve_400.json
    .venv/bin/python benchmarks/bench_mel_curve.py --score runs/mel-curve --compare 16000 4000 \
        --n 400 --out benchmarks/mel_curve_paired.json
    # kept with the registered model (the rows of several --out files, scored alike, merged):
    .venv/bin/python benchmarks/bench_mel_curve.py --store-file benchmarks/mel_curve.json \
        --larger benchmarks/mel_curve_400.json --paired benchmarks/mel_curve_paired.json

``bench_mel_vs_waveform.py --register`` keeps a stored curve when it replaces the weights.
The shipped references (session 17) are these runs' 16,000-step checkpoints:

    .venv/bin/python benchmarks/bench_mel_curve.py --train runs/mel-cond-curve \
        --name drums-mel-cond --steps 16000 --every 2000
    .venv/bin/python benchmarks/bench_mel_curve.py --export runs/mel-curve 16000 runs/drums-mel
    .venv/bin/python benchmarks/bench_mel_curve.py --export runs/mel-cond-curve 16000 \
        runs/drums-mel --name drums-mel-cond
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

#: Keys of an evaluate row kept in a curve point.
KEEP = ("fd", "fd_low", "fd_high", "fd_floor", "kid", "kid_floor", "fd_ratio", "tail_db")


def train(
    tl: Any, folder: Path, steps: int, every: int, resume: bool, name: str = "drums-mel"
) -> Path:
    """Run the book recipe of checkpoint ``name`` (``drums-mel`` or ``drums-mel-cond``) for
    ``steps`` steps, keeping every ``every``-th checkpoint."""
    fam = tl.families.drums_mel
    settings = {**fam.train_settings("book"), "steps": steps, "ckpt_every": every}
    trainer = fam._trainer(settings, folder, "cpu", name)
    trainer.keep = None  # the curve needs every kept step, not the newest two
    trainer.fit(resume=resume, overwrite=not resume)
    return folder


def export(tl: Any, folder: Path, step: int, out_dir: Path, name: str = "drums-mel") -> Path:
    """The EMA weights of ``folder``'s checkpoint at ``step`` as ``out_dir/<name>.safetensors``,
    written as ``drums_mel.train`` writes a reference (float16, the recipe's header)."""
    import torch

    from tutorial_lib.families._common import recipe_metadata  # what drums_mel.train writes

    fam = tl.families.drums_mel
    settings = fam.train_settings("book")
    if settings["steps"] != step:
        raise SystemExit(
            f"--export: the book recipe trains {settings['steps']} steps, not {step}. Fix: set "
            f"drums_mel.train_settings('book')['steps'] to {step} first, so that `tutorial-lib "
            f"train drums-mel --mode book` reproduces what is shipped."
        )
    [(_, path)] = checkpoints_of(folder, [step])
    trainer = fam._trainer(settings, None, "cpu", name)
    trainer.load_checkpoint(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = recipe_metadata(fam.RECIPE, "book", settings)
    out = trainer.export(out_dir / f"{name}.safetensors", dtype=torch.float16, metadata=meta)
    print(f"exported {name}: step {trainer.step}, EMA, float16 -> {out}")
    return out


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
    """The EMA weights of a trainer checkpoint as a float32 ``UNet2d`` built from the
    checkpoint's own configuration (so ``drums-mel-cond``'s runs load too), with its header."""
    state, config, meta = tl.training.ema_weights(path)
    net = tl.families.drums_mel.build(config)
    net.load_state_dict(state)
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


def paired_difference(
    tl: Any, e_real: Any, e_a: Any, e_b: Any, bootstrap: int = 1000, seed: int = 0
) -> dict[str, float]:
    """``FD(real, a) - FD(real, b)`` with a paired bootstrap 95 % interval.

    Two FDs' own intervals can overlap while their difference is resolved: both are scored
    against the same real clips, and clip ``i`` of both models starts from the same noise,
    so their errors move together. Each resample draws the real clips with replacement and
    one set of indices for both models' clips; the interval is the percentile interval of
    the differences, shifted back by the resamples' mean offset (as
    ``tl.metrics.frechet_distance`` does). ``share_not_lower``: the share of resamples in
    which ``a`` is not closer than ``b``.
    """
    import numpy as np

    e_real, e_a, e_b = (np.asarray(e, dtype=np.float64) for e in (e_real, e_a, e_b))
    if e_a.shape != e_b.shape:
        raise ValueError(f"e_b: shape {e_b.shape} differs from e_a's {e_a.shape}. Fix: "
                         "embed as many clips of both models, from the same noise.")  # fmt: skip

    def fd(real: Any, fake: Any) -> float:
        return tl.metrics.frechet_from_stats(real.mean(0), np.cov(real, rowvar=False),
                                             fake.mean(0), np.cov(fake, rowvar=False))  # fmt: skip

    value = fd(e_real, e_a) - fd(e_real, e_b)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(bootstrap):
        r = e_real[rng.integers(0, len(e_real), len(e_real))]
        i = rng.integers(0, len(e_a), len(e_a))
        diffs.append(fd(r, e_a[i]) - fd(r, e_b[i]))
    diffs = np.array(diffs)
    low, high = np.quantile(diffs, [0.025, 0.975]) + (value - diffs.mean())
    return {"diff": float(value), "low": float(low), "high": float(high),
            "share_not_lower": float(np.mean(diffs >= 0)), "bootstrap": bootstrap}  # fmt: skip


def compare(tl: Any, folder: Path, later: int, earlier: int, n: int) -> dict[str, Any]:
    """Checkpoint ``later`` against ``earlier`` of ``folder``: each FD and their paired
    difference (:func:`paired_difference`), ``n`` clips each from the same noise."""
    fam = tl.families.drums_mel
    nets = {step: ema_net(tl, path)[0] for step, path in checkpoints_of(folder, [later, earlier])}
    out = fam.evaluate({str(later): nets[later], str(earlier): nets[earlier]}, n=n, ceiling=False)
    e_real = tl.metrics.embed(fam.dataset(n, "test"))
    e = {k: tl.metrics.embed(out[str(k)]["audio"], fam.SR) for k in (later, earlier)}
    diff = paired_difference(tl, e_real, e[later], e[earlier])
    row = {"later": later, "earlier": earlier, "n_clips": n,
           "fd_later": float(out[str(later)]["fd"]), "fd_earlier": float(out[str(earlier)]["fd"]),
           **diff}  # fmt: skip
    print(f"{later} against {earlier} steps, {n} clips: FD {row['fd_later']:.2f} - "
          f"{row['fd_earlier']:.2f} = {row['diff']:.2f} [{row['low']:.2f}, {row['high']:.2f}]"
          f" (not lower in {row['share_not_lower']:.1%} of resamples)")  # fmt: skip
    return row


def main() -> None:
    import torch

    import tutorial_lib as tl

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, default=None, help="run the recipe into this folder")
    parser.add_argument("--steps", type=int, default=8000, help="training steps (--train)")
    parser.add_argument("--every", type=int, default=1000, help="keep every N-th step (--train)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted --train")
    parser.add_argument("--name", default="drums-mel", choices=("drums-mel", "drums-mel-cond"),
                        help="which of the recipe's two models --train runs (--score reads "
                             "drums-mel's)")  # fmt: skip
    parser.add_argument("--export", nargs=3, default=None, metavar=("RUN", "STEP", "OUT"),
                        help="write RUN's EMA weights at STEP as OUT/<--name>.safetensors")  # fmt: skip
    parser.add_argument("--score", type=Path, default=None, help="score the checkpoints here")
    parser.add_argument("--at", type=int, nargs="*", default=None,
                        help="only these steps of --score")  # fmt: skip
    parser.add_argument("--n", type=int, default=200, help="clips per set (--score)")
    parser.add_argument("--out", type=Path, default=None, help="write the curve as JSON here")
    parser.add_argument("--compare", type=int, nargs=2, default=None, metavar=("LATER", "EARLIER"),
                        help="with --score DIR: the paired FD difference of two of its steps "
                             "(--n clips each, the same noise)")  # fmt: skip
    parser.add_argument("--store", action="store_true",
                        help="keep the curve as the registered drums-mel's metric['curve']")  # fmt: skip
    parser.add_argument("--store-file", type=Path, nargs="+", default=None,
                        help="keep the curve of earlier --out FILEs (no scoring; the rows of "
                             "several files, scored alike, are merged)")  # fmt: skip
    parser.add_argument("--larger", type=Path, nargs="+", default=None,
                        help="with --store-file: earlier --out files of a few steps scored "
                             "with a larger --n, kept as the curve's 'larger' part")  # fmt: skip
    parser.add_argument("--paired", type=Path, default=None,
                        help="with --store-file: an earlier --compare --out file, kept as the "
                             "curve's 'paired' part")  # fmt: skip
    parser.add_argument("--beyond", type=Path, nargs="+", default=None,
                        help="with --store-file: --out files of the run's steps after the "
                             "registered model's, kept as the curve's 'beyond' part")  # fmt: skip
    parser.add_argument("--beyond-paired", type=Path, default=None,
                        help="with --beyond: a --compare --out file of a later step against "
                             "the registered model's, kept as 'beyond'['paired']")  # fmt: skip
    args = parser.parse_args()
    if args.store_file is not None:
        curve = merge([json.loads(f.read_text()) for f in args.store_file])
        if args.larger is not None:
            curve["larger"] = merge([json.loads(f.read_text()) for f in args.larger])
        if args.paired is not None:
            curve["paired"] = _without_seconds(json.loads(args.paired.read_text()))
        if args.beyond is not None:
            curve["beyond"] = beyond(tl, curve, [json.loads(f.read_text()) for f in args.beyond],
                                     None if args.beyond_paired is None
                                     else json.loads(args.beyond_paired.read_text()))  # fmt: skip
        store(tl, curve)
        return
    if args.export is not None:
        run, step, out = args.export
        export(tl, Path(run), int(step), Path(out), args.name)
        return
    if args.train is None and args.score is None:
        parser.error("nothing to do: give --train DIR and/or --score DIR (or --store-file).")
    tl.setup(seed=0)
    if args.train is not None:
        train(tl, args.train, args.steps, args.every, args.resume, args.name)
    if args.score is None:
        return
    t0 = time.perf_counter()
    if args.compare is not None:
        row = compare(tl, args.score, *args.compare, n=args.n)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        if args.out is not None:
            with tl.checkpoints.atomic_write(args.out, "w") as f:
                json.dump(row, f, indent=1)
        return
    curve = score(tl, args.score, args.n, args.at)
    curve.update(threads=torch.get_num_threads(), seconds=round(time.perf_counter() - t0, 1))
    print(json.dumps(curve, indent=1))
    if args.out is not None:
        with tl.checkpoints.atomic_write(args.out, "w") as f:
            json.dump(curve, f, indent=1)
    if args.store:
        store(tl, curve)


def merge(curves: list[dict[str, Any]]) -> dict[str, Any]:
    """One curve from the rows of several ``--score`` runs, scored alike, ordered by step.

    The runs must agree on what makes their distances comparable (clips per set, sampler
    steps, and so the floor and the ceiling, which come from the same real sets); a step
    scored twice is an error. Each run's ``seconds`` and ``threads`` are dropped.
    """
    if not curves:
        raise ValueError("merge: curves is empty. Fix: pass at least one --out file.")
    first = curves[0]
    for c in curves[1:]:
        for key in ("n_clips", "sampler_steps", "fd_floor", "fd_ceiling"):
            if c[key] != first[key]:
                raise ValueError(f"merge: the runs were not scored alike ({key} {c[key]} vs "
                                 f"{first[key]}). Fix: score them with the same --n.")  # fmt: skip
    rows = sorted((r for c in curves for r in c["rows"]), key=lambda r: r["steps"])
    steps = [r["steps"] for r in rows]
    if len(set(steps)) != len(steps):
        raise ValueError(f"merge: a step is scored twice ({steps}). Fix: keep one file per step.")
    keep = {k: v for k, v in first.items() if k not in ("rows", "seconds", "threads")}
    return {**keep, "rows": rows}


def _without_seconds(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "seconds"}


def beyond(
    tl: Any,
    curve: dict[str, Any],
    runs: list[dict[str, Any]],
    paired: dict[str, Any] | None = None,
    weights_dir: Path | None = None,
) -> dict[str, Any]:
    """The run's points after the registered model's step (``--score`` files scored as
    ``curve`` is), with an optional ``--compare`` of a later step against the registered one:
    where the curve goes once the shipped checkpoint is passed."""
    ref = tl.checkpoints.reference("drums-mel", weights_dir=weights_dir)
    part = merge([{**curve, "rows": []}, *runs])  # scored alike, or an error
    late = [r["steps"] for r in part["rows"]]
    if not late or min(late) <= ref.steps:
        raise ValueError(f"--beyond: its steps {late} must all come after the registered "
                         f"model's {ref.steps}. Fix: score the run's later checkpoints.")  # fmt: skip
    out = {"rows": part["rows"]}
    if paired is not None:
        if paired["earlier"] != ref.steps or paired["later"] not in late:
            raise ValueError(f"--beyond-paired: it compares {paired['later']} with "
                             f"{paired['earlier']} steps; it must compare one of {late} with "
                             f"the registered {ref.steps}.")  # fmt: skip
        out["paired"] = _without_seconds(paired)
    return out


def store(tl: Any, curve: dict[str, Any], weights_dir: Path | None = None) -> Any:
    """Keep ``curve`` as the registered ``drums-mel``'s ``metric["curve"]`` (same weights)."""
    return tl.checkpoints.set_metric(
        "drums-mel", "curve", _without_seconds(curve), weights_dir=weights_dir
    )


if __name__ == "__main__":
    main()
