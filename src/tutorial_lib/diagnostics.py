"""When a model only outputs noise: the checks of the debugging chapter, as functions.

- :func:`check_data`: the data's range, scale, DC offset and sample rate, in one report;
- :func:`overfit_one_batch`: can the model and loss learn one fixed batch at all?
- :func:`loss_by_noise_level`: the loss at each noise level, which the average hides;
- :func:`autograd_bytes`: how much memory autograd keeps while a function runs (sampling
  with autograd on keeps every step's graph).

Introduced in: book/07_debugging/07_01_when_it_only_outputs_noise.ipynb
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validate import check_int, check_number, check_sample_rate, describe

__all__ = ["DataReport", "autograd_bytes", "check_data", "loss_by_noise_level", "overfit_one_batch"]


@dataclass
class DataReport:
    """What :func:`check_data` found: the numbers, and the problems in words (empty if none).

    Introduced in: book/07_debugging/07_01_when_it_only_outputs_noise.ipynb
    """

    n: int
    sr: int
    peak: float
    std: float
    dc_offset: float
    silent_share: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = (
            f"{self.n} clips at {self.sr} Hz: peak {self.peak:.3g}, std {self.std:.3g}, "
            f"largest DC offset {self.dc_offset:.3g}, silent clips {self.silent_share:.0%}"
        )
        if not self.problems:
            return head + "\nno problem found"
        return head + "\n" + "\n".join(f"PROBLEM: {p}" for p in self.problems)


def check_data(
    x: Any,
    sr: int,
    *,
    expected_sr: int | None = None,
    scale: float = 1.0,
    std_range: tuple[float, float] = (0.2, 5.0),
) -> DataReport:
    """Check a batch of training audio ``(B, C, T)`` before blaming the model.

    Args:
        x: the clips as the network will see them, *after* your scaling.
        sr: their sample rate in Hz.
        expected_sr: the rate the model (or its data pipeline) assumes; a mismatch plays
            every sound at the wrong pitch and speed.
        scale: the factor the family divides audio by before the network (``SCALE``),
            to judge the range of the audio itself.
        std_range: the standard deviation a diffusion model's data should have: near 1, the
            noise's, so that the schedule's signal-to-noise ratios mean what they say.

    Returns:
        a :class:`DataReport` (``print`` it; ``.ok`` is ``True`` when nothing was found).

    Introduced in: book/07_debugging/07_01_when_it_only_outputs_noise.ipynb
    """
    import torch

    sr = check_sample_rate(sr, "sr")
    scale = check_number(scale, "scale", low=0.0, low_open=True)
    t = torch.as_tensor(x)
    if t.ndim != 3 or not t.is_floating_point():
        raise ValueError(f"x: expected float audio (B, C, T), got {describe(x)}.")
    t = t.double()
    if not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).sum())
        return DataReport(len(t), sr, float("nan"), float("nan"), float("nan"), 0.0,
                          [f"{bad} values are NaN or infinite: find the clip that made them "
                           "(a division by a silent clip's peak?) and drop or fix it."])  # fmt: skip
    audio = t * scale
    peak = float(audio.abs().max())
    std = float(t.std())
    clip_std = t.std(dim=-1).clamp_min(1e-12)
    dc = float((t.mean(dim=-1).abs() / clip_std).max())
    silent = float((audio.abs().amax(dim=(1, 2)) < 1e-4).double().mean())
    problems = []
    if peak > 1.0 + 1e-6:
        problems.append(
            f"the audio (x * scale) peaks at {peak:.3g}, outside [-1, 1]: integer PCM not divided "
            f"by 32768, or a gain applied twice. Fix: load with tl.audio.load (floats in [-1, 1])."
        )
    if not std_range[0] <= std <= std_range[1]:
        problems.append(
            f"the network's data has std {std:.3g}, far from the noise's 1: at a given time the "
            f"real signal-to-noise ratio is {20 * np.log10(max(std, 1e-12)):+.0f} dB off the "
            f"schedule's. Fix: divide by about {std:.3g} (a family's SCALE), or standardise."
        )
    if dc > 0.1:
        problems.append(
            f"a clip's mean is {dc:.2g} of its standard deviation (a DC offset): the model "
            f"spends capacity on a constant and generates it. Fix: subtract each clip's mean "
            f"(or high-pass at 20 Hz)."
        )
    if silent > 0.05:
        problems.append(f"{silent:.0%} of the clips are silent: trim or drop them.")
    if expected_sr is not None and check_sample_rate(expected_sr, "expected_sr") != sr:
        problems.append(
            f"the clips are at {sr} Hz but the model assumes {expected_sr} Hz: everything plays "
            f"at {expected_sr / sr:.2f}x speed, {12 * np.log2(expected_sr / sr):+.1f} semitones "
            f"off. Fix: tl.audio.resample(x, {sr}, {expected_sr})."
        )
    return DataReport(len(t), sr, peak, std, dc, silent, problems)


def overfit_one_batch(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    batch: Any,
    *,
    steps: int = 200,
    lr: float = 1e-3,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` (in place) on one fixed ``batch`` for ``steps`` steps; the losses.

    The data is fixed; the noise and times the loss draws are fresh at each step (seeded from
    ``seed + step``), so the model must learn to *denoise* this batch, not to memorise one
    noise draw (which even a model that never sees its noisy input could). The first test of any new model or loss: a correct one drives the loss on a single batch
    far down. A flat loss means a bug that no amount of data or training will fix (the
    network never sees the noisy input, the target is the wrong thing, gradients do not
    reach the weights, the learning rate is wrong). Adam, no EMA, no clipping.

    Introduced in: book/07_debugging/07_01_when_it_only_outputs_noise.ipynb
    """
    import torch

    steps = check_int(steps, "steps", min_value=1)
    lr = check_number(lr, "lr", low=0.0, low_open=True)
    seed = check_int(seed, "seed", min_value=0)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model: has no trainable parameters.")
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    model.train()
    with torch.random.fork_rng():
        for step in range(steps):
            torch.manual_seed(seed + step)
            loss = loss_fn(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    model.eval()
    return losses


def loss_by_noise_level(
    model: Any,
    x0: Any,
    alpha_bars: Any,
    *,
    prediction: str = "eps",
    bins: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The DDPM loss of ``model`` on ``x0`` at ``bins`` noise levels: ``(t, loss)``.

    The training loss is an average over noise levels; a model can have a low average and
    still fail at the high noise levels where sampling starts. Each bin uses the step at its
    centre for the whole batch, with noise drawn from ``seed``; no autograd.

    Introduced in: book/07_debugging/07_01_when_it_only_outputs_noise.ipynb
    """
    import torch

    from .objectives import ddpm_loss

    bins = check_int(bins, "bins", min_value=1)
    n = len(torch.as_tensor(alpha_bars))
    steps = ((np.arange(bins) + 0.5) * n / bins).astype(int)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", min_value=0))
    losses = []
    with torch.no_grad():
        for s in steps:
            noise = torch.randn(x0.shape, generator=gen)
            step = torch.full((x0.shape[0],), int(s), dtype=torch.long)
            losses.append(float(ddpm_loss(model, x0, alpha_bars, prediction=prediction,
                                          step=step, noise=noise)))  # fmt: skip
    return (steps + 1) / n, np.asarray(losses)


def autograd_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn()`` and count the bytes autograd saved for a backward pass: ``(result, bytes)``.

    Every operation on tensors that require gradients saves inputs for the backward pass;
    they stay in memory as long as the result (and its graph) lives. Under ``torch.no_grad()``
    nothing is saved. Each storage counts once.

    Introduced in: book/07_debugging/07_01_when_it_only_outputs_noise.ipynb
    """
    import torch

    seen: dict[Any, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return result, int(sum(seen.values()))
