"""Chapter 2's family: a small 1-D U-Net on short drum hits, trained as DDPM and as a flow.

The DDPM-vs-rectified-flow comparison trains the same network
(:class:`~tutorial_lib.models.small.SmallConv1d` with :data:`CONFIG`) on the same data (drum
hits of every class, 16 kHz mono, 4096 samples = 0.256 s, divided by :data:`SCALE` to about
unit variance) for the same number of steps, once per objective of :data:`OBJECTIVES`:

- ``"ddpm"``: epsilon-prediction on Ho et al.'s linear schedule of 1000 steps
  (:func:`alpha_bars`);
- ``"rf"``: rectified flow (velocity prediction) with logit-normal times;
- ``"ddpm-v"``: the same DDPM process as ``"ddpm"``, but the network predicts
  ``v = a_t eps - s_t x0`` (the chapter's explanation of why ``"ddpm"``'s deterministic
  samplers fail: its ``x0`` estimate at high noise divides the network's error by ``a_t``).

The recipe ``drums-small`` writes the three reference checkpoints, ``drums-small-ddpm``,
``drums-small-rf`` and ``drums-small-ddpm-v`` (EMA weights, float16), and a fourth on
purpose broken, ``drums-small-memorised`` (:data:`MEMORISED`): the ``"ddpm"`` model trained
long on :data:`N_MEMORISED` clips only, so that it copies them (chapter 7's memorisation
check needs a real copier)::

    tutorial-lib train drums-small --mode full --out runs/drums-small   # ~15 min, 2 CPU cores
    tutorial-lib sample drums-small-rf --n 8 --out samples/

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .._validate import check_choice, check_int
from . import _common, _device, _drums

__all__ = [
    "CHECKPOINTS",
    "CLASSES",
    "CONFIG",
    "DESCRIPTION",
    "LENGTH",
    "MEMORISED",
    "MODELS",
    "N_MEMORISED",
    "N_TRAIN",
    "OBJECTIVES",
    "PREDICTION",
    "RECIPE",
    "SAMPLERS_BY_OBJECTIVE",
    "SAMPLING",
    "SCALE",
    "SR",
    "alpha_bars",
    "build",
    "dataset",
    "evaluate",
    "load",
    "objective_of",
    "sample",
    "train",
    "train_model",
    "train_settings",
]

#: Sample rate (Hz) and clip length (samples): 0.256 s drum hits.
SR = 16_000
LENGTH = 4096
#: Unconditional: the clips are drum hits of every class of ``tl.data.DRUM_CLASSES``.
CLASSES = None
#: The network sees ``audio / SCALE`` (about unit variance); multiply its output by ``SCALE``.
SCALE = 0.1
#: Training clips of the ``book`` and ``full`` recipes (``fast``: 256).
N_TRAIN = 2000
#: The two training objectives compared by the chapter.
OBJECTIVES = ("ddpm", "rf", "ddpm-v")
#: What the network predicts, per objective (``"ddpm"`` and ``"ddpm-v"`` share the process).
PREDICTION = {"ddpm": "eps", "rf": "v", "ddpm-v": "v"}
#: The :class:`~tutorial_lib.models.small.SmallConv1d` config of the reference models.
CONFIG: dict[str, Any] = {"channels": 1, "width": 32, "mults": [1, 2, 3], "factor": 4,
                          "kernel_size": 5, "time_dim": 64, "patch": 8}  # fmt: skip
#: Sampler defaults of :func:`sample`: 16 steps of DPM-Solver++(2M) for DDPM, Euler for the flow;
#: ``"auto"``: each model's sampler follows its objective (:data:`SAMPLERS_BY_OBJECTIVE`).
SAMPLING: dict[str, Any] = {"steps": 16, "sampler": "auto"}
#: The sampler of each objective's models (``sample`` and ``evaluate`` with ``sampler=None``).
SAMPLERS_BY_OBJECTIVE = {"ddpm": "dpm++2m", "rf": "euler", "ddpm-v": "dpm++2m"}
#: The recipe (``tutorial-lib train drums-small``) and what it trains.
RECIPE = "drums-small"
DESCRIPTION = (
    "SmallConv1d on 16 kHz drum hits (4096 samples), trained three times with the same "
    "budget: DDPM (eps, linear schedule), rectified flow (logit-normal times) and DDPM with "
    "v-prediction; then, broken on purpose, DDPM on 4 clips only, which it memorises."
)
#: The memorising model (chapter 7): objective ``"ddpm"``, trained on the first
#: :data:`N_MEMORISED` training clips only, for :data:`MEMORISED_STEPS` steps (book and full).
MEMORISED = "drums-small-memorised"
N_MEMORISED = 4
MEMORISED_STEPS = 4000
#: The reference checkpoints the recipe writes (``<name>.safetensors``): one per objective,
#: then the memorising model.
CHECKPOINTS = ("drums-small-ddpm", "drums-small-rf", "drums-small-ddpm-v", MEMORISED)
#: The sampleable models (``tutorial-lib sample NAME``).
MODELS = {
    "drums-small-ddpm": "0.26 s drum hits, SmallConv1d, DDPM (eps).",
    "drums-small-rf": "0.26 s drum hits, SmallConv1d, rectified flow.",
    "drums-small-ddpm-v": "0.26 s drum hits, SmallConv1d, DDPM with v-prediction.",
    MEMORISED: "Broken on purpose: DDPM (eps) trained long on 4 clips, which it copies.",
}


def objective_of(name: str) -> str:
    """The objective (``"ddpm"``, ``"rf"`` or ``"ddpm-v"``) of the model ``name``.

    (:data:`MEMORISED` is a ``"ddpm"`` model.)

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_choice(name, "name", list(MODELS))
    return "ddpm" if name == MEMORISED else name[len("drums-small-") :]


def alpha_bars() -> Any:
    """The DDPM schedule of the family: Ho et al.'s linear schedule, 1000 steps, (1000,).

    (Not the cosine schedule: its last step has ``alpha_bar ~ 2e-9``, where recovering x0
    from an epsilon prediction multiplies the network's error by ``1 / sqrt(alpha_bar)``,
    about 20,000; the linear schedule ends at ``alpha_bar ~ 4e-5``, a factor of about 160.)

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    from .. import schedules

    return schedules.alpha_bar("linear", 1000)


def train_settings(mode: str, *, name: str | None = None) -> dict[str, Any]:
    """Training settings by run mode (the same budget for every objective).

    ``name=MEMORISED`` gives the memorising model's: :data:`N_MEMORISED` clips,
    :data:`MEMORISED_STEPS` steps in book and full mode.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    from ..config import MODES

    check_choice(mode, "mode", MODES)
    if name is not None:
        check_choice(name, "name", list(MODELS))
    steps = {"fast": 20, "book": 100, "full": 2000}[mode]
    n_train = 256 if mode == "fast" else N_TRAIN
    if name == MEMORISED:
        steps, n_train = (20 if mode == "fast" else MEMORISED_STEPS), N_MEMORISED
    return {"steps": steps, "batch": 32, "lr": 2e-3, "ema_decay": 0.995,
            "warmup_steps": min(100, steps // 10), "seed": 0, "n_train": n_train}  # fmt: skip


def dataset(n: int, split: str = "train") -> Any:
    """``n`` drum clips of ``split`` at the family's sizes (a ``ClipDataset``, audio in [-1, 1]).

    ``dataset(n).tensors() / SCALE`` is what the networks train on.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    return _drums.clips(n, split, sr=SR, length=LENGTH, classes=CLASSES, progress=False)


def build(config: dict[str, Any] | None = None) -> Any:
    """A fresh :class:`~tutorial_lib.models.small.SmallConv1d` with :data:`CONFIG` (or ``config``).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    from ..models.small import SmallConv1d

    return SmallConv1d(**(CONFIG if config is None else config))


def _trainer(
    name: str, mode: str, ckpt_dir: Path | None, progress: bool, device: Any = None
) -> Any:

    from .. import objectives, training

    objective = objective_of(name)
    s = train_settings(mode, name=name)
    model = _common.seeded(build, s["seed"])  # the initial weights depend on the seed alone
    schedule = alpha_bars()

    def loss_fn(net: Any, batch: Any) -> Any:
        if objective != "rf":
            return objectives.ddpm_loss(net, batch, schedule, prediction=PREDICTION[objective])
        return objectives.rf_loss(net, batch, times="logit_normal")

    return training.Trainer(
        model, loss_fn, _drums.batches(dataset(s["n_train"]), s["batch"], scale=SCALE),
        max_steps=s["steps"], lr=s["lr"], ema_decay=s["ema_decay"],
        warmup_steps=s["warmup_steps"], seed=s["seed"], ckpt_dir=ckpt_dir,
        ckpt_every=500 if ckpt_dir else None, config=model.config, progress=progress,
        device=_device.resolve(device, mode),
    )  # fmt: skip


def train(mode: str, out_dir: str | Path, resume: bool = False, *, device: Any = None) -> Path:
    """The ``drums-small`` recipe: one model per objective, then the memorising model.

    Args:
        mode: ``"fast"``, ``"book"`` or ``"full"`` (the shipped references).
        out_dir: folder for ``<name>.safetensors`` of every name in :data:`CHECKPOINTS` (EMA
            weights, float16); ``ckpt-ddpm/``, ``ckpt-rf/``, ``ckpt-ddpm-v/`` and
            ``ckpt-memorised/`` inside hold resumable ones.
        resume: continue an interrupted run in ``out_dir``.
        device: where to train (``None``/``"auto"``: the GPU in ``full`` mode, else the CPU).

    Returns:
        The path of the main checkpoint, ``drums-small-ddpm.safetensors``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    import torch

    out_dir = Path(out_dir)
    paths = []
    for name in CHECKPOINTS:
        objective = objective_of(name)
        path = out_dir / f"{name}.safetensors"
        paths.append(path)
        if resume and path.exists():
            continue
        ckpt = out_dir / f"ckpt-{name.removeprefix('drums-small-')}"
        trainer = _trainer(name, mode, ckpt, mode != "fast", device)
        trainer.fit(resume=resume, overwrite=not resume)
        meta = {"recipe": RECIPE, "objective": objective, "mode": mode, "sr": SR,
                "length": LENGTH, "scale": SCALE,
                "n_train": train_settings(mode, name=name)["n_train"]}  # fmt: skip
        trainer.export(path, dtype=torch.float16, metadata=meta)
    return paths[0]


def train_model(
    model: Any, name: str = "drums-small-ddpm", mode: str | None = None, *, device: Any = None
) -> Any:
    """Train ``model`` in place as the recipe trains ``name``, in ``mode`` (default ``tl.mode()``).

    It starts from the recipe's seeded initial weights (not ``model``'s), writes no file, and
    ``model`` ends with the EMA weights, equal to the recipe's checkpoint ``name`` (up to its
    float16 rounding). The ``train_fn`` of ``load`` when a reference checkpoint is missing.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    from ..config import mode as current_mode

    mode = current_mode() if mode is None else mode
    trainer = _trainer(name, mode, None, mode != "fast", device)
    trainer.fit()
    model.load_state_dict(trainer.ema_model.state_dict())
    return model


@functools.lru_cache(maxsize=4)
def load(name: str = "drums-small-ddpm") -> Any:
    """The reference model ``name`` (one of :data:`CHECKPOINTS`), in eval mode.

    Uses ``tl.checkpoints.load_or_train`` (trains in the current mode when the reference file
    is missing). Cached: repeated calls return the same module.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    from .. import checkpoints

    check_choice(name, "name", list(CHECKPOINTS))
    model = build()
    checkpoints.load_or_train(name, model, lambda m: train_model(m, name), config=CONFIG)
    return model.float().eval()


def _samples(net: Any, objective: str, n: int, steps: int | None, sampler: str | None,
             seed: int) -> Any:  # fmt: skip
    """Audio in [-1, 1] ``(n, 1, LENGTH)`` from ``net`` (no autograd: the samplers have none)."""
    import torch

    from .. import samplers

    if sampler in (None, "auto"):
        sampler = SAMPLERS_BY_OBJECTIVE[objective]
    check_choice(sampler, "sampler", samplers.SAMPLERS)
    family = samplers.SAMPLERS[sampler].family
    is_ddpm = objective != "rf"
    if (family == "ddpm") != is_ddpm:
        raise ValueError(
            f"sampler: {sampler!r} samples {family} models, but this is a "
            f"{'DDPM' if is_ddpm else 'rectified-flow'} model. Fix: one of "
            f"{[k for k, v in samplers.SAMPLERS.items() if (v.family == 'ddpm') == is_ddpm]}."
        )
    from ..config import device_of

    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, 1, LENGTH, generator=gen).to(device_of(net))
    kw: dict[str, Any] = {}
    if family == "ddpm":
        kw = {"alpha_bars": alpha_bars(), "clip_x0": 1 / SCALE,
              "prediction": PREDICTION[objective]}  # fmt: skip
        if sampler == "ddpm":
            kw["generator"] = gen
    x = samplers.sample(sampler, net, noise, steps=steps or SAMPLING["steps"], **kw)
    return _device.to_cpu((x * SCALE).clamp(-1, 1))


def sample(
    n: int,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    *,
    name: str = "drums-small-rf",
    device: Any = None,
) -> tuple[Any, int]:
    """Sample ``n`` drum hits from a reference model: ``(audio (n, 1, 4096) in [-1, 1], sr)``.

    Args:
        n: clips.
        steps: sampler steps (default ``SAMPLING["steps"]``, 16).
        sampler: a name of ``tl.samplers.SAMPLERS`` of the model's kind (default:
            ``"dpm++2m"`` for DDPM, ``"euler"`` for the flow).
        seed: seed of the starting noise (and of DDPM's fresh noise).
        name: ``"drums-small-ddpm"`` or ``"drums-small-rf"``.
        device: where the network runs (``None``/``"auto"``: the GPU in ``full`` mode, else
            the CPU); the audio comes back to the CPU.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    n = check_int(n, "n", min_value=1)
    net = _device.on_device(load(name), _device.resolve(device))
    return _samples(net, objective_of(name), n, steps, sampler, seed), SR


def evaluate(
    models: dict[str, Any],
    *,
    objective: str,
    n: int = 64,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    device: Any = None,
) -> dict[str, dict[str, Any]]:
    """FD and KID of each model's samples against real test clips, with the real floor.

    Args:
        models: ``{label: network}``, e.g. ``{"reference": load("drums-small-rf"),
            "untrained": build()}``.
        objective: ``"ddpm"``, ``"rf"`` or ``"ddpm-v"``, how all of ``models`` were trained.
        n: clips per model (and per real set).
        steps, sampler, seed: as for :func:`sample` (the same starting noise for every model).
        device: where the models sample (``None``: where each model is; else a copy of it
            there, so the caller's module stays put). Audio comes back to the CPU.

    Returns:
        ``{label: {"fd", "fd_floor", "kid", "kid_floor", "fd_ratio", "audio"}}`` (floor: test
        vs. validation clips, the distance two real sets of this size have).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    from .. import metrics

    n = check_int(n, "n", min_value=2)
    check_choice(objective, "objective", OBJECTIVES)
    e_test = metrics.embed(dataset(n, "test"))
    e_val = metrics.embed(dataset(n, "validation"))
    out: dict[str, dict[str, Any]] = {}
    for label, net in models.items():
        x = _samples(_device.place(net, device), objective, n, steps, sampler, seed)
        out[label] = {**_common.score_row(e_test, metrics.embed(x, SR), e_val, seed), "audio": x}
    return out
