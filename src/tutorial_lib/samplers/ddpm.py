"""DDPM ancestral sampling (Ho et al. 2020): draw each less noisy step from the posterior.

- :func:`ddpm_posterior`: mean and variance of ``q(x_prev | x_t, x0)``.
- :func:`ddpm_sample`: the sampler, through ``steps`` of the ``N`` training steps
  (:func:`~tutorial_lib.samplers.ddpm_timesteps`), with ``steps < N`` the respaced DDPM of
  Nichol and Dhariwal 2021.

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .._validate import check_choice, describe
from ._common import (
    Model,
    Trajectory,
    _check_clip,
    _check_flag,
    _check_noise,
    _check_pair,
    _ddpm_setup,
    _loop,
    _noise_like,
    _predict,
    _Recorder,
)

__all__ = ["ddpm_posterior", "ddpm_sample"]


def ddpm_posterior(
    x0: torch.Tensor, xt: torch.Tensor, alpha_bar_t: float, alpha_bar_prev: float
) -> tuple[torch.Tensor, float]:
    """Mean and variance of the DDPM posterior ``q(x_prev | x_t, x0)``.

    With ``alpha = alpha_bar_t / alpha_bar_prev`` and ``beta = 1 - alpha`` (the noise added
    between the two steps)::

        mean = sqrt(abar_prev) beta / (1 - abar_t) x0 + sqrt(alpha) (1 - abar_prev) / (1 - abar_t) x_t
        variance = (1 - abar_prev) / (1 - abar_t) beta          (beta tilde)

    Args:
        x0: (an estimate of) the clean batch (B, ...); xt: the noisy batch, same shape.
        alpha_bar_t: alpha_bar of the current step, in (0, 1).
        alpha_bar_prev: alpha_bar of the next, less noisy step, in [alpha_bar_t, 1]
            (1 = clean data).

    Returns:
        ``(mean (B, ...), variance float)``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    ab, ab_prev = _check_pair(alpha_bar_t, alpha_bar_prev)
    _check_noise(xt, "xt")
    if not isinstance(x0, torch.Tensor) or x0.shape != xt.shape:
        raise ValueError(
            f"x0: expected a tensor of the shape of xt {tuple(xt.shape)}, got {describe(x0)}."
        )
    alpha = ab / ab_prev
    beta = 1 - alpha
    c0 = math.sqrt(ab_prev) * beta / (1 - ab)
    ct = math.sqrt(alpha) * (1 - ab_prev) / (1 - ab)
    return c0 * x0 + ct * xt, (1 - ab_prev) / (1 - ab) * beta


@torch.no_grad()
def ddpm_sample(
    model: Model,
    x_T: torch.Tensor,
    alpha_bars: Any,
    *,
    steps: int | None = None,
    prediction: str = "eps",
    variance: str = "beta_tilde",
    clip_x0: float | None = None,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Trajectory]:
    """DDPM ancestral sampling: at each visited step draw ``x_prev ~ q(x_prev | x_t, x0_hat)``.

    Loop (``s`` and the next visited step ``s'``, ``abar_{s'} = 1`` after the last one)::

        x0_hat  = network's clean-data estimate at (x, s)
        mean, var = ddpm_posterior(x0_hat, x, abar_s, abar_s')
        x = mean + sqrt(var) * z          (no noise on the last step)

    With ``steps < N`` the skipped steps are merged (the "respaced" DDPM of Nichol and
    Dhariwal 2021); ``variance="beta_tilde"`` is then identical to DDIM with ``eta = 1``.

    Args:
        model: ``model(x_t, t)`` with ``t = (s + 1) / N``, returning a ``prediction``.
        x_T: the starting noise (B, ...), ``torch.randn(...)``.
        alpha_bars: the training schedule's ``alpha_bar`` (N,).
        steps: how many steps to visit, 1 .. N (default: all N).
        prediction: what the network predicts: ``"eps"``, ``"v"`` or ``"x0"``.
        variance: ``"beta_tilde"`` (the posterior variance, default) or ``"beta"``
            (``1 - abar_s / abar_s'``, Ho et al.'s other choice).
        clip_x0: clamp ``x0_hat`` to ``[-clip_x0, clip_x0]`` (diffusers' ``clip_sample``);
            ``None``: no clamp.
        generator: a ``torch.Generator`` for the noise added on the way.
        return_trajectory: also return a :class:`Trajectory`.
        progress: show a progress bar.

    Returns:
        the sample (B, ...), or ``(sample, trajectory)``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    ab, ts = _ddpm_setup(model, x_T, alpha_bars, steps, prediction)
    check_choice(variance, "variance", ("beta_tilde", "beta"))
    clip_x0 = _check_clip(clip_x0)
    rec = _Recorder(_check_flag(return_trajectory, "return_trajectory"), x_T, (ts[0] + 1) / len(ab))
    x, n = x_T, len(ab)
    for k in _loop(len(ts), _check_flag(progress, "progress"), "DDPM"):
        s = int(ts[k])
        a, a_prev = float(ab[s]), (float(ab[ts[k + 1]]) if k + 1 < len(ts) else 1.0)
        x0_hat, _ = _predict(model, x, s, ab, prediction, clip_x0)
        mean, var = ddpm_posterior(x0_hat, x, a, a_prev)
        if variance == "beta":
            var = 1 - a / a_prev
        x = mean + math.sqrt(var) * _noise_like(x, generator) if k + 1 < len(ts) else mean
        rec.add(x, (int(ts[k + 1]) + 1) / n if k + 1 < len(ts) else 0.0, x0_hat)
    return rec.result(x, len(ts), "ddpm")
