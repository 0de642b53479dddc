"""Quality against training time on a GPU: a family's `full` recipe, scored as it trains.

Trains one family's network with its `full` recipe (`bench_gpu._trainers`, every training
clip of the recipe) on CUDA, exports the EMA weights (float16, as the references are) at the
steps given by `--exports` while `--minutes` of training time last, then scores every export
with the family's own `evaluate` (the chapter's measure: FD against real test clips, with
the real-vs-real floor; the MIDI model's note-following scores), beside the shipped `book`
reference scored the same way on the same machine. Writes `<out>/<family>.json` and the
exports `<out>/<network>-<steps>.safetensors`.

This is how issue 25's curve (quality against training time) is measured; the exports that
beat the shipped references can be registered with `tl.checkpoints.add_reference`.

Run (a CUDA machine): python benchmarks/gpu_train.py drums-unet --minutes 5 --out runs/gpu
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _score(family: str, models: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from tutorial_lib.families import drums_mel, drums_unet, guitar_latent, midi_synth

    def clean(res: dict[str, Any]) -> dict[str, Any]:
        return {
            label: {k: v for k, v in r.items() if isinstance(v, (int, float, str, dict))}
            for label, r in res.items()
        }

    if family == "drums-unet":
        return clean(drums_unet.evaluate(models, n_per_class=args.n_per_class))
    if family == "drums-mel":
        return clean(drums_mel.evaluate(models, n=args.n_per_class * 4, ceiling=False))
    if family == "midi-synth":
        return clean(midi_synth.evaluate(models, n=32, ceiling=False))
    if family == "guitar-latent":
        return clean(guitar_latent.evaluate(models, n=args.n_per_class * 4))
    raise ValueError(f"family: {family!r} has no scoring here")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--exports", default="1000,2000,4000,8000,12000,16000,24000,32000,40000")
    parser.add_argument("--network", default=None, help="which network of the recipe")
    parser.add_argument("--n-per-class", type=int, default=50)
    parser.add_argument("--out", default="runs/gpu")
    parser.add_argument("--device", default="cuda", help="cpu only to try the script itself")
    args = parser.parse_args(argv)
    import torch
    from bench_gpu import _trainers

    import tutorial_lib as tl
    from tutorial_lib import checkpoints

    tl.set_mode("full")
    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    trainers = _trainers(args.family, 10**9, device)
    name, trainer, full_steps = next(
        t for t in trainers if args.network is None or t[0] == args.network
    )
    del trainers
    trainer.progress = False
    exports = [int(s) for s in args.exports.split(",") if int(s) <= full_steps]
    start = time.perf_counter()
    written: dict[str, int] = {}
    for stop in exports:
        trainer.max_steps = stop
        trainer.fit()
        path = out / f"{name}-{stop}.safetensors"
        trainer.export(path, dtype=torch.float16, metadata={"recipe": args.family,
                       "mode": "full", "steps": stop, "device": gpu})  # fmt: skip
        written[path.stem] = stop
        elapsed = time.perf_counter() - start
        print(f"{name}: {stop} steps in {elapsed:.0f} s", flush=True)
        if (
            elapsed / stop * (exports[min(len(exports) - 1, exports.index(stop) + 1)])
            > args.minutes * 60
        ):
            break
    train_s = time.perf_counter() - start
    from tutorial_lib.families import drums_mel, drums_unet, guitar_latent, midi_synth

    fam = {"drums-unet": drums_unet, "drums-mel": drums_mel, "midi-synth": midi_synth,
           "guitar-latent": guitar_latent}[args.family]  # fmt: skip
    models: dict[str, Any] = {"book reference": fam.load(name).to(device)}
    for stem in written:
        net = fam.build(midi_synth._config(name) if args.family == "midi-synth" else None)
        checkpoints.load_into(net, out / f"{stem}.safetensors")
        models[stem] = net.float().to(device).eval()
    t0 = time.perf_counter()
    scores = _score(args.family, models, args)
    result = {
        "family": args.family, "network": name, "machine": gpu,
        "train_s": round(train_s, 1), "score_s": round(time.perf_counter() - t0, 1),
        "steps": written, "scores": scores,
        "settings": {k: v for k, v in vars(args).items()},
    }  # fmt: skip
    with checkpoints.atomic_write(out / f"{args.family}.json", "w") as f:
        json.dump(result, f, indent=1, default=str)
    print(json.dumps(result, indent=1, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
