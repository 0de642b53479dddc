"""Latent diffusion (chapter 5): the book's codec and the latent model, measured.

For the checkpoints the ``guitar-latent`` recipe wrote (``guitar-codec``, ``guitar-latent``),
on this machine's CPU:

- the codec: ``spectral_convergence`` and ``log_spectral_distance`` of held-out test notes
  through it (``tl.families.guitar_latent.reconstruction_scores``), encode and decode time per
  second of audio, parameters;
- the latent model: ``fd``/``kid`` of ``n`` generated notes against ``n`` real test notes, with
  the floor (real validation notes) and the ceiling (the validation notes through the codec);
  time to sample one note (Euler, the family's default steps, decoding included); a training
  step's time and peak memory at the recipe's batch (latent model and codec);
- for comparison, the cost of chapter 3's waveform U-Net architecture on the same notes
  (16,384 samples, unconditional): a training step at batch 12, its peak memory, and the
  time to sample one note with 30 steps. (Its *quality* on guitar notes needs its own
  45-minute training run, not part of this script.)

Run (about 8 min on 2 CPU cores with the defaults)::

    tutorial-lib train guitar-latent --mode book --out runs/guitar-latent
    .venv/bin/python benchmarks/bench_latent.py --weights runs/guitar-latent --register \\
        --out benchmarks/latent.json

``--register`` copies both files into the package (``tl.checkpoints.add_reference``) with
these numbers as their ``metric``: chapter 5 prints them from there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def _step_costs(tl: Any, model: Any, batch: Any, loss: Any) -> dict[str, float]:
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(m: Any, b: Any) -> None:
        loss(m, b).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    model.train()
    for _ in range(2):
        step(model, batch)
    start = time.perf_counter()
    for _ in range(5):
        step(model, batch)
    seconds = (time.perf_counter() - start) / 5
    peak = tl.memory.peak_step_memory(model, batch, lambda m, _: step(m, batch))
    model.eval()
    return {"train_s_per_step": seconds, "peak_mib": peak["bytes"] / 2**20,
            "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip


def _waveform_equal_time(tl: Any, fam: Any, minutes: float, n: int, seed: int) -> dict[str, Any]:
    """Chapter 3's waveform U-Net (unconditional), trained on the same guitar notes for
    ``minutes`` of this CPU, then sampled and scored like the latent model."""
    import torch

    wave = tl.families.drums_unet
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = wave.build({**wave.CONFIG, "classes": None})
    audio = fam.clip_audio(fam.dataset(fam.train_settings("book")["n_train"]))
    trainer = tl.training.Trainer(
        net, tl.vdiffusion.make_loss_fn(conditional=False),
        tl.training.random_batches(audio, 12), max_steps=10**6, lr=1e-3, ema_decay=0.999,
        warmup_steps=100, seed=seed, progress=False,
    )  # fmt: skip
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < 60 * minutes:  # constant learning rate after warm-up
        steps += 20
        trainer.max_steps = steps
        trainer.fit()
    model = trainer.ema_model.eval()
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, 1, fam.LENGTH, generator=gen)
    with torch.no_grad():
        x = torch.cat([tl.vdiffusion.sample(model, x_init=noise[i : i + 16], steps=30,
                                            rho=wave.SAMPLING["rho"])
                       for i in range(0, n, 16)]).clamp(-1, 1)  # fmt: skip
    e_test = tl.metrics.embed(fam.clip_audio(fam.dataset(n, "test")), fam.SR)
    e_val = tl.metrics.embed(fam.clip_audio(fam.dataset(n, "validation")), fam.SR)
    ev = tl.metrics.evaluate(e_test, tl.metrics.embed(x, fam.SR), reference=e_val, seed=seed)
    return {"waveform_fd": float(ev["fd"].value), "waveform_kid": float(ev["kid"].value),
            "waveform_train_steps": steps, "waveform_train_minutes": minutes}  # fmt: skip


def measure(
    tl: Any, weights: Path, n: int, seed: int = 0, waveform_minutes: float = 0.0
) -> dict[str, Any]:
    import torch

    fam = tl.families.guitar_latent
    codec = fam.build_codec()
    tl.checkpoints.load_into(codec, weights / "guitar-codec.safetensors", config=fam.CODEC_CONFIG)
    codec = codec.float().eval()
    net = fam.build()
    tl.checkpoints.load_into(net, weights / "guitar-latent.safetensors", config=fam.CONFIG)
    net = net.float().eval()
    out: dict[str, Any] = {"threads": torch.get_num_threads(), "n_clips": n,
                           "sampler": fam.SAMPLING["sampler"], "sampler_steps": fam.SAMPLING["steps"],
                           "latent_rate": fam.SR / codec.latent_hop,
                           "latent_channels": codec.latent_channels,
                           "compression": codec.latent_hop / codec.latent_channels}  # fmt: skip

    # the codec alone
    out.update(fam.reconstruction_scores(fam.dataset(64, "test"), codec=codec))
    audio = fam.clip_audio(fam.dataset(32, "test"))
    start = time.perf_counter()
    z = fam.encode(audio, codec=codec)
    out["encode_s_per_audio_s"] = (time.perf_counter() - start) / (32 * fam.LENGTH / fam.SR)
    start = time.perf_counter()
    fam.decode(z, codec=codec, standardized=False)
    out["decode_s_per_audio_s"] = (time.perf_counter() - start) / (32 * fam.LENGTH / fam.SR)
    out["codec_parameters"] = codec.num_parameters()

    # training costs at the recipe's batches
    s = fam.train_settings("book")
    torch.manual_seed(seed)
    zb = fam.latents(audio[: s["batch"]], codec=codec)
    out.update(_step_costs(tl, fam.build(), zb, lambda m, b: tl.objectives.rf_loss(m, b)))
    out["batch"] = s["batch"]

    def codec_loss(m: Any, b: Any) -> Any:
        return (m(b[:, 0]) - m.features(b[:, 0])).abs().mean()

    c = _step_costs(tl, fam.build_codec(), audio[: s["codec_batch"]], codec_loss)
    out.update({"codec_train_s_per_step": c["train_s_per_step"], "codec_peak_mib": c["peak_mib"],
                "codec_batch": s["codec_batch"]})  # fmt: skip

    # sampling cost per note, decoding included
    start = time.perf_counter()
    fam.sample(16, seed=seed, model=net, codec=codec)
    out["sample_s_per_clip"] = (time.perf_counter() - start) / 16

    # the waveform U-Net of chapter 3 on the same notes: cost only
    wave = tl.families.drums_unet
    wnet = wave.build({**wave.CONFIG, "classes": None})
    loss = tl.vdiffusion.make_loss_fn(conditional=False)
    w = _step_costs(tl, wnet, audio[:12], loss)
    out.update({f"waveform_{k}": v for k, v in w.items()})
    out["waveform_batch"] = 12
    start = time.perf_counter()
    with torch.no_grad():
        tl.vdiffusion.sample(wnet.eval(), x_init=torch.randn(16, 1, fam.LENGTH), steps=30)
    out["waveform_sample_s_per_clip"] = (time.perf_counter() - start) / 16

    # distances to real test notes
    if waveform_minutes:
        out.update(_waveform_equal_time(tl, fam, waveform_minutes, n, seed))
    scores = fam.evaluate({"latent": net}, n=n, seed=seed, codec=codec)
    row, ceiling = scores["latent"], scores["real through the codec"]
    out.update({k: row[k] for k in ("fd", "fd_floor", "kid", "kid_floor")})
    out.update({"fd_ceiling": ceiling["fd"], "kid_ceiling": ceiling["kid"]})
    return out


def main() -> None:
    import tutorial_lib as tl

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, required=True,
                        help="folder with guitar-codec.safetensors and guitar-latent.safetensors")  # fmt: skip
    parser.add_argument(
        "--n", type=int, default=160, help="notes per set (the test split holds 181 guitar notes)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    parser.add_argument("--waveform-minutes", type=float, default=0.0,
                        help="also train chapter 3's waveform U-Net on the same notes for this "
                             "many minutes and score it (the recipe's codec + latent time: 19.5)")  # fmt: skip
    parser.add_argument("--register", action="store_true",
                        help="add both checkpoints to the package with these numbers")  # fmt: skip
    args = parser.parse_args()
    tl.setup(seed=0)
    t0 = time.perf_counter()
    numbers = measure(tl, args.weights, args.n, waveform_minutes=args.waveform_minutes)
    numbers["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(numbers, indent=1))
    if args.out is not None:
        with tl.checkpoints.atomic_write(args.out, "w") as f:
            json.dump(numbers, f, indent=1)
    if args.register:
        _register(tl, args.weights, numbers)


#: The numbers that describe the codec itself (its registry entry holds these only; the
#: latent model's FD, parameters and costs belong to ``guitar-latent``).
CODEC_KEYS = ("compression", "decode_s_per_audio_s", "encode_s_per_audio_s", "fd_ceiling",
              "fd_floor", "kid_ceiling", "kid_floor", "latent_channels", "latent_rate",
              "log_spectral_distance", "n_clips", "spectral_convergence", "threads")  # fmt: skip


def codec_metric(metric: dict[str, Any]) -> dict[str, Any]:
    """The codec's part of the measured numbers, with ``parameters``/``batch``/... its own."""
    own = {k: metric[k] for k in CODEC_KEYS if k in metric}
    own.update({k[len("codec_") :]: v for k, v in metric.items() if k.startswith("codec_")})
    return own


def _register(
    tl: Any, weights: Path, numbers: dict[str, Any], weights_dir: Path | None = None
) -> None:
    """Add both checkpoints to the registry with ``numbers`` (the package's, or ``weights_dir``)."""
    metric = {k: v for k, v in numbers.items() if k != "seconds"}
    for name, what in (("guitar-codec", "the book's STFT codec for 16 kHz guitar notes"),
                       ("guitar-latent", "rectified-flow 1-D U-Net in the codec's latent space")):  # fmt: skip
        path = weights / f"{name}.safetensors"
        meta = tl.checkpoints.load(path)[2]
        own = codec_metric(metric) if name == "guitar-codec" else metric
        ref = tl.checkpoints.add_reference(
            path, name, recipe="guitar-latent", steps=int(meta["steps"]),
            metric={**own, "final_loss": float(meta["final_loss"])},
            description=f"{what}; `tutorial-lib train guitar-latent --mode book`.",
            weights_dir=weights_dir,
        )  # fmt: skip
        print(f"registered {ref.name}: {ref.steps} steps, {ref.file}")


if __name__ == "__main__":
    main()
