"""The `full` recipes on a GPU: training steps/s, peak GPU memory, sampling time, projected runs.

For every family, the recipe's own trainer (data, loss, optimiser, EMA, mixed precision, as
`tutorial-lib train RECIPE --mode full --device cuda` builds it; only the number of training
clips is cut to `--clips`, which does not change a step's cost: the clips live on the GPU)
runs `--warmup` steps, then `--steps` timed steps (host clock around `fit`, the GPU
synchronised at both ends). Peak memory is `torch.cuda.max_memory_allocated` over the timed
steps. Sampling times `family.sample(64, device='cuda')` after one warm-up call, clips back on
the CPU, decoding included (Griffin-Lim for the mel and MIDI models). The projected time of a
whole `full` recipe is the sum, over the networks it trains, of its steps divided by the
measured rate (data rendering not included; it is cached after the first run).

Goals (issue 24): every family's `full` recipe within 10 minutes on one datacenter GPU, and
64 clips of any family sampled in under 5 s there.

Run (a CUDA machine): python benchmarks/bench_gpu.py --out benchmarks/gpu.json
It refuses to run without CUDA: the numbers would say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _trainers(family: str, clips: int, device: Any) -> list[tuple[str, Any, int]]:
    """``[(network, trainer, full steps)]`` of a family's full recipe, on ``device``."""
    from tutorial_lib.families import drums_mel, drums_small, drums_unet, guitar_latent, midi_synth

    if family == "drums-small":
        out = []
        for name in drums_small.CHECKPOINTS:
            s = drums_small.train_settings("full", name=name)
            out.append((name, drums_small._trainer(name, "full", None, False, device),
                        s["steps"]))  # fmt: skip
        return out
    if family == "drums-unet":
        s = drums_unet.train_settings("full")
        s["n_train"] = min(s["n_train"], clips)
        t = drums_unet._trainer(drums_unet._seeded_build(0), s, None, drums_unet.CONFIG, device)
        return [("drums-unet", t, s["steps"])]
    if family == "drums-mel":
        s = drums_mel.train_settings("full")
        s["n_train"] = min(s["n_train"], clips)
        return [("drums-mel", drums_mel._trainer(s, None, device), s["steps"])]
    if family == "guitar-latent":
        s = guitar_latent.train_settings("full")
        s["n_train"] = min(s["n_train"], clips)
        codec = guitar_latent._codec_trainer(s, None, device)
        latent = guitar_latent._latent_trainer(s, guitar_latent.load_codec(), None, device=device)
        return [("guitar-codec", codec, s["codec_steps"]), ("guitar-latent", latent, s["steps"])]
    if family == "midi-synth":
        s = midi_synth.train_settings("full")
        s["n_train"] = min(s["n_train"], clips)
        return [
            (name, midi_synth._trainer(s, name, None, progress=False, device=device), s["steps"])
            for name in midi_synth.CHECKPOINTS
        ]
    raise ValueError(f"family: unknown {family!r}")


SAMPLE_MODEL = {
    "drums-small": "drums-small-rf",
    "drums-unet": "drums-unet",
    "drums-mel": "drums-mel",
    "guitar-latent": "guitar-latent",
    "midi-synth": "midi-synth",
}


def bench_family(family: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from tutorial_lib import registry

    device = torch.device(args.device)
    row: dict[str, Any] = {"family": family, "networks": []}
    projected = 0.0
    for name, trainer, full_steps in _trainers(family, args.clips, device):
        trainer.progress = False
        trainer.max_steps = args.warmup
        trainer.fit()
        _sync()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        trainer.max_steps = args.warmup + args.steps
        start = time.perf_counter()
        trainer.fit()
        _sync()
        seconds = time.perf_counter() - start
        rate = args.steps / seconds
        source = trainer._source.fn  # RandomBatches has batch_size, chapter 6's batch
        batch = getattr(source, "batch_size", getattr(source, "batch", None))
        projected += full_steps / rate
        row["networks"].append({
            "network": name, "steps_per_s": round(rate, 1), "full_steps": full_steps,
            "batch": batch,
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3)
            if device.type == "cuda" else None,
            "amp": None if trainer.amp_dtype is None else str(trainer.amp_dtype),
            "projected_min": round(full_steps / rate / 60, 2),
        })  # fmt: skip
        print(f"{family:14s} {name:22s} {rate:8.1f} steps/s", flush=True)
        del trainer
        if device.type == "cuda":
            torch.cuda.empty_cache()
    row["projected_full_min"] = round(projected / 60, 2)
    model = SAMPLE_MODEL[family]
    registry.sample(model, 4, device=device)  # warm-up (loads, builds kernels)
    _sync()
    start = time.perf_counter()
    audio, _ = registry.sample(model, args.n_sample, device=device)
    _sync()
    row["sample_model"] = model
    row["sample_n"] = int(audio.shape[0])
    row["sample_s"] = round(time.perf_counter() - start, 2)
    print(f"{family:14s} sampled {args.n_sample} clips in {row['sample_s']} s", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="*", default=list(SAMPLE_MODEL))
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--clips", type=int, default=512, help="training clips per family")
    parser.add_argument("--n-sample", type=int, default=64)
    parser.add_argument("--out", default="benchmarks/gpu.json")
    parser.add_argument("--device", default="cuda", help="cpu only to try the script itself")
    args = parser.parse_args(argv)
    import torch

    import tutorial_lib as tl

    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_gpu.py: no CUDA GPU here; run it on a GPU machine.", file=sys.stderr)
        return 2
    tl.set_mode("full")
    rows = []
    for family in args.families:
        try:
            rows.append(bench_family(family, args))
        except Exception as err:  # one family's failure must not hide the others' numbers
            import traceback

            traceback.print_exc()
            rows.append({"family": family, "error": f"{type(err).__name__}: {err}"})
    result = {
        "machine": torch.cuda.get_device_name(0) if args.device == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "rows": rows,
    }
    from tutorial_lib.checkpoints import atomic_write

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
