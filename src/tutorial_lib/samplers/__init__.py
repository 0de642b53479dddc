"""Samplers: from noise to data with a trained network, each one a short readable loop.

Two families, matching :mod:`tutorial_lib.objectives`:

**DDPM family** (a network trained on a discrete variance-preserving schedule ``alpha_bars``
of ``N`` steps, predicting ``eps``, ``v`` or ``x0``). Every sampler visits ``steps`` of the
``N`` training steps, ``s_0 > s_1 > ... > s_{K-1}`` (:func:`ddpm_timesteps`, evenly spaced
and always starting at the noisiest step ``N - 1``), then jumps to clean data
(``alpha_bar = 1``):

- :func:`ddpm_sample`: ancestral sampling (Ho et al. 2020): draw ``x_{s'}`` from the
  Gaussian posterior ``q(x_{s'} | x_s, x0_hat)`` (:func:`ddpm_posterior`).
- :func:`ddim_sample`: DDIM (Song et al. 2021) with its ``eta`` knob: ``eta = 0`` is a
  deterministic ODE sampler, ``eta = 1`` adds exactly the posterior noise of DDPM
  (:func:`ddim_step`).
- :func:`dpm_solver_pp_2m_sample`: DPM-Solver++(2M) (Lu et al. 2022), a second-order
  multistep solver of the same ODE in log-SNR time, with the same updates as diffusers'
  ``DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2)``.

**Rectified-flow family** (a network trained on ``x_t = (1 - t) x0 + t z`` to predict
``v = x0 - z``, so ``dx/dt = -v``; sampling integrates from ``t = 1`` (noise) to ``t = 0``
(data) over the times ``1 = t_0 > t_1 > ... > t_K = 0`` (:func:`flow_times`)):

- :func:`euler_sample`: ``x <- x + (t_next - t) * (-v) = x + (t - t_next) * v``
  (:func:`euler_step`).
- :func:`heun_sample`: Heun's method (Euler, then the average of the slopes at both ends):
  second order, two network evaluations per step.

The network is called as ``model(x_t, t)`` with ``x_t`` (B, ...) (e.g. (B, C, T) audio or
(B, 2) points) and ``t`` a float tensor (B,) in [0, 1]; DDPM step ``s`` has time
``(s + 1) / N``. Every sampler takes the starting noise explicitly (so the same noise can be
compared across samplers and step counts), a ``torch.Generator`` for the noise it adds on the
way (stochastic samplers only), returns the sample (B, ...) and, with
``return_trajectory=True``, also a :class:`Trajectory` (every iterate, for plots and
listening). ``progress=True`` shows a tqdm bar. :func:`sample` runs any of them by name with a
budget of network evaluations (NFE), and :func:`path_straightness` measures how straight a
trajectory is.

**Classifier-free guidance** (Ho and Salimans 2022) is one function, :func:`guided`
(``uncond + w (cond - uncond)``), used by every guided sampler of the book
(:func:`vddim_sample` and :func:`sample_segment`).

**v-diffusion** (a network trained with ``tl.vdiffusion.loss`` to predict ``v`` on the angle
schedule ``a = cos(t pi / 2)``, ``s = sin(t pi / 2)``, with class labels): :func:`vddim_sample`,
the deterministic v-DDIM sampler of chapter 3's waveform U-Net, with classifier-free
guidance (``tl.vdiffusion.sample`` is the same function).

**Continuous time** (a network trained with ``tl.objectives.continuous_loss`` on the cosine
log-SNR schedule): :func:`sample_segment` draws one segment of mel frames for a
``NoteDecoder`` (chapter 6), with DDIM or ancestral steps.

**Where each algorithm lives** (one file per algorithm family, as diffusers' one scheduler
per file; every name is re-exported here, so ``tl.samplers.ddim_sample`` works):

- ``ddpm.py``: :func:`ddpm_posterior`, :func:`ddpm_sample`.
- ``ddim.py``: :func:`ddim_update`, :func:`ddim_step`, :func:`ddim_sample`,
  :func:`ddim_invert`, :func:`ddim_inpaint`, :func:`slerp`.
- ``dpm_solver.py``: :func:`dpm_solver_pp_2m_sample`.
- ``flow.py``: :func:`euler_step`, :func:`euler_sample`, :func:`heun_sample`,
  :func:`path_straightness`.
- ``guidance.py``: :func:`guided`; ``segment.py``: :func:`sample_segment`.
- ``vddim.py``: :func:`vddim_times`, :func:`v_to_x0_eps`, :func:`vddim_step`,
  :func:`vddim_sample` (re-exported by ``tl.vdiffusion`` as ``sample_times``, ``to_x0_eps``,
  ``ddim_step``, ``sample``).
- ``_common.py``: what they share (:class:`Trajectory`, :func:`ddpm_timesteps`,
  :func:`flow_times`, the checks, one network call, the noise, the loop).
- here: the registry :data:`SAMPLERS`, :func:`sample` (any sampler by name and budget),
  :func:`nfe_for_steps`, :func:`steps_for_nfe`. To add a sampler, write its file, re-export
  it here and add it to :data:`SAMPLERS` and :func:`sample`. :data:`SAMPLERS` holds the
  samplers of ``model(x_t, t)`` networks that chapter 2 compares on one budget; the
  conditional samplers (:func:`vddim_sample` with class labels, :func:`sample_segment` with
  notes) are called directly.

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .._validate import check_choice
from ._common import Model, Trajectory, _check_steps, ddpm_timesteps, flow_times
from .ddim import ddim_inpaint, ddim_invert, ddim_sample, ddim_step, ddim_update, slerp
from .ddpm import ddpm_posterior, ddpm_sample
from .dpm_solver import dpm_solver_pp_2m_sample
from .flow import euler_sample, euler_step, heun_sample, path_straightness
from .guidance import guided
from .segment import SEGMENT_SAMPLERS, sample_segment
from .vddim import v_to_x0_eps, vddim_sample, vddim_step, vddim_times

__all__ = [
    "SAMPLERS",
    "SEGMENT_SAMPLERS",
    "SamplerInfo",
    "Trajectory",
    "ddim_sample",
    "ddim_inpaint",
    "ddim_invert",
    "ddim_step",
    "ddim_update",
    "ddpm_posterior",
    "ddpm_sample",
    "ddpm_timesteps",
    "dpm_solver_pp_2m_sample",
    "euler_sample",
    "euler_step",
    "flow_times",
    "guided",
    "heun_sample",
    "nfe_for_steps",
    "path_straightness",
    "sample",
    "sample_segment",
    "slerp",
    "steps_for_nfe",
    "v_to_x0_eps",
    "vddim_sample",
    "vddim_step",
    "vddim_times",
]


@dataclass(frozen=True)
class SamplerInfo:
    """What a sampler needs and costs.

    Attributes:
        family: ``"ddpm"`` (needs ``alpha_bars``, any prediction) or ``"flow"`` (a
            rectified-flow velocity network).
        nfe_per_step: network evaluations per step.
        stochastic: whether it adds fresh noise on the way (DDIM: only when ``eta > 0``).
        description: one line for people.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """

    family: str
    nfe_per_step: int
    stochastic: bool
    description: str


SAMPLERS: dict[str, SamplerInfo] = {
    "ddpm": SamplerInfo("ddpm", 1, True, "DDPM ancestral sampling (posterior noise each step)"),
    "ddim": SamplerInfo("ddpm", 1, False, "DDIM, eta = 0 deterministic ... 1 DDPM-like"),
    "dpm++2m": SamplerInfo("ddpm", 1, False, "DPM-Solver++(2M), second-order multistep ODE"),
    "euler": SamplerInfo("flow", 1, False, "rectified-flow Euler, first order"),
    "heun": SamplerInfo("flow", 2, False, "rectified-flow Heun, second order (2 NFE a step)"),
}
"""The samplers :func:`sample` knows, by name."""


def nfe_for_steps(name: str, steps: int) -> int:
    """Network evaluations that sampler ``name`` uses for ``steps`` steps.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_choice(name, "name", SAMPLERS)
    return SAMPLERS[name].nfe_per_step * _check_steps(steps)


def steps_for_nfe(name: str, nfe: int) -> int:
    """The number of steps of sampler ``name`` that uses exactly ``nfe`` evaluations.

    Raises ``ValueError`` when none does (e.g. Heun with an odd ``nfe``).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_choice(name, "name", SAMPLERS)
    nfe = _check_steps(nfe, "nfe")
    per = SAMPLERS[name].nfe_per_step
    if nfe % per:
        raise ValueError(
            f"nfe: {name} uses {per} evaluations per step, so it cannot use exactly {nfe}. "
            f"Fix: a multiple of {per}, e.g. {per * max(1, nfe // per)}."
        )
    return nfe // per


@torch.no_grad()
def sample(
    name: str,
    model: Model,
    noise: torch.Tensor,
    *,
    nfe: int | None = None,
    steps: int | None = None,
    alpha_bars: Any = None,
    **kwargs: Any,
) -> torch.Tensor | tuple[torch.Tensor, Trajectory]:
    """Run the sampler ``name`` (a key of :data:`SAMPLERS`) with a step or NFE budget.

    Args:
        name: ``"ddpm"``, ``"ddim"``, ``"dpm++2m"``, ``"euler"`` or ``"heun"``.
        model: the network (a DDPM network for the first three, a flow network for the rest).
        noise: the starting noise (B, ...).
        nfe: network evaluations to spend (converted with :func:`steps_for_nfe`), or
        steps: the number of steps.
        alpha_bars: the schedule (N,), needed by the DDPM family.
        kwargs: passed on (``eta``, ``prediction``, ``clip_x0``, ``generator``,
            ``return_trajectory``, ``progress``, ``times``...).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_choice(name, "name", SAMPLERS)
    if (nfe is None) == (steps is None):
        raise ValueError("nfe, steps: pass exactly one of them (a budget of evaluations or steps).")
    if nfe is not None:
        steps = steps_for_nfe(name, nfe)
    info = SAMPLERS[name]
    if info.family == "ddpm":
        if alpha_bars is None:
            raise ValueError(
                f"alpha_bars: sampler {name!r} needs the training schedule. "
                f"Fix: alpha_bars=tl.schedules.alpha_bar('cosine', 1000)."
            )
        fn = {"ddpm": ddpm_sample, "ddim": ddim_sample, "dpm++2m": dpm_solver_pp_2m_sample}[name]
        return fn(model, noise, alpha_bars, steps=steps, **kwargs)
    if alpha_bars is not None:
        raise ValueError(
            f"alpha_bars: sampler {name!r} integrates a rectified flow and takes no schedule. "
            f"Fix: drop alpha_bars (or use times=...)."
        )
    fn = {"euler": euler_sample, "heun": heun_sample}[name]
    return fn(model, noise, steps=steps, **kwargs)
