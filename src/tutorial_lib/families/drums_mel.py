"""Chapter 4's family: a 2-D U-Net that generates drum hits as mel-spectrogram images.

The Audio Diffusion pipeline of the seed, small: every drum clip of chapter 3 (16 kHz,
8192 samples = 0.51 s, the classes of :data:`SOUNDS`) becomes one 64 x 64 8-bit mel image
(:data:`MEL`: 64 frames of hop 128 = one clip, 64 mel bands from a 512-point FFT), a
:class:`~tutorial_lib.models.unet2d.UNet2d` with :data:`CONFIG` learns them with DDPM
(Ho et al.'s linear schedule of 1000 steps, as the seed; predicting ``v`` where the seed
predicts the noise, see :data:`PREDICTION`), DDIM samples
new images, and Griffin-Lim turns them back into sound (:func:`tutorial_lib.mel.images_to_audio`).
One recipe, ``drums-mel``, writes two checkpoints (EMA weights, float16): ``drums-mel``, the
unconditional model, and ``drums-mel-cond``, the same network told the drum class
(:data:`COND_CONFIG`: the Audio Diffusion pipeline's ``encoding`` path, small), trained with
10 % of the labels dropped so that classifier-free guidance can steer it::

    tutorial-lib train drums-mel --mode book --out runs/drums-mel       # ~3.5 h, 2 CPU cores
    tutorial-lib sample drums-mel --n 8 --out samples/
    tutorial-lib sample drums-mel-cond --n 8 --out samples/             # the classes in turn

Besides generation, the pipeline's other capabilities, each done with the library's
samplers: :func:`variations` (start part-way with ``start_step``), :func:`inpaint` (keep
some frames, generate the rest: outpainting, continuation, loops), :func:`encode` (DDIM
inversion) and :func:`interpolate` (slerp between two noises).

An image holds no absolute level (each is normalised to its own loudest bin), so audio out
of this family is scaled to the peak :data:`PEAK`, the middle of the real clips' peaks
(-6 to -0.5 dBFS).

Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .._validate import check_choice, check_int, check_number, describe
from . import _common, _device, _drums

__all__ = [
    "CHECKPOINTS",
    "CLASSES",
    "COND",
    "COND_CONFIG",
    "CONFIG",
    "DESCRIPTION",
    "LENGTH",
    "MEL",
    "MODELS",
    "PEAK",
    "PREDICTION",
    "RECIPE",
    "SAMPLING",
    "SOUNDS",
    "SR",
    "alpha_bars",
    "build",
    "clamp_options",
    "conditioned",
    "config_of",
    "dataset",
    "decode",
    "encode",
    "evaluate",
    "frames_mask",
    "images",
    "inpaint",
    "interpolate",
    "labels_of",
    "load",
    "mel",
    "sample",
    "sample_images",
    "to_audio",
    "train",
    "train_model",
    "train_settings",
    "variations",
]

#: Sample rate (Hz) and clip length (samples): chapter 3's drum clips.
SR = 16000
LENGTH = 8192
#: The main model (``drums-mel``) is unconditional: it learns the drum clips of
#: :data:`SOUNDS` without their labels (``drums-mel-cond`` is told them: :data:`COND_CONFIG`).
CLASSES = None
#: The drum classes of the training clips (chapter 3's, so both chapters learn the same sounds).
SOUNDS = ("kick", "snare", "closed_hat", "percussion")
#: The :class:`~tutorial_lib.mel.Mel` of the family: one clip = one 64 x 64 image
#: (``64 * 128 - 1 = 8191`` samples), 64 mel bands of a 512-point FFT (32 ms), 80 dB range.
MEL: dict[str, Any] = {"x_res": 64, "y_res": 64, "sample_rate": SR, "n_fft": 512,
                       "hop_length": 128, "top_db": 80, "n_iter": 32}  # fmt: skip
#: Peak of the audio this family returns (about -3.2 dBFS, the middle of the real clips').
PEAK = 0.69
#: The :class:`~tutorial_lib.models.unet2d.UNet2d` of the reference model: 64 -> 8 pixels in
#: 4 levels, attention at 16 x 16 and 8 x 8.
CONFIG: dict[str, Any] = {"in_channels": 1, "channels": [32, 48, 64, 96], "blocks": 1,
                          "attn_levels": [2, 3], "heads": 4, "emb_dim": 128,
                          "norm_groups": 8}  # fmt: skip
#: The class-conditional model: :data:`CONFIG` with one embedding per class of :data:`SOUNDS`
#: (and a "no class" one for classifier-free guidance).
COND = "drums-mel-cond"
COND_CONFIG: dict[str, Any] = {**CONFIG, "classes": list(SOUNDS)}
#: Sampler defaults: 50 DDIM steps, deterministic (``eta = 0``), x0 estimates clamped to the
#: image range [-1, 1] (diffusers' ``clip_sample``, on in the seed's DDIM scheduler).
#: ``guidance``: the classifier-free guidance weight of ``drums-mel-cond`` (ignored by the
#: unconditional ``drums-mel``): 2. ``clipped_eps``: a guided step (two predictions mixed)
#: takes its noise direction from the clamped picture (:func:`clamp_options`). Measured
#: (``benchmarks/bench_mel_cond.py``, 200 clips, the 16,000-step model): w = 1 makes the asked
#: class in 0.865 of the clips at FD 6.5; w = 2 in 0.96 (every class at least 0.94) at FD 6.6;
#: w = 3, 4: 0.94 at FD 10.9, 18.6. With the seed's step (the network's noise kept under the
#: clamp), w = 2, 3, 4 fell to 0.61, 0.47, 0.43 at FD 50, 161, 255.
SAMPLING: dict[str, Any] = {"sampler": "ddim", "steps": 50, "eta": 0.0, "clip_x0": 1.0,
                            "guidance": 2.0, "clipped_eps": True}  # fmt: skip
#: What the network predicts: ``"v"`` (diffusers' ``prediction_type="v_prediction"``), not the
#: seed's ``"eps"``. An eps network's estimate of the picture at the noisiest steps is its
#: noise error times ``1 / sqrt(abar)`` (160 at the last step of the linear schedule): the
#: eps reference (4,000 steps) put the first DDIM step's clamped picture at mean -0.25
#: where real pictures average -0.66, and sampling never came back from it.
PREDICTION = "v"
#: Images per network batch in :func:`sample_images` (memory does not grow with ``n``).
BATCH = 16
#: The recipe (``tutorial-lib train drums-mel``) and what it trains.
RECIPE = "drums-mel"
DESCRIPTION = (
    "2-D U-Net (DDPM, v prediction, linear schedule) on 64 x 64 mel images of 16 kHz drum hits, "
    "Griffin-Lim back to sound (book mode: the shipped references, about 3.5 h on 2 CPU cores)."
)
CHECKPOINTS = ("drums-mel", COND)
MODELS = {
    "drums-mel": "Drum hits (0.5 s) generated as 64 x 64 mel images, Griffin-Lim audio.",
    COND: "drums-mel told the drum class (kick, snare, closed_hat, percussion), with guidance.",
}


def mel(n_iter: int | None = None) -> Any:
    """The family's :class:`~tutorial_lib.mel.Mel` (:data:`MEL`; ``n_iter`` overrides).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from ..mel import Mel

    return Mel(**{**MEL, **({} if n_iter is None else {"n_iter": n_iter})})


def alpha_bars() -> Any:
    """The DDPM schedule: Ho et al.'s linear schedule of 1000 steps (the seed's), ``(1000,)``.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from .. import schedules

    return schedules.alpha_bar("linear", 1000)


def train_settings(mode: str) -> dict[str, Any]:
    """The recipe's sizes for a run mode: steps, batch, clips, learning rate, ...

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    check_choice(mode, "mode", ("fast", "book", "full"))
    table = {
        "fast": dict(steps=20, batch=4, n_train=64, lr=1e-3),
        # 16,000 steps: four times the seed's budget, a resolved gain in FD (chapter 4's
        # curve, benchmarks/bench_mel_curve.py); the learning rate is constant after warm-up
        "book": dict(steps=16000, batch=16, n_train=2000, lr=5e-4),
        "full": dict(steps=40000, batch=64, n_train=8000, lr=2e-4),
    }
    s = table[mode]
    s.update(ema_decay=0.999, warmup_steps=min(200, s["steps"] // 10), decay="constant",
             seed=0, ckpt_every=500, prediction=PREDICTION, class_dropout=0.1)  # fmt: skip
    return s


def config_of(name: str) -> dict[str, Any]:
    """The network configuration of checkpoint ``name``: :data:`CONFIG` or :data:`COND_CONFIG`.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    check_choice(name, "name", list(CHECKPOINTS))
    return COND_CONFIG if name == COND else CONFIG


def build(config: dict[str, Any] | None = None) -> Any:
    """A fresh :class:`~tutorial_lib.models.unet2d.UNet2d` with :data:`CONFIG` (or ``config``).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from ..models.unet2d import UNet2d

    return UNet2d(**(CONFIG if config is None else config))


def dataset(n: int, split: str = "train") -> Any:
    """``n`` drum clips of ``split`` (chapter 3's clips of :data:`SOUNDS`, a ``ClipDataset``).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    return _drums.clips(n, split, sr=SR, length=LENGTH, classes=SOUNDS)


def images(clips: Any) -> Any:
    """The model's images of ``clips`` (a ``ClipDataset`` or ``(n, 1, T)``): ``(n, 1, 64, 64)`` in [-1, 1].

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from .. import mel as melmod

    audio = clips.tensors() if hasattr(clips, "tensors") else clips
    return melmod.to_unit(melmod.to_images(audio, mel()))


def to_audio(x: Any, *, n_iter: int | None = None) -> Any:
    """The model's images ``(n, 1, 64, 64)`` -> audio ``(n, 1, LENGTH)`` at peak :data:`PEAK`.

    8-bit rounding (:func:`tutorial_lib.mel.from_unit`), then Griffin-Lim with ``n_iter``
    iterations (default :data:`MEL`'s 32).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from .. import mel as melmod

    return melmod.images_to_audio(melmod.from_unit(x), mel(n_iter), length=LENGTH, peak=PEAK)


def _trainer(
    settings: dict[str, Any], ckpt_dir: Path | None, device: Any = None, name: str = "drums-mel"
) -> Any:
    """The recipe's trainer for checkpoint ``name``: the same data, steps and seed for both;
    ``drums-mel-cond`` also gets each clip's class (dropped to "no class" 10 % of the time)."""
    from .. import objectives, training

    schedule = alpha_bars()
    config = config_of(name)
    conditional = name == COND
    ds = dataset(settings["n_train"])

    def loss_fn(net: Any, batch: Any) -> Any:
        if not conditional:
            return objectives.ddpm_loss(net, batch, schedule, prediction=settings["prediction"])
        return objectives.ddpm_loss(
            net, batch["audio"], schedule, prediction=settings["prediction"],
            class_labels=batch["label"], class_dropout=settings["class_dropout"],
        )  # fmt: skip

    labels = _labels(ds) if conditional else None
    return training.Trainer(
        _common.seeded(lambda: build(config), settings["seed"]), loss_fn,
        training.random_batches(images(ds), settings["batch"], labels=labels),
        max_steps=settings["steps"], lr=settings["lr"], ema_decay=settings["ema_decay"],
        warmup_steps=settings["warmup_steps"], decay=settings["decay"], ckpt_dir=ckpt_dir,
        ckpt_every=settings["ckpt_every"] if ckpt_dir is not None else None, keep=2,
        config=config, seed=settings["seed"], progress=True, device=device,
    )  # fmt: skip


def _labels(ds: Any) -> Any:
    """The clips' labels as indices into :data:`SOUNDS` (the conditional model's classes)."""
    import torch

    names = [ds.classes[int(i)] for i in ds.labels]
    return torch.tensor([SOUNDS.index(c) for c in names], dtype=torch.long)


def train(mode: str, out_dir: str | Path, resume: bool = False, *, device: Any = None) -> Path:
    """The ``drums-mel`` recipe: ``drums-mel.safetensors``, then ``drums-mel-cond.safetensors``.

    Args:
        mode: ``"fast"``, ``"book"`` (the shipped references) or ``"full"``.
        out_dir: folder for the checkpoints (EMA weights, fp16); ``ckpt/`` and ``ckpt-cond/``
            inside hold resumable ones.
        resume: continue an interrupted run in ``out_dir`` (a finished checkpoint is kept).
        device: where to train (``None``/``"auto"``: the GPU in ``full`` mode, else the CPU).

    Returns:
        The path of the main checkpoint, ``drums-mel.safetensors``.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import torch

    s = train_settings(mode)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, ckpt in zip(CHECKPOINTS, ("ckpt", "ckpt-cond"), strict=True):
        path = out_dir / f"{name}.safetensors"
        paths.append(path)
        if resume and path.exists():
            continue
        trainer = _trainer(s, out_dir / ckpt, _device.resolve(device, mode), name)
        trainer.fit(resume=resume, overwrite=not resume)
        meta = _common.recipe_metadata(RECIPE, mode, s)
        trainer.export(path, dtype=torch.float16, metadata=meta)
    return paths[0]


def train_model(
    model: Any, name: str = "drums-mel", mode: str | None = None, *, device: Any = None
) -> Any:
    """Train ``model`` in place as the recipe trains ``name`` (default mode ``tl.mode()``).

    Starts from the recipe's seeded initial weights, writes no file; ``model`` ends with the
    EMA weights (the recipe's checkpoint up to its float16 rounding).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from ..config import mode as current_mode

    check_choice(name, "name", list(CHECKPOINTS))
    mode = current_mode() if mode is None else mode
    trainer = _trainer(train_settings(mode), None, _device.resolve(device, mode), name)
    trainer.fit()
    model.load_state_dict(trainer.ema_model.state_dict())
    return model


@functools.lru_cache(maxsize=2)
def load(name: str = "drums-mel") -> Any:
    """The reference model ``name`` in eval mode (trained in the current mode if missing).

    ``"drums-mel"`` (unconditional) or ``"drums-mel-cond"`` (told the class).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from .. import checkpoints

    config = config_of(name)
    model = build(config)
    checkpoints.load_or_train(name, model, lambda m: train_model(m, name), config=config)
    return model.float().eval()


def _model(model: Any) -> Any:
    return load() if model is None else model.eval()


def _check_images(x: Any, name: str, model: Any = None) -> Any:
    import torch

    side = (MEL["y_res"], MEL["x_res"])
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 1 or x.shape[2:] != side:
        raise ValueError(
            f"{name}: expected the model's images, a tensor (n, 1, {side[0]}, {side[1]}) in "
            f"[-1, 1], got {describe(x)}. Fix: drums_mel.images(clips) makes them from audio."
        )
    return x.float()


def _noise(shape: tuple[int, ...], seed: int) -> Any:
    import torch

    gen = torch.Generator().manual_seed(check_int(seed, "seed", min_value=0))
    return torch.randn(*shape, generator=gen)


def _prediction(prediction: Any) -> str:
    from ..objectives import PREDICTIONS

    return PREDICTION if prediction is None else check_choice(prediction, "prediction",
                                                              PREDICTIONS)  # fmt: skip


def _sampling(steps: Any, eta: Any) -> tuple[int, float]:
    steps = SAMPLING["steps"] if steps is None else check_int(steps, "steps", min_value=1,
                                                              max_value=1000)  # fmt: skip
    eta = SAMPLING["eta"] if eta is None else check_number(eta, "eta", low=0.0, high=1.0)
    return steps, eta


def labels_of(model: Any, classes: Any, n: int) -> Any:
    """The labels ``(n,)`` (``-1``: no class) that ask ``model`` for ``classes``, or ``None``.

    ``classes``: ``None`` (no class: what an unconditional model needs), ``"cycle"`` (the
    model's classes in turn; nothing for an unconditional model), one class name or index
    for all ``n``, or ``n`` of them.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import torch

    known = getattr(model, "classes", None)
    if isinstance(classes, str) and classes == "cycle":
        if known is None:
            return None
        classes = [known[i % len(known)] for i in range(n)]
    if classes is None:
        return None
    if known is None:
        raise ValueError(
            f"classes: the model is unconditional (drums-mel), got classes={classes!r}. "
            f"Fix: classes=None, or the model drums_mel.load('{COND}')."
        )
    idx = model.class_index(classes, n)
    return torch.where(idx == len(known), torch.full_like(idx, -1), idx)


def conditioned(model: Any, labels: Any, guidance: float | None = None) -> Any:
    """``model`` as a sampler's ``net(x, t)`` that asks for ``labels``, with guidance.

    ``labels``: ``None`` (the plain network, no class) or a long tensor ``(B,)`` of the
    batch's classes (``-1``: no class). ``guidance`` (default ``SAMPLING["guidance"]``)
    mixes the conditional and unconditional predictions, ``u + w (c - u)``
    (:func:`tutorial_lib.samplers.guided`); 1 is the conditional model alone.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from .. import samplers

    if labels is None:
        return model
    w = _guidance(guidance)
    return lambda x, t: samplers.guided(model, x, t, labels.to(x.device), None, w)


def _guidance(guidance: float | None) -> float:
    """The guidance weight asked for: ``SAMPLING["guidance"]`` when ``None``, else checked."""
    return SAMPLING["guidance"] if guidance is None else check_number(guidance, "guidance", low=0.0)


def clamp_options(labels: Any, guidance: float | None = None) -> dict[str, Any]:
    """How DDIM clamps this family's pictures, for a batch asking for ``labels`` (as in
    :func:`conditioned`) with ``guidance``: ``{"clip_x0", "clipped_eps"}`` for
    :func:`tutorial_lib.samplers.ddim_sample`.

    The estimate of the clean picture is clamped to [-1, 1] (the seed's ``clip_sample``). A
    step that mixes two predictions (``labels`` given, a weight other than 0 and 1) also
    moves along the noise that the clamped picture implies (``clipped_eps``, diffusers'
    ``use_clipped_model_output=True``, when ``SAMPLING["clipped_eps"]``): guidance pushes the
    estimate past the range, and the seed's step, which keeps the network's noise, then
    brightens the picture a little at every step (chapter 4 measures it). A step with one
    prediction is the seed's step.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    mixes = labels is not None and _guidance(guidance) not in (0.0, 1.0)
    return {"clip_x0": SAMPLING["clip_x0"], "clipped_eps": bool(SAMPLING["clipped_eps"]) and mixes}


def _batched(net: Any, fn: Any, *tensors: Any) -> Any:
    """``fn`` over slices of :data:`BATCH` items of ``tensors``, concatenated: each slice is
    moved to ``net``'s device and each result comes back to the CPU."""
    from ..config import device_of

    return _common.batched(fn, BATCH, *tensors, device=device_of(net))


def sample_images(
    n: int,
    steps: int | None = None,
    seed: int = 0,
    *,
    eta: float | None = None,
    model: Any = None,
    noise: Any = None,
    device: Any = None,
    prediction: str | None = None,
    classes: Any = None,
    guidance: float | None = None,
) -> Any:
    """DDIM samples of the model: images ``(n, 1, 64, 64)`` in [-1, 1] (no autograd).

    Args:
        n: images.
        steps: DDIM steps (default ``SAMPLING["steps"]``, 50).
        seed: seed of the starting noise (drawn for all ``n`` first, so images do not depend
            on the batch size) and of the fresh noise when ``eta > 0``.
        eta: DDIM's stochasticity (0: deterministic, 1: DDPM; default 0).
        model: a network (default: the reference, :func:`load`).
        noise: the starting noise ``(n, 1, 64, 64)`` instead of drawing it from ``seed``.
        device: where the network runs (default: where ``model`` is; the reference model's
            default is ``"auto"``: the GPU in ``full`` mode, else the CPU). Images come back
            to the CPU.
        prediction: what ``model`` predicts (default :data:`PREDICTION`; ``"eps"`` for a
            network trained as the seed's).
        classes: for a class-conditional model (``drums-mel-cond``): the classes to ask
            for (:func:`labels_of`: ``None`` = no class, ``"cycle"``, a name, or ``n``).
        guidance: classifier-free guidance weight (default ``SAMPLING["guidance"]``; only
            with classes).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """

    from .. import samplers

    n = check_int(n, "n", min_value=1)
    prediction = _prediction(prediction)
    steps, eta = _sampling(steps, eta)
    net = _model(model)
    if device is not None or model is None:
        net = _device.on_device(net, _device.resolve(device))
    x_T = _noise((n, 1, MEL["y_res"], MEL["x_res"]), seed) if noise is None else noise
    x_T = _check_images(x_T, "noise")
    if x_T.shape[0] != n:
        raise ValueError(f"noise: expected {n} items, got {describe(noise)}.")
    gen = _common.step_generator(seed)
    labels = labels_of(net, classes, n)
    return _batched(
        net, lambda z, lab: samplers.ddim_sample(
            conditioned(net, lab, guidance), z, alpha_bars(), steps=steps, eta=eta,
            prediction=prediction, generator=gen, **clamp_options(lab, guidance),
        ),
        x_T, labels,
    )  # fmt: skip


def sample(
    n: int,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    *,
    name: str = "drums-mel",
    classes: Any = "cycle",
    guidance: float | None = None,
    eta: float | None = None,
    device: Any = None,
) -> tuple[Any, int]:
    """Sample ``n`` drum hits: ``(audio (n, 1, 8192) at peak PEAK, sr = 16000)``.

    DDIM images (:func:`sample_images`), then :func:`to_audio` (8-bit, Griffin-Lim).

    Args:
        n: clips.
        steps: DDIM steps (default 50).
        sampler: ``None`` or ``"ddim"`` (the family's only sampler; ``eta`` chooses between
            deterministic DDIM and DDPM-like sampling).
        seed: seed of the starting noise.
        name: ``"drums-mel"`` or ``"drums-mel-cond"``.
        classes: for ``drums-mel-cond``: ``"cycle"`` (the classes in turn), ``None`` (no
            class), a class name, or ``n`` of them; ``drums-mel`` takes ``"cycle"`` or
            ``None`` (it knows no classes).
        guidance: classifier-free guidance weight (default ``SAMPLING["guidance"]``).
        eta: DDIM's stochasticity in [0, 1] (default 0).
        device: where the network runs (``None``/``"auto"``: the GPU in ``full`` mode, else
            the CPU); Griffin-Lim and the audio stay on the CPU.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    if sampler is not None:
        check_choice(sampler, "sampler", ("ddim",))
    check_choice(name, "name", list(MODELS))
    images = sample_images(
        n, steps, seed, eta=eta, model=load(name), device=_device.resolve(device),
        classes=classes, guidance=guidance,
    )  # fmt: skip
    return to_audio(images), SR


def _check_start(start_step: Any, steps: int) -> int:
    return check_int(start_step, "start_step", min_value=0, max_value=steps - 1)


def variations(
    x0: Any,
    start_step: int,
    *,
    steps: int | None = None,
    eta: float | None = None,
    seed: int = 0,
    model: Any = None,
) -> Any:
    """Variations of images ``x0``: noise them part-way, then let the model finish.

    The pipeline's ``start_step``: of ``steps`` DDIM steps, skip the first ``start_step``;
    each image is noised to the level of the step where sampling starts (with noise from
    ``seed``) and denoised from there. ``start_step = 0`` ignores the input (a new sample);
    near ``steps`` the result stays close to it.

    Args:
        x0: the model's images ``(n, 1, 64, 64)`` (:func:`images` of some clips).
        start_step: 0 .. ``steps - 1``.
        steps, eta, seed, model: as in :func:`sample_images`.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from .. import samplers

    x0 = _check_images(x0, "x0")
    steps, eta = _sampling(steps, eta)
    start_step = _check_start(start_step, steps)
    net = _model(model)
    z = _noise(tuple(x0.shape), seed)
    gen = _common.step_generator(seed)  # eta > 0: the steps' fresh noise comes from seed too
    return _batched(
        net, lambda a, b: samplers.ddim_sample(
            net, b, alpha_bars(), steps=steps, eta=eta, clip_x0=SAMPLING["clip_x0"],
            prediction=PREDICTION, start_step=start_step, init=a, generator=gen,
        ),
        x0, z,
    )  # fmt: skip


def frames_mask(n: int, keep: Any) -> Any:
    """A mask of whole time frames for :func:`inpaint`: ``(n, 1, 1, 64)``, true where kept.

    ``keep`` is a ``slice`` of frames (e.g. ``slice(0, 32)``: keep the first half) or a
    boolean sequence of 64.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import torch

    n = check_int(n, "n", min_value=1)
    width = MEL["x_res"]
    if isinstance(keep, slice):
        start, stop, _ = keep.indices(width)
        if (keep.start is not None and abs(keep.start) > width) or (
            keep.stop is not None and abs(keep.stop) > width
        ):
            raise ValueError(
                f"keep: {keep} reaches past the image's {width} frames "
                f"({width * MEL['hop_length'] / SR:.2f} s). Fix: a slice within 0..{width}."
            )
        row = torch.zeros(width, dtype=torch.bool)
        row[start:stop] = True
    else:
        row = torch.as_tensor(keep, dtype=torch.bool)
        if row.shape != (width,):
            raise ValueError(f"keep: expected a slice or {width} booleans, got {describe(keep)}.")
    return row.expand(n, 1, 1, width).clone()


def inpaint(
    x0: Any,
    mask: Any,
    *,
    steps: int | None = None,
    eta: float | None = None,
    seed: int = 0,
    start_step: int = 0,
    model: Any = None,
) -> Any:
    """Keep part of each image and generate the rest to fit (inpainting, outpainting).

    Args:
        x0: the model's images ``(n, 1, 64, 64)``.
        mask: booleans broadcastable to ``x0`` (e.g. :func:`frames_mask`), true where kept.
        steps, eta, seed, model: as in :func:`sample_images`.
        start_step: as in :func:`variations` (0: the generated region starts from noise).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import torch

    from .. import samplers

    x0 = _check_images(x0, "x0")
    steps, eta = _sampling(steps, eta)
    start_step = _check_start(start_step, steps)
    net = _model(model)
    z = _noise(tuple(x0.shape), seed)
    gen = _common.step_generator(seed)  # eta > 0: the steps' fresh noise comes from seed too
    if isinstance(mask, torch.Tensor) and mask.ndim == 4 and mask.shape[0] == x0.shape[0]:
        pieces: tuple[Any, ...] = (x0, z, mask)
        fn = lambda a, b, m: samplers.ddim_inpaint(  # noqa: E731
            net, b, alpha_bars(), known=a, mask=m, steps=steps, eta=eta,
            clip_x0=SAMPLING["clip_x0"], prediction=PREDICTION, start_step=start_step,
            generator=gen,
        )  # fmt: skip
        return _batched(net, fn, *pieces)
    if isinstance(mask, torch.Tensor):
        from ..config import device_of

        mask = mask.to(device_of(net))
    return _batched(
        net, lambda a, b: samplers.ddim_inpaint(
            net, b, alpha_bars(), known=a, mask=mask, steps=steps, eta=eta,
            clip_x0=SAMPLING["clip_x0"], prediction=PREDICTION, start_step=start_step,
            generator=gen,
        ),
        x0, z,
    )  # fmt: skip


def encode(x0: Any, *, steps: int | None = None, model: Any = None) -> Any:
    """DDIM inversion (the pipeline's ``encode``): images -> the noise that DDIM maps back to them.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from .. import samplers

    x0 = _check_images(x0, "x0")
    steps, _ = _sampling(steps, None)
    net = _model(model)
    return _batched(
        net,
        lambda a: samplers.ddim_invert(net, a, alpha_bars(), steps=steps, prediction=PREDICTION),
        x0,
    )


def decode(noise: Any, *, steps: int | None = None, model: Any = None) -> Any:
    """Deterministic DDIM (``eta = 0``) from given noise: the way back from :func:`encode`.

    Unlike :func:`sample_images`, ``x0_hat`` is not clamped to [-1, 1]: the clamp bends the
    path at the noisy steps, and the inversion then comes back about 9 dB off at 50 steps
    instead of about 2.6 dB (measured on training images with the reference model).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    from .. import samplers

    noise = _check_images(noise, "noise")
    steps, _ = _sampling(steps, None)
    net = _model(model)
    return _batched(
        net,
        lambda z: samplers.ddim_sample(
            net, z, alpha_bars(), steps=steps, eta=0.0, clip_x0=None, prediction=PREDICTION
        ),
        noise,
    )


def interpolate(
    noise_a: Any, noise_b: Any, alphas: Any, *, steps: int | None = None, model: Any = None
) -> Any:
    """Images along the slerp between two noises (``(1, 1, 64, 64)`` each), one per alpha.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import torch

    from .. import samplers

    a, b = _check_images(noise_a, "noise_a"), _check_images(noise_b, "noise_b")
    if a.shape[0] != 1 or b.shape[0] != 1:
        raise ValueError("noise_a, noise_b: expected one noise each, shape (1, 1, 64, 64).")
    zs = torch.cat([samplers.slerp(a, b, float(al)) for al in alphas])
    return decode(zs, steps=steps, model=model)


def evaluate(
    models: dict[str, Any],
    *,
    n: int = 64,
    steps: int | None = None,
    seed: int = 0,
    eta: float | None = None,
    ceiling: bool = True,
    prediction: str | None = None,
    device: Any = None,
    guidance: float | None = None,
    n_train: int = 1000,
) -> dict[str, dict[str, Any]]:
    """FD and KID of each model's audio against real test clips, with the floor and the ceiling.

    A class-conditional model (``drums-mel-cond``) is asked for the classes in turn and
    also gets the class check (``tl.metrics.class_check``, as chapter 3's scoreboard): does
    a classifier trained on real clips hear the class it was asked for?

    Args:
        models: ``{label: UNet2d}``.
        n: clips per model (and per real set).
        steps, seed, eta: as in :func:`sample_images` (the same noise for every model).
        ceiling: also score ``"real through Mel + Griffin-Lim"``: real validation clips made
            into images and back, the best the mel route can do with this inversion.
        prediction: what the models predict (as in :func:`sample_images`).
        device: where the models sample (``None``: where each model is; else a copy of it
            there, so the caller's module stays put). Audio comes back to the CPU.
        guidance: the conditional models' guidance weight (default ``SAMPLING["guidance"]``).
        n_train: real training clips the class check's classifier learns from.

    Returns:
        ``{label: {"fd", "fd_low", "fd_high", "fd_floor", "kid", "kid_floor", "fd_ratio",
        "tail_db", "audio"}}``; ``tail_db``: the median level of the clips' quietest tenth
        (:func:`tutorial_lib.metrics.tail_level_db`; real hits reach digital silence).
        Conditional models add ``"class_accuracy"``, ``"real_accuracy"`` (the classifier on
        real test clips: the ceiling), ``"per_class"``, ``"real_per_class"`` (each class's
        ceiling) and ``"requested"`` (the labels).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    import numpy as np

    from .. import metrics

    n = check_int(n, "n", min_value=2)
    test_ds = dataset(n, "test")
    e_test = metrics.embed(test_ds)
    val = dataset(n, "validation")
    e_val = metrics.embed(val)
    entries: dict[str, Any] = dict(models)
    if ceiling:
        entries["real through Mel + Griffin-Lim"] = None
    check_int(n_train, "n_train", min_value=len(SOUNDS))
    train_ds, e_train = None, None
    out: dict[str, dict[str, Any]] = {}
    for label, net in entries.items():
        labels = None if net is None else labels_of(net, "cycle", n)
        if net is None:
            x = to_audio(images(val))
        else:
            x = to_audio(sample_images(n, steps, seed, eta=eta, model=net, prediction=prediction,
                                       device=device, classes=labels,
                                       guidance=guidance))  # fmt: skip
        e_fake = metrics.embed(x, SR)
        out[label] = {
            **_common.score_row(e_test, e_fake, e_val, seed),
            "tail_db": float(np.median(metrics.tail_level_db(x))),
            "audio": x,
        }
        if labels is not None:
            if train_ds is None:
                train_ds = dataset(n_train)
                e_train = metrics.embed(train_ds)
            requested = labels.numpy()
            cc = metrics.class_check(
                e_fake, requested, train=e_train, train_labels=_labels(train_ds).numpy(),
                test=e_test, test_labels=_labels(test_ds).numpy(), classes=SOUNDS,
            )  # fmt: skip
            out[label].update(class_accuracy=float(cc.accuracy),
                              real_accuracy=float(cc.real_accuracy),
                              per_class=dict(cc.per_class),
                              real_per_class=dict(cc.real_per_class),
                              requested=requested)  # fmt: skip
    return out
