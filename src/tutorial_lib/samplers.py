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
(``tl.vdiffusion.sample`` and :func:`sample_segment`).

**Continuous time** (a network trained with ``tl.objectives.continuous_loss`` on the cosine
log-SNR schedule): :func:`sample_segment` draws one segment of mel frames for a
``NoteDecoder`` (chapter 6), with DDIM or ancestral steps.

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from . import objectives
from ._validate import check_batch, check_choice, check_int, check_number, describe

__all__ = [
    "SAMPLERS",
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
]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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
    from .config import progress as progress_bar

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
# Single steps (checked against diffusers in tests/test_samplers.py)
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


def _ddim_sigma(ab: float, ab_prev: float, eta: float) -> float:
    return eta * math.sqrt((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev))


def ddim_update(
    x0_hat: torch.Tensor,
    eps_hat: torch.Tensor,
    alpha_bar_prev: Any,
    sigma: float = 0.0,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """The DDIM update from estimates: the one place every DDIM-style sampler moves ``x``.

    ``x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps_hat + sigma z``.
    :func:`ddim_step` calls it with ``x0_hat`` from an ``eps`` prediction, and
    ``tl.vdiffusion`` with ``x0_hat`` and ``eps_hat`` from a ``v`` prediction (which stays
    defined at pure noise, ``alpha_bar = 0``, where an ``eps`` prediction does not).

    Args:
        x0_hat, eps_hat: the estimates (B, ...).
        alpha_bar_prev: the signal level to move to, a number or a tensor (B,) in [0, 1].
        sigma: the standard deviation of the fresh noise ``z`` (0: deterministic).
        generator, noise: where ``z`` comes from (only when ``sigma > 0``).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    ab = torch.as_tensor(alpha_bar_prev, dtype=torch.float64)
    if ab.ndim == 1:
        ab = ab.reshape(-1, *([1] * (x0_hat.ndim - 1)))
    ab = ab.to(x0_hat.device)
    a = ab.sqrt().to(x0_hat.dtype)
    d = (1 - ab - sigma**2).clamp_min(0.0).sqrt().to(x0_hat.dtype)
    out = a * x0_hat + d * eps_hat
    if sigma > 0:
        out = out + sigma * (_noise_like(x0_hat, generator) if noise is None else noise)
    return out


def ddim_step(
    xt: torch.Tensor,
    eps_hat: torch.Tensor,
    alpha_bar_t: float,
    alpha_bar_prev: float,
    *,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One DDIM step from ``x_t`` to the less noisy ``x_prev`` (Song et al. 2021, eq. 12)::

        x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)
        sigma  = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev)
        x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps_hat + sigma z

    ``eta = 0``: deterministic; ``eta = 1``: ``sigma^2`` is DDPM's posterior variance, and the
    step is exactly an ancestral DDPM step.

    Args:
        xt: noisy batch (B, ...); eps_hat: the predicted noise, same shape.
        alpha_bar_t: in (0, 1); alpha_bar_prev: in [alpha_bar_t, 1].
        eta: in [0, 1] (larger values are allowed up to where ``sigma^2 <= 1 - abar_prev``).
        noise: the ``z`` to use (shape of ``xt``); default: drawn with ``generator``.
        generator: a ``torch.Generator`` for ``z`` (default: torch's global one).

    Returns:
        x_prev, the shape of ``xt``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    ab, ab_prev = _check_pair(alpha_bar_t, alpha_bar_prev)
    eta = check_number(eta, "eta", low=0.0)
    _check_noise(xt, "xt")
    if not isinstance(eps_hat, torch.Tensor) or eps_hat.shape != xt.shape:
        raise ValueError(
            f"eps_hat: expected a tensor of the shape of xt {tuple(xt.shape)}, got {describe(eps_hat)}."
        )
    if noise is not None and (not isinstance(noise, torch.Tensor) or noise.shape != xt.shape):
        raise ValueError(f"noise: expected a tensor of the shape of xt, got {describe(noise)}.")
    sigma = _ddim_sigma(ab, ab_prev, eta) if ab_prev < 1 else 0.0
    if sigma**2 > 1 - ab_prev + 1e-12:
        raise ValueError(
            f"eta: {eta:g} is too large for this step (sigma^2 = {sigma**2:.3g} exceeds "
            f"1 - alpha_bar_prev = {1 - ab_prev:.3g}). Fix: eta <= 1."
        )
    x0_hat = (xt - math.sqrt(1 - ab) * eps_hat) / math.sqrt(ab)
    return ddim_update(x0_hat, eps_hat, ab_prev, sigma, generator, noise)


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


# --------------------------------------------------------------------------------------------
# DDPM-family samplers
# --------------------------------------------------------------------------------------------


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
    model: Model, x: torch.Tensor, step: int, ab: torch.Tensor, prediction: str, clip_x0: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0_hat, eps_hat) at DDPM step ``step``; x0_hat clipped, eps_hat from the model."""
    n = ab.numel()
    out = _evaluate(model, x, (step + 1) / n)
    a = float(ab[step])
    x0 = objectives.predict_x0(x, out, a, prediction)
    eps = objectives.predict_eps(x, out, a, prediction) if a < 1 else torch.zeros_like(x)
    return _clip(x0, clip_x0), eps


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


def _ddim_move(
    model: Model,
    x: torch.Tensor,
    ts: torch.Tensor,
    k: int,
    ab: torch.Tensor,
    prediction: str,
    clip_x0: Any,
    eta: float,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """DDIM step ``k`` of the visited steps ``ts``: ``(x_next, x0_hat, alpha_bar reached)``."""
    s = int(ts[k])
    a, a_prev = float(ab[s]), (float(ab[ts[k + 1]]) if k + 1 < len(ts) else 1.0)
    x0_hat, eps_hat = _predict(model, x, s, ab, prediction, clip_x0)
    sigma = _ddim_sigma(a, a_prev, eta) if 0 < a < 1 and a_prev < 1 else 0.0
    return ddim_update(x0_hat, eps_hat, a_prev, sigma, generator), x0_hat, a_prev  # fmt: skip


def _start(
    x_T: torch.Tensor, ab: torch.Tensor, ts: torch.Tensor, start_step: Any, init: Any
) -> tuple[torch.Tensor, int]:
    """Where a DDIM loop starts: ``(x, k0)``, with ``init`` noised to visited step ``k0``."""
    k0 = check_int(start_step, "start_step", min_value=0, max_value=len(ts) - 1)
    if k0 == 0:
        if init is not None:
            raise ValueError(
                "init: an input to start from is used only with start_step > 0 (start_step=0 "
                "starts from pure noise). Fix: pass start_step, or drop init."
            )
        return x_T, 0
    if not isinstance(init, torch.Tensor) or init.shape != x_T.shape:
        raise ValueError(
            f"init: start_step={k0} starts from an input noised part-way, so init must be a "
            f"tensor of the shape of x_T {tuple(x_T.shape)}, got {describe(init)}."
        )
    a = float(ab[ts[k0]])
    return math.sqrt(a) * init.to(x_T.dtype) + math.sqrt(1 - a) * x_T, k0


@torch.no_grad()
def ddim_sample(
    model: Model,
    x_T: torch.Tensor,
    alpha_bars: Any,
    *,
    steps: int,
    eta: float = 0.0,
    prediction: str = "eps",
    clip_x0: float | None = None,
    generator: torch.Generator | None = None,
    start_step: int = 0,
    init: torch.Tensor | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Trajectory]:
    """DDIM sampling: :func:`ddim_step` through ``steps`` evenly spaced training steps.

    ``eta = 0`` follows the probability-flow ODE deterministically (the same noise always
    gives the same sample); ``eta = 1`` adds the DDPM posterior noise (equal to
    :func:`ddpm_sample`); values in between interpolate.

    Args:
        model, x_T, alpha_bars, prediction, clip_x0, generator, return_trajectory, progress:
            as in :func:`ddpm_sample` (``clip_x0`` clamps ``x0_hat`` only; the noise
            direction keeps the network's ``eps_hat``, as diffusers does).
        steps: number of steps (= network evaluations), 1 .. N.
        eta: the stochasticity, in [0, 1].
        start_step: skip the first ``start_step`` of the ``steps`` visited steps (the Audio
            Diffusion pipeline's variations): ``init`` is noised with ``x_T`` to the level of
            visited step ``start_step``, ``sqrt(abar) init + sqrt(1 - abar) x_T``, and the
            remaining ``steps - start_step`` steps run from there. (The seed noises to the
            level of the step *before*, one step noisier than the network is then told.)
        init: the clean input of ``start_step > 0`` (the shape of ``x_T``).

    Returns:
        the sample (B, ...), or ``(sample, trajectory)``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    ab, ts = _ddpm_setup(model, x_T, alpha_bars, steps, prediction)
    eta = check_number(eta, "eta", low=0.0, high=1.0)
    clip_x0 = _check_clip(clip_x0)
    x, k0 = _start(x_T, ab, ts, start_step, init)
    rec = _Recorder(_check_flag(return_trajectory, "return_trajectory"), x, (ts[k0] + 1) / len(ab))
    n = len(ab)
    for j in _loop(len(ts) - k0, _check_flag(progress, "progress"), "DDIM"):
        k = k0 + j
        x, x0_hat, a_prev = _ddim_move(model, x, ts, k, ab, prediction, clip_x0, eta, generator)
        rec.add(x, (int(ts[k + 1]) + 1) / n if k + 1 < len(ts) else 0.0, x0_hat)
    return rec.result(x, len(ts) - k0, "ddim")


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


# --------------------------------------------------------------------------------------------
# Rectified-flow samplers
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# By name, by budget
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def ddim_invert(
    model: Model,
    x0: torch.Tensor,
    alpha_bars: Any,
    *,
    steps: int,
    prediction: str = "eps",
    progress: bool = False,
) -> torch.Tensor:
    """DDIM inversion (the Audio Diffusion pipeline's ``encode``): clean ``x0`` -> its noise.

    Runs the deterministic DDIM update backwards, through the same visited steps as
    :func:`ddim_sample` in increasing order: at each step the network's noise estimate,
    made at the step being moved *to* (as the seed's pipeline does: there is no network
    input for the clean level), gives ``x0_hat`` at the current level and the next iterate
    ``x = sqrt(abar_s) x0_hat + sqrt(1 - abar_s) eps_hat``. ``ddim_sample(model,
    ddim_invert(model, x0, ...), ..., eta=0)`` then returns approximately ``x0``; the error
    shrinks with ``steps`` (the ODE's discretisation).

    Args:
        model: ``model(x_t, t) -> prediction`` (B, ...).
        x0: clean batch (B, ...), in the model's space.
        alpha_bars: the training schedule (N,).
        steps: number of steps (= network evaluations), 1 .. N.
        prediction: ``"eps"``, ``"v"`` or ``"x0"`` (converted to ``eps_hat`` at the
            step's level).
        progress: show a progress bar.

    Returns:
        the noise ``x_T`` (B, ...) at the noisiest visited step.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    ab, ts = _ddpm_setup(model, x0, alpha_bars, steps, prediction)
    x, n = x0, len(ab)
    ascending = [int(s) for s in reversed(ts.tolist())]
    a_cur = 1.0
    for k in _loop(len(ascending), _check_flag(progress, "progress"), "DDIM inversion"):
        s = ascending[k]
        a = float(ab[s])
        out = _evaluate(model, x, (s + 1) / n)
        eps_hat = objectives.predict_eps(x, out, a, prediction) if prediction != "eps" else out
        x0_hat = (x - math.sqrt(1 - a_cur) * eps_hat) / math.sqrt(a_cur)
        x = ddim_update(x0_hat, eps_hat, a)
        a_cur = a
    return x


@torch.no_grad()
def ddim_inpaint(
    model: Model,
    x_T: torch.Tensor,
    alpha_bars: Any,
    *,
    known: torch.Tensor,
    mask: torch.Tensor,
    steps: int,
    eta: float = 0.0,
    prediction: str = "eps",
    clip_x0: float | None = None,
    generator: torch.Generator | None = None,
    start_step: int = 0,
    progress: bool = False,
) -> torch.Tensor:
    """DDIM sampling that keeps part of a known input: inpainting and outpainting.

    The Audio Diffusion pipeline's way: after every step, the region where ``mask`` is true
    is replaced by ``known`` noised to the level just reached with the *starting* noise,
    ``sqrt(abar) known + sqrt(1 - abar) x_T``, so the network always sees the kept region
    at the right noise level, and the rest is generated to fit it. The result equals
    ``known`` exactly where ``mask`` is true. Unlike the seed, ``x_T`` is never modified (the
    seed's pipeline writes into the caller's noise tensor), every item of a batch may
    have its own mask, and the kept region is re-noised to the level the step *reached*:
    the seed uses the level of the step it just left, one step behind, so its kept region
    ends with the last step's noise still in it.

    Args:
        model, x_T, alpha_bars, steps, eta, prediction, clip_x0, generator, progress: as in
            :func:`ddim_sample`.
        known: the input to keep, the shape of ``x_T``, in the model's space.
        mask: booleans, the shape of ``x_T`` or broadcastable to it (e.g. ``(B, 1, 1, W)``
            for whole time frames of a spectrogram): true where ``known`` is kept.
        start_step: as in :func:`ddim_sample`, with ``known`` as the input: the whole of
            ``known`` is noised to visited step ``start_step`` (so the generated region
            starts from the input too, a variation of it) and the remaining steps run.

    Returns:
        the sample (B, ...).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    ab, ts = _ddpm_setup(model, x_T, alpha_bars, steps, prediction)
    eta = check_number(eta, "eta", low=0.0, high=1.0)
    clip_x0 = _check_clip(clip_x0)
    if not isinstance(known, torch.Tensor) or known.shape != x_T.shape:
        raise ValueError(
            f"known: expected a tensor of the shape of x_T {tuple(x_T.shape)}, got {describe(known)}."
        )
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask: expected a boolean tensor (True = keep), got {describe(mask)}.")
    try:
        keep = mask.expand(x_T.shape)
    except RuntimeError:
        raise ValueError(
            f"mask: shape {tuple(mask.shape)} does not broadcast to x_T's {tuple(x_T.shape)}. "
            f"Fix: the shape of x_T, or ones where it should broadcast (e.g. (B, 1, 1, W))."
        ) from None
    x_T = x_T.clone()  # never write into the caller's noise

    def renoise(level: float) -> torch.Tensor:
        return math.sqrt(level) * known + math.sqrt(1 - level) * x_T

    k0 = check_int(start_step, "start_step", min_value=0, max_value=len(ts) - 1)
    start = renoise(float(ab[ts[k0]]))
    x = torch.where(keep, start, x_T) if k0 == 0 else start
    for j in _loop(len(ts) - k0, _check_flag(progress, "progress"), "DDIM inpainting"):
        k = k0 + j
        x, _, a_prev = _ddim_move(model, x, ts, k, ab, prediction, clip_x0, eta, generator)
        x = torch.where(keep, renoise(a_prev), x)
    return x


def slerp(x0: torch.Tensor, x1: torch.Tensor, alpha: float) -> torch.Tensor:
    """Spherical interpolation between two noise tensors, ``alpha`` in [0, 1].

    ``sin((1 - alpha) theta) / sin(theta) * x0 + sin(alpha theta) / sin(theta) * x1`` with
    ``theta`` the angle between the flattened tensors (the seed's ``slerp``). Two Gaussian
    noises of many dimensions are almost orthogonal and of almost equal norm; a straight
    line between them (lerp) passes through vectors of smaller norm (about ``0.71`` of it
    half-way), which a diffusion model never saw as noise, while slerp keeps the norm.
    For (anti)parallel inputs, where ``sin(theta) = 0``, it falls back to the straight line
    instead of dividing by zero (the seed returns NaN there).

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    if not isinstance(x0, torch.Tensor) or not isinstance(x1, torch.Tensor):
        raise TypeError(f"x0, x1: expected two tensors, got {describe(x0)} and {describe(x1)}.")
    if x0.shape != x1.shape:
        raise ValueError(f"x1: expected the shape of x0 {tuple(x0.shape)}, got {describe(x1)}.")
    alpha = check_number(alpha, "alpha", low=0.0, high=1.0)
    a, b = x0.flatten().double(), x1.flatten().double()
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        raise ValueError("x0, x1: a zero tensor has no direction to interpolate from.")
    cos = torch.clamp(a @ b / (na * nb), -1.0, 1.0)
    theta = torch.arccos(cos)
    if float(torch.sin(theta)) < 1e-6:
        out = (1 - alpha) * a + alpha * b
    else:
        st = torch.sin(theta)
        out = torch.sin((1 - alpha) * theta) / st * a + torch.sin(alpha * theta) / st * b
    return out.reshape(x0.shape).to(x0.dtype)


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


# --------------------------------------------------------------------------------------------
# Classifier-free guidance, and the continuous-time segment sampler (chapter 6)
# --------------------------------------------------------------------------------------------


def guided(
    call: Callable[[torch.Tensor, torch.Tensor, Any], torch.Tensor],
    x: torch.Tensor,
    t: torch.Tensor,
    cond: Any,
    uncond: Any,
    guidance: float,
) -> torch.Tensor:
    """Classifier-free guidance: ``u + guidance * (c - u)`` with ``c = call(x, t, cond)`` and
    ``u = call(x, t, uncond)``.

    ``call`` is the network with its condition as the third argument (class labels, with
    ``-1`` for none, or an encoded memory); it is called only as the weight needs:
    ``guidance = 1`` is the plain conditional model (one call), ``0`` the unconditional one
    (one call), any other weight calls both (the unconditional first).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    guidance = check_number(guidance, "guidance", low=0.0)
    if guidance == 1.0:
        return call(x, t, cond)
    u = call(x, t, uncond)
    if guidance == 0.0:
        return u
    return u + guidance * (call(x, t, cond) - u)


SEGMENT_SAMPLERS = ("ddim", "ancestral")


def sample_segment(
    net: Any,
    tokens: Any,
    context: Any,
    *,
    steps: int = 50,
    guidance: float = 1.0,
    sampler: str = "ancestral",
    prediction: str = "x0",
    noise: torch.Tensor | None = None,
    seed: int = 0,
    device: Any = None,
) -> torch.Tensor:
    """One segment of mel frames ``(B, net.frames, net.n_mels)`` for ``tokens`` and ``context``.

    DDIM on the continuous cosine schedule (``tl.objectives.cosine_alpha_sigma``;
    ``sampler="ancestral"``: the stochastic DDPM-like version, eta 1, which draws its step
    noise from ``seed + 1``), the predicted clean frames clipped to [-1, 1]. ``net`` is a
    :class:`~tutorial_lib.models.note_decoder.NoteDecoder` (``net.encode`` gives the
    conditions' memory once, ``net(z, t, memory=...)`` predicts ``prediction``).
    Classifier-free guidance (:func:`guided`): ``guidance=1`` is the plain conditional
    model (one call per step), ``0`` the unconditional one. ``tokens=None`` and
    ``context=None`` sample unconditionally. Runs on ``device`` (default: the network's; a
    network elsewhere is copied there, ``tl.config.on_device``); the noise is drawn on the
    CPU from ``seed``, so every device starts from the same noise, and the result comes back
    to the CPU.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from .config import device_of, on_device

    if device is None:
        device = device_of(net)
    else:  # a copy of the network on that device (the caller's stays where it is)
        device = torch.device(device)
        net = on_device(net, device)
    steps = check_int(steps, "steps", min_value=1)
    guidance = check_number(guidance, "guidance", low=0.0)
    sampler = check_choice(sampler, "sampler", SEGMENT_SAMPLERS)
    prediction = check_choice(prediction, "prediction", objectives.PREDICTIONS)
    b = (tokens if tokens is not None else context if context is not None else noise).shape[0]
    if noise is None:
        gen = torch.Generator().manual_seed(check_int(seed, "seed", min_value=0))
        noise = torch.randn(b, net.frames, net.n_mels, generator=gen)
    gen = torch.Generator().manual_seed(int(seed) + 1)
    with torch.no_grad():
        if tokens is None and context is None:
            memory = (torch.zeros(b, 1, net.dim, device=device), None)
            guidance = 1.0
        else:
            tokens = None if tokens is None else tokens.to(device)
            context = None if context is None else context.to(device)
            memory = net.encode(tokens, context if net.has_context else None, b, device)
        uncond_memory = (torch.zeros(b, 1, net.dim, device=device), None)

        def call(z: torch.Tensor, t: torch.Tensor, memory: Any) -> torch.Tensor:
            return net(z, t, memory=memory)

        times = torch.linspace(1.0, 0.0, steps + 1)
        alphas, sigmas = objectives.cosine_alpha_sigma(times)  # CPU scalars: any device
        z = noise.to(device, copy=True)
        for i in range(steps):
            a, s, a_next, s_next = alphas[i], sigmas[i], alphas[i + 1], sigmas[i + 1]
            tt = torch.full((z.shape[0],), float(times[i]), device=z.device)
            out = guided(call, z, tt, memory, uncond_memory, guidance)
            x0 = objectives.predict_x0(z, out, float(a) ** 2, prediction).clamp(-1, 1)
            eps = (z - a * x0) / s
            if sampler == "ddim" or i == steps - 1:
                z = a_next * x0 + s_next * eps
            else:  # ancestral: the DDPM posterior q(z_next | z, x0)
                snr_ratio = (a * s_next) ** 2 / (a_next * s) ** 2  # = SNR(t) / SNR(t_next)
                var = s_next**2 * (1 - snr_ratio)
                mean = a_next * x0 + (s_next**2 - var).clamp_min(0).sqrt() * eps
                step_noise = torch.randn(z.shape, generator=gen).to(device)
                z = mean + var.clamp_min(0).sqrt() * step_noise
        z = z.clamp(-1, 1)
        return z if z.device.type == "meta" else z.cpu()
