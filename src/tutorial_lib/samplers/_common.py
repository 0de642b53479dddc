"""What every sampler shares: the checks, one network call, the noise, the loop, the record.

- :class:`Trajectory`: the path a sampler took (every iterate, for plots and listening).
- :func:`ddpm_timesteps`: the training steps a DDPM-family sampler visits;
  :func:`flow_times`: the times of a rectified-flow sampler.
- Private helpers the algorithm files use: the argument checks, ``_evaluate`` (one network
  call without autograd), ``_noise_like`` (fresh noise from a generator, the same on every
  device), ``_loop`` (the optional progress bar), ``_clip``, ``_Recorder`` (collects a
  :class:`Trajectory`), and ``_ddpm_setup``/``_predict`` (the schedule, the visited steps and
  the ``(x0_hat, eps_hat)`` estimates of the DDPM family).

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from .. import objectives
from .._validate import check_batch, check_choice, check_int, check_number, describe

__all__ = ["Model", "Trajectory", "ddpm_timesteps", "flow_times"]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Trajectory:
    """The path a sampler took, from the starting noise to the sample.

    Attributes:
        t: (K + 1,) float64, the time of each iterate, from 1 (noise) down to 0 (data);
            DDPM step ``s`` has time ``(s + 1) / N``.
        x: (K + 1, B, ...) the iterates; ``x[0]`` is the starting noise, ``x[-1]`` the sample.
        x0_hat: (K, B, ...) the clean-data estimate made at each step (from the first
            network evaluation of the step).
        nfe: the number of network evaluations used.
        sampler: the sampler's name.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """

    t: torch.Tensor
    x: torch.Tensor
    x0_hat: torch.Tensor
    nfe: int
    sampler: str

    def __repr__(self) -> str:
        return (
            f"Trajectory({self.sampler}, {len(self.t)} iterates of shape "
            f"{tuple(self.x.shape[1:])}, nfe={self.nfe})"
        )


# --------------------------------------------------------------------------------------------
# Checks and helpers (private)
# --------------------------------------------------------------------------------------------


def _check_model(model: Any) -> None:
    if not callable(model):
        raise TypeError(
            f"model: expected a network model(x_t, t) -> tensor like x_t, got {describe(model)}."
        )


def _check_noise(x: Any, name: str) -> None:
    check_batch(x, name, what="a torch tensor of starting noise (B, ...)",
                fix=f"{name} = torch.randn(B, C, T)", finite=True)  # fmt: skip


def _check_alpha_bars(alpha_bars: Any) -> torch.Tensor:
    try:
        ab = torch.as_tensor(alpha_bars, dtype=torch.float64).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"alpha_bars: expected the schedule's alpha_bar (N,), got {describe(alpha_bars)}."
        ) from err
    if ab.ndim != 1 or ab.numel() < 1:
        raise ValueError(
            f"alpha_bars: expected a 1-D schedule (N,), got {describe(alpha_bars)}. "
            f"Fix: tl.schedules.alpha_bar('cosine', 1000)."
        )
    if not torch.isfinite(ab).all() or ab.min() < 0 or ab.max() > 1:
        raise ValueError("alpha_bars: expected values in [0, 1].")
    if ab.numel() > 1 and (ab[1:] > ab[:-1]).any():
        raise ValueError(
            "alpha_bars: expected a non-increasing schedule (noise grows with the step). "
            "Fix: pass alpha_bar indexed by step 0 .. N-1, not reversed."
        )
    return ab


def _check_steps(steps: Any, name: str = "steps", max_value: int | None = None) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"{name}: expected a whole number of steps, got {describe(steps)}.")
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"{name}: expected at least 1 step, got {steps}.")
    if max_value is not None and steps > max_value:
        raise ValueError(
            f"{name}: expected at most {max_value} steps (the schedule has N = {max_value} "
            f"training steps), got {steps}. Fix: steps <= {max_value}."
        )
    return steps


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, got {describe(value)}.")
    return value


def _evaluate(model: Model, x: torch.Tensor, t: float) -> torch.Tensor:
    tt = torch.full((x.shape[0],), float(t), dtype=x.dtype, device=x.device)
    with torch.no_grad():
        out = model(x, tt)
    out = getattr(out, "sample", out)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise ValueError(
            f"model: expected an output of the shape of its input {tuple(x.shape)}, got "
            f"{describe(out)}. Fix: the network must map (x_t, t) to a tensor like x_t."
        )
    return out.to(x.dtype)


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator: expected a torch.Generator or None, got {describe(generator)}. "
            f"Fix: generator=torch.Generator().manual_seed(0)."
        )
    if generator is not None and generator.device != x.device:
        # a CPU generator with samples on a GPU: the same noise as on the CPU, moved over
        return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _loop(n: int, progress: bool, desc: str) -> Iterable[int]:
    if not progress:
        return range(n)
    from ..config import progress as progress_bar

    return progress_bar(range(n), desc=desc)


def _clip(x0: torch.Tensor, clip_x0: float | None) -> torch.Tensor:
    return x0 if clip_x0 is None else x0.clamp(-clip_x0, clip_x0)


def _check_clip(clip_x0: Any) -> float | None:
    if clip_x0 is None:
        return None
    return check_number(clip_x0, "clip_x0", low=0.0, low_open=True)


class _Recorder:
    """Collects iterates and x0 estimates when a trajectory is asked for."""

    def __init__(self, on: bool, x: torch.Tensor, t: float) -> None:
        self.on = on
        self.t = [float(t)]
        self.x = [x.detach().clone()] if on else []
        self.x0: list[torch.Tensor] = []

    def add(self, x: torch.Tensor, t: float, x0_hat: torch.Tensor) -> None:
        if self.on:
            self.t.append(float(t))
            self.x.append(x.detach().clone())
            self.x0.append(x0_hat.detach().clone())

    def result(self, x: torch.Tensor, nfe: int, name: str) -> Any:
        if not self.on:
            return x
        traj = Trajectory(
            torch.tensor(self.t, dtype=torch.float64),
            torch.stack(self.x),
            torch.stack(self.x0),
            nfe,
            name,
        )
        return x, traj


# --------------------------------------------------------------------------------------------
# Time grids
# --------------------------------------------------------------------------------------------


def ddpm_timesteps(num_train_steps: int, steps: int) -> torch.Tensor:
    """The training steps a DDPM-family sampler visits: long tensor (steps,), decreasing.

    Evenly spaced and "trailing" (Lin et al. 2024; diffusers' ``timestep_spacing=
    "trailing"``): ``round(N - k N / steps) - 1`` for ``k = 0 .. steps - 1``, so the first
    visited step is always the noisiest one, ``N - 1``, and ``steps = N`` visits every step.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    n = check_int(num_train_steps, "num_train_steps", min_value=1)
    steps = _check_steps(steps, max_value=n)
    import numpy as np

    ts = np.round(np.arange(n, 0, -n / steps)).astype(np.int64) - 1
    return torch.from_numpy(ts[:steps].copy())


def flow_times(steps: int, *, shift: float = 1.0) -> torch.Tensor:
    """The times of a rectified-flow sampler: float64 (steps + 1,), from 1 (noise) to 0 (data).

    Evenly spaced, then optionally warped by ``t -> shift t / (1 + (shift - 1) t)``
    (Esser et al. 2024): ``shift > 1`` spends more steps at high noise.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    steps = _check_steps(steps)
    shift = check_number(shift, "shift", low=0.0, low_open=True)
    t = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    return shift * t / (1 + (shift - 1) * t)


def _check_times(times: Any) -> torch.Tensor:
    try:
        t = torch.as_tensor(times, dtype=torch.float64).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"times: expected a sequence of times, got {describe(times)}.") from err
    if t.ndim != 1 or t.numel() < 2:
        raise ValueError(
            f"times: expected at least two times (K + 1,), from 1 down to 0, got "
            f"{describe(times)}. Fix: tl.samplers.flow_times(steps)."
        )
    if not torch.isfinite(t).all() or t.min() < 0 or t.max() > 1:
        raise ValueError("times: expected values in [0, 1].")
    if (t[1:] >= t[:-1]).any():
        raise ValueError(
            "times: expected strictly decreasing times (sampling goes from noise, t = 1, to "
            "data, t = 0). Fix: sorted(times, reverse=True)."
        )
    return t


# --------------------------------------------------------------------------------------------
# The steps of the DDPM family (shared by ddpm.py, ddim.py, dpm_solver.py)
# --------------------------------------------------------------------------------------------


def _check_pair(alpha_bar_t: Any, alpha_bar_prev: Any) -> tuple[float, float]:
    ab = check_number(alpha_bar_t, "alpha_bar_t", low=0.0, high=1.0, low_open=True)
    ab_prev = check_number(alpha_bar_prev, "alpha_bar_prev", low=0.0, high=1.0)
    if ab >= 1:
        raise ValueError("alpha_bar_t: is 1 (no noise): there is nothing to denoise.")
    if ab_prev < ab:
        raise ValueError(
            f"alpha_bar_prev: expected the less noisy step (alpha_bar_prev >= alpha_bar_t), "
            f"got alpha_bar_prev = {ab_prev:g} < alpha_bar_t = {ab:g}. Fix: swap them."
        )
    return ab, ab_prev


def _ddpm_setup(
    model: Any, x_T: Any, alpha_bars: Any, steps: Any, prediction: str
) -> tuple[torch.Tensor, torch.Tensor]:
    _check_model(model)
    _check_noise(x_T, "x_T")
    ab = _check_alpha_bars(alpha_bars)
    check_choice(prediction, "prediction", objectives.PREDICTIONS)
    steps = ab.numel() if steps is None else steps
    ts = ddpm_timesteps(ab.numel(), steps)
    if prediction == "eps" and ab[ts[0]] <= 0:
        raise ValueError(
            "alpha_bars: the noisiest step has alpha_bar = 0, where an eps prediction cannot "
            "give x0. Fix: a schedule ending above 0 (e.g. cosine with max_beta=0.999), or v."
        )
    return ab, ts


def _predict(
    model: Model,
    x: torch.Tensor,
    step: int,
    ab: torch.Tensor,
    prediction: str,
    clip_x0: Any,
    clipped_eps: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0_hat, eps_hat) at DDPM step ``step``; x0_hat clipped, eps_hat from the model, or,
    with ``clipped_eps``, the noise that the clipped x0_hat implies (diffusers'
    ``use_clipped_model_output=True``)."""
    n = ab.numel()
    out = _evaluate(model, x, (step + 1) / n)
    a = float(ab[step])
    x0 = _clip(objectives.predict_x0(x, out, a, prediction), clip_x0)
    if a >= 1:
        return x0, torch.zeros_like(x)
    if clipped_eps and clip_x0 is not None:
        return x0, (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
    return x0, objectives.predict_eps(x, out, a, prediction)
