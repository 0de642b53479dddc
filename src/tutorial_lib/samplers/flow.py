"""Rectified-flow samplers: Euler and Heun from ``t = 1`` (noise) to ``t = 0`` (data).

A network trained on ``x_t = (1 - t) x0 + t z`` to predict ``v = x0 - z`` defines the ODE
``dx/dt = -v``, integrated over the times ``1 = t_0 > ... > t_K = 0``
(:func:`~tutorial_lib.samplers.flow_times`):

- :func:`euler_step`, :func:`euler_sample`: first order, one network evaluation a step.
- :func:`heun_sample`: second order, two evaluations a step.
- :func:`path_straightness`: how straight a sampling path is (any sampler's trajectory).

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .._validate import check_number, describe
from ._common import (
    Model,
    Trajectory,
    _check_flag,
    _check_model,
    _check_noise,
    _check_steps,
    _check_times,
    _evaluate,
    _loop,
    _Recorder,
    flow_times,
)

__all__ = ["euler_sample", "euler_step", "heun_sample", "path_straightness"]


def euler_step(x: torch.Tensor, v: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One rectified-flow Euler step from time ``t`` to ``t_next < t``.

    The flow is ``dx/dt = -v`` (``x_t = (1 - t) x0 + t z``, ``v = x0 - z``), so with the
    (negative) time step ``dt = t_next - t``::

        x_next = x + dt * (-v) = x + (t - t_next) * v

    Args:
        x: the batch at time ``t`` (B, ...); v: the predicted velocity, same shape.
        t, t_next: times in [0, 1] with ``t_next < t``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    t = check_number(t, "t", low=0.0, high=1.0)
    t_next = check_number(t_next, "t_next", low=0.0, high=1.0)
    if not t_next < t:
        raise ValueError(
            f"t_next: expected a time before t (sampling runs from t = 1 to 0), got "
            f"t = {t:g}, t_next = {t_next:g}."
        )
    if not isinstance(v, torch.Tensor) or not isinstance(x, torch.Tensor) or v.shape != x.shape:
        raise ValueError(f"v: expected a tensor of the shape of x, got {describe(v)}.")
    return x + (t - t_next) * v


def _flow_setup(model: Any, z: Any, steps: Any, times: Any) -> torch.Tensor:
    _check_model(model)
    _check_noise(z, "z")
    if times is None:
        if steps is None:
            raise ValueError("steps: expected a number of steps (or times=...), got None.")
        return flow_times(steps)
    t = _check_times(times)
    if steps is not None and _check_steps(steps) != t.numel() - 1:
        raise ValueError(
            f"steps: {steps} does not match the {t.numel() - 1} steps of times. "
            f"Fix: pass only one of them."
        )
    return t


@torch.no_grad()
def euler_sample(
    model: Model,
    z: torch.Tensor,
    *,
    steps: int | None = None,
    times: Sequence[float] | torch.Tensor | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Trajectory]:
    """Rectified-flow sampling with Euler's method, from ``t = 1`` (noise) to ``t = 0``.

    Loop over ``1 = t_0 > t_1 > ... > t_K = 0``::

        v = model(x, t_k)
        x = x + (t_k - t_{k+1}) * v        # dx/dt = -v, dt = t_{k+1} - t_k < 0

    One network evaluation per step. Exact in one step when the learned paths are straight
    lines (constant ``v`` along each path).

    Args:
        model: ``model(x_t, t) -> v_hat``, a rectified-flow velocity network.
        z: the starting noise (B, ...).
        steps: the number of evenly spaced steps (:func:`flow_times`), or
        times: the times themselves, decreasing from (usually) 1 to 0.
        return_trajectory, progress: as in :func:`ddpm_sample`.

    Returns:
        the sample (B, ...), or ``(sample, trajectory)``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    ts = _flow_setup(model, z, steps, times)
    rec = _Recorder(_check_flag(return_trajectory, "return_trajectory"), z, ts[0])
    x = z
    for k in _loop(len(ts) - 1, _check_flag(progress, "progress"), "Euler"):
        t, t_next = float(ts[k]), float(ts[k + 1])
        v = _evaluate(model, x, t)
        x0_hat = x + t * v  # where this velocity points at t = 0
        x = x + (t - t_next) * v
        rec.add(x, t_next, x0_hat)
    return rec.result(x, len(ts) - 1, "euler")


@torch.no_grad()
def heun_sample(
    model: Model,
    z: torch.Tensor,
    *,
    steps: int | None = None,
    times: Sequence[float] | torch.Tensor | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Trajectory]:
    """Rectified-flow sampling with Heun's method (second order, 2 evaluations a step)::

        v1 = model(x, t_k)
        x_euler = x + (t_k - t_{k+1}) * v1               # an Euler guess
        v2 = model(x_euler, t_{k+1})                       # the slope at the end
        x = x + (t_k - t_{k+1}) * (v1 + v2) / 2            # the trapezoid rule

    Arguments and returns as in :func:`euler_sample`; uses ``2 * steps`` evaluations.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    ts = _flow_setup(model, z, steps, times)
    rec = _Recorder(_check_flag(return_trajectory, "return_trajectory"), z, ts[0])
    x = z
    for k in _loop(len(ts) - 1, _check_flag(progress, "progress"), "Heun"):
        t, t_next = float(ts[k]), float(ts[k + 1])
        v1 = _evaluate(model, x, t)
        x_euler = x + (t - t_next) * v1
        v2 = _evaluate(model, x_euler, t_next)
        x0_hat = x + t * v1
        x = x + (t - t_next) * (v1 + v2) / 2
        rec.add(x, t_next, x0_hat)
    return rec.result(x, 2 * (len(ts) - 1), "heun")


def path_straightness(x: torch.Tensor | Trajectory) -> torch.Tensor:
    """How straight each sampling path is: chord length / path length, per sample (B,).

    For iterates ``x_0, ..., x_K`` of one sample, ``|x_K - x_0| / sum_k |x_{k+1} - x_k|``
    (Euclidean norms over all of a sample's values): 1 for a straight line, smaller the more
    the path bends or jitters. Compare paths with the same number of steps (a finer
    discretisation of a curved path shows more of its bends).

    Args:
        x: a :class:`Trajectory` or its iterates (K + 1, B, ...), K >= 1.

    Returns:
        float tensor (B,) in [0, 1].

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    xs = x.x if isinstance(x, Trajectory) else x
    if not isinstance(xs, torch.Tensor) or xs.ndim < 2 or xs.shape[0] < 2:
        raise ValueError(
            f"x: expected a Trajectory or iterates of shape (K + 1, B, ...) with K >= 1, "
            f"got {describe(xs)}. Fix: sample with return_trajectory=True."
        )
    flat = xs.reshape(xs.shape[0], xs.shape[1], -1).double()
    chord = (flat[-1] - flat[0]).norm(dim=-1)
    arc = (flat[1:] - flat[:-1]).norm(dim=-1).sum(0)
    return torch.where(arc > 0, chord / arc.clamp(min=1e-300), torch.ones_like(arc)).float()
