"""Chapter 5's family: a codec for guitar notes, and rectified flow in its latent space.

Latent diffusion in two stages, as Music2Latent-based generators do, small enough for a CPU:

1. **The book's codec** (``guitar-codec``), the offline stand-in for Music2Latent: an
   :class:`~tutorial_lib.models.stft_codec.STFTCodec` that squeezes 16 kHz guitar notes
   (``tl.data.notes(families=["guitar"])``, padded to :data:`LENGTH` samples) into
   :data:`CODEC_CONFIG`'s 16 channels at 31.25 frames per second (32 times fewer numbers than
   samples), trained to reproduce the log-magnitude STFT (L1), Griffin-Lim for the phase. After training, the
   per-channel mean and standard deviation of the training latents are stored in the codec
   (``latent_mean``, ``latent_std``).
2. **The latent model** (``guitar-latent``): a 1-D U-Net
   (:class:`~tutorial_lib.models.unet1d.UNet1d`, :data:`CONFIG`) over the standardised
   latent sequences ``(16, 32)``, trained with rectified flow (``v = x0 - z``, logit-normal
   times) and sampled with the library's Euler or Heun ODE solvers; the codec decodes.

One recipe, ``guitar-latent``, trains both and writes both checkpoints::

    tutorial-lib train guitar-latent --mode book --out runs/guitar-latent
    tutorial-lib sample guitar-latent --n 8 --out samples/

Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .._validate import check_choice, check_int, check_number, describe
from . import _common, _device

__all__ = [
    "CHECKPOINTS",
    "CLASSES",
    "CODEC_CONFIG",
    "CONFIG",
    "DESCRIPTION",
    "LENGTH",
    "MODELS",
    "RECIPE",
    "SAMPLING",
    "SR",
    "book_codec",
    "build",
    "build_codec",
    "clip_audio",
    "dataset",
    "decode",
    "encode",
    "evaluate",
    "fit_latents",
    "latents",
    "load",
    "load_codec",
    "reconstruction_scores",
    "sample",
    "sample_fitted",
    "sample_latents",
    "train",
    "train_codec",
    "train_latent",
    "train_model",
    "train_settings",
]

#: Sample rate (Hz) and clip length (samples): 1.024 s, a multiple of the codec's latent hop.
SR = 16000
LENGTH = 16384
#: Unconditional: guitar notes of every pitch, velocity and guitar program.
CLASSES = None
#: The codec: STFT of 512 points, hop 128, two halvings -> one latent frame per 512 samples.
CODEC_CONFIG: dict[str, Any] = {"n_fft": 512, "hop": 128, "width": 128, "downsample": 2,
                                "latent_channels": 16, "norm_groups": 8, "n_iter": 32}  # fmt: skip
#: The latent U-Net: 16 channels in, 32 frames -> 8 in three levels, attention at the last.
CONFIG: dict[str, Any] = {"in_channels": 16, "channels": [64, 96, 128], "blocks": 1,
                          "attn_levels": [2], "heads": 4, "kernel_size": 3,
                          "norm_groups": 8}  # fmt: skip
#: Sampler defaults: Euler with 32 steps (the seed's ODE sampler).
SAMPLING: dict[str, Any] = {"sampler": "euler", "steps": 32}
SAMPLERS = ("euler", "heun")
#: The recipe and its checkpoints.
RECIPE = "guitar-latent"
DESCRIPTION = (
    "Latent diffusion on 16 kHz guitar notes: an STFT autoencoder (the book's codec), then "
    "a rectified-flow 1-D U-Net on its standardised latents (book mode: about 20 min, 2 CPU cores)."
)
CHECKPOINTS = ("guitar-latent", "guitar-codec")
MODELS = {
    "guitar-latent": "Guitar notes (1 s) from rectified flow in the book codec's latent space.",
    "guitar-codec": "The book's codec alone: held-out guitar notes encoded and decoded.",
}
BATCH = 32


def train_settings(mode: str) -> dict[str, Any]:
    """The recipe's sizes for a run mode (codec and latent model).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    check_choice(mode, "mode", ("fast", "book", "full"))
    table = {
        "fast": dict(codec_steps=20, codec_batch=4, steps=20, batch=8, n_train=64),
        "book": dict(codec_steps=12000, codec_batch=16, steps=4000, batch=32, n_train=1350),
        "full": dict(codec_steps=60000, codec_batch=32, steps=40000, batch=64, n_train=1350),
    }
    s = table[mode]
    s.update(codec_lr=1e-3, lr=5e-4, ema_decay=0.999, seed=0, ckpt_every=500,
             warmup_steps=min(200, s["steps"] // 10), times="logit_normal")  # fmt: skip
    return s


def build(config: dict[str, Any] | None = None) -> Any:
    """A fresh latent :class:`~tutorial_lib.models.unet1d.UNet1d` (:data:`CONFIG`).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    from ..models.unet1d import UNet1d

    return UNet1d(**(CONFIG if config is None else config))


def build_codec(config: dict[str, Any] | None = None) -> Any:
    """A fresh :class:`~tutorial_lib.models.stft_codec.STFTCodec` (:data:`CODEC_CONFIG`).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    from ..models.stft_codec import STFTCodec

    return STFTCodec(**(CODEC_CONFIG if config is None else config))


def dataset(n: int, split: str = "train") -> Any:
    """``n`` guitar notes of ``split`` at 16 kHz (``tl.data.notes``, a ``ClipDataset``).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    from .. import data

    return data.notes(check_int(n, "n", min_value=1), split=split, sr=SR, families=["guitar"])


def clip_audio(clips: Any) -> Any:
    """Clips (a dataset or ``(n, 1, T)``) -> ``(n, 1, LENGTH)`` float32, zero-padded/trimmed.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    import torch
    import torch.nn.functional as F

    x = clips.tensors() if hasattr(clips, "tensors") else clips
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[1] != 1:
        raise ValueError(f"clips: expected a dataset or mono audio (n, 1, T), got {describe(x)}.")
    x = x.float()[..., :LENGTH]
    return F.pad(x, (0, LENGTH - x.shape[-1]))


def _codec_trainer(s: dict[str, Any], ckpt_dir: Path | None, device: Any = None) -> Any:
    from .. import training

    def loss_fn(net: Any, batch: Any) -> Any:
        x = batch[:, 0]
        return (net(x) - net.features(x)).abs().mean()  # L1 of the log-magnitude STFT

    return training.Trainer(
        _common.seeded(build_codec, s["seed"]), loss_fn,
        training.random_batches(clip_audio(dataset(s["n_train"])), s["codec_batch"]),
        max_steps=s["codec_steps"], lr=s["codec_lr"], ema_decay=s["ema_decay"],
        warmup_steps=min(200, s["codec_steps"] // 10), ckpt_dir=ckpt_dir,
        ckpt_every=s["ckpt_every"] if ckpt_dir is not None else None, keep=2,
        config=CODEC_CONFIG, seed=s["seed"], progress=True, device=device,
    )  # fmt: skip


def _set_stats(codec: Any, n_train: int) -> Any:
    """Store the per-channel mean and std of the training latents in ``codec``."""
    import torch

    with torch.no_grad():
        z = _encode_raw(codec, clip_audio(dataset(n_train)))
        codec.latent_mean.copy_(z.mean(dim=(0, 2)))
        codec.latent_std.copy_(z.std(dim=(0, 2)).clamp_min(1e-4))
    return codec


def _encode_raw(codec: Any, audio: Any) -> Any:
    """Raw latents on the CPU; the codec runs where it is."""
    import torch

    from ..config import device_of

    dev = device_of(codec)
    with torch.no_grad():
        return torch.cat(
            [
                codec.encode(audio[i : i + BATCH, 0].to(dev)).cpu()
                for i in range(0, len(audio), BATCH)
            ]
        )


def train_codec(mode: str | None = None, *, progress: bool = True, device: Any = None) -> Any:
    """Train the codec as the recipe does (no file written): the EMA codec with its stats.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    from ..config import mode as current_mode

    mode = current_mode() if mode is None else mode
    s = train_settings(mode)
    trainer = _codec_trainer(s, None, _device.resolve(device, mode))
    trainer.progress = progress
    trainer.fit()
    return _set_stats(trainer.ema_model.cpu().eval(), s["n_train"])


def _latent_trainer(s: dict[str, Any], codec: Any, ckpt_dir: Path | None,
                    standardize: bool = True, times: str | None = None,
                    scale: float = 1.0, device: Any = None) -> Any:  # fmt: skip
    from .. import objectives, training

    z = scale * latents(dataset(s["n_train"]), codec=codec, standardize=standardize)
    kind = s["times"] if times is None else times

    def loss_fn(net: Any, batch: Any) -> Any:
        return objectives.rf_loss(net, batch, times=kind)

    return training.Trainer(
        _common.seeded(build, s["seed"]), loss_fn, training.random_batches(z, s["batch"]),
        max_steps=s["steps"], lr=s["lr"], ema_decay=s["ema_decay"],
        warmup_steps=s["warmup_steps"], ckpt_dir=ckpt_dir,
        ckpt_every=s["ckpt_every"] if ckpt_dir is not None else None, keep=2,
        config=CONFIG, seed=s["seed"], progress=True, device=device,
    )  # fmt: skip


def train_latent(
    codec: Any = None,
    mode: str | None = None,
    *,
    standardize: bool = True,
    times: str | None = None,
    scale: float = 1.0,
    steps: int | None = None,
    progress: bool = True,
    device: Any = None,
) -> Any:
    """Train a latent model as the recipe does (no file), optionally changed for a comparison.

    Args:
        codec: the codec whose latents it learns (default: the reference, :func:`load_codec`).
        mode: run mode (default ``tl.mode()``).
        standardize: learn standardised latents (the recipe) or raw ones.
        times: ``"logit_normal"`` (the recipe) or ``"uniform"`` training times.
        scale: multiply the training latents by this (1: the recipe); a model trained with
            ``scale`` makes latents to divide by ``scale`` before :func:`decode`. For showing
            what a codec whose latents have another scale does to diffusion.
        steps: override the mode's number of steps.
        progress: show a progress bar.
        device: where to train (``None``/``"auto"``: the GPU in ``full`` mode, else the CPU).

    Returns:
        the EMA network in eval mode (on the device it trained on).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    from ..config import mode as current_mode

    mode = current_mode() if mode is None else mode
    s = train_settings(mode)
    if steps is not None:
        s["steps"] = check_int(steps, "steps", min_value=1)
        s["warmup_steps"] = min(200, s["steps"] // 10)
    scale = check_number(scale, "scale", low=0.0, low_open=True)
    trainer = _latent_trainer(s, load_codec() if codec is None else codec, None,
                              standardize=standardize, times=times, scale=scale,
                              device=_device.resolve(device, mode))  # fmt: skip
    trainer.progress = progress
    trainer.fit()
    return trainer.ema_model.eval()


def train(mode: str, out_dir: str | Path, resume: bool = False, *, device: Any = None) -> Path:
    """The ``guitar-latent`` recipe: the codec, then the latent model; writes both files.

    ``device``: where both networks train (``None``/``"auto"``: the GPU in ``full`` mode,
    else the CPU); the codec encodes the training notes on the CPU in between.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    import torch

    from .. import checkpoints

    s = train_settings(mode)
    device = _device.resolve(device, mode)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = _common.recipe_metadata(RECIPE, mode, s)
    codec_path = out_dir / "guitar-codec.safetensors"
    if resume and codec_path.is_file():
        codec = build_codec()
        checkpoints.load_into(codec, codec_path)
        codec = codec.float().eval()
    else:
        trainer = _codec_trainer(s, out_dir / "ckpt-codec", device)
        trainer.fit(resume=resume, overwrite=not resume)
        codec = trainer.ema_model.cpu().float().eval()  # the EMA codec, moved to the CPU
        _set_stats(codec, s["n_train"])
        trainer.export(codec_path, dtype=torch.float16, metadata=meta)
    trainer = _latent_trainer(s, codec, out_dir / "ckpt", device=device)
    trainer.fit(resume=resume, overwrite=not resume)
    path = out_dir / "guitar-latent.safetensors"
    trainer.export(path, dtype=torch.float16, metadata=meta)
    return path


def train_model(
    model: Any, name: str = "guitar-latent", mode: str | None = None, *, device: Any = None
) -> Any:
    """Train ``model`` in place as the recipe trains ``name`` (writes no file); ``device``:
    where it trains (``None``/``"auto"``: the GPU in ``full`` mode, else the CPU).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    check_choice(name, "name", list(CHECKPOINTS))
    if name == "guitar-codec":
        trained = train_codec(mode, device=device)
    else:
        trained = train_latent(load_codec(), mode, device=device)
    model.load_state_dict(trained.state_dict())
    return model


@functools.lru_cache(maxsize=2)
def load_codec() -> Any:
    """The reference codec ``"guitar-codec"`` in eval mode (trained in this mode if missing).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    from .. import checkpoints

    codec = build_codec()
    checkpoints.load_or_train("guitar-codec", codec, lambda m: train_model(m, "guitar-codec"),
                              config=CODEC_CONFIG)  # fmt: skip
    return codec.float().eval()


@functools.lru_cache(maxsize=2)
def load(name: str = "guitar-latent") -> Any:
    """A reference model in eval mode: ``"guitar-latent"`` (the U-Net) or ``"guitar-codec"``.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    from .. import checkpoints

    check_choice(name, "name", list(CHECKPOINTS))
    if name == "guitar-codec":
        return load_codec()
    model = build()
    checkpoints.load_or_train(name, model, lambda m: train_model(m, name), config=CONFIG)
    return model.float().eval()


def book_codec() -> Any:
    """The reference codec behind the library's codec interface (``tl.codecs.BookCodec``).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    from .. import checkpoints, codecs

    ref = checkpoints.reference("guitar-codec")
    return codecs.BookCodec(load_codec(), sample_rate=SR,
                            name=f"book codec (guitar-codec, {ref.steps} steps)")  # fmt: skip


def encode(audio: Any, *, codec: Any = None) -> Any:
    """Audio ``(n, 1, LENGTH)`` (or a dataset) -> raw latents ``(n, 16, 32)`` (no autograd).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    return _encode_raw(load_codec() if codec is None else codec.eval(), clip_audio(audio))


def latents(audio: Any, *, codec: Any = None, standardize: bool = True) -> Any:
    """What the latent model learns: :func:`encode`, standardised per channel by default.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    codec = load_codec() if codec is None else codec.eval()
    z = encode(audio, codec=codec)
    return codec.standardize(z) if standardize else z


def decode(z: Any, *, codec: Any = None, standardized: bool = True) -> Any:
    """Latents ``(n, 16, T)`` -> audio ``(n, 1, T * 512)`` (no autograd).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    import torch

    codec = load_codec() if codec is None else codec.eval()
    if not isinstance(z, torch.Tensor) or z.ndim != 3 or z.shape[1] != codec.latent_channels:
        raise ValueError(
            f"z: expected latents (n, {codec.latent_channels}, T) of this codec, got "
            f"{describe(z)}. Latents of another codec cannot be decoded by this one."
        )
    with torch.no_grad():
        z = codec.unstandardize(z.float()) if standardized else z.float()
        return torch.cat([codec.decode(z[i : i + BATCH]) for i in range(0, len(z), BATCH)])[:, None]


def sample_latents(
    n: int, steps: int | None = None, sampler: str | None = None, seed: int = 0, *,
    model: Any = None, device: Any = None,
) -> Any:  # fmt: skip
    """Standardised latents ``(n, 16, 32)`` from the latent model (Euler or Heun ODE).

    ``device``: where the network runs (default: where ``model`` is; the reference model's
    default is ``"auto"``: the GPU in ``full`` mode, else the CPU). Latents come back to the
    CPU; the starting noise is drawn there from ``seed``.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    import torch

    from .. import samplers

    n = check_int(n, "n", min_value=1)
    steps = SAMPLING["steps"] if steps is None else check_int(steps, "steps", min_value=1)
    sampler = SAMPLING["sampler"] if sampler is None else sampler
    check_choice(sampler, "sampler", SAMPLERS)
    from ..config import device_of

    net = load() if model is None else model.eval()
    if device is not None or model is None:
        net = _device.on_device(net, _device.resolve(device))
    dev = device_of(net)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", min_value=0))
    z = torch.randn(n, CODEC_CONFIG["latent_channels"], LENGTH // 512, generator=gen)
    fn = samplers.euler_sample if sampler == "euler" else samplers.heun_sample
    parts = [
        _device.to_cpu(fn(net, z[i : i + BATCH].to(dev), steps=steps)) for i in range(0, n, BATCH)
    ]
    return torch.cat(parts)


def sample(
    n: int,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    *,
    name: str = "guitar-latent",
    model: Any = None,
    codec: Any = None,
    device: Any = None,
) -> tuple[Any, int]:
    """``n`` generated guitar notes: ``(audio (n, 1, LENGTH), SR)``.

    ``name="guitar-codec"`` returns the codec's reconstructions of ``n`` held-out test notes
    (``seed`` picks them; ``steps`` and ``sampler`` are not used): what the codec alone does.
    The audio is clamped to [-1, 1], as every family's ``sample`` returns it: the codec's
    phase estimate adds up differently from a real note's, and about one decoded note in ten
    peaks above full scale (:func:`decode` returns it unclamped).
    ``device``: where the latent model runs (as :func:`sample_latents`); the codec decodes
    on the CPU.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    check_choice(name, "name", list(MODELS))
    if name == "guitar-codec":
        from .. import data

        notes = data.notes(check_int(n, "n", min_value=1), split="test", sr=SR,
                           families=["guitar"], seed=check_int(seed, "seed", min_value=0))  # fmt: skip
        x = decode(encode(notes, codec=codec), codec=codec, standardized=False)
        return x.clamp(-1, 1), SR
    z = sample_latents(n, steps, sampler, seed, model=model, device=device)
    return decode(z, codec=codec).clamp(-1, 1), SR


def reconstruction_scores(clips: Any, *, codec: Any = None) -> dict[str, float]:
    """How well the codec reconstructs ``clips``: spectral convergence and log-spectral distance.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    import numpy as np

    from .. import metrics

    x = clip_audio(clips)
    y = decode(encode(x, codec=codec), codec=codec, standardized=False)
    kw = dict(n_fft=1024, hop_length=256)
    return {
        "spectral_convergence": float(np.mean(metrics.spectral_convergence(x.double(), y.double(), **kw))),
        "log_spectral_distance": float(np.mean(metrics.log_spectral_distance(x.double(), y.double(), **kw))),
    }  # fmt: skip


def evaluate(
    models: dict[str, Any],
    *,
    n: int = 64,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    codec: Any = None,
    ceiling: bool = True,
    device: Any = None,
) -> dict[str, dict[str, Any]]:
    """FD and KID of each model's notes against real test notes, with the floor and ceiling.

    The ceiling is real validation notes through the codec (encode, decode): the best any
    model in this latent space can do. ``device``: where the latent models sample (as
    :func:`sample_latents`; ``None``: where each model is).

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    from .. import metrics

    n = check_int(n, "n", min_value=2)
    e_test = metrics.embed(clip_audio(dataset(n, "test")), SR)
    val = clip_audio(dataset(n, "validation"))
    e_val = metrics.embed(val, SR)
    entries: dict[str, Any] = dict(models)
    if ceiling:
        entries["real through the codec"] = None
    out: dict[str, dict[str, Any]] = {}
    for label, net in entries.items():
        if net is None:
            x = decode(encode(val, codec=codec), codec=codec, standardized=False)
        else:
            x = decode(sample_latents(n, steps, sampler, seed, model=net, device=device),
                       codec=codec)  # fmt: skip
        out[label] = {**_common.score_row(e_test, metrics.embed(x, SR), e_val, seed), "audio": x}
    return out


def fit_latents(
    z: Any,
    *,
    steps: int,
    batch: int = 32,
    seed: int = 0,
    progress: bool = True,
    device: Any = None,
) -> dict[str, Any]:
    """Train the family's latent U-Net on any codec's latents ``(n, C, T)`` (e.g. Music2Latent's).

    The same recipe as the reference model, for latents that did not come from the book's
    codec: per-channel standardisation with the statistics of ``z``, frames zero-padded to
    the U-Net's multiple, rectified flow with logit-normal times, ``steps`` steps.

    ``device``: where it trains (``None``: the CPU, ``tl.training.Trainer``'s default); the
    model it returns stays there (:func:`sample_fitted` samples where it is).

    Returns:
        ``{"model", "mean", "std", "frames"}``: what :func:`sample_fitted` needs.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    import torch
    import torch.nn.functional as F

    from .. import objectives, training

    if not isinstance(z, torch.Tensor) or z.ndim != 3 or z.shape[0] < 2:
        raise ValueError(f"z: expected latents (n >= 2, channels, frames), got {describe(z)}.")
    z = z.float()
    mean, std = z.mean(dim=(0, 2)), z.std(dim=(0, 2)).clamp_min(1e-4)
    config = {**CONFIG, "in_channels": int(z.shape[1])}
    net = _common.seeded(lambda: build(config), seed)
    frames = int(z.shape[-1])
    padded = -(-frames // net.multiple) * net.multiple
    data = F.pad((z - mean[:, None]) / std[:, None], (0, padded - frames))
    trainer = training.Trainer(
        net, lambda m, b: objectives.rf_loss(m, b), training.random_batches(data, batch),
        max_steps=check_int(steps, "steps", min_value=1), lr=5e-4, ema_decay=0.999,
        warmup_steps=min(200, steps // 10), config=config, seed=seed, progress=progress,
        device=device,
    )  # fmt: skip
    trainer.fit()
    return {"model": trainer.ema_model.eval(), "mean": mean, "std": std, "frames": frames}


def sample_fitted(fitted: dict[str, Any], n: int, *, steps: int = 32, seed: int = 0) -> Any:
    """Latents ``(n, C, frames)`` in the codec's own scale from a :func:`fit_latents` result.

    Introduced in: book/05_latent_diffusion/05_01_latent_diffusion.ipynb
    """
    import torch

    from .. import samplers
    from ..config import device_of

    net, mean, std = fitted["model"], fitted["mean"], fitted["std"]
    frames = fitted["frames"]
    padded = -(-frames // net.multiple) * net.multiple
    gen = torch.Generator().manual_seed(check_int(seed, "seed", min_value=0))
    z = torch.randn(check_int(n, "n", min_value=1), len(mean), padded, generator=gen)
    z = z.to(device_of(net))  # the noise is drawn on the CPU, so every device starts alike
    out = _device.to_cpu(
        samplers.euler_sample(net, z, steps=check_int(steps, "steps", min_value=1))
    )
    return out[..., :frames] * std.to(out.device)[:, None] + mean.to(out.device)[:, None]
