"""DPM-Solver++(2M) (Lu et al. 2022): a second-order multistep solver in log-SNR time.

:func:`dpm_solver_pp_2m_sample` makes the same updates as diffusers'
``DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2)``.

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ._common import (
    Model,
    Trajectory,
    _check_clip,
    _check_flag,
    _ddpm_setup,
    _loop,
    _predict,
    _Recorder,
)

__all__ = ["dpm_solver_pp_2m_sample"]


@torch.no_grad()
def dpm_solver_pp_2m_sample(
    model: Model,
    x_T: torch.Tensor,
    alpha_bars: Any,
    *,
    steps: int,
    prediction: str = "eps",
    clip_x0: float | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Trajectory]:
    """DPM-Solver++(2M): a second-order multistep solver of the diffusion ODE (Lu et al. 2022).

    Work in log-SNR time ``lambda = log(alpha / sigma)`` (``alpha = sqrt(abar)``,
    ``sigma = sqrt(1 - abar)``), with the data prediction ``D = x0_hat``. From step ``s`` to
    ``s'`` with ``h = lambda_{s'} - lambda_s``::

        x_{s'} = (sigma_{s'} / sigma_s) x - alpha_{s'} (exp(-h) - 1) D

    The first step uses ``D = x0_hat`` (first order, this is DDIM); later steps reuse the
    previous estimate to extrapolate, ``D = x0_hat + (x0_hat - x0_hat_prev) / (2 r)`` with
    ``r = h_prev / h`` (second order, no extra network call). The last step lands on
    ``x0_hat`` (``sigma = 0``). Same updates as diffusers' ``DPMSolverMultistepScheduler``
    with ``algorithm_type="dpmsolver++"``, ``solver_order=2``, ``solver_type="midpoint"``,
    ``timestep_spacing="trailing"``.

    Args:
        model, x_T, alpha_bars, prediction, clip_x0, return_trajectory, progress: as in
            :func:`ddpm_sample` (``clip_x0`` is a simple form of diffusers' thresholding).
        steps: number of steps (= network evaluations), 1 .. N.

    Returns:
        the sample (B, ...), or ``(sample, trajectory)``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    ab, ts = _ddpm_setup(model, x_T, alpha_bars, steps, prediction)
    clip_x0 = _check_clip(clip_x0)
    rec = _Recorder(_check_flag(return_trajectory, "return_trajectory"), x_T, (ts[0] + 1) / len(ab))
    x, n = x_T, len(ab)
    x0_prev, h_prev = None, None
    for k in _loop(len(ts), _check_flag(progress, "progress"), "DPM-Solver++(2M)"):
        s = int(ts[k])
        a_s, a_t = float(ab[s]), (float(ab[ts[k + 1]]) if k + 1 < len(ts) else 1.0)
        x0_hat, _ = _predict(model, x, s, ab, prediction, clip_x0)
        if a_t >= 1.0:  # the last step: sigma_t = 0, exp(-h) = 0
            x = x0_hat
        else:
            alpha_s, sigma_s = math.sqrt(a_s), math.sqrt(1 - a_s)
            alpha_t, sigma_t = math.sqrt(a_t), math.sqrt(1 - a_t)
            h = math.log(alpha_t / sigma_t) - math.log(alpha_s / sigma_s)
            if x0_prev is None:
                d = x0_hat
            else:
                r = h_prev / h
                d = x0_hat + (x0_hat - x0_prev) / (2 * r)
            x = (sigma_t / sigma_s) * x - alpha_t * math.expm1(-h) * d
            x0_prev, h_prev = x0_hat, h
        rec.add(x, (int(ts[k + 1]) + 1) / n if k + 1 < len(ts) else 0.0, x0_hat)
    return rec.result(x, len(ts), "dpm++2m")
