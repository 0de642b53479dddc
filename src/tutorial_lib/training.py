"""One small training loop that every chapter uses.

A diffusion model trains like any network: draw a batch, compute a loss, step the optimiser.
What changes from chapter to chapter is the *loss* (what the network predicts, how noise and
time are drawn), so the :class:`Trainer` takes it as a function ``loss_fn(model, batch)`` and
handles the rest, the same way everywhere:

- AdamW with an optional linear learning-rate warm-up;
- gradient clipping (``grad_clip``, on by default: diffusion losses have rare, huge gradients);
- an exponential moving average (EMA) of the weights, the copy you sample from;
- mixed precision on CUDA GPUs (bfloat16, or float16 with loss scaling); full float32 on a CPU;
- a progress bar showing the loss (works in notebooks and terminals);
- periodic checkpoints (safetensors, written atomically) and **exact resume**: a run that is
  interrupted and resumed ends with bit-identical weights to one that was not (on a CPU);
- gradient accumulation (``accumulate``: each step's batch in that many micro-batches);
- **a GPU when asked** (``device="cuda"``): the data of :func:`random_batches` moves to the
  GPU once, batches of other ``step -> batch`` functions can be made ahead in ``workers``
  processes (pinned memory, copied without blocking), the optimiser is fused, the EMA is
  updated with one kernel per tensor list, and the loss is read back to the host only every
  ``log_every`` steps (a GPU step then never waits for the host);
- **many processes** with PyTorch's own engine: launched by ``torchrun --nproc_per_node=N``,
  the trainer joins the process group (NCCL on GPUs, gloo on CPUs), wraps the model in
  ``DistributedDataParallel``, gives each process its share of every batch, and logs and
  writes files on rank 0 only. The batch a ``batches`` function returns is the *global*
  batch; with N processes each computes the gradient of 1/N of it and DDP averages them
  (the process-group helpers are in :mod:`tutorial_lib.distributed`).

How exact resume works: each step ``k`` starts by seeding Python's ``random``, NumPy and torch
from ``(seed, k)``. Everything random in a step (the batch, the noise, the diffusion time,
dropout) then depends only on the seed and the step number, not on what ran before, so a
resumed run needs only the weights, the EMA, the optimiser state and ``k`` to continue exactly
(for an iterable of batches, also the position in the epoch, which it replays). Randomness
must come from the global generators (``torch.randn(...)``, not a private ``torch.Generator``).

Example::

    def loss_fn(model, x0):                      # x0: (B, C, T) clean audio
        t = torch.rand(x0.shape[0])
        eps = torch.randn_like(x0)
        xt = ...                                  # noise x0 to time t
        return ((model(xt, t) - eps) ** 2).mean()

    trainer = tl.training.Trainer(model, loss_fn, lambda step: dataset.batch(16),
                                  max_steps=tl.steps(fast=20, book=600, full=50_000), lr=2e-4)
    history = trainer.fit()
    history.plot()
    sample_model = trainer.ema_model

Introduced in: book/00_intro/how_this_book_works.md
"""

from __future__ import annotations

import copy
import math
import os
import random
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

from . import checkpoints, distributed
from ._validate import check_choice, check_int, check_number, describe

__all__ = [
    "History",
    "Trainer",
    "ema_weights",
    "latest_checkpoint",
    "random_batches",
    "RandomBatches",
]

_FORMAT = "tutorial_lib.trainer/1"
_CKPT_RE = re.compile(r"^step_(\d+)\.safetensors$")
_HISTORY_FIELDS = ("step", "loss", "lr", "grad_norm", "time")


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


@dataclass
class History:
    """What happened at each training step, as plain lists (one entry per step).

    Attributes:
        step: the step number, counting completed steps (1, 2, ...).
        loss: the loss of that step's batch.
        lr: the learning rate used.
        grad_norm: the gradient norm *before* clipping (L2 over all parameters).
        time: seconds since training started (wall clock, summed over resumed runs).

    Introduced in: book/00_intro/how_this_book_works.md
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)

    def append(self, step: int, loss: float, lr: float, grad_norm: float, time: float) -> None:
        """Record one step (see the attributes for units).

        Introduced in: book/00_intro/how_this_book_works.md
        """
        self.step.append(int(step))
        self.loss.append(float(loss))
        self.lr.append(float(lr))
        self.grad_norm.append(float(grad_norm))
        self.time.append(float(time))

    def __len__(self) -> int:
        return len(self.step)

    def as_dict(self) -> dict[str, list]:
        """A copy as ``{"step": [...], "loss": [...], "lr": [...], "grad_norm": [...], "time": [...]}``.

        Introduced in: book/00_intro/how_this_book_works.md
        """
        return {name: list(getattr(self, name)) for name in _HISTORY_FIELDS}

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the loss against the step; returns the matplotlib ``Axes``.

        Uses ``tl.plotting.loss_curves(self, ax=ax, **kwargs)`` (raw and smoothed loss) when
        the plotting module provides it, else a plain matplotlib line (log-scaled loss axis
        when all losses are positive; ``kwargs`` ignored).

        Introduced in: book/00_intro/how_this_book_works.md
        """
        try:
            from . import plotting

            loss_curves = getattr(plotting, "loss_curves", None)
        except ImportError:
            loss_curves = None
        if loss_curves is not None:
            return loss_curves(self, ax=ax, **kwargs)
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(self.step, self.loss, lw=1, label="loss")
        if self.loss and min(self.loss) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("loss")
        ax.set_title("Training loss")
        return ax

    def __repr__(self) -> str:
        if not self.step:
            return "History(empty)"
        return (
            f"History({len(self)} steps, last step {self.step[-1]}, last loss "
            f"{self.loss[-1]:.4g}, {self.time[-1]:.1f} s)"
        )

    def _to_tensors(self, prefix: str) -> dict[str, Any]:
        import torch

        out = {f"{prefix}step": torch.tensor(self.step, dtype=torch.int64)}
        for name in _HISTORY_FIELDS[1:]:
            out[prefix + name] = torch.tensor(getattr(self, name), dtype=torch.float64)
        return out

    @classmethod
    def _from_tensors(cls, state: Mapping[str, Any], prefix: str) -> History:
        if f"{prefix}step" not in state:
            return cls()
        return cls(**{name: state[prefix + name].tolist() for name in _HISTORY_FIELDS})


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _step_seed(seed: int, step: int) -> int:
    """A well-mixed 32-bit seed for step ``step`` of a run seeded with ``seed``."""
    import numpy as np

    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])


def _seed_all(value: int) -> None:
    import numpy as np
    import torch

    random.seed(value)
    np.random.seed(value)  # noqa: NPY002 (seeds the global generator that user code may use)
    torch.manual_seed(value)


def _to_device(batch: Any, device: Any) -> Any:
    import torch

    if torch.is_tensor(batch):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def latest_checkpoint(ckpt_dir: str | os.PathLike) -> Path | None:
    """The newest trainer checkpoint (``step_XXXXXXXX.safetensors``) in ``ckpt_dir``, or ``None``.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    folder = Path(ckpt_dir)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT_RE.match(p.name))]
    return max(found)[1] if found else None


def _trainer_file(path: str | os.PathLike) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """``checkpoints.load(path)`` of a file :meth:`Trainer.save_checkpoint` wrote, else an error."""
    path = checkpoints._as_path(path, "path")
    tensors, config, meta = checkpoints.load(path)
    if meta.get("format") != _FORMAT:
        raise ValueError(
            f"path: {str(path)!r} is not a trainer checkpoint (a plain weights file?). "
            f"Fix: load weights with tl.checkpoints.load_into(model, path)."
        )
    return tensors, config, meta


def ema_weights(path: str | os.PathLike) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """The EMA weights of a trainer checkpoint (``step_XXXXXXXX.safetensors``), in float32.

    Returns ``(state, config, meta)``: a ``state_dict`` for the model the run trained (build
    it from ``config``), and the checkpoint's header (``meta["step"]``, ``meta["elapsed_s"]``).
    For the weights of an exported file use :func:`tutorial_lib.checkpoints.load_into`.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    tensors, config, meta = _trainer_file(path)
    state = {k[len("ema.") :]: v.float() for k, v in tensors.items() if k.startswith("ema.")}
    if not state:
        raise ValueError(
            f"path: {str(path)!r} holds no EMA weights (trained with ema_decay=None). "
            f"Fix: use its raw weights, the 'model.' tensors of tl.checkpoints.load(path)."
        )
    return state, config, meta


def _checkpoint_files(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT_RE.match(p.name)))


class _BatchSource:
    """Batches from a callable ``step -> batch`` or from a re-iterable (list, DataLoader)."""

    def __init__(self, batches: Any) -> None:
        self.fn = batches if callable(batches) else None
        self.batches = batches
        self.epoch = 0  # index of the current pass over an iterable
        self.pos = 0  # batches taken from the current pass
        self._it: Any = None

    def next(self, step: int, reseed: Callable[[], None]) -> Any:
        if self.fn is not None:
            return self.fn(step)
        if self._it is not None:
            try:
                batch = next(self._it)
            except StopIteration:
                self.epoch += 1
            else:
                self.pos += 1
                return batch
        return self._start_epoch(reseed)

    def _start_epoch(self, reseed: Callable[[], None]) -> Any:
        reseed()  # the new pass's shuffling depends only on (seed, step)
        self._it = iter(self.batches)
        self.pos = 0
        try:
            batch = next(self._it)
        except StopIteration:
            raise ValueError(
                f"batches: pass {self.epoch} over the batches yielded nothing. A generator or "
                f"iterator can be used only once. Fix: pass a list, a DataLoader, or a "
                f"function step -> batch."
            ) from None
        self.pos = 1
        return batch

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch_in_epoch": self.pos}

    def restore(self, epoch: int, pos: int, step: int, seed_step: Callable[[int], None]) -> None:
        """Put an iterable back where it was after ``step`` steps, by replaying this pass."""
        self.epoch, self.pos, self._it = epoch, 0, None
        if self.fn is not None or pos == 0:
            return
        start = step - pos  # the step that began this pass
        for j in range(pos):
            seed_step(start + j)
            if j == 0:
                self._start_epoch(lambda: seed_step(start))
            else:
                try:
                    next(self._it)
                except StopIteration:
                    raise ValueError(
                        "batches: the data has fewer batches per pass than when the checkpoint "
                        "was written, so the run cannot resume exactly. Fix: resume with the "
                        "same data, or start over (fit(overwrite=True))."
                    ) from None
                self.pos += 1


def _floats(values: list[Any]) -> list[float]:
    """Numbers, or same-device scalar tensors read back in one transfer, as floats."""
    import torch

    if values and torch.is_tensor(values[0]):
        return torch.stack([v.float() for v in values]).tolist()
    return [float(v) for v in values]


def _check_loss(loss: Any, step: int, *, read: bool = True) -> Any:
    """Check what ``loss_fn`` returned; its value as a float (``read=False``: the detached
    tensor, left on its device so that the step does not wait for it)."""
    import torch

    if not torch.is_tensor(loss):
        raise TypeError(
            f"loss_fn: must return a scalar torch tensor, got {describe(loss)} at step {step}. "
            f"Fix: return the loss tensor itself, not loss.item()."
        )
    if loss.ndim != 0:
        raise ValueError(
            f"loss_fn: must return a scalar (shape ()), got shape {tuple(loss.shape)} at step "
            f"{step}. Fix: reduce it, e.g. return loss.mean()."
        )
    if not loss.requires_grad:
        raise ValueError(
            f"loss_fn: the loss does not depend on the model's trainable parameters (no "
            f"gradient) at step {step}. Fix: compute it from model(...) outside torch.no_grad(), "
            f"without .detach()."
        )
    if not read:
        return loss.detach()
    value = float(loss.detach())
    if not math.isfinite(value):
        raise FloatingPointError(
            f"loss_fn: the loss is {value} at step {step}: training diverged. Fix: lower lr, "
            f"keep grad_clip on, check the data for NaN/Inf (tl._validate.check_finite)."
        )
    return value


# --------------------------------------------------------------------------------------------
# Trainer
# --------------------------------------------------------------------------------------------


class Trainer:
    """Train ``model`` by minimising ``loss_fn(model, batch)`` for ``max_steps`` steps.

    Args:
        model: a ``torch.nn.Module``; trained in place.
        loss_fn: ``loss_fn(model, batch) -> scalar tensor`` (shape ``()``). It may use global
            randomness (``torch.randn``); see the module docstring for why that is exact on
            resume.
        batches: either a function ``step -> batch`` (recommended: resuming is free), or a
            re-iterable such as a list of batches or a ``torch.utils.data.DataLoader`` (passed
            over again and again; a resume replays the current pass up to its position). A
            batch is a tensor, e.g. ``(B, C, T)`` audio, or a tuple/list/dict of tensors; it is
            moved to ``device``.
        max_steps: number of optimiser steps (>= 1).
        lr: peak learning rate of AdamW (> 0).
        ema_decay: decay of the exponential moving average of the weights, in ``[0, 1)``
            (``None``: no EMA). Each step: ``ema = d * ema + (1 - d) * weights``.
        ema_warmup: use ``d = min(ema_decay, (1 + n) / (10 + n))`` at the ``n``-th EMA update
            (as diffusers' ``EMAModel``), so short runs are not dominated by the random start.
        grad_clip: clip the gradient's L2 norm to this (``None``: no clipping).
        weight_decay: AdamW's decoupled weight decay (>= 0).
        warmup_steps: linear learning-rate warm-up from ``lr / warmup_steps`` to ``lr``.
        decay: the learning rate after the warm-up: ``"constant"`` (``lr``) or ``"cosine"``
            (from ``lr`` down to 0 at step ``decay_steps``, half a cosine period). With a
            constant rate the weights keep jumping around the minimum at the size of the
            last steps and the EMA only partly averages that out; a decay anneals them.
        decay_steps: the step at which a ``"cosine"`` decay reaches 0 (``None``: ``max_steps``).
            Set it when a run is extended in stages (train ``max_steps = 600``, export, then
            set ``max_steps = 6000`` and fit again) so that the schedule spans the whole run.
        amp: mixed precision: ``"auto"`` (bfloat16 on CUDA GPUs that support it, else float16
            with loss scaling; off on CPU and MPS), ``"bf16"``, ``"fp16"`` (CUDA only) or
            ``None``/``"off"``.
        device: where to train (``None``: where the model already is).
        ckpt_dir: folder for checkpoints ``step_XXXXXXXX.safetensors`` (``None``: none).
        ckpt_every: write one every this many steps; the last step always writes one when
            ``ckpt_dir`` is set.
        keep: how many of the newest checkpoints to keep (``None``: all).
        config: the model config (JSON-able dict) stored in checkpoints and exports.
        seed: the run's seed (0 to 2**32 - 1); step ``k`` is seeded from ``(seed, k)``.
        progress: show a progress bar with the loss.
        log_every: update the bar's loss (mean over the last ``log_every`` steps) this often.
        accumulate: split each step's batch into this many micro-batches and add their
            gradients before the optimiser step (same result, less memory per forward).
        workers: make the batches of a ``step -> batch`` function this many steps ahead in
            as many worker processes (``torch.utils.data.DataLoader``; 0: in this process,
            when needed). Each batch depends on ``(seed, step)`` alone, so the run is the
            same for any number of workers. For batch functions with real work per step
            (chapter 6's token encoding) on a GPU.

    On a CPU every step reads its loss back and checks it at once. On any other device the
    losses and gradient norms stay on the device and are read every ``log_every`` steps (a
    non-finite loss then stops the run at most ``log_every`` steps later, naming its step).

    Launched by ``torchrun --nproc_per_node=N``, the trainer joins the process group
    (:func:`tutorial_lib.distributed.init_distributed`), trains a ``DistributedDataParallel``
    copy of the model on its share of each batch, averages the logged loss over the processes
    and writes checkpoints and exports from rank 0 only. The global batch must divide by ``N *
    accumulate``. Every process holds the same weights after every step.

    Attributes:
        model, ema_model (``None`` without EMA), optimizer, history (:class:`History`),
        step (completed steps), device, amp_dtype.

    Introduced in: book/00_intro/how_this_book_works.md
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[Any, Any], Any],
        batches: Callable[[int], Any] | Iterable[Any],
        *,
        max_steps: int,
        lr: float = 1e-3,
        ema_decay: float | None = 0.999,
        ema_warmup: bool = True,
        grad_clip: float | None = 1.0,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        decay: str = "constant",
        decay_steps: int | None = None,
        amp: str | None = "auto",
        device: Any = None,
        ckpt_dir: str | os.PathLike | None = None,
        ckpt_every: int | None = None,
        keep: int | None = 2,
        config: Mapping[str, Any] | None = None,
        seed: int = 0,
        progress: bool = True,
        log_every: int = 10,
        accumulate: int = 1,
        workers: int = 0,
    ) -> None:
        import torch

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}.")
        if not callable(loss_fn):
            raise TypeError(
                f"loss_fn: expected a function loss_fn(model, batch) -> scalar loss tensor, "
                f"got {describe(loss_fn)}."
            )
        if torch.is_tensor(batches) or hasattr(batches, "__array__") or isinstance(batches, str):
            raise TypeError(
                f"batches: got a single {describe(batches)}; iterating over it would yield its "
                f"rows, not batches. Fix: to train on one fixed batch x pass "
                f"batches=lambda step: x; else a list of batches, a DataLoader, or a function."
            )
        if not callable(batches) and not isinstance(batches, Iterable):
            raise TypeError(
                f"batches: expected a function step -> batch, a list of batches or a "
                f"DataLoader, got {describe(batches)}."
            )
        self.max_steps = check_int(max_steps, "max_steps", min_value=1)
        self.lr = check_number(lr, "lr", low=0.0, low_open=True)
        self.ema_decay = (
            None
            if ema_decay is None
            else check_number(ema_decay, "ema_decay", low=0.0, high=1.0, high_open=True)
        )
        if not isinstance(ema_warmup, bool):
            raise TypeError(f"ema_warmup: expected True or False, got {describe(ema_warmup)}.")
        self.ema_warmup = ema_warmup
        self.grad_clip = (
            None
            if grad_clip is None
            else check_number(grad_clip, "grad_clip", low=0.0, low_open=True)
        )
        self.weight_decay = check_number(weight_decay, "weight_decay", low=0.0)
        self.warmup_steps = check_int(warmup_steps, "warmup_steps", min_value=0)
        self.decay = check_choice(decay, "decay", ("constant", "cosine"))
        self.decay_steps = (
            None if decay_steps is None else check_int(decay_steps, "decay_steps", min_value=1)
        )
        self.seed = check_int(seed, "seed", min_value=0, max_value=2**32 - 1)
        if not isinstance(progress, bool):
            raise TypeError(f"progress: expected True or False, got {describe(progress)}.")
        self.progress = progress
        self.log_every = check_int(log_every, "log_every", min_value=1)
        self.accumulate = check_int(accumulate, "accumulate", min_value=1)
        self.workers = check_int(workers, "workers", min_value=0, max_value=256)
        if self.workers and not callable(batches):
            raise ValueError(
                f"workers: {workers} worker processes make batches of a function step -> batch; "
                f"got {describe(batches)}. Fix: workers=0, or pass batches as a function."
            )
        self.rank, self.world_size = distributed.init_distributed()
        self.ckpt_dir = None if ckpt_dir is None else checkpoints._as_path(ckpt_dir, "ckpt_dir")
        self.ckpt_every = (
            None if ckpt_every is None else check_int(ckpt_every, "ckpt_every", min_value=1)
        )
        if self.ckpt_every is not None and self.ckpt_dir is None:
            raise ValueError(
                f"ckpt_every: set to {ckpt_every}, but ckpt_dir is None, so there is nowhere to "
                f"write checkpoints. Fix: pass ckpt_dir='runs/my_model' (or drop ckpt_every)."
            )
        self.keep = None if keep is None else check_int(keep, "keep", min_value=1)
        if config is not None:
            if not isinstance(config, Mapping):
                raise TypeError(
                    f"config: expected a dict (the model config), got {describe(config)}."
                )
            checkpoints._json_text(dict(config), "config")
            config = dict(config)
        self.config: dict[str, Any] | None = config

        if device is None and self.world_size > 1 and torch.cuda.is_available():
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        elif device is None:
            first = next(model.parameters(), None)
            self.device = first.device if first is not None else torch.device("cpu")
        else:
            if not isinstance(device, (str, torch.device)):
                raise TypeError(
                    f"device: expected None, a str or a torch.device, got {describe(device)}."
                )
            self.device = torch.device(device)
            if self.device.type == "cuda" and self.device.index is None and self.world_size > 1:
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            if self.device.type == "cuda" and not torch.cuda.is_available():
                raise ValueError(
                    f"device: {device!r} asked, but no CUDA GPU is available. "
                    f"Fix: device=None (the model's device) or device=tl.pick_device()."
                )
        self.model = model.to(self.device)
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        if not self._params:
            raise ValueError(
                "model: has no trainable parameters (none with requires_grad=True). "
                "Fix: unfreeze them, e.g. model.requires_grad_(True)."
            )
        self.amp_dtype = self._resolve_amp(amp)
        self.loss_fn = loss_fn
        if isinstance(batches, RandomBatches):  # the training clips move to the device once
            batches = batches.to(self.device)
        # what the loss sees: the model itself, or its DistributedDataParallel wrapper
        self.net = (
            distributed.wrap_ddp(self.model, self.device) if self.world_size > 1 else self.model
        )
        fused = {"fused": True} if self.device.type == "cuda" else {}  # one kernel per step
        self.optimizer = torch.optim.AdamW(
            self._params, lr=self.lr, weight_decay=self.weight_decay, **fused
        )
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.ema_model = None
        if self.ema_decay is not None:
            self.ema_model = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.history = History()
        self.step = 0
        self._ema_updates = 0
        self._elapsed = 0.0
        self._source = _BatchSource(batches)
        self._pending: list[tuple[int, float, Any, Any, float]] = []  # losses still on device
        self._ahead: Any = None  # the iterator of batches made ahead by workers

    # -- settings ----------------------------------------------------------------------------

    def _resolve_amp(self, amp: Any) -> Any:
        import torch

        if amp is None or amp is False or amp == "off":
            return None
        check_choice(amp, "amp", ("auto", "bf16", "fp16", "off"))
        if self.device.type != "cuda":
            if amp == "auto":
                return None
            raise ValueError(
                f"amp: {amp!r} mixed precision needs a CUDA GPU; this trainer runs on "
                f"{self.device}. Fix: amp='auto' (uses it only on CUDA) or amp=None."
            )
        if amp == "fp16":
            return torch.float16
        if amp == "bf16" and not torch.cuda.is_bf16_supported():
            raise ValueError("amp: this GPU does not support bfloat16. Fix: amp='fp16' or 'auto'.")
        if amp == "bf16" or torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16

    def lr_at(self, step: int) -> float:
        """Learning rate used at step ``step`` (0-based): linear warm-up, then ``decay``.

        Introduced in: book/00_intro/how_this_book_works.md
        """
        if self.warmup_steps and step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.decay == "constant":
            return self.lr
        end = self.max_steps if self.decay_steps is None else self.decay_steps
        span = max(1, end - self.warmup_steps)
        done = min(1.0, max(0.0, (step - self.warmup_steps) / span))
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * done))

    def ema_decay_at(self, n: int) -> float:
        """EMA decay used at the ``n``-th EMA update (0-based); ``ema_decay`` without warm-up.

        Introduced in: book/00_intro/how_this_book_works.md
        """
        if self.ema_decay is None:
            raise ValueError("ema_decay_at: this trainer keeps no EMA (ema_decay=None).")
        if self.ema_warmup:
            return min(self.ema_decay, (1 + n) / (10 + n))
        return self.ema_decay

    @property
    def ema_state(self) -> dict[str, Any] | None:
        """The EMA weights as a state dict (``None`` without EMA).

        Introduced in: book/00_intro/how_this_book_works.md
        """
        return None if self.ema_model is None else self.ema_model.state_dict()

    def _hparams(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "ema_decay": self.ema_decay,
            "ema_warmup": self.ema_warmup,
            "grad_clip": self.grad_clip,
            "weight_decay": self.weight_decay,
            "warmup_steps": self.warmup_steps,
            "decay": self.decay,
            "decay_steps": self.decay_steps,
            "seed": self.seed,
            "amp": None if self.amp_dtype is None else str(self.amp_dtype).replace("torch.", ""),
            "accumulate": self.accumulate,
            "world_size": self.world_size,
            "device": self.device.type,
        }

    def __repr__(self) -> str:
        return (
            f"Trainer({type(self.model).__name__}, step {self.step}/{self.max_steps}, lr={self.lr:g}, "
            f"ema_decay={self.ema_decay}, device={self.device})"
        )

    # -- training ----------------------------------------------------------------------------

    def fit(self, *, resume: bool = False, overwrite: bool = False) -> History:
        """Train until ``max_steps`` steps are done; returns the :class:`History`.

        Args:
            resume: continue from the newest checkpoint in ``ckpt_dir`` (if there is none,
                start at step 0). Weights, EMA, optimiser state, step, history and data
                position are restored, so the result equals an uninterrupted run.
            overwrite: when not resuming, delete earlier checkpoints in ``ckpt_dir`` first
                (without it, finding some is an error, so a rerun cannot silently mix runs).

        Calling ``fit()`` again on the same trainer continues from where it stopped.

        Introduced in: book/00_intro/how_this_book_works.md
        """
        from .config import progress

        if not isinstance(resume, bool) or not isinstance(overwrite, bool):
            raise TypeError("resume, overwrite: expected True or False.")
        if resume:
            if self.ckpt_dir is None:
                raise ValueError(
                    "resume: needs ckpt_dir, the folder the interrupted run wrote its "
                    "checkpoints to. Fix: Trainer(..., ckpt_dir='runs/my_model').fit(resume=True)."
                )
            last = latest_checkpoint(self.ckpt_dir)
            if last is not None:
                self.load_checkpoint(last)
                print(f"Resumed from {last} (step {self.step} of {self.max_steps}).")
            elif self.step == 0:
                print(f"No checkpoint in {str(self.ckpt_dir)!r} yet: starting at step 0.")
        elif self.ckpt_dir is not None and self.step == 0:
            found = _checkpoint_files(self.ckpt_dir)
            if found and overwrite:
                distributed.barrier()  # every process has looked before rank 0 deletes
                if self.rank == 0:
                    for _, p in found:
                        p.unlink(missing_ok=True)
                distributed.barrier()
            elif found:
                raise FileExistsError(
                    f"ckpt_dir: {str(self.ckpt_dir)!r} already holds checkpoints of an earlier run "
                    f"(newest: {found[-1][1].name}). Fix: fit(resume=True) to continue it, "
                    f"fit(overwrite=True) to delete them and start over, or another ckpt_dir."
                )
        if self.step >= self.max_steps:
            return self.history

        was_training = self.model.training
        self.model.train()
        bar = progress(
            total=self.max_steps,
            leave=True,
            initial=self.step,
            disable=not self.progress or self.rank != 0,
            desc="training",
            unit="step",
            dynamic_ncols=True,
        )
        start = perf_counter() - self._elapsed
        self._ahead = self._batches_ahead() if self.workers else None
        try:
            while self.step < self.max_steps:
                self._train_step(start)
                bar.update(1)
                saving = self.ckpt_dir is not None and (
                    self.step == self.max_steps
                    or (self.ckpt_every is not None and self.step % self.ckpt_every == 0)
                )
                if len(self._pending) >= self.log_every or self.step == self.max_steps or saving:
                    recent = self._flush()
                    if recent:
                        bar.set_postfix(loss=f"{sum(recent) / len(recent):.4g}", refresh=False)
                if saving:
                    self.save_checkpoint()
        finally:
            self._ahead = None
            try:
                self._flush()
            finally:
                bar.close()
                self.model.train(was_training)
        return self.history

    def _flush(self) -> list[float]:
        """Move the pending steps' loss and gradient norm to the history (one host read)."""
        if not self._pending:
            return []
        pending, self._pending = self._pending, []
        if self.device.type == "meta":  # shapes only: no numbers to read
            values = grads = [math.nan] * len(pending)
        else:
            values, grads = _floats([p[2] for p in pending]), _floats([p[3] for p in pending])
        for (step, lr, _, _, elapsed), value, grad in zip(pending, values, grads, strict=True):
            if self.device.type != "meta" and not math.isfinite(value):
                raise FloatingPointError(
                    f"loss_fn: the loss is {value} at step {step - 1}: training diverged. Fix: "
                    f"lower lr, keep grad_clip on, check the data for NaN/Inf "
                    f"(tl._validate.check_finite)."
                )
            self.history.append(step, value, lr, grad, elapsed)
        return values

    def _batches_ahead(self) -> Any:
        """The batches of steps ``step .. max_steps - 1``, made ahead by worker processes."""
        import torch

        loader = torch.utils.data.DataLoader(
            _StepBatches(self._source.fn, self.seed),
            batch_size=None,
            sampler=range(self.step, self.max_steps),
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4,
        )
        return iter(loader)

    def _train_step(self, start: float) -> float:
        import contextlib

        import torch

        k = self.step
        _seed_all(_step_seed(self.seed, k))
        if self._ahead is not None:
            batch = next(self._ahead)  # made by a worker after the same seeding
        else:
            batch = self._source.next(k, lambda: _seed_all(_step_seed(self.seed, k)))
        batch = _to_device(distributed.shard(batch, self.rank, self.world_size), self.device)
        if self.world_size > 1:  # each process draws its own noise and times for its share
            _seed_all(_step_seed(self.seed, k) ^ (0x9E3779B9 * (self.rank + 1) & 0xFFFFFFFF))
        lr = self.lr_at(k)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        parts = [
            distributed.shard(batch, i, self.accumulate, "batch (gradient accumulation)")
            for i in range(self.accumulate)
        ]  # one part, the batch itself, without accumulation
        check_now = self.device.type == "cpu"  # on a CPU a read-back costs nothing
        value: Any = 0.0
        for i, part in enumerate(parts):
            sync = i == len(parts) - 1 or self.net is self.model
            ctx = contextlib.nullcontext() if sync else self.net.no_sync()
            with ctx:
                amp = (
                    contextlib.nullcontext()
                    if self.amp_dtype is None
                    else torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)
                )
                with amp:
                    loss = self.loss_fn(self.net, part)
                checked = _check_loss(loss, k, read=check_now)
                value = value + checked / len(parts)
                loss = loss / len(parts) if len(parts) > 1 else loss
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                else:
                    loss.backward()
        if self.world_size > 1:  # the logged loss: the mean over the processes
            import torch.distributed as dist

            mean = torch.as_tensor(value, dtype=torch.float64, device=self.device).reshape(1)
            dist.all_reduce(mean)
            value = mean[0] / self.world_size
            if check_now:
                value = float(value)
        max_norm = self.grad_clip if self.grad_clip is not None else math.inf
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
            grad_norm: Any = torch.nn.utils.clip_grad_norm_(self._params, max_norm)
            self.scaler.step(self.optimizer)  # skips the step if the gradients overflowed
            self.scaler.update()
        else:
            grad_norm = torch.nn.utils.clip_grad_norm_(self._params, max_norm).detach()
            if check_now:
                grad_norm = float(grad_norm)
                if not math.isfinite(grad_norm):
                    raise FloatingPointError(
                        f"loss_fn: the gradient norm is {grad_norm} at step {k}. Fix: lower "
                        f"lr, keep grad_clip on, check the data and the loss for NaN/Inf."
                    )
            self.optimizer.step()
        self._update_ema()
        self.step = k + 1
        self._elapsed = perf_counter() - start
        self._pending.append((self.step, lr, value, grad_norm, self._elapsed))
        return value

    def _update_ema(self) -> None:
        import torch

        if self.ema_model is None:
            return
        d = self.ema_decay_at(self._ema_updates)
        with torch.no_grad():
            ema = list(self.ema_model.parameters())
            live = [p.detach() for p in self.model.parameters()]
            # ema = d * ema + (1 - d) * p, one kernel per list (the same arithmetic as a loop)
            torch._foreach_mul_(ema, d)
            torch._foreach_add_(ema, live, alpha=1.0 - d)
            for e, b in zip(self.ema_model.buffers(), self.model.buffers(), strict=True):
                e.copy_(b)
        self._ema_updates += 1

    # -- checkpoints -------------------------------------------------------------------------

    def save_checkpoint(self, path: str | os.PathLike | None = None) -> Path:
        """Write everything needed to resume exactly, as one safetensors file (atomically).

        Holds the model (``model.*``), the EMA (``ema.*``), the optimiser state flattened into
        tensors (``optim.<param>.<name>``) and the history (``history.*``); the step, data
        position and settings go in the JSON header. No pickle. Default path:
        ``ckpt_dir/step_XXXXXXXX.safetensors``; older ones beyond ``keep`` are deleted.

        Introduced in: book/00_intro/how_this_book_works.md
        """
        import torch

        if path is None:
            if self.ckpt_dir is None:
                raise ValueError("path: no path given and ckpt_dir is None. Fix: pass a path.")
            path = self.ckpt_dir / f"step_{self.step:08d}.safetensors"
        if self.rank != 0:  # one writer; the others wait until the file is complete
            distributed.barrier()
            return Path(path)
        tensors: dict[str, Any] = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if self.ema_model is not None:
            tensors.update({f"ema.{k}": v for k, v in self.ema_model.state_dict().items()})
        opt = self.optimizer.state_dict()
        extra: dict[str, Any] = {}
        for i, st in opt["state"].items():
            for name, value in st.items():
                if torch.is_tensor(value):
                    tensors[f"optim.{i}.{name}"] = value
                else:
                    extra[f"{i}.{name}"] = value
        tensors.update(self.history._to_tensors("history."))
        meta = {
            "format": _FORMAT,
            "step": self.step,
            "max_steps": self.max_steps,
            "ema_updates": self._ema_updates,
            "elapsed_s": self._elapsed,
            "hparams": self._hparams(),
            "optim_extra": extra,
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            **self._source.state(),
        }
        path = checkpoints.save(path, tensors, config=self.config, metadata=meta)
        if self.keep is not None and self.ckpt_dir is not None and path.parent == self.ckpt_dir:
            for _, old in _checkpoint_files(self.ckpt_dir)[: -self.keep]:
                old.unlink(missing_ok=True)
        if self.world_size > 1:
            distributed.barrier()
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore the trainer from a file written by :meth:`save_checkpoint`.

        Introduced in: book/00_intro/how_this_book_works.md
        """
        path = checkpoints._as_path(path, "path")
        state, config, meta = _trainer_file(path)
        if self.config is not None and config is not None:
            diff = checkpoints.config_diff(config, self.config)
            if diff:
                raise ValueError(
                    f"config: the checkpoint {path.name!r} comes from a model with another "
                    f"config ('expected' = checkpoint, 'got' = this trainer):\n  "
                    + "\n  ".join(diff[:10])
                    + "\nFix: build the model with the checkpoint's config, or start over "
                    "(fit(overwrite=True))."
                )
        changed = [
            f"{k}: checkpoint {v!r}, now {self._hparams().get(k)!r}"
            for k, v in meta.get("hparams", {}).items()
            if self._hparams().get(k) != v
        ]
        if changed:
            warnings.warn(
                "resume: settings differ from the checkpoint's (" + "; ".join(changed) + "); "
                "continuing with the new ones, so the result will differ from an uninterrupted run.",
                RuntimeWarning,
                stacklevel=2,
            )

        def part(prefix: str) -> dict[str, Any]:
            return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}

        try:
            self.model.load_state_dict(part("model."), strict=True)
        except RuntimeError as err:
            raise ValueError(
                f"path: the model weights in {path.name!r} do not fit this model: {err}\n"
                f"Fix: build the model with the same config as the run that wrote it."
            ) from err
        if self.ema_model is not None:
            ema = part("ema.")
            if ema:
                self.ema_model.load_state_dict(ema, strict=True)
            else:
                warnings.warn(
                    "resume: the checkpoint has no EMA weights; starting the EMA from the "
                    "loaded weights.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self.ema_model.load_state_dict(self.model.state_dict())
        opt_state: dict[int, dict[str, Any]] = {}
        for key, value in part("optim.").items():
            i, name = key.split(".", 1)
            opt_state.setdefault(int(i), {})[name] = value
        for key, value in meta.get("optim_extra", {}).items():
            i, name = key.split(".", 1)
            opt_state.setdefault(int(i), {})[name] = value
        groups = self.optimizer.state_dict()["param_groups"]
        n_params = sum(len(g["params"]) for g in groups)
        if any(i >= n_params for i in opt_state):
            raise ValueError(
                f"path: the optimiser state in {path.name!r} is for more parameters than this "
                f"model trains ({n_params}). Fix: use the same model and frozen parameters."
            )
        self.optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
        if self.scaler is not None and meta.get("scaler"):
            self.scaler.load_state_dict(meta["scaler"])
        self.history = History._from_tensors(state, "history.")
        self.step = int(meta["step"])
        self._ema_updates = int(meta.get("ema_updates", self.step))
        self._elapsed = float(meta.get("elapsed_s", 0.0))
        self._source.restore(
            int(meta.get("epoch", 0)),
            int(meta.get("batch_in_epoch", 0)),
            self.step,
            lambda s: _seed_all(_step_seed(self.seed, s)),
        )

    def export(
        self,
        path: str | os.PathLike,
        *,
        ema: bool = True,
        dtype: Any = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Path:
        """Save just the weights for sampling (the EMA by default) with the config.

        A slim file for :func:`tutorial_lib.checkpoints.load_into` and the reference registry:
        no optimiser state. ``dtype=torch.float16`` halves it. The metadata records the steps
        trained, whether the weights are the EMA, and the mean loss of the last 50 steps.

        Introduced in: book/00_intro/how_this_book_works.md
        """
        if ema and self.ema_model is None:
            raise ValueError("ema: this trainer keeps no EMA (ema_decay=None). Fix: ema=False.")
        tail = self.history.loss[-50:]
        meta = {
            "steps": self.step,
            "ema": bool(ema),
            "final_loss": sum(tail) / len(tail) if tail else None,
            **dict(metadata or {}),
        }
        source = self.ema_model if ema else self.model
        if self.rank != 0:  # rank 0 writes; the others wait for it
            distributed.barrier()
            return Path(path)
        out = checkpoints.save(path, source, config=self.config, metadata=meta, dtype=dtype)
        if self.world_size > 1:
            distributed.barrier()
        return out


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------


def random_batches(audio: Any, batch_size: int, *, labels: Any = None) -> Callable[[int], Any]:
    """The ``batches(step)`` function of a :class:`Trainer`: clips drawn at random each step.

    Each call draws ``batch_size`` indices with replacement from the global torch generator
    (which the trainer seeds from ``(seed, step)``, so runs are exactly reproducible and
    resumable).

    Args:
        audio: a tensor ``(N, C, T)`` of training clips (already in the model's space).
        batch_size: clips per batch.
        labels: optional class labels ``(N,)`` (int tensor); then each batch is a dict
            ``{"audio": (B, C, T), "label": (B,)}`` (the v-diffusion loss's input).

    Returns:
        ``batches(step) -> (B, C, T) tensor`` (or the dict with labels).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    import torch

    if not torch.is_tensor(audio) or audio.ndim < 2 or audio.shape[0] < 1:
        raise TypeError(f"audio: expected a tensor (N, C, T) of clips, got {describe(audio)}.")
    batch_size = check_int(batch_size, "batch_size", min_value=1)
    if labels is not None:
        labels = torch.as_tensor(labels)
        if labels.shape != (audio.shape[0],):
            raise ValueError(
                f"labels: expected one label per clip, shape ({audio.shape[0]},), got "
                f"{describe(labels)}."
            )
    return RandomBatches(audio, batch_size, labels)


class RandomBatches:
    """What :func:`random_batches` returns: ``batches(step)``, movable to a device.

    A :class:`Trainer` moves it to its device once (``.to(device)``), so on a GPU the clips
    live there and a step costs one index draw and one gather, with no copy from the host.
    The indices are drawn on the CPU from the global generator either way, so a run draws
    the same clips on any device.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """

    def __init__(self, audio: Any, batch_size: int, labels: Any = None) -> None:
        self.audio, self.batch_size, self.labels = audio, batch_size, labels

    def to(self, device: Any) -> RandomBatches:
        """The same batches with the clips (and labels) on ``device``."""
        labels = None if self.labels is None else self.labels.to(device)
        return RandomBatches(self.audio.to(device), self.batch_size, labels)

    def __call__(self, step: int) -> Any:
        import torch

        idx = torch.randint(0, self.audio.shape[0], (self.batch_size,))
        if self.audio.device.type != "cpu":
            idx = idx.to(self.audio.device, non_blocking=True)
        if self.labels is None:
            return self.audio[idx]
        return {"audio": self.audio[idx], "label": self.labels[idx]}


class _StepBatches:
    """``batches(step)`` as a map-style dataset for worker processes: item ``k`` is the batch
    of step ``k``, drawn after the same seeding as in the training process."""

    def __init__(self, fn: Callable[[int], Any], seed: int) -> None:
        self.fn, self.seed = fn, seed

    def __getitem__(self, step: int) -> Any:
        _seed_all(_step_seed(self.seed, step))
        return self.fn(step)
