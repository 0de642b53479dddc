"""Sample quality of the drum models: the scores stored with the reference checkpoints.

Scores the untrained model, ``drums-unet-short`` and ``drums-unet`` with
``tl.families.drums_unet.evaluate`` (FD and KID against real test clips, their floor, and the
per-class check) using the models' sampler settings (``tl.families.drums_unet.SAMPLING``), and the
reference once more for each setting of the grid below with the deterministic sampler
(``eta = 0``), to show what the time spacing ``rho`` and classifier-free guidance ``w`` do.

Run (about 15 min on 2 CPU cores with the defaults):

    .venv/bin/python benchmarks/bench_drums_unet.py --out drums_unet_scores.json
    # after training new checkpoints with `tutorial-lib train drums-unet --out runs/x`:
    .venv/bin/python benchmarks/bench_drums_unet.py --weights runs/x --register
    # with the pair trained before the data were scaled (chapter 3's "before" row):
    .venv/bin/python benchmarks/bench_drums_unet.py --weights runs/x --previous runs/raw --register

``--weights DIR`` scores ``DIR/drums-unet.safetensors`` and ``DIR/drums-unet-short.safetensors``
instead of the shipped files; ``--register`` then copies them into the package with
``tl.checkpoints.add_reference`` and stores the measured numbers as their ``metric``.

Where the reference's distance comes from (chapter 3; about 15 min): ``--noise-floor`` adds
white noise at several levels to real clips and scores the reference with more sampler steps
and with DDIM's ``eta`` (fresh noise at each step); ``--store`` keeps the result with the
registered model as ``metric["noise_floor"]``::

    .venv/bin/python benchmarks/bench_drums_unet.py --noise-floor --store \
        --out benchmarks/drums_unet_noise_floor.json

Is a class recognised as often as real clips of it are? ``--class-check`` scores the
reference with the family's sampler at ``--n-per-class`` clips per class (100 here, four
times the main rows' 25), next to the same classifier on as many real test clips of each
class (each class's own ceiling) and on white noise at the real clips' level (what a class
gets for free); each share with its 95 % Wilson interval. ``--store`` keeps it with the
registered model as ``metric["class_check"]`` (236 s on 2 CPU cores)::

    .venv/bin/python benchmarks/bench_drums_unet.py --class-check --n-per-class 100 --store \
        --out benchmarks/drums_unet_class_check.json

Would more guidance make the closed hats? ``--guidance-screen W [W ...]`` scores the
reference with the family's sampler at each weight ``W`` instead of ``SAMPLING["guidance"]``
(FD with its interval, tails, each class's share beside real clips'); nothing is stored with
the model (about 5 min per weight at 100 clips per class)::

    .venv/bin/python benchmarks/bench_drums_unet.py --guidance-screen 3 4 5 --n-per-class 100 \
        --out benchmarks/drums_unet_guidance.json

Quality against training steps: ``--curve LABEL=DIR`` scores every checkpoint of a run in
``DIR`` (the recipe's exported ``drums-unet*.safetensors``, or the trainer's resumable
``step_*.safetensors``, whose EMA weights are used), at the steps ``--curve-steps`` (default:
all), and stores them as ``curve[LABEL]``. A part measured earlier (``--skip-main --out
part.json``, e.g. while a run still trains) is merged with ``--merge part.json``; entries
not measured again (``previous``, ``curve``) are carried over from the registered metric::

    # the constant-learning-rate run (the reference before the cosine decay), its five files:
    .venv/bin/python benchmarks/bench_drums_unet.py --skip-main --curve constant=runs/du-scale \
        --out runs/curve-constant.json
    # the cosine run's intermediate steps (its trainer's checkpoints), while it still trains:
    .venv/bin/python benchmarks/bench_drums_unet.py --skip-main --curve cosine=runs/du-cos/keep \
        --curve-steps 1500 3000 4500 --out runs/curve-cosine.json
    # its pair, registered with both curves (the previous raw-clip rows are carried over):
    .venv/bin/python benchmarks/bench_drums_unet.py --weights runs/du-cos \
        --merge runs/curve-constant.json --merge runs/curve-cosine.json --register \
        --out benchmarks/drums_unet_scores.json
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path
from typing import Any

#: Sampler settings compared on the reference model: (rho, guidance), deterministic (eta = 0).
GRID = ((1.0, 1.0), (3.0, 1.0), (1.0, 3.0), (3.0, 3.0))
#: ``--noise-floor``: the reference with the family's rho and guidance and these (steps, eta):
#: more deterministic steps, and DDIM's fresh noise (eta > 0) at each step.
NOISE_FLOOR_ROWS = ((30, 0.0), (100, 0.0), (30, 0.5), (30, 1.0), (60, 1.0))
#: ``--noise-floor``: white noise at these levels (dBFS RMS) added to real clips.
WHITE_NOISE_DB = (-80.0, -75.0, -70.0, -65.0, -60.0, -55.0)


def _load(path: Path) -> Any:
    """A network from an exported checkpoint, or from a trainer's (its EMA weights)."""
    import tutorial_lib as tl

    model = tl.families.drums_unet.build()
    if path.name.startswith("step_"):
        model.load_state_dict(tl.training.ema_weights(path)[0])
    else:
        tl.checkpoints.load_into(model, path, config=tl.families.drums_unet.CONFIG)
    return model.float().eval()


def _steps_of(tl: Any, path: Path) -> int:
    if path.name.startswith("step_"):
        return int(path.stem.split("_")[1])
    return int(tl.checkpoints.load(path)[2]["steps"])


def _curve(tl: Any, folder: Path, n: int, steps: list[int] | None) -> list[dict[str, Any]]:
    """Every checkpoint of a run in ``folder`` (at ``steps``, or all), scored as the pair is."""
    files = sorted(folder.glob("drums-unet*.safetensors")) + sorted(
        folder.glob("step_*.safetensors")
    )
    chosen = {}
    for f in files:
        k = _steps_of(tl, f)
        if steps is None or k in steps:
            chosen.setdefault(k, f)
    if not chosen:
        raise SystemExit(f"--curve: no checkpoints at steps {steps} in {folder}")
    nets = {k: _load(f) for k, f in sorted(chosen.items())}
    # the deterministic sampler (eta = 0), as the stored curves were scored before the family's
    # sampler got eta = 1 (chapter 3 reads them as one experiment)
    res = tl.families.drums_unet.evaluate(
        {str(k): v for k, v in nets.items()}, n_per_class=n, eta=0.0
    )
    rows = [{"steps": k, **_row(res[str(k)])} for k in sorted(chosen)]
    for r in rows:
        print(
            f"curve {folder}: {r['steps']:>5} steps FD {r['fd']:.1f} class {r['class_accuracy']:.2f}"
        )
    return rows


def _previous(tl: Any, folder: Path, n: int) -> dict[str, Any]:
    """The recipe's pair before the data were scaled, scored as the current pair is.

    Those networks were trained on the raw clips, so they are sampled with ``SCALE = 1``
    (the family's sampler then clamps to [-1, 1] and multiplies by 1, exactly the sampler
    they were made with).
    """
    fam = tl.families.drums_unet
    nets = {k: _load(folder / f"drums-unet{sfx}.safetensors") for k, sfx in
            (("reference", ""), ("short", "-short"))}  # fmt: skip
    scale, fam.SCALE = fam.SCALE, 1.0
    try:
        res = fam.evaluate(nets, n_per_class=n, eta=0.0)  # as first scored (see _curve)
    finally:
        fam.SCALE = scale
    steps = {k: int(tl.checkpoints.load(folder / f"drums-unet{sfx}.safetensors")[2]["steps"])
             for k, sfx in (("reference", ""), ("short", "-short"))}  # fmt: skip
    return {k: {**_row(r), "steps": steps[k], "scale": 1.0} for k, r in res.items()}


def _noise_floor(tl: Any, reference: Any, n: int) -> dict[str, Any]:
    """Where the reference's distance comes from (chapter 3, "Where the distance comes from").

    - ``white_noise``: real validation clips with white noise of each level of
      :data:`WHITE_NOISE_DB` added, their FD to the real test clips (the floor is the row
      without noise): what a noise floor alone costs on the book's embedding.
    - ``samplers``: the reference sampled with each (steps, eta) of :data:`NOISE_FLOOR_ROWS`
      (the family's rho and guidance; ``evaluate``'s scores, the same starting noise).
    """
    import numpy as np
    import torch

    fam = tl.families.drums_unet
    m = tl.metrics
    k = 4 * n
    test, val = fam.dataset(k, "test").tensors(), fam.dataset(k, "validation").tensors()
    e_test = m.embed(test, fam.SR)
    white = []
    for db in (None, *WHITE_NOISE_DB):
        gen = torch.Generator().manual_seed(1)
        x = val if db is None else val + 10 ** (db / 20) * torch.randn(val.shape, generator=gen)
        fd = m.frechet_distance(e_test, m.embed(x, fam.SR)).value
        tail = float(np.median(m.tail_level_db(x)))
        white.append({"noise_db": db, "fd": float(fd), "tail_db": tail})
        print(f"white noise {db} dBFS: FD {float(fd):.1f}, tail {tail:.1f} dBFS")
    rows = []
    for steps, eta in NOISE_FLOOR_ROWS:
        t0 = time.perf_counter()
        r = fam.evaluate({"reference": reference}, n_per_class=n, steps=steps, eta=eta)
        row = {"steps": steps, "eta": eta, **_row(r["reference"]),
               "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
        rows.append(row)
        print(f"{steps} steps, eta {eta:g}: FD {row['fd']:.1f} [{row['fd_low']:.1f}, "
              f"{row['fd_high']:.1f}], class {row['class_accuracy']:.2f}, tail {row['tail_db']:.1f}")  # fmt: skip
    return {"n_clips": k, "white_noise": white, "samplers": rows}


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval of a share of ``k`` hits in ``n`` tries (``z``: the normal
    distribution's 97.5th percentile)."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"wilson: expected 0 <= k <= n and n > 0, got k={k}, n={n}.")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _class_check(tl: Any, reference: Any, n: int) -> dict[str, Any]:
    """Each class's share recognised: the reference, real test clips and white noise."""
    fam = tl.families.drums_unet
    r = fam.evaluate({"reference": reference}, n_per_class=n, noise_baseline=True)
    out: dict[str, Any] = {"n_per_class": n, "sampling": dict(fam.SAMPLING)}
    for key, shares in (
        ("reference", r["reference"]["per_class"]),
        ("real", r["reference"]["real_per_class"]),
        ("white_noise", r["white noise"]["per_class"]),
    ):
        out[key] = {}
        for c in fam.CLASSES:
            hits = round(shares[c] * n)  # the test set holds n clips of each class too
            low, high = wilson(hits, n)
            out[key][c] = {"share": shares[c], "low": low, "high": high}
        print(key, {c: f"{v['share']:.2f} [{v['low']:.2f}, {v['high']:.2f}]"
                    for c, v in out[key].items()})  # fmt: skip
    return out


def _guidance_screen(tl: Any, reference: Any, n: int, weights: list[float]) -> dict[str, Any]:
    """The reference with the family's sampler at each guidance weight of ``weights``."""
    fam = tl.families.drums_unet
    rows: dict[str, Any] = {}
    for w in weights:
        r = fam.evaluate({"reference": reference}, n_per_class=n, guidance=w)["reference"]
        rows[f"{w:g}"] = {**_row(r), "real_per_class": r["real_per_class"]}
        print(f"guidance {w:g}: FD {r['fd']:.1f} [{r['fd_low']:.1f}, {r['fd_high']:.1f}], "
              f"tail {r['tail_db']:.1f} dBFS, per class {r['per_class']}")  # fmt: skip
    return {"n_per_class": n, "sampling": dict(fam.SAMPLING), "rows": rows}


def _store_entry(
    tl: Any, path: Path, name: str, key: str, value: Any, weights_dir: Path | None = None
) -> None:
    """Put ``metric[key] = value`` into the registered ``name`` (same file, same entry)."""
    ref = tl.checkpoints.reference(name, weights_dir=weights_dir)
    if tl.checkpoints.sha256(path) != ref.sha256:
        raise SystemExit(f"{path} is not the registered {name!r}: register it first (--register).")
    tl.checkpoints.set_metric(name, key, value, weights_dir=weights_dir)
    print(f"stored {key!r} with {name!r}")


def _report(tl: Any, numbers: dict[str, Any], out: Path | None) -> None:
    """Print ``numbers`` as JSON and, with ``--out``, write them there (atomically)."""
    print(json.dumps(numbers, indent=1))
    if out is not None:
        with tl.checkpoints.atomic_write(out, "w") as f:
            json.dump(numbers, f, indent=1)


def _row(r: dict[str, Any]) -> dict[str, Any]:
    keep = ("fd", "fd_low", "fd_high", "fd_floor", "kid", "kid_floor", "fd_ratio",
            "class_accuracy", "real_accuracy", "tail_db", "tail_db_real")  # fmt: skip
    return {**{k: r[k] for k in keep}, "per_class": r["per_class"]}


def main() -> None:
    import tutorial_lib as tl

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="folder with drums-unet(.short).safetensors (default: the shipped ones)",
    )
    parser.add_argument("--n-per-class", type=int, default=25)
    parser.add_argument(
        "--previous",
        type=Path,
        default=None,
        help="folder with the pair the recipe wrote before the data were scaled (SCALE = 1): "
        "scored the same way and stored as the metric's 'previous' entry",
    )
    parser.add_argument("--curve", action="append", default=[], metavar="LABEL=DIR",
                        help="score every checkpoint of the run in DIR as curve[LABEL]")  # fmt: skip
    parser.add_argument("--curve-steps", type=int, nargs="*", default=None,
                        help="only these steps of the --curve runs")  # fmt: skip
    parser.add_argument("--merge", type=Path, action="append", default=[],
                        help="JSON of an earlier run of this script: its curve is merged in "
                             "(may be given more than once)")  # fmt: skip
    parser.add_argument("--skip-main", action="store_true",
                        help="score only the --curve runs (with --out: a part for --merge)")  # fmt: skip
    parser.add_argument("--noise-floor", action="store_true",
                        help="only where the reference's distance comes from (white noise on "
                             "real clips, more steps, eta > 0); with --store: kept with the "
                             "registered drums-unet as metric['noise_floor']")  # fmt: skip
    parser.add_argument("--class-check", action="store_true",
                        help="only each class's share recognised (the reference, real clips, "
                             "white noise) with 95 %% intervals; with --store: kept with the "
                             "registered drums-unet as metric['class_check']")  # fmt: skip
    parser.add_argument("--guidance-screen", type=float, nargs="+", default=None, metavar="W",
                        help="only the reference at each guidance weight W (FD, tails, each "
                             "class's share); not stored with the model")  # fmt: skip
    parser.add_argument("--store", action="store_true",
                        help="with --noise-floor or --class-check: store the result with the "
                             "registered model")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="write the scores as JSON here")
    parser.add_argument(
        "--register",
        action="store_true",
        help="add the checkpoints of --weights to the package with these scores",
    )
    args = parser.parse_args()
    if args.register and args.weights is None:
        parser.error("--register needs --weights (the folder the recipe wrote).")
    if args.register and args.skip_main:
        parser.error("--register needs the main scores: leave out --skip-main.")
    if args.noise_floor and args.class_check:
        parser.error("--noise-floor and --class-check are separate runs: give one of them.")
    if args.guidance_screen and (args.noise_floor or args.class_check or args.store):
        parser.error("--guidance-screen is a run of its own (nothing to --store).")
    tl.setup(seed=0)
    n = args.n_per_class
    if args.noise_floor or args.class_check or args.guidance_screen:
        path = (tl.checkpoints.reference("drums-unet").path if args.weights is None
                else args.weights / "drums-unet.safetensors")  # fmt: skip
        measures = {"noise_floor": _noise_floor, "class_check": _class_check,
                    "guidance_screen": partial(_guidance_screen, weights=args.guidance_screen)}  # fmt: skip
        key = next(k for k in measures if getattr(args, k))
        t0 = time.perf_counter()
        part = measures[key](tl, _load(path), n)
        part["seconds"] = round(time.perf_counter() - t0, 1)
        _report(tl, part, args.out)
        if args.store:
            _store_entry(tl, path, "drums-unet", key, part)
        return
    curve = {}
    for part in args.merge:
        curve.update(json.loads(part.read_text()).get("curve", {}))
    for spec in args.curve:
        label, _, where = spec.partition("=")
        if not label or not where:
            parser.error(f"--curve: expected LABEL=DIR, got {spec!r}")
        curve[label] = _curve(tl, Path(where), n, args.curve_steps)
    if args.skip_main:
        part = {"n_clips": 4 * n, "curve": curve}
        _report(tl, part, args.out)
        return
    folder = args.weights
    if folder is None:
        paths = {n: tl.checkpoints.reference(n).path for n in ("drums-unet", "drums-unet-short")}
    else:
        paths = {n: folder / f"{n}.safetensors" for n in ("drums-unet", "drums-unet-short")}
    reference, short = _load(paths["drums-unet"]), _load(paths["drums-unet-short"])
    sampling = tl.families.drums_unet.SAMPLING
    t0 = time.perf_counter()
    main_scores = tl.families.drums_unet.evaluate(
        {"untrained": tl.families.drums_unet.build(), "short": short, "reference": reference},
        n_per_class=n,
    )
    grid = {}  # the deterministic sampler (eta = 0) of chapter 3's Section 4
    for rho, w in GRID:
        key = f"rho{rho:g}_w{w:g}"
        r = tl.families.drums_unet.evaluate(
            {"reference": reference}, n_per_class=n, rho=rho, guidance=w, eta=0.0
        )
        grid[key] = _row(r["reference"])
        print(f"{key}: FD {grid[key]['fd']:.1f}, class check {grid[key]['class_accuracy']:.2f}")
    previous = None if args.previous is None else _previous(tl, args.previous, n)
    seconds = time.perf_counter() - t0
    scores = {
        "sampling": dict(sampling),
        "n_clips": 4 * n,
        "models": {k: _row(v) for k, v in main_scores.items()},
        "reference_sampler_grid": grid,
        "seconds": round(seconds, 1),
    }
    if previous is not None:
        scores["previous"] = previous
    if curve:
        scores["curve"] = curve
    _report(tl, scores, args.out)
    if args.register:
        _register(tl, paths, scores)


#: Metric entries carried over when the scores are re-registered without measuring them
#: again: written by other scripts (``autograd_memory``), or by this one on other runs.
KEPT = ("autograd_memory", "previous", "curve", "noise_floor", "class_check")


def _kept(tl: Any, name: str, weights_dir: Path | None = None) -> dict[str, Any]:
    """The entries of :data:`KEPT` of the registered ``name`` (none if it is not registered)."""
    try:
        old = tl.checkpoints.reference(name, weights_dir=weights_dir).metric
    except (KeyError, ValueError):
        return {}
    return {k: old[k] for k in KEPT if k in old}


def _register(
    tl: Any, paths: dict[str, Path], scores: dict[str, Any], weights_dir: Path | None = None
) -> None:
    """Add both checkpoints to the registry (the package's, or ``weights_dir``) with the scores."""

    def flat(r: dict[str, Any], suffix: str = "") -> dict[str, float]:
        keys = ("fd", "fd_low", "fd_high", "kid", "class_accuracy", "tail_db")
        out = {f"{k}{suffix}": r[k] for k in keys if k in r}
        out.update({f"class_accuracy_{c}{suffix}": v for c, v in r["per_class"].items()})
        return out

    common = {
        "fd_floor": scores["models"]["reference"]["fd_floor"],
        "kid_floor": scores["models"]["reference"]["kid_floor"],
        "real_accuracy": scores["models"]["reference"]["real_accuracy"],
        "tail_db_real": scores["models"]["reference"]["tail_db_real"],
        "n_clips": scores["n_clips"],
        "sampler_steps": scores["sampling"]["steps"],
        "sampler_rho": scores["sampling"]["rho"],
        "sampler_guidance": scores["sampling"]["guidance"],
        "sampler_eta": scores["sampling"].get("eta", 0.0),
    }
    models = scores["models"]
    for name, key, extra in (
        ("drums-unet", "reference", {**flat(models["short"], "_short"),
                                     **flat(models["untrained"], "_untrained")}),
        ("drums-unet-short", "short", {}),
    ):  # fmt: skip
        meta = tl.checkpoints.load(paths[name])[2]
        steps = int(meta["steps"])
        metric = {**common, "final_loss": meta["final_loss"], **flat(models[key]), **extra}
        # numbers other benchmarks store with this checkpoint (e.g. bench_autograd_memory.py)
        metric.update(_kept(tl, name, weights_dir))
        for key in ("previous", "curve"):
            if name == "drums-unet" and key in scores:
                metric[key] = scores[key]
        if name == "drums-unet":
            for g, r in scores["reference_sampler_grid"].items():
                metric[f"fd_{g}"] = r["fd"]
                metric[f"class_accuracy_{g}"] = r["class_accuracy"]
        description = (
            "Class-conditional waveform U-Net (v-diffusion), 16 kHz drum hits (kick, snare, "
            "closed_hat, percussion); `tutorial-lib train drums-unet --mode book`."
            if name == "drums-unet"
            else "The drums-unet run after a tenth of its steps (the chapter's baseline)."
        )
        ref = tl.checkpoints.add_reference(
            paths[name], name, recipe="drums-unet", steps=steps, metric=metric,
            description=description, weights_dir=weights_dir,
        )  # fmt: skip
        print(f"registered {ref.name}: {ref.steps} steps, {ref.file}")


if __name__ == "__main__":
    main()
