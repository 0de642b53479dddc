"""Mel vs waveform: chapter 4's mel U-Net against chapter 3's waveform U-Net, on the same drums.

Measures both reference models the same way, on this machine's CPU:

- ``parameters``; ``train_s_per_step``: mean time of a training step (forward, backward,
  AdamW) at each recipe's batch, after two warm-up steps; ``peak_mib``: the peak memory of
  one such step (``tl.memory.peak_step_memory``: the process's RSS growth on a CPU);
- ``sample_s_per_clip``: time to generate 16 clips with each family's default sampler,
  divided by 16 (the mel route includes the 8-bit rounding and Griffin-Lim);
- ``fd``/``kid``: the Fréchet and kernel distances of ``n`` clips against real test clips, with
  the floor (real validation clips) and, for the mel route, the ceiling (the validation clips
  through ``Mel`` and Griffin-Lim). The waveform model is sampled with its own settings
  (classes in turn, guidance 3) and unconditionally (``waveform_uncond_fd``), as the mel model is;
- ``tail_db``: the median level of the mel model's clips' quietest tenth (real hits: -120);
  ``first_x0_mean``/``silent_share``: the mean of the picture that the first DDIM step
  estimates from noise (clamped to [-1, 1], as the sampler uses it) and the share of the final
  pictures' pixels at the silence floor (below -0.99), against the real pictures'
  ``real_mean``/``real_silent_share``: how far the sampler starts, and ends, from real pictures.

``--previous FILE`` scores an earlier mel checkpoint the same way (``--previous-prediction``:
what it predicts, default ``eps``, the seed's choice) and stores it as the metric's
``previous`` entry: chapter 4 shows why the reference predicts ``v``.

Run (about 10 min on 2 CPU cores with the defaults):

    .venv/bin/python benchmarks/bench_mel_vs_waveform.py --out mel_vs_waveform.json
    # after `tutorial-lib train drums-mel --mode book --out runs/drums-mel`:
    .venv/bin/python benchmarks/bench_mel_vs_waveform.py --weights runs/drums-mel --register
    # with the seed's eps network of the same recipe, scored alongside (chapter 4's diagnosis):
    git show cf63d7b:src/tutorial_lib/weights/drums-mel.safetensors > runs/drums-mel-eps.safetensors
    .venv/bin/python benchmarks/bench_mel_vs_waveform.py --weights runs/drums-mel \
        --previous runs/drums-mel-eps.safetensors --register

``--same-training FILE`` scores, the same way, the ``v`` network trained as long as the
``--previous`` one (the earlier 4,000-step reference) and stores it as ``same_training``:
chapter 4 compares the two objectives after the same training, and the shipped reference,
trained four times as long, next to them.

``--quality-only`` (with ``--register``) re-measures only what changes with the mel weights
(``mel_quality``: distances, tails, picture diagnostics) and keeps the registered costs,
waveform rows and ``previous`` / ``same_training`` entries: the costs are the network's and the
machine's, not the weights', and the waveform rows are chapter 3's model's.

``--waveform-only`` re-measures just the waveform U-Net's FD/KID rows (after chapter 3's
reference was retrained) and stores them in the registered metric, keeping the rest.

``--register`` copies ``drums-mel.safetensors`` into the package with
``tl.checkpoints.add_reference`` and stores these numbers as its ``metric``: chapter 4's
Section 5 prints them from there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def _time_steps(model: Any, step_fn: Any, batch: Any, steps: int = 6) -> float:
    for _ in range(2):
        step_fn(model, batch)
    start = time.perf_counter()
    for _ in range(steps):
        step_fn(model, batch)
    return (time.perf_counter() - start) / steps


def _costs(tl: Any, model: Any, batch: Any, loss: Any) -> dict[str, Any]:
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(m: Any, b: Any) -> None:
        loss(m, b).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    model.train()
    seconds = _time_steps(model, step, batch)
    x = batch["audio"] if isinstance(batch, dict) else batch
    peak = tl.memory.peak_step_memory(model, x, lambda m, _: step(m, batch))
    model.eval()
    return {"train_s_per_step": seconds, "peak_mib": peak["bytes"] / 2**20,
            "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip


def _mel_net(tl: Any, path: Path) -> Any:
    """The unconditional mel network of an exported checkpoint, float32, in eval mode."""
    fam = tl.families.drums_mel
    net = fam.build()
    tl.checkpoints.load_into(net, path, config=fam.CONFIG)
    return net.float().eval()


def measure(tl: Any, mel_path: Path, n: int, seed: int = 0) -> dict[str, Any]:
    """Every number of the comparison, for the mel checkpoint at ``mel_path``."""
    import torch

    mel_fam, wave_fam = tl.families.drums_mel, tl.families.drums_unet
    mel_net = _mel_net(tl, mel_path)
    wave_net = wave_fam.load("drums-unet")
    out: dict[str, Any] = {"threads": torch.get_num_threads(), "n_clips": n,
                           "sampler_steps": mel_fam.SAMPLING["steps"],
                           "waveform_sampler_steps": wave_fam.SAMPLING["steps"]}  # fmt: skip

    # training cost, each at its recipe's batch
    torch.manual_seed(seed)
    s_mel, s_wave = mel_fam.train_settings("book"), wave_fam.train_settings("book")
    images = mel_fam.images(mel_fam.dataset(s_mel["batch"]))
    ab = mel_fam.alpha_bars()
    costs = _costs(tl, mel_fam.build(), images,
                   lambda m, b: tl.objectives.ddpm_loss(m, b, ab,
                                                        prediction=mel_fam.PREDICTION))  # fmt: skip
    out.update({**costs, "batch": s_mel["batch"]})
    clips = wave_fam.dataset(s_wave["batch"])
    wave_batch = {"audio": clips.tensors(), "label": torch.from_numpy(clips.labels)}
    loss = tl.vdiffusion.make_loss_fn(conditional=True, class_dropout=0.1)
    costs = _costs(tl, wave_fam.build(), wave_batch, loss)
    out.update({f"waveform_{k}": v for k, v in costs.items()})
    out["waveform_batch"] = s_wave["batch"]

    # sampling cost per clip (16 clips)
    start = time.perf_counter()
    mel_fam.to_audio(mel_fam.sample_images(16, seed=seed, model=mel_net))
    out["sample_s_per_clip"] = (time.perf_counter() - start) / 16
    start = time.perf_counter()
    wave_fam._sample_batches(wave_net, 16, None, seed, dict(wave_fam.SAMPLING))
    out["waveform_sample_s_per_clip"] = (time.perf_counter() - start) / 16

    # distances to real test clips: the same real sets for both
    out.update(mel_quality(tl, mel_net, n, seed))
    out.update(waveform_scores(tl, wave_net, n, seed))
    return out


def mel_quality(tl: Any, mel_net: Any, n: int, seed: int = 0) -> dict[str, Any]:
    """The mel network's own rows: FD/KID of ``n`` clips with the interval, the floor and the
    ceiling, the tails and the picture diagnostics (what changes with its weights)."""
    mel_fam = tl.families.drums_mel
    scores = mel_fam.evaluate({"mel": mel_net}, n=n, seed=seed, ceiling=True)
    mel_row, ceiling = scores["mel"], scores["real through Mel + Griffin-Lim"]
    out = {k: mel_row[k] for k in ("fd", "fd_low", "fd_high", "fd_floor", "kid", "kid_floor",
                                   "tail_db")}  # fmt: skip
    out.update(_pictures(tl, mel_net, n, seed, mel_fam.PREDICTION))
    out.update({"fd_ceiling": ceiling["fd"], "kid_ceiling": ceiling["kid"]})
    return out


def waveform_scores(tl: Any, wave_net: Any, n: int, seed: int = 0) -> dict[str, Any]:
    """FD/KID of ``n`` clips of chapter 3's network against the mel route's real sets: guided by
    class (the classes in turn, its own settings) and unconditional (``waveform_uncond_``)."""
    mel_fam, wave_fam = tl.families.drums_mel, tl.families.drums_unet
    e_test = tl.metrics.embed(mel_fam.dataset(n, "test"))
    e_val = tl.metrics.embed(mel_fam.dataset(n, "validation"))
    classes = [wave_fam.CLASSES[i % len(wave_fam.CLASSES)] for i in range(n)]
    out: dict[str, Any] = {}
    for key, labels, sampling in (
        ("waveform_", classes, dict(wave_fam.SAMPLING)),
        ("waveform_uncond_", None, {**wave_fam.SAMPLING, "guidance": 1.0}),
    ):
        x = wave_fam._sample_batches(wave_net, n, labels, seed, sampling).clamp(-1, 1)
        ev = tl.metrics.evaluate(e_test, tl.metrics.embed(x, wave_fam.SR), reference=e_val,
                                 seed=seed)  # fmt: skip
        out[key + "fd"], out[key + "kid"] = float(ev["fd"].value), float(ev["kid"].value)
    return out


def _pictures(tl: Any, net: Any, n: int, seed: int, prediction: str) -> dict[str, float]:
    """Where sampling starts and ends against real pictures (see the module doc)."""
    import torch

    fam = tl.families.drums_mel
    real = fam.images(fam.dataset(n, "validation"))
    noise = torch.randn(n, *real.shape[1:], generator=torch.Generator().manual_seed(seed))
    ab = fam.alpha_bars()
    with torch.no_grad():
        out = net(noise[:64], torch.ones(min(n, 64)))  # the first visited step: t = 1000 / 1000
        first = tl.objectives.predict_x0(noise[:64], out, float(ab[-1]), prediction)
    final = fam.sample_images(min(n, 64), seed=seed, model=net, prediction=prediction)
    return {
        "first_x0_mean": float(first.clamp(-1, 1).mean()),
        "silent_share": float((final < -0.99).float().mean()),
        "real_mean": float(real.mean()),
        "real_silent_share": float((real < -0.99).float().mean()),
    }


def previous(tl: Any, path: Path, n: int, prediction: str, seed: int = 0) -> dict[str, Any]:
    """FD, KID, tails and the picture diagnostics of an earlier mel checkpoint at ``path``."""
    fam = tl.families.drums_mel
    net = _mel_net(tl, path)
    meta = tl.checkpoints.load(path)[2]
    row = fam.evaluate({"previous": net}, n=n, seed=seed, ceiling=False,
                       prediction=prediction)["previous"]  # fmt: skip
    out = {k: row[k] for k in ("fd", "fd_low", "fd_high", "kid", "tail_db")}
    out.update(_pictures(tl, net, n, seed, prediction))
    out.update({"prediction": prediction, "steps": int(meta["steps"])})
    return out


def main() -> None:
    import tutorial_lib as tl

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=None,
                        help="folder with drums-mel.safetensors (default: the shipped one)")  # fmt: skip
    parser.add_argument("--n", type=int, default=200, help="clips per set")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    parser.add_argument("--previous", type=Path, default=None,
                        help="an earlier drums-mel checkpoint file, scored alongside")  # fmt: skip
    parser.add_argument("--previous-prediction", default="eps", choices=("eps", "v", "x0"),
                        help="what the --previous network predicts (default: eps)")  # fmt: skip
    parser.add_argument("--same-training", type=Path, default=None,
                        help="the v checkpoint trained as long as --previous, scored alongside")  # fmt: skip
    parser.add_argument("--quality-only", action="store_true",
                        help="re-measure only the mel weights' rows; keep the registered costs, "
                             "waveform rows and earlier checkpoints' entries")  # fmt: skip
    parser.add_argument("--register", action="store_true",
                        help="add the checkpoint of --weights to the package with these numbers")  # fmt: skip
    parser.add_argument("--waveform-only", action="store_true",
                        help="re-measure only the waveform U-Net's rows (after it was retrained) "
                             "and store them in the registered drums-mel metric")  # fmt: skip
    args = parser.parse_args()
    if args.register and args.weights is None:
        parser.error("--register needs --weights (the folder the recipe wrote).")
    tl.setup(seed=0)
    if args.waveform_only:
        ref = tl.checkpoints.reference("drums-mel")
        if int(ref.metric.get("n_clips", -1)) != args.n:
            parser.error(
                f"--waveform-only: the registered rows use --n {ref.metric.get('n_clips')}"
            )
        t0 = time.perf_counter()
        rows = waveform_scores(tl, tl.families.drums_unet.load("drums-unet"), args.n)
        steps = tl.checkpoints.reference("drums-unet").steps
        print(json.dumps(rows, indent=1), f"({time.perf_counter() - t0:.0f} s)")
        _register(tl, ref.path, {**ref.metric, **rows, "waveform_steps": steps})
        return
    path = (tl.checkpoints.reference("drums-mel").path if args.weights is None
            else args.weights / "drums-mel.safetensors")  # fmt: skip
    t0 = time.perf_counter()
    if args.quality_only:
        kept = tl.checkpoints.reference("drums-mel").metric
        if int(kept.get("n_clips", -1)) != args.n:
            parser.error(f"--quality-only: the registered rows use --n {kept.get('n_clips')}")
        fresh = mel_quality(tl, _mel_net(tl, path), args.n)
        numbers = {**{k: v for k, v in kept.items() if k not in ("curve", "final_loss")}, **fresh}
    else:
        numbers = measure(tl, path, args.n)
    if args.same_training is not None:
        numbers["same_training"] = previous(tl, args.same_training, args.n, "v")
    if args.previous is not None:
        numbers["previous"] = previous(tl, args.previous, args.n, args.previous_prediction)
    numbers["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(numbers, indent=1))
    if args.out is not None:
        with tl.checkpoints.atomic_write(args.out, "w") as f:
            json.dump(numbers, f, indent=1)
    if args.register:
        _register(tl, path, numbers)


def _register(tl: Any, path: Path, numbers: dict[str, Any], weights_dir: Path | None = None) -> Any:
    """Add the mel checkpoint to the registry (the package's, or ``weights_dir``) with ``numbers``."""
    meta = tl.checkpoints.load(path)[2]
    metric = {k: v for k, v in numbers.items() if k != "seconds"}
    metric["final_loss"] = float(meta["final_loss"])
    try:  # bench_mel_curve.py's curve is not measured here: keep the stored one
        kept = tl.checkpoints.reference("drums-mel", weights_dir=weights_dir).metric
    except ValueError:
        kept = {}
    for key in ("curve", "previous", "same_training"):  # measured by other runs: kept
        if key in kept and key not in metric:
            metric[key] = kept[key]
    ref = tl.checkpoints.add_reference(
        path, "drums-mel", recipe="drums-mel", steps=int(meta["steps"]), metric=metric,
        description=("2-D U-Net (DDPM, v prediction) on 64 x 64 mel images of 16 kHz drum hits, "
                     "Griffin-Lim audio; `tutorial-lib train drums-mel --mode book`."),
        weights_dir=weights_dir,
    )  # fmt: skip
    print(f"registered {ref.name}: {ref.steps} steps, {ref.file}")
    return ref


if __name__ == "__main__":
    main()
