"""Chapter 3's family: a class-conditional waveform U-Net trained with v-diffusion on drums.

One recipe, ``drums-unet``, trains :class:`~tutorial_lib.models.unet1d.UNet1d` with
:data:`CONFIG` on ``tl.data.drums`` (16 kHz mono, 8192 samples = 0.51 s, classes
:data:`CLASSES`) with the book's :class:`~tutorial_lib.training.Trainer`, and writes two
checkpoints (EMA weights, float16): ``drums-unet.safetensors`` (all steps) and
``drums-unet-short.safetensors`` (the same run after a tenth of the steps, the baseline the
chapter compares with)::

    tutorial-lib train drums-unet --mode book --out runs/drums-unet      # ~45 min, 2 CPU cores
    tutorial-lib train drums-unet --mode full --out runs/drums-unet-full # a GPU

Registered models (``tutorial-lib sample NAME --n 8 --out samples/``): ``drums-unet`` (the
classes in turn), ``drums-unet-kick``, ``drums-unet-snare``, ``drums-unet-hat``,
``drums-unet-percussion`` and ``drums-unet-short``. They load the shipped reference
checkpoint (``tl.checkpoints.load_or_train``); without it they train in the current mode.
The module has the shape of every family (``tutorial_lib.families``, ``docs/FAMILIES.md``),
plus the chapter's experiments (:func:`transform_experiment`, :func:`average_spectrum_db`).

Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .._validate import check_choice, check_int
from . import _common, _device, _drums

__all__ = [
    "BATCH",
    "CHECKPOINTS",
    "CLASSES",
    "CONFIG",
    "DESCRIPTION",
    "LENGTH",
    "MODELS",
    "RECIPE",
    "SAMPLING",
    "SCALE",
    "SR",
    "TRANSFORM_VARIANTS",
    "average_spectrum_db",
    "band_error_db",
    "build",
    "dataset",
    "evaluate",
    "generate",
    "load",
    "sample",
    "train",
    "train_model",
    "train_settings",
    "transform_experiment",
]

#: Sample rate (Hz) and clip length (samples) of the drum models.
SR = 16000
LENGTH = 8192
#: The network sees ``audio / SCALE`` (about unit variance; the clips' RMS is about 0.09) and
#: its samples are multiplied by ``SCALE``. The v-diffusion schedule assumes data of unit
#: variance: on the raw clips (100 times less power) the signal-to-noise ratio of every time
#: is 20 dB lower than designed, so most of training and sampling happens where the clips are
#: already drowned in noise (chapter 2's family divides by the same 0.1).
SCALE = 0.1
#: The classes the model is conditioned on (the seed's four models: kick, snare, hat, percussion).
CLASSES = ("kick", "snare", "closed_hat", "percussion")
#: The reference model's architecture (``UNet1d(**CONFIG)``): 7 levels, 8192 -> 128 samples.
CONFIG: dict[str, Any] = {
    "in_channels": 1,
    "channels": [16, 32, 32, 48, 64, 64, 80],
    "blocks": [1, 1, 1, 1, 1, 1, 1],
    "attn_levels": [5, 6],
    "heads": 4,
    "kernel_size": 5,
    "emb_dim": 64,
    "norm_groups": 8,
    "classes": list(CLASSES),
    "transform": "none",
    "transform_factor": 1,
    "transform_kernel": None,
}
#: The drum models' sampler settings (``sample`` and ``evaluate`` defaults): 30 v-DDIM steps
#: spaced with ``rho = 3`` (more of them at low noise, where the fine detail is written),
#: classifier-free guidance ``w = 3``, and DDIM's ``eta = 1`` (fresh noise at every step, drawn
#: from ``seed + 1``: later steps redo part of the noise floor that earlier ones wrote into the
#: silence). Measured against even spacing, no guidance, more steps and ``eta = 0`` in
#: ``benchmarks/bench_drums_unet.py`` (numbers in the registry and chapter 3). :func:`generate`
#: (a clip as a function of its starting noise, also the page's live panel) defaults to
#: ``eta = 0``.
SAMPLING: dict[str, Any] = {"sampler": "vddim", "steps": 30, "rho": 3.0, "guidance": 3.0,
                            "eta": 1.0}  # fmt: skip
#: Clips sampled per network batch by :func:`sample` and :func:`evaluate`: their memory does
#: not grow with the number of clips (the starting noise of all clips is drawn first, so the
#: clips do not depend on the batch size).
BATCH = 16
#: The recipe (``tutorial-lib train drums-unet``) and what it trains.
RECIPE = "drums-unet"
DESCRIPTION = (
    "Class-conditional waveform U-Net (v-diffusion) on 16 kHz drum one-shots: kick, snare, "
    "closed_hat, percussion (book mode: the shipped reference, about 45 min on 2 CPU cores)."
)
#: The reference checkpoints the recipe writes (``<name>.safetensors``): the whole run, and
#: the same run after a tenth of its steps (the chapter's baseline).
CHECKPOINTS = ("drums-unet", "drums-unet-short")
#: Model name -> class its clips are conditioned on (``tutorial-lib sample drums-unet-kick``).
_CLASS_MODELS = {"drums-unet-kick": "kick", "drums-unet-snare": "snare",
                 "drums-unet-hat": "closed_hat", "drums-unet-percussion": "percussion"}  # fmt: skip
#: The sampleable models (``tutorial-lib sample NAME``).
MODELS = {
    "drums-unet": "Drum hits, the classes kick/snare/hat/percussion in turn.",
    "drums-unet-short": "The same model after a tenth of the training (the chapter's baseline).",
    **{name: f"Drum hits of class {cls!r}." for name, cls in _CLASS_MODELS.items()},
}


def train_settings(mode: str) -> dict[str, Any]:
    """The recipe's sizes for a run mode: steps, batch, clips, learning rate, ...

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    check_choice(mode, "mode", ("fast", "book", "full"))
    table = {
        "fast": dict(steps=20, batch=4, n_train=64, lr=1e-3, ckpt_every=10),
        "book": dict(steps=6000, batch=12, n_train=2000, lr=1e-3, ckpt_every=500),
        "full": dict(steps=40000, batch=32, n_train=8000, lr=4e-4, ckpt_every=1000),
    }
    s = table[mode]
    s.update(short_steps=max(1, s["steps"] // 10), class_dropout=0.1, ema_decay=0.999,
             warmup_steps=min(100, s["steps"] // 10), decay="constant", seed=0)  # fmt: skip
    return s


def build(config: dict[str, Any] | None = None) -> Any:
    """A fresh :class:`~tutorial_lib.models.unet1d.UNet1d` with :data:`CONFIG` (or ``config``).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    from ..models.unet1d import UNet1d

    return UNet1d(**(CONFIG if config is None else config))


def dataset(n: int, split: str = "train") -> Any:
    """``n`` drum clips of ``split`` (classes :data:`CLASSES`, a ``ClipDataset`` with labels).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    return _drums.clips(n, split, sr=SR, length=LENGTH, classes=CLASSES)


def _seeded_build(seed: int) -> Any:
    """:func:`build` with initial weights that depend on ``seed`` alone."""
    return _common.seeded(build, seed)


def _trainer(
    model: Any, settings: dict[str, Any], ckpt_dir: Path | None, config: dict, device: Any = None
) -> Any:
    from .. import training, vdiffusion

    return training.Trainer(
        model,
        vdiffusion.make_loss_fn(conditional=True, class_dropout=settings["class_dropout"]),
        _drums.batches(
            dataset(settings["n_train"]), settings["batch"], scale=SCALE, conditional=True
        ),
        max_steps=settings["short_steps"],
        lr=settings["lr"],
        ema_decay=settings["ema_decay"],
        warmup_steps=settings["warmup_steps"],
        decay=settings["decay"],
        decay_steps=settings["steps"],
        ckpt_dir=ckpt_dir,
        ckpt_every=settings["ckpt_every"] if ckpt_dir is not None else None,
        keep=2,
        config=config,
        seed=settings["seed"],
        progress=True,
        device=device,
    )


def train(mode: str, out_dir: str | Path, resume: bool = False, *, device: Any = None) -> Path:
    """The ``drums-unet`` recipe: train, write ``drums-unet-short`` and ``drums-unet`` (fp16 EMA).

    Args:
        mode: ``"fast"``, ``"book"`` (the shipped reference) or ``"full"``.
        out_dir: folder for the checkpoints (``ckpt/`` inside holds resumable ones).
        resume: continue an interrupted run in ``out_dir``.
        device: where to train (``None``/``"auto"``: the GPU in ``full`` mode, else the CPU).

    Returns:
        The path of ``drums-unet.safetensors``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import torch

    s = train_settings(mode)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    short_path = out_dir / "drums-unet-short.safetensors"
    final_path = out_dir / "drums-unet.safetensors"
    trainer = _trainer(
        _seeded_build(s["seed"]), s, out_dir / "ckpt", CONFIG, _device.resolve(device, mode)
    )
    meta = _common.recipe_metadata("drums-unet", mode, s)
    if not (resume and short_path.exists()):
        trainer.fit(resume=resume, overwrite=not resume)
        trainer.export(short_path, dtype=torch.float16, metadata=meta)
        trainer.max_steps = s["steps"]
        trainer.fit()
    else:
        trainer.max_steps = s["steps"]
        trainer.fit(resume=True)
    trainer.export(final_path, dtype=torch.float16, metadata=meta)
    return final_path


def train_model(
    model: Any, name: str = "drums-unet", mode: str | None = None, *, device: Any = None
) -> Any:
    """Train ``model`` in place as the recipe trains ``name``, in ``mode`` (default ``tl.mode()``).

    ``"drums-unet"``: all the recipe's steps; ``"drums-unet-short"``: a tenth of them. It
    starts from the recipe's seeded initial weights (not ``model``'s), writes no file, and
    ``model`` ends with the EMA weights, equal to the recipe's checkpoint ``name`` (up to its
    float16 rounding). The ``train_fn`` of ``load_or_train``::

        tl.checkpoints.load_or_train("drums-unet", model, train_model, config=CONFIG)

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    from ..config import mode as current_mode

    check_choice(name, "name", list(CHECKPOINTS))
    mode = current_mode() if mode is None else mode
    s = train_settings(mode)
    trainer = _trainer(_seeded_build(s["seed"]), s, None, CONFIG, _device.resolve(device, mode))
    trainer.max_steps = s["steps"] if name == "drums-unet" else s["short_steps"]
    trainer.fit()
    model.load_state_dict(trainer.ema_model.state_dict())
    return model


@functools.lru_cache(maxsize=4)
def load(name: str = "drums-unet") -> Any:
    """The model ``"drums-unet"`` or ``"drums-unet-short"`` with its reference weights (eval mode).

    Uses ``tl.checkpoints.load_or_train`` (trains in the current mode when the reference
    checkpoint is missing). Cached: repeated calls return the same module.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    from .. import checkpoints

    check_choice(name, "name", list(CHECKPOINTS))
    model = build()
    checkpoints.load_or_train(name, model, lambda m: train_model(m, name), config=CONFIG)
    return model.float().eval()


def sample(
    n: int,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    *,
    classes: Any = "cycle",
    name: str = "drums-unet",
    guidance: float | None = None,
    rho: float | None = None,
    eta: float | None = None,
    device: Any = None,
) -> tuple[Any, int]:
    """Sample ``n`` drum hits: ``(audio (n, 1, 8192) in [-1, 1], sr = 16000)``.

    Args:
        n: clips.
        steps: v-DDIM steps (default ``SAMPLING["steps"]``, 30).
        sampler: ``None`` or ``"vddim"`` (the only sampler of these models).
        seed: seed of the starting noise.
        classes: ``"cycle"`` (the classes in turn), one class name for all, a list of ``n``
            names/labels, or ``None`` (unconditional).
        name: a model of :data:`MODELS`: ``"drums-unet"``, ``"drums-unet-short"``, or
            ``"drums-unet-kick"`` (and ``-snare``, ``-hat``, ``-percussion``: the reference
            model with ``classes`` set to that class).
        guidance: classifier-free guidance scale (1: none; default ``SAMPLING["guidance"]``,
            3; ignored for unconditional samples).
        rho: spacing of the sampler's times (1: even; default ``SAMPLING["rho"]``, 3).
        eta: DDIM's fresh noise at each step (0: deterministic; default ``SAMPLING["eta"]``,
            1), drawn from ``seed + 1``.
        device: where the network runs (``None``/``"auto"``: the GPU in ``full`` mode, else
            the CPU); the noise is drawn on the CPU and the audio comes back to the CPU.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    n = check_int(n, "n", min_value=1)
    if sampler is not None:
        check_choice(sampler, "sampler", ("vddim",))
    check_choice(name, "name", list(MODELS))
    if name in _CLASS_MODELS:
        if not (isinstance(classes, str) and classes == "cycle"):
            raise ValueError(
                f"classes: the model {name!r} samples class {_CLASS_MODELS[name]!r} only, got "
                f"classes={classes!r}. Fix: name='drums-unet' with classes={classes!r}."
            )
        name, classes = "drums-unet", _CLASS_MODELS[name]
    model = _device.on_device(load(name), _device.resolve(device))
    if isinstance(classes, str) and classes == "cycle":
        labels: Any = [CLASSES[i % len(CLASSES)] for i in range(n)]
    elif isinstance(classes, str):
        labels = [check_choice(classes, "classes", CLASSES)] * n
    else:
        labels = classes
    x = _sample_batches(
        model, n, labels, seed,
        _sampling(steps=steps, rho=rho, guidance=1.0 if labels is None else guidance, eta=eta),
    )  # fmt: skip
    return x.clamp(-1, 1), SR


def generate(
    model: Any,
    noise: Any,
    classes: Any = None,
    *,
    steps: int | None = None,
    rho: float | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
    eta: float | None = None,
    generator: Any = None,
) -> Any:
    """Drum hits from given starting noise: the family's v-DDIM on ``audio / SCALE``.

    ``tl.samplers.vddim_sample`` (also ``tl.vdiffusion.sample``) with the family's data scale: the network's ``x0`` estimates
    are clamped to ``[-1 / SCALE, 1 / SCALE]`` (audio's range) and the result multiplied by
    :data:`SCALE`, so the clips come back in ``[-1, 1]``. No autograd.

    Args:
        model: a :class:`~tutorial_lib.models.unet1d.UNet1d` of this family (eval mode).
        noise: the starting noise ``(B, 1, LENGTH)`` (standard normal).
        classes: ``None`` (unconditional) or ``B`` class names/labels.
        steps, rho, guidance: the sampler's settings (defaults: :data:`SAMPLING`).
        sampler: ``None`` or ``"vddim"`` (the only sampler; so ``**SAMPLING`` can be passed).
        eta, generator: DDIM's ``eta`` and the generator of its fresh noise
            (``tl.samplers.vddim_sample``). Default ``eta = 0``: deterministic, the clip a
            function of ``noise`` alone (the sampler of chapter 3's Section 4 and of the
            page's live panel); :func:`sample` and :func:`evaluate` use :data:`SAMPLING`'s
            ``eta = 1`` with fresh noise from their ``seed + 1``.

    Returns:
        ``(B, 1, LENGTH)`` audio on the model's device.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    from .. import samplers

    if sampler is not None:
        check_choice(sampler, "sampler", ("vddim",))
    sampling = _sampling(
        steps=steps, rho=rho, guidance=1.0 if classes is None else guidance,
        eta=0.0 if eta is None else eta,
    )  # fmt: skip
    x = samplers.vddim_sample(
        model, x_init=noise, class_labels=classes, clip_x0=1.0 / SCALE, generator=generator,
        **sampling,
    )  # fmt: skip
    return x * SCALE


def _sample_batches(model: Any, n: int, labels: Any, seed: int, sampling: dict[str, Any]) -> Any:
    """:func:`generate` for ``n`` clips in batches of :data:`BATCH` (noise drawn from ``seed``)."""
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(n, 1, LENGTH, generator=gen)
    if labels is not None and not torch.is_tensor(labels):
        labels = list(labels)
    fresh = _common.step_generator(seed)  # eta > 0: the steps' fresh noise, batch after batch
    return _common.batched(
        lambda z, lab: generate(model, z, lab, generator=fresh, **sampling), BATCH, noise, labels
    )


def _sampling(**given: Any) -> dict[str, Any]:
    """:data:`SAMPLING`'s settings of ``tl.samplers.vddim_sample`` (all but the sampler's name)
    with the arguments that are not ``None`` put in."""
    settings = {k: v for k, v in SAMPLING.items() if k != "sampler"}
    return {**settings, **{k: v for k, v in given.items() if v is not None}}


def evaluate(
    models: dict[str, Any],
    *,
    n_per_class: int = 50,
    steps: int | None = None,
    seed: int = 0,
    n_train: int = 2000,
    guidance: float | None = None,
    rho: float | None = None,
    eta: float | None = None,
    noise_baseline: bool = False,
    device: Any = None,
) -> dict[str, dict[str, Any]]:
    """The chapter's scoreboard: FD/KID against real test clips and the per-class check.

    Each model samples ``n_per_class`` clips of every class in :data:`CLASSES` (v-DDIM with
    ``steps``, ``rho``, ``guidance`` and ``eta``, defaults from :data:`SAMPLING`; starting noise from
    ``seed``). Scores use ``tl.metrics.evaluate`` (real
    = the test split, floor = test vs. validation clips of the same size) and
    ``tl.metrics.class_check`` (classifier trained on ``n_train`` training clips).

    Args:
        models: ``{label: UNet1d}`` (e.g. ``{"reference": load(), "untrained": build()}``).
        eta: DDIM's ``eta`` of the sampler (default ``SAMPLING["eta"]``, 1; its fresh noise
            is drawn from ``seed + 1``).
        noise_baseline: also score ``"white noise"``: Gaussian noise at the real test clips'
            RMS, "asked" for the same classes. The class check's floor: a classifier trained
            on real clips puts noise in some class (a noisy snare), and a model that outputs
            noise scores that class's accuracy for free.
        device: where the models sample (``None``: where each model is; else a copy of it
            there, so the caller's module stays put). Audio comes back to the CPU.

    Returns:
        ``{label: {"fd", "fd_floor", "kid", "kid_floor", "fd_ratio", "class_accuracy",
        "real_accuracy", "per_class": {class: accuracy}, "real_per_class": {class: the
        classifier's accuracy on the real test clips of that class}, "tail_db", "tail_db_real",
        "audio": (N, 1, T) tensor, "requested": (N,) labels}}``. ``tail_db`` is the median
        over clips of ``tl.metrics.tail_level_db`` (how quiet the quietest tenth of each
        clip gets, dBFS; -120 is digital silence), ``tail_db_real`` the same for the real
        test clips.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import numpy as np
    import torch

    from .. import metrics

    n_per_class = check_int(n_per_class, "n_per_class", min_value=2)
    n = n_per_class * len(CLASSES)
    requested = np.arange(n) % len(CLASSES)
    train_ds, test_ds = dataset(n_train), dataset(n, "test")
    # the real sets are embedded once, not once per model
    e_train, e_test = metrics.embed(train_ds), metrics.embed(test_ds)
    e_val = metrics.embed(dataset(n, "validation"))
    tail_real = float(np.median(metrics.tail_level_db(test_ds.tensors())))
    out: dict[str, dict[str, Any]] = {}
    entries: dict[str, Any] = dict(models)
    if noise_baseline:
        entries["white noise"] = None
    for label, model in entries.items():
        if model is None:  # the noise baseline, at the real clips' level
            gen = torch.Generator().manual_seed(int(seed))
            level = float(test_ds.tensors().pow(2).mean().sqrt())
            x = (level * torch.randn(n, 1, LENGTH, generator=gen)).clamp(-1, 1)
        else:
            x = _sample_batches(
                _device.place(model, device), n, list(requested), seed,
                _sampling(steps=steps, rho=rho, guidance=guidance, eta=eta),
            )  # fmt: skip
        e_fake = metrics.embed(x, SR)
        scores = _common.score_row(e_test, e_fake, e_val, seed)
        cc = metrics.class_check(
            e_fake, requested, train=e_train, train_labels=train_ds.labels, test=e_test,
            test_labels=test_ds.labels, classes=CLASSES,
        )  # fmt: skip
        out[label] = {
            **scores,
            "class_accuracy": float(cc.accuracy),
            "real_accuracy": float(cc.real_accuracy),
            "per_class": dict(cc.per_class),
            "real_per_class": dict(cc.real_per_class),
            "tail_db": float(np.median(metrics.tail_level_db(x))),
            "tail_db_real": tail_real,
            "audio": x,
            "requested": requested,
        }
    return out


#: The seed's experiment: the same U-Net budget with three ways to shorten the input.
TRANSFORM_VARIANTS: dict[str, dict[str, Any]] = {
    "raw, /2 per level": dict(channels=[16, 32, 48, 64, 64], transform="none"),
    "patch x8": dict(channels=[32, 48, 64], transform="patch", transform_factor=8),
    "learned k16 s8": dict(channels=[32, 48, 64], transform="learned", transform_factor=8,
                           transform_kernel=16),
    "learned k32 s8": dict(channels=[32, 48, 64], transform="learned", transform_factor=8,
                           transform_kernel=32),
    "learned k64 s8": dict(channels=[32, 48, 64], transform="learned", transform_factor=8,
                           transform_kernel=64),
}  # fmt: skip


def average_spectrum_db(x: Any, *, floor_db: float = -120.0) -> Any:
    """Mean power spectrum over clips, in dB: ``x`` ``(B, C, T)`` -> ``(T // 2 + 1,)``.

    Each clip's spectrum is ``|rfft(hann * x)|**2`` (channels averaged); the mean over clips
    is taken in power, then converted to dB (floored at ``floor_db``).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import torch

    x = torch.as_tensor(x).float().mean(dim=1)
    win = torch.hann_window(x.shape[-1], periodic=False)
    power = torch.fft.rfft(x * win).abs().pow(2).mean(dim=0)
    return (10 * torch.log10(power.clamp_min(10 ** (floor_db / 10)))).double()


def band_error_db(fake: Any, real: Any, sr: int, band: tuple[float, float]) -> float:
    """Mean absolute difference (dB) of the average spectra of two sets inside ``band`` (Hz).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import torch

    f_db, r_db = average_spectrum_db(fake), average_spectrum_db(real)
    freqs = torch.fft.rfftfreq(2 * (len(f_db) - 1), 1 / sr)
    sel = (freqs >= band[0]) & (freqs <= band[1])
    return float((f_db[sel] - r_db[sel]).abs().mean())


def transform_experiment(
    steps: int,
    *,
    length: int = 4096,
    batch: int = 8,
    n_train: int = 2000,
    n_samples: int = 16,
    sample_steps: int = 20,
    variants: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
    progress: bool = False,
    device: Any = None,
) -> dict[str, dict[str, Any]]:
    """Train each of :data:`TRANSFORM_VARIANTS` for ``steps`` steps and compare their spectra.

    Every variant is an unconditional :class:`~tutorial_lib.models.unet1d.UNet1d` trained with
    v-diffusion on the first ``length`` samples of the drum clips (same data, steps, batch,
    learning rate and seed), then sampled (``n_samples`` clips, ``sample_steps`` v-DDIM
    steps, the same starting noise for all). ``device``: where they train and sample
    (``None``: the CPU, as ``tl.training.Trainer``'s default); the audio comes back to the CPU.

    Returns:
        ``{name: {"audio": (n, 1, length), "parameters": int, "seconds": training time,
        "final_loss": mean loss of the last 10 % of steps, "high_band_db": band_error_db in
        4-8 kHz, "low_band_db": ... in 50-1000 Hz, "spectrum_db": average spectrum}}``
        plus ``"real"`` with the real clips' ``"audio"`` and ``"spectrum_db"``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    import time

    import torch

    from .. import samplers, training, vdiffusion
    from ..models.unet1d import UNet1d

    steps = check_int(steps, "steps", min_value=1)
    variants = TRANSFORM_VARIANTS if variants is None else variants
    audio = dataset(n_train).tensors()[..., :length]
    real = dataset(n_samples, "test").tensors()[..., :length]
    out: dict[str, dict[str, Any]] = {
        "real": {"audio": real, "spectrum_db": average_spectrum_db(real)}
    }
    for name, kw in variants.items():
        torch.manual_seed(seed)
        model = UNet1d(**{"kernel_size": 5, "emb_dim": 64, **kw})
        trainer = training.Trainer(
            model, vdiffusion.make_loss_fn(), training.random_batches(audio, batch),
            max_steps=steps, lr=1e-3, warmup_steps=min(50, steps // 10), seed=seed,
            progress=progress, device=device,
        )  # fmt: skip
        start = time.perf_counter()
        hist = trainer.fit()
        seconds = time.perf_counter() - start
        x = _device.to_cpu(samplers.vddim_sample(
            trainer.ema_model.eval(), (n_samples, 1, length), steps=sample_steps, seed=seed + 1
        ))  # fmt: skip
        tail = hist.loss[-max(1, steps // 10) :]
        out[name] = {
            "audio": x,
            "parameters": model.num_parameters(),
            "seconds": seconds,
            "final_loss": sum(tail) / len(tail),
            "high_band_db": band_error_db(x, real, SR, (4000.0, SR / 2)),
            "low_band_db": band_error_db(x, real, SR, (50.0, 1000.0)),
            "spectrum_db": average_spectrum_db(x),
        }
    return out
