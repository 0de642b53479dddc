"""Noise schedules and the forward process of diffusion, for audio.

Two layers:

1. **Plain functions for the curves** (no state): the betas and ``alpha_bar`` of the linear,
   cosine, power and sigmoid schedules, the rectified-flow interpolation, ``snr``, ``log_snr``
   and ``snr_db``, the closed-form forward process :func:`q_sample`, and a mel-spaced band
   splitter (:func:`split_bands`, :func:`band_snr_db`) to see which frequencies drown first.
2. **NoiseSchedule**, following the contract of audiocraft's
   ``audiocraft/modules/diffusion_schedule.py`` (Multi-Band Diffusion): training items
   ``(noisy, noise, step)``, the full DDPM reverse process :meth:`NoiseSchedule.generate`, a
   sub-sampled one :meth:`NoiseSchedule.generate_subsampled`, and sample processors
   (:class:`SampleProcessor`, :class:`MultiBandProcessor`) that move audio to the space where
   diffusion happens and back.

Conventions. A schedule has ``num_steps`` steps ``s = 0 .. num_steps - 1``; step ``s`` already
holds ``s + 1`` noising steps, ``alpha_bar[s] = prod_{i <= s} (1 - beta_i)`` (audiocraft's and
diffusers' convention), and its continuous time is ``t = (s + 1) / num_steps`` in ``(0, 1]``
(:func:`timesteps`). The forward process is

    x_t = sqrt(alpha_bar_t) * x_0 + sqrt(1 - alpha_bar_t) * eps,   eps ~ N(0, I),

so the signal-to-noise ratio is ``snr = alpha_bar / (1 - alpha_bar)``.

One vocabulary, three forms. In the book's notation (book/00_intro/notation.md) a
variance-preserving schedule is the pair of scales ``x_t = a_t x_0 + s_t eps``: the signal
scale ``a_t = sqrt(alpha_bar_t)`` and the noise scale ``s_t = sqrt(1 - alpha_bar_t)``, so
``a_t^2 + s_t^2 = 1``, ``snr = a_t^2 / s_t^2`` and ``lambda_t = log snr`` (:func:`log_snr`;
back with ``alpha_bar = sigmoid(lambda)``, :func:`alpha_bar_from_log_snr`). Every function
here speaks of ``alpha_bar``, ``snr`` or ``lambda``; the library's samplers and losses take
the same curves in one of three forms:

- **a function of continuous time** ``t`` in [0, 1]: :func:`cosine_alpha_bar` and
  :func:`sigmoid_alpha_bar` give ``alpha_bar(t)``, :func:`cosine_log_snr` gives ``lambda(t)``
  (the cosine schedule without the offset ``cosine_s``, between log-SNR limits: v-diffusion's
  angles ``a_t = cos(pi t / 2)``, ``s_t = sin(pi t / 2)``), :func:`rectified_flow` gives
  ``(a_t, s_t) = (1 - t, t)`` (not variance preserving). Losses and samplers that draw any
  ``t`` (v-diffusion, chapter 6) use this form.
- **a table** ``alpha_bar`` of ``num_steps`` values (:func:`alpha_bar`, or :func:`make_betas`
  then :func:`alpha_bar_from_betas`), float64, step ``s`` at time ``t_s = (s + 1) / num_steps``
  (:func:`timesteps`). For the cosine and sigmoid schedules the table *is* the function at
  those times, divided by its value at ``t = 0`` (1 for the sigmoid, a little below 1 for the
  cosine's offset), except the last step when ``max_beta`` caps its beta; the linear and
  power schedules exist only as tables (their betas are defined per step). The DDPM and
  DDIM samplers (:mod:`tutorial_lib.samplers`) take this form.
- **a** :class:`NoiseSchedule`: the table with state (``betas`` and ``alpha_bars`` as float32
  buffers on a device, a sample processor) and the forward and reverse processes around it,
  in audiocraft's contract.

Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from . import audio
from ._validate import check_choice, check_int, check_number, check_sample_rate, describe

__all__ = [
    "SCHEDULES",
    "CURVES",
    "TrainingItem",
    "timesteps",
    "make_betas",
    "alpha_bar",
    "alpha_bar_from_betas",
    "betas_from_alpha_bar",
    "cosine_alpha_bar",
    "sigmoid_alpha_bar",
    "rectified_flow",
    "rf_interpolate",
    "snr",
    "log_snr",
    "snr_db",
    "alpha_bar_from_log_snr",
    "cosine_log_snr",
    "snr_crossing",
    "q_sample",
    "mel_band_edges",
    "band_masks",
    "split_bands",
    "band_snr_db",
    "SampleProcessor",
    "MultiBandProcessor",
    "NoiseSchedule",
]

SCHEDULES = ("linear", "cosine", "power", "sigmoid")
"""Beta schedules that :class:`NoiseSchedule` and :func:`make_betas` accept."""

CURVES = (*SCHEDULES, "rectified_flow")
"""Names :func:`alpha_bar` accepts: the beta schedules plus rectified flow's interpolation."""

TrainingItem = namedtuple("TrainingItem", "noisy noise step")
TrainingItem.__doc__ = """One training example, as audiocraft returns it.

- ``noisy``: x_t, shape (B, C, T), in the sample processor's space.
- ``noise``: the Gaussian noise eps that was added, shape (B, C, T): the model's target.
- ``step``: the step index, an ``int`` (one step for the whole batch) or a long tensor (B,).
"""


# --------------------------------------------------------------------------------------------
# Validation helpers (private)
# --------------------------------------------------------------------------------------------


def _as_float64(x: Any, name: str) -> torch.Tensor:
    """Turn a number, sequence, numpy array or tensor into a float64 tensor.

    A tensor keeps its device (the library's device rule: compute where the input is); Apple's
    MPS has no float64, so there it becomes float32. Anything else lands on the CPU.
    """
    if isinstance(x, bool):
        raise TypeError(f"{name}: expected a number or an array of numbers, got {describe(x)}.")
    try:
        mps = torch.is_tensor(x) and x.device.type == "mps"
        out = torch.as_tensor(x, dtype=torch.float32 if mps else torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"{name}: expected a number or an array of numbers, got {describe(x)}."
        ) from err
    return out.detach()


def _check_unit_interval(x: torch.Tensor, name: str, *, what: str = "values") -> None:
    if x.device.type == "meta":  # shapes only: there are no values to check
        return
    if x.numel() and (not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1):
        lo, hi = float(x.min()), float(x.max())
        raise ValueError(
            f"{name}: expected {what} in [0, 1], got values from {lo:g} to {hi:g}. "
            f"Fix: pass alpha_bar (between 0 and 1), not a log-SNR or a step index."
        )


def _check_tensor(x: Any, name: str, *, ndim: int | None = None) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name}: expected a torch tensor, got {describe(x)}. "
            f"Fix: convert it with torch.as_tensor({name}, dtype=torch.float32)."
        )
    if ndim is not None and x.ndim != ndim:
        fix = ""
        if ndim == 3 and x.ndim in (1, 2):
            fix = f" Fix: add the missing axes, e.g. {name}.reshape(1, 1, -1) for one mono clip."
        raise ValueError(
            f"{name}: expected a batch of shape (B, C, T) ({ndim} axes), got {describe(x)}.{fix}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name}: expected a floating-point tensor, got {describe(x)}. Fix: {name}.float()."
        )


def _check_x0_and_noise(x0: Any, noise: Any) -> None:
    """Both tensors, and the noise has the shape of the clean audio."""
    _check_tensor(x0, "x0")
    _check_tensor(noise, "noise")
    if noise.shape != x0.shape:
        raise ValueError(
            f"noise: expected the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}. "
            f"Fix: noise = torch.randn_like(x0)."
        )


# --------------------------------------------------------------------------------------------
# Schedules as curves
# --------------------------------------------------------------------------------------------


def timesteps(num_steps: int = 1000) -> torch.Tensor:
    """The continuous time of each step: ``t_s = (s + 1) / num_steps``, shape (num_steps,).

    Used to put discrete schedules and continuous ones (rectified flow) on the same x axis.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    num_steps = check_int(num_steps, "num_steps", min_value=1)
    return torch.arange(1, num_steps + 1, dtype=torch.float64) / num_steps


def cosine_alpha_bar(t: Any, *, s: float = 0.008) -> torch.Tensor:
    """Nichol and Dhariwal's cosine schedule in continuous time.

    ``alpha_bar(t) = cos^2((t + s) / (1 + s) * pi / 2)`` for ``t`` in [0, 1] (unnormalised,
    exactly as diffusers' ``squaredcos_cap_v2``). Returns float64, the shape of ``t``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    t = _as_float64(t, "t")
    _check_unit_interval(t, "t", what="times")
    s = check_number(s, "s", low=0.0)
    return torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2


def sigmoid_alpha_bar(
    t: Any, *, start: float = -3.0, end: float = 3.0, tau: float = 1.0, clip_min: float = 1e-9
) -> torch.Tensor:
    """Chen (2023)'s sigmoid schedule in continuous time.

    ``alpha_bar(t) = (sigmoid(end / tau) - sigmoid((t (end - start) + start) / tau)) /
    (sigmoid(end / tau) - sigmoid(start / tau))``, clipped below at ``clip_min``: 1 at
    ``t = 0`` and ``clip_min`` at ``t = 1``. ``tau`` sets how steep the middle is (a larger
    ``tau`` spends more time at high noise). Returns float64, the shape of ``t``.

    Note: diffusers' ``beta_schedule="sigmoid"`` is a different thing (sigmoid-shaped betas).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    t = _as_float64(t, "t")
    _check_unit_interval(t, "t", what="times")
    start = check_number(start, "start")
    end = check_number(end, "end")
    tau = check_number(tau, "tau", low=0.0, low_open=True)
    if not end > start:
        raise ValueError(
            f"end: expected end > start, got start={start:g}, end={end:g}. Fix: swap them."
        )
    v_start = torch.sigmoid(torch.tensor(start / tau, dtype=torch.float64))
    v_end = torch.sigmoid(torch.tensor(end / tau, dtype=torch.float64))
    out = torch.sigmoid((t * (end - start) + start) / tau)
    return ((v_end - out) / (v_end - v_start)).clamp(min=clip_min, max=1.0)


def rectified_flow(t: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Rectified flow's interpolation coefficients: ``alpha = 1 - t``, ``sigma = t``.

    ``x_t = alpha x_0 + sigma eps`` (:func:`rf_interpolate`); not variance preserving, so its
    SNR is ``((1 - t) / t)^2``. Returns ``(alpha, sigma)``, float64, the shape of ``t``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    t = _as_float64(t, "t")
    _check_unit_interval(t, "t", what="times")
    return 1.0 - t, t.clone()


def rf_interpolate(x0: torch.Tensor, noise: torch.Tensor, t: Any) -> torch.Tensor:
    """Rectified flow's forward process ``x_t = (1 - t) x_0 + t eps``.

    Args:
        x0: clean audio, shape (B, C, T) (any shape works).
        noise: Gaussian noise eps, the shape of ``x0``.
        t: time in [0, 1]: a number, or a tensor (B,) with one time per clip.

    Returns:
        x_t, the shape and dtype of ``x0``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    _check_x0_and_noise(x0, noise)
    t = _coef(t, x0, "t")
    if t.numel() and (t.min() < 0 or t.max() > 1):
        raise ValueError(f"t: expected times in [0, 1], got {describe(t)} outside that range.")
    return (1 - t) * x0 + t * noise


def make_betas(
    beta_schedule: str = "linear",
    num_steps: int = 1000,
    *,
    beta_t0: float = 1e-4,
    beta_t1: float = 0.02,
    beta_exp: float = 1.0,
    cosine_s: float = 0.008,
    sigmoid_start: float = -3.0,
    sigmoid_end: float = 3.0,
    sigmoid_tau: float = 1.0,
    max_beta: float = 0.999,
    noise_floor: float = 0.0,
) -> torch.Tensor:
    """The betas of a schedule, float64 tensor of shape (num_steps,).

    - ``"linear"``: ``beta`` goes linearly from ``beta_t0`` to ``beta_t1`` (Ho et al. 2020).
    - ``"power"``: ``beta = linspace(beta_t0^(1/beta_exp), beta_t1^(1/beta_exp))^beta_exp``
      (audiocraft's ``repartition="power"``; Multi-Band Diffusion uses ``beta_exp=7.5``);
      ``beta_exp=1`` is the linear schedule.
    - ``"cosine"``: discretises :func:`cosine_alpha_bar`, ``beta_s = min(1 - abar(t_{s+1}) /
      abar(t_s), max_beta)`` (Nichol and Dhariwal 2021; diffusers' ``squaredcos_cap_v2``);
      ignores ``beta_t0``/``beta_t1``.
    - ``"sigmoid"``: discretises :func:`sigmoid_alpha_bar` the same way (Chen 2023).

    ``noise_floor`` (a standard deviation in [0, 1)) caps ``alpha_bar`` at
    ``1 - noise_floor^2``, so that every step holds at least that much noise; the betas are
    recomputed from the capped ``alpha_bar`` (the first beta grows, the next ones may be 0).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    beta_schedule = check_choice(beta_schedule, "beta_schedule", SCHEDULES)
    num_steps = check_int(num_steps, "num_steps", min_value=1)
    beta_t0 = check_number(beta_t0, "beta_t0", low=0.0, high=1.0, low_open=True, high_open=True)
    beta_t1 = check_number(beta_t1, "beta_t1", low=0.0, high=1.0, low_open=True, high_open=True)
    beta_exp = check_number(beta_exp, "beta_exp", low=0.0, low_open=True)
    max_beta = check_number(max_beta, "max_beta", low=0.0, high=1.0, low_open=True)
    noise_floor = check_number(noise_floor, "noise_floor", low=0.0, high=1.0, high_open=True)

    if beta_schedule in ("linear", "power"):
        exp = 1.0 if beta_schedule == "linear" else beta_exp
        betas = (
            torch.linspace(
                beta_t0 ** (1 / exp), beta_t1 ** (1 / exp), num_steps, dtype=torch.float64
            )
            ** exp
        )
    else:
        if beta_schedule == "cosine":

            def fn(t: torch.Tensor) -> torch.Tensor:
                return cosine_alpha_bar(t, s=cosine_s)
        else:

            def fn(t: torch.Tensor) -> torch.Tensor:
                return sigmoid_alpha_bar(t, start=sigmoid_start, end=sigmoid_end, tau=sigmoid_tau)

        grid = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
        abar = fn(grid)
        betas = (1 - abar[1:] / abar[:-1]).clamp(max=max_beta)

    if noise_floor > 0:
        abar = alpha_bar_from_betas(betas).clamp(max=1 - noise_floor**2)
        betas = betas_from_alpha_bar(abar)
    return betas


def alpha_bar_from_betas(betas: Any) -> torch.Tensor:
    """``alpha_bar_s = prod_{i <= s} (1 - beta_i)``, float64, shape of ``betas`` (num_steps,).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    betas = _as_float64(betas, "betas")
    _check_unit_interval(betas, "betas", what="betas")
    return torch.cumprod(1 - betas, dim=-1)


def betas_from_alpha_bar(alpha_bar: Any) -> torch.Tensor:
    """The inverse of :func:`alpha_bar_from_betas`: ``beta_s = 1 - abar_s / abar_{s-1}``.

    ``abar_{-1} = 1``. ``alpha_bar`` must not increase. Returns float64 (num_steps,).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    abar = _as_float64(alpha_bar, "alpha_bar")
    _check_unit_interval(abar, "alpha_bar")
    if abar.ndim != 1:
        raise ValueError(f"alpha_bar: expected one axis (num_steps,), got {describe(abar)}.")
    if abar.numel() > 1 and (abar[1:] > abar[:-1]).any():
        raise ValueError(
            "alpha_bar: expected a non-increasing sequence (noise only grows with the step), "
            "got one that increases somewhere. Fix: sort it in decreasing order."
        )
    prev = torch.cat([abar.new_ones(1), abar[:-1]])
    ratio = torch.where(prev > 0, abar / prev.clamp(min=1e-300), torch.zeros_like(abar))
    return (1 - ratio).clamp(0.0, 1.0)


def alpha_bar(schedule: str = "linear", num_steps: int = 1000, **params: Any) -> torch.Tensor:
    """``alpha_bar`` at every step of a schedule, float64 tensor of shape (num_steps,).

    ``schedule`` is one of :data:`CURVES`: a beta schedule (``params`` go to
    :func:`make_betas`, e.g. ``beta_t0``, ``beta_t1``, ``beta_exp``) or ``"rectified_flow"``,
    for which it returns the variance-preserving ``alpha_bar`` with the same SNR as
    ``x_t = (1 - t) x_0 + t eps`` at ``t = (s + 1) / num_steps``:
    ``alpha_bar = (1 - t)^2 / ((1 - t)^2 + t^2)`` (0 at the last step).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    schedule = check_choice(schedule, "schedule", CURVES)
    if schedule == "rectified_flow":
        if params:
            raise TypeError(
                f"params: rectified_flow takes no parameters, got {sorted(params)}. Fix: drop them."
            )
        a, s = rectified_flow(timesteps(num_steps))
        return a**2 / (a**2 + s**2)
    return alpha_bar_from_betas(make_betas(schedule, num_steps, **params))


def snr(alpha_bar: Any) -> torch.Tensor:
    """Signal-to-noise ratio ``alpha_bar / (1 - alpha_bar)`` (a power ratio), float64.

    ``inf`` where ``alpha_bar == 1`` (no noise), 0 where ``alpha_bar == 0``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    abar = _as_float64(alpha_bar, "alpha_bar")
    _check_unit_interval(abar, "alpha_bar")
    return abar / (1 - abar)


def log_snr(alpha_bar: Any) -> torch.Tensor:
    """``lambda = log(alpha_bar / (1 - alpha_bar))`` (natural log, as in Kingma et al. 2021).

    Float64, the shape of ``alpha_bar``; ``+inf``/``-inf`` at ``alpha_bar`` 1/0.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    abar = _as_float64(alpha_bar, "alpha_bar")
    _check_unit_interval(abar, "alpha_bar")
    return torch.log(abar) - torch.log1p(-abar)


def snr_db(alpha_bar: Any) -> torch.Tensor:
    """The SNR in decibels, ``10 log10(alpha_bar / (1 - alpha_bar))``, float64.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    return log_snr(alpha_bar) * (10.0 / math.log(10.0))


def alpha_bar_from_log_snr(lam: Any) -> torch.Tensor:
    """The inverse of :func:`log_snr`: ``alpha_bar = sigmoid(lambda)``, float64.

    Handy to design a schedule from a log-SNR curve.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    lam = _as_float64(lam, "lam")
    if torch.isnan(lam).any():
        raise ValueError("lam: holds NaN. Fix: pass finite log-SNR values (or +-inf).")
    return torch.sigmoid(lam)


def cosine_log_snr(
    t: Any, *, log_snr_min: float = -20.0, log_snr_max: float = 20.0, check: bool = True
) -> torch.Tensor:
    """The continuous cosine schedule in log-SNR form: ``lambda(t) = -2 log tan(a t + b)``.

    ``t`` in [0, 1] (0 clean, 1 pure noise); ``a, b`` make ``lambda(0) = log_snr_max`` and
    ``lambda(1) = log_snr_min`` (Kingma et al. 2021's form, as Spectrogram Diffusion uses
    it, with its limits of +-20). Without the limits (``+-inf``) it is ``log_snr`` of
    ``alpha_bar = cos(pi t / 2)**2``. Float64 (float32 on MPS), on ``t``'s device;
    ``alpha_bar = sigmoid(lambda)``. ``check=False`` skips the check that ``t`` is in
    [0, 1], which reads the values back to the host (a training loss on a GPU calls this
    every step).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    t = _as_float64(t, "t")
    if check:
        _check_unit_interval(t, "t", what="times")
    if not log_snr_min < log_snr_max:
        raise ValueError(
            f"log_snr_min, log_snr_max: need min < max, got {log_snr_min} and {log_snr_max}."
        )
    b = math.atan(math.exp(-0.5 * log_snr_max))
    a = math.atan(math.exp(-0.5 * log_snr_min)) - b
    return -2.0 * torch.log(torch.tan(a * t + b))


def snr_crossing(alpha_bar: Any, level_db: float = 0.0) -> int:
    """The first step whose SNR is at or below ``level_db`` decibels.

    Args:
        alpha_bar: (num_steps,) non-increasing values in [0, 1].
        level_db: the level in dB; 0 dB is where signal and noise have equal power
            (``alpha_bar = 0.5``).

    Returns:
        the step index (``int``); ``len(alpha_bar)`` if the SNR never gets that low.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    level_db = check_number(level_db, "level_db")
    db = snr_db(alpha_bar)
    if db.ndim != 1:
        raise ValueError(f"alpha_bar: expected one axis (num_steps,), got {describe(db)}.")
    below = torch.nonzero(db <= level_db)
    return int(below[0, 0]) if below.numel() else int(db.numel())


def _coef(value: Any, x: torch.Tensor, name: str) -> torch.Tensor:
    """A scalar or per-clip (B,) coefficient, shaped to broadcast against x (B, ...)."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a number or a tensor, got {describe(value)}.")
    c = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    if c.ndim == 0:
        return c
    if c.ndim == 1 and x.ndim >= 1 and c.shape[0] == x.shape[0]:
        return c.view(-1, *([1] * (x.ndim - 1)))
    try:
        torch.broadcast_shapes(c.shape, x.shape)
    except RuntimeError as err:
        raise ValueError(
            f"{name}: expected a number, a tensor (B,) with B = {x.shape[0] if x.ndim else 1} or "
            f"one that broadcasts to {tuple(x.shape)}, got {describe(c)}."
        ) from err
    return c


def q_sample(x0: torch.Tensor, alpha_bar_t: Any, noise: torch.Tensor) -> torch.Tensor:
    """The forward process in closed form: ``x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps``.

    Args:
        x0: clean audio, shape (B, C, T) (any shape works).
        alpha_bar_t: ``alpha_bar`` at the chosen step, in [0, 1]: a number, or a tensor (B,)
            with one value per clip, or a tensor that broadcasts to ``x0``.
        noise: eps ~ N(0, I), the shape of ``x0``.

    Returns:
        x_t, the shape and dtype of ``x0``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    _check_x0_and_noise(x0, noise)
    abar = _coef(alpha_bar_t, x0, "alpha_bar_t")
    if abar.numel() and (abar.min() < 0 or abar.max() > 1):
        raise ValueError(
            f"alpha_bar_t: expected values in [0, 1], got {float(abar.min()):g} to "
            f"{float(abar.max()):g}. Fix: index the schedule's alpha_bar at a step, "
            f"e.g. alpha_bar[step], not the step itself."
        )
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


# --------------------------------------------------------------------------------------------
# Frequency bands
# --------------------------------------------------------------------------------------------


def mel_band_edges(sr: int, n_bands: int) -> torch.Tensor:
    """Band edges in Hz, evenly spaced on the HTK mel scale from 0 Hz to ``sr / 2``.

    The scale is the library's one mel scale, :func:`tutorial_lib.audio.hz_to_mel` with
    ``htk=True`` (librosa's ``hz_to_mel(f, htk=True)``).

    Returns a float64 tensor of shape (n_bands + 1,): band ``b`` spans ``[edges[b],
    edges[b + 1]]``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    sr = check_sample_rate(sr)
    n_bands = check_int(n_bands, "n_bands", min_value=1, max_value=256)
    top = float(audio.hz_to_mel(sr / 2, htk=True))
    mels = torch.linspace(0.0, top, n_bands + 1, dtype=torch.float64)
    edges = torch.from_numpy(audio.mel_to_hz(mels.numpy(), htk=True))
    edges[0], edges[-1] = 0.0, sr / 2
    return edges


def band_masks(n_samples: int, sr: int, n_bands: int, *, transition: float = 0.0) -> torch.Tensor:
    """FFT masks of mel-spaced bands, float64 tensor of shape (n_bands, n_samples // 2 + 1).

    One row per band, one column per ``torch.fft.rfft`` bin; the rows sum to exactly one at
    every bin, so the bands add back to the signal. ``transition = 0`` gives brick-wall masks
    (each bin in one band: splitting the sum of bands again gives the same bands, which makes
    :class:`MultiBandProcessor` exactly invertible); ``0 < transition <= 1`` cross-fades
    neighbours with a cos^2 ramp over that fraction of a band's width (in mel).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    n_samples = check_int(n_samples, "n_samples", min_value=1)
    sr = check_sample_rate(sr)
    n_bands = check_int(n_bands, "n_bands", min_value=1, max_value=256)
    transition = check_number(transition, "transition", low=0.0, high=1.0)
    freqs = torch.fft.rfftfreq(n_samples, d=1.0 / sr).to(torch.float64)
    mel = torch.from_numpy(audio.hz_to_mel(freqs.numpy(), htk=True))
    edges = torch.from_numpy(audio.hz_to_mel(mel_band_edges(sr, n_bands).numpy(), htk=True))
    width = transition * float(edges[1] - edges[0])
    # lows[k] = share of each bin below edge k (a smooth step), lows[0] = 0, lows[-1] = 1.
    lows = [torch.zeros_like(mel)]
    for e in edges[1:-1]:
        if width > 0:
            u = ((mel - (e - width / 2)) / width).clamp(0.0, 1.0)
            lows.append(torch.cos(u * math.pi / 2) ** 2)
        else:
            lows.append((mel < e).to(torch.float64))
    lows.append(torch.ones_like(mel))
    low = torch.stack(lows)
    return low[1:] - low[:-1]


def split_bands(x: torch.Tensor, sr: int, n_bands: int, *, transition: float = 0.0) -> torch.Tensor:
    """Split audio into mel-spaced frequency bands that add back to ``x``.

    Args:
        x: audio tensor, shape (..., T), e.g. (B, C, T).
        sr: sample rate in Hz.
        n_bands: number of bands (edges from :func:`mel_band_edges`).
        transition: see :func:`band_masks` (0 = brick-wall masks).

    Returns:
        bands, shape (n_bands, ..., T) (bands first, like julius' ``SplitBands``), with
        ``bands.sum(0) == x`` up to float error.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    _check_tensor(x, "x")
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"x: expected audio with samples on the last axis, got {describe(x)}.")
    masks = band_masks(x.shape[-1], sr, n_bands, transition=transition)
    work = torch.float32 if x.device.type == "mps" else torch.float64  # MPS has no float64
    spec = torch.fft.rfft(x.to(work), dim=-1)
    view = (n_bands,) + (1,) * (x.ndim - 1) + (masks.shape[-1],)
    bands = torch.fft.irfft(spec.unsqueeze(0) * masks.to(x.device, work).view(view), n=x.shape[-1])
    return bands.to(x.dtype)


def _noise_band_power(masks: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Mean power per band of unit-variance white noise filtered by ``masks`` (Parseval)."""
    weight = torch.full((masks.shape[-1],), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if n_samples % 2 == 0:
        weight[-1] = 1.0
    return (masks.to(torch.float64) ** 2 * weight).sum(-1) / n_samples


def band_snr_db(
    x0: torch.Tensor, alpha_bar: Any, sr: int, n_bands: int = 8, *, eps: float = 1e-20
) -> torch.Tensor:
    """SNR in dB of each frequency band of ``x0`` at each ``alpha_bar``.

    For band ``b`` with signal power ``P_b`` (mean square of ``x0``'s band) and white-noise
    power ``N_b`` (the band's share of the spectrum), ``SNR_b = abar P_b / ((1 - abar) N_b)``.
    Audio keeps most of its energy at low frequencies, so high bands drown first.

    Args:
        x0: clean audio (T,), (C, T) or (B, C, T); the power is averaged over all clips.
        alpha_bar: values in [0, 1], shape (S,) (e.g. a whole schedule).
        sr: sample rate in Hz.
        n_bands: number of mel-spaced bands (:func:`mel_band_edges`).
        eps: floor on band power, so silent bands give a finite (very low) dB value.

    Returns:
        float64 tensor (n_bands, S) in dB.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    _check_tensor(x0, "x0")
    abar = _as_float64(alpha_bar, "alpha_bar").reshape(-1)
    _check_unit_interval(abar, "alpha_bar")
    bands = split_bands(x0.to(torch.float64), sr, n_bands)
    power = bands.reshape(n_bands, -1).pow(2).mean(-1).cpu().clamp(min=eps)
    noise = _noise_band_power(band_masks(x0.shape[-1], sr, n_bands), x0.shape[-1])
    ratio = power / noise.clamp(min=eps)
    return 10 * torch.log10(ratio)[:, None] + snr_db(abar)[None, :]


# --------------------------------------------------------------------------------------------
# Sample processors
# --------------------------------------------------------------------------------------------


class SampleProcessor(nn.Module):
    """The identity: diffusion happens on the samples themselves (audiocraft's default).

    Subclasses move audio ``x`` (B, C, T) to the space where diffusion happens
    (:meth:`project_sample`) and back (:meth:`return_sample`).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """

    def project_sample(self, x: torch.Tensor) -> torch.Tensor:
        """Project audio (B, C, T) to the diffusion space (here: unchanged)."""
        return x

    def return_sample(self, z: torch.Tensor) -> torch.Tensor:
        """Project back from the diffusion space to audio (B, C, T) (here: unchanged)."""
        return z


class MultiBandProcessor(SampleProcessor):
    """Rescale mel-spaced frequency bands so each has the power of Gaussian noise there.

    The Multi-Band Diffusion sample processor (audiocraft's ``MultiBandProcessor``): audio is
    split into ``n_bands`` mel-spaced bands (:func:`split_bands`, FFT masks that sum to one);
    each band ``b`` is centred and scaled, ``z_b = (x_b - mean_b) * (target_b / std_b) **
    power_std``, where ``mean_b``/``std_b`` are accumulated over the first ``num_samples``
    clips it sees and ``target_b`` is the standard deviation of unit white noise in that band.
    Without it, the quiet high bands of a sound drown in noise at the very first steps; with
    it, every band reaches 0 dB SNR at about the same step.

    Differences from audiocraft: FFT masks instead of julius' sinc filters (with the default
    ``transition=0`` the inverse is exact); the noise statistics are computed in closed form
    (Parseval) instead of from random draws; ``target`` is a standard deviation (audiocraft
    uses a mean square there).

    Args:
        n_bands: number of bands.
        sample_rate: sample rate of the audio, Hz.
        num_samples: number of clips to accumulate statistics over; after that the statistics
            freeze. :meth:`fit` also accumulates them explicitly.
        power_std: exponent on the rescaling, a number or one per band; 1 = full correction,
            less than 1 = partial.
        transition: band cross-fade width (see :func:`band_masks`).
        min_std: floor on a band's standard deviation, so a silent band is not amplified
            without bound.

    Buffers (saved in ``state_dict``): ``counts``, ``sum_x``, ``sum_x2``, ``sum_target_x2``.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """

    counts: torch.Tensor
    sum_x: torch.Tensor
    sum_x2: torch.Tensor
    sum_target_x2: torch.Tensor

    def __init__(
        self,
        n_bands: int = 8,
        sample_rate: int = 24_000,
        num_samples: int = 10_000,
        power_std: float | Sequence[float] | torch.Tensor = 1.0,
        *,
        transition: float = 0.0,
        min_std: float = 1e-5,
    ) -> None:
        super().__init__()
        self.n_bands = check_int(n_bands, "n_bands", min_value=1, max_value=256)
        self.sample_rate = check_sample_rate(sample_rate, "sample_rate")
        self.num_samples = check_int(num_samples, "num_samples", min_value=1)
        self.transition = check_number(transition, "transition", low=0.0, high=1.0)
        self.min_std = check_number(min_std, "min_std", low=0.0, low_open=True)
        if isinstance(power_std, (int, float)) and not isinstance(power_std, bool):
            ps = torch.full((n_bands,), float(power_std), dtype=torch.float64)
        else:
            ps = _as_float64(power_std, "power_std").reshape(-1)
            if ps.numel() != n_bands:
                raise ValueError(
                    f"power_std: expected one number or {n_bands} (one per band), got "
                    f"{ps.numel()} values. Fix: pass a float, or a list of length n_bands."
                )
        self.register_buffer("power_std", ps.float(), persistent=False)
        self.register_buffer("counts", torch.zeros(1))
        self.register_buffer("sum_x", torch.zeros(n_bands))
        self.register_buffer("sum_x2", torch.zeros(n_bands))
        self.register_buffer("sum_target_x2", torch.zeros(n_bands))

    def extra_repr(self) -> str:
        return (
            f"n_bands={self.n_bands}, sample_rate={self.sample_rate}, "
            f"num_samples={self.num_samples}, seen={int(self.counts.item())}"
        )

    # statistics ---------------------------------------------------------------------------
    @property
    def mean(self) -> torch.Tensor:
        """Per-band mean of the data, shape (n_bands,)."""
        return self.sum_x / self.counts.clamp(min=1)

    @property
    def std(self) -> torch.Tensor:
        """Per-band standard deviation of the data, shape (n_bands,)."""
        var = self.sum_x2 / self.counts.clamp(min=1) - self.mean**2
        return var.clamp(min=0).sqrt()

    @property
    def target_std(self) -> torch.Tensor:
        """Per-band standard deviation of unit white Gaussian noise, shape (n_bands,)."""
        return (self.sum_target_x2 / self.counts.clamp(min=1)).sqrt()

    @property
    def rescale(self) -> torch.Tensor:
        """The gain applied to each band by :meth:`project_sample`, shape (n_bands,)."""
        return (self.target_std / self.std.clamp(min=self.min_std)) ** self.power_std

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return split_bands(x, self.sample_rate, self.n_bands, transition=self.transition)

    def _check(self, x: Any, name: str) -> None:
        _check_tensor(x, name, ndim=3)

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> MultiBandProcessor:
        """Accumulate the band statistics of a batch ``x`` (B, C, T); returns ``self``.

        Unlike the automatic accumulation in :meth:`project_sample`, this ignores
        ``num_samples``.
        """
        self._check(x, "x")
        self._accumulate(x, self._split(x))
        return self

    def _accumulate(self, x: torch.Tensor, bands: torch.Tensor) -> None:
        masks = band_masks(x.shape[-1], self.sample_rate, self.n_bands, transition=self.transition)
        target = _noise_band_power(masks, x.shape[-1]).to(self.sum_target_x2)
        self.counts += len(x)
        self.sum_x += bands.mean(dim=(2, 3)).sum(dim=1).to(self.sum_x)
        self.sum_x2 += bands.pow(2).mean(dim=(2, 3)).sum(dim=1).to(self.sum_x2)
        self.sum_target_x2 += target * len(x)

    def project_sample(self, x: torch.Tensor) -> torch.Tensor:
        """Audio (B, C, T) -> rescaled bands summed back, (B, C, T).

        While fewer than ``num_samples`` clips have been seen, ``x`` is first added to the
        statistics (as in audiocraft).
        """
        self._check(x, "x")
        bands = self._split(x)
        if self.counts.item() < self.num_samples:
            with torch.no_grad():
                self._accumulate(x, bands)
        view = (-1, 1, 1, 1)
        bands = (bands - self.mean.view(view).to(x)) * self.rescale.view(view).to(x)
        return bands.sum(dim=0)

    def return_sample(self, z: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`project_sample`: (B, C, T) -> audio (B, C, T)."""
        self._check(z, "z")
        if self.counts.item() == 0:
            raise RuntimeError(
                "MultiBandProcessor: no statistics yet, so there is nothing to invert. "
                "Fix: call .fit(x) on some training audio (or project_sample) first."
            )
        bands = self._split(z)
        view = (-1, 1, 1, 1)
        bands = bands / self.rescale.view(view).to(z) + self.mean.view(view).to(z)
        return bands.sum(dim=0)


# --------------------------------------------------------------------------------------------
# NoiseSchedule
# --------------------------------------------------------------------------------------------


ModelFn = Callable[..., Any]


class NoiseSchedule(nn.Module):
    """A DDPM noise schedule: forward noising, training items, reverse sampling.

    Follows audiocraft's ``NoiseSchedule`` (``audiocraft/modules/diffusion_schedule.py``, the
    schedule of Multi-Band Diffusion). The model is an epsilon-predictor called as
    ``model(x_t, step)`` (or ``model(x_t, step, condition=condition)`` when a condition is
    given), with ``x_t`` of shape (B, C, T) and ``step`` a long tensor (B,); it returns a
    tensor (B, C, T) or an object with a ``.sample`` attribute (like audiocraft's and
    diffusers' U-Nets).

    Args:
        beta_t0: beta of the first step, in (0, 1).
        beta_t1: beta of the last step, in (0, 1) (linear and power schedules).
        num_steps: number of diffusion steps (>= 1).
        variance: variance of the reverse steps: ``"beta"`` (``sigma^2 = beta_t``),
            ``"beta_tilde"`` (the posterior variance ``(1 - abar_{t-1}) / (1 - abar_t)
            beta_t``) or ``"none"`` (no noise: deterministic given the model and ``initial``).
        clip: clamp every reverse iterate to ``[-clip, clip]``; 0 or ``None`` disables it.
        rescale: divide the data by this before noising (``noisy = sqrt(abar) x / rescale +
            ...``) and multiply the final sample by it: ``rescale > 1`` lowers every SNR.
        device: where the schedule's tensors live (default ``"cpu"``; audiocraft: ``"cuda"``).
        beta_schedule: ``"linear"``, ``"cosine"``, ``"power"`` or ``"sigmoid"``
            (:func:`make_betas`).
        beta_exp: exponent of the power schedule (Multi-Band Diffusion: 7.5).
        n_bands: number of bands of a :class:`MultiBandProcessor`. If given without
            ``sample_processor``, one is built for ``sample_rate``; if both are given they must
            agree. ``None`` (default): no band processing.
        sample_processor: a :class:`SampleProcessor` (default: the identity).
        noise_floor: least noise standard deviation at any step, in [0, 1)
            (caps ``alpha_bar`` at ``1 - noise_floor^2``).
        sample_rate: sample rate in Hz, used only to build a band processor from ``n_bands``.
        max_beta: cap on the betas of the cosine and sigmoid schedules.
        sigmoid_start, sigmoid_end, sigmoid_tau: parameters of the sigmoid schedule
            (:func:`sigmoid_alpha_bar`).

    Buffers: ``betas`` and ``alpha_bars`` (num_steps,), float32, not saved in ``state_dict``
    (they follow from the arguments); the sample processor's statistics are saved.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """

    betas: torch.Tensor
    alpha_bars: torch.Tensor

    def __init__(
        self,
        beta_t0: float = 1e-4,
        beta_t1: float = 0.02,
        num_steps: int = 1000,
        variance: str = "beta",
        clip: float | None = 20.0,
        rescale: float = 1.0,
        device: str | torch.device = "cpu",
        beta_schedule: str = "linear",
        beta_exp: float = 1.0,
        n_bands: int | None = None,
        sample_processor: SampleProcessor | None = None,
        noise_floor: float = 0.0,
        *,
        sample_rate: int = 16_000,
        max_beta: float = 0.999,
        sigmoid_start: float = -3.0,
        sigmoid_end: float = 3.0,
        sigmoid_tau: float = 1.0,
    ) -> None:
        super().__init__()
        self.num_steps = check_int(num_steps, "num_steps", min_value=1)
        self.variance = check_choice(variance, "variance", ("beta", "beta_tilde", "none"))
        self.beta_schedule = check_choice(beta_schedule, "beta_schedule", SCHEDULES)
        if clip is None:
            clip = 0.0
        self.clip = check_number(clip, "clip", low=0.0)
        self.rescale = check_number(rescale, "rescale", low=0.0, low_open=True)
        self.beta_t0 = check_number(
            beta_t0, "beta_t0", low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.beta_t1 = check_number(
            beta_t1, "beta_t1", low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.beta_exp = check_number(beta_exp, "beta_exp", low=0.0, low_open=True)
        self.noise_floor = check_number(
            noise_floor, "noise_floor", low=0.0, high=1.0, high_open=True
        )
        if n_bands is not None:
            n_bands = check_int(n_bands, "n_bands", min_value=1, max_value=256)
        if sample_processor is None:
            sample_processor = (
                SampleProcessor()
                if n_bands is None
                else MultiBandProcessor(n_bands=n_bands, sample_rate=sample_rate)
            )
        elif not isinstance(sample_processor, SampleProcessor):
            raise TypeError(
                f"sample_processor: expected a tl.schedules.SampleProcessor (e.g. "
                f"MultiBandProcessor(...)), got {describe(sample_processor)}. "
                f"Fix: subclass SampleProcessor with project_sample/return_sample."
            )
        elif n_bands is not None and getattr(sample_processor, "n_bands", None) != n_bands:
            raise ValueError(
                f"n_bands: got {n_bands}, but the sample_processor has "
                f"{getattr(sample_processor, 'n_bands', None)} bands. Fix: leave n_bands=None "
                f"when you pass a sample_processor, or make them agree."
            )
        self.n_bands = n_bands
        self.sample_processor = sample_processor
        betas = make_betas(
            self.beta_schedule,
            self.num_steps,
            beta_t0=self.beta_t0,
            beta_t1=self.beta_t1,
            beta_exp=self.beta_exp,
            max_beta=max_beta,
            noise_floor=self.noise_floor,
            sigmoid_start=sigmoid_start,
            sigmoid_end=sigmoid_end,
            sigmoid_tau=sigmoid_tau,
        )
        dev = torch.device(device)
        self.register_buffer("betas", betas.float().to(dev), persistent=False)
        self.register_buffer(
            "alpha_bars", alpha_bar_from_betas(betas).float().to(dev), persistent=False
        )
        self.to(dev)

    def extra_repr(self) -> str:
        return (
            f"beta_schedule={self.beta_schedule!r}, num_steps={self.num_steps}, "
            f"beta_t0={self.beta_t0:g}, beta_t1={self.beta_t1:g}, beta_exp={self.beta_exp:g}, "
            f"variance={self.variance!r}, clip={self.clip:g}, rescale={self.rescale:g}, "
            f"noise_floor={self.noise_floor:g}"
        )

    # schedule values ----------------------------------------------------------------------
    def _check_step(self, step: Any, name: str = "step") -> int | torch.Tensor:
        if isinstance(step, torch.Tensor):
            if step.is_floating_point() or step.is_complex() or step.dtype == torch.bool:
                raise TypeError(
                    f"{name}: expected integer step indices, got {describe(step)}. "
                    f"Fix: {name}.long() (steps run from 0 to num_steps - 1)."
                )
            if step.numel() and (step.min() < 0 or step.max() >= self.num_steps):
                raise ValueError(
                    f"{name}: expected steps in [0, {self.num_steps - 1}], got values from "
                    f"{int(step.min())} to {int(step.max())}."
                )
            return step.long()
        return check_int(step, name, min_value=0, max_value=self.num_steps - 1)

    def get_beta(self, step: int | torch.Tensor) -> torch.Tensor:
        """``beta`` at ``step`` (an int, or a long tensor (B,))."""
        step = self._check_step(step)
        return self.betas[step]

    def get_alpha_bar(self, step: int | torch.Tensor | None = None) -> torch.Tensor:
        """``alpha_bar`` at a step, or at every step.

        Args:
            step: ``None`` -> all values, shape (num_steps,); an ``int`` -> a 0-d tensor;
                a long tensor (B,) -> shape (B, 1, 1), ready to multiply a batch (B, C, T).
        """
        if step is None:
            return self.alpha_bars
        step = self._check_step(step)
        if isinstance(step, int):
            return self.alpha_bars[step]
        return self.alpha_bars[step.to(self.alpha_bars.device)].view(-1, 1, 1)

    def get_initial_noise(self, x: torch.Tensor) -> torch.Tensor:
        """Gaussian noise shaped like ``x`` (B, C, T): the start of the reverse process."""
        return torch.randn_like(x)

    # training -----------------------------------------------------------------------------
    def get_training_item(
        self,
        x: torch.Tensor,
        tensor_step: bool = False,
        *,
        step: int | torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> TrainingItem:
        """Noise a clean batch at a random step: ``TrainingItem(noisy, noise, step)``.

        ``x`` (B, C, T) is first mapped by the sample processor, then
        ``noisy = sqrt(abar) * x / rescale + sqrt(1 - abar) * noise``.

        Args:
            x: clean audio (B, C, T).
            tensor_step: ``False`` -> one random step (``int``) for the whole batch;
                ``True`` -> an independent random step per clip (long tensor (B,)).
            step: (extra, keyword-only) use this step instead of a random one.
            noise: (extra, keyword-only) use this noise (B, C, T) instead of fresh noise.

        Uses torch's global random generator (seed it with ``tl.setup(seed=...)``).
        """
        _check_tensor(x, "x", ndim=3)
        if step is None:
            if tensor_step:
                step = torch.randint(0, self.num_steps, (x.shape[0],), device=x.device)
            else:
                step = int(torch.randint(0, self.num_steps, ()).item())
        else:
            step = self._check_step(step)
            if isinstance(step, torch.Tensor) and step.shape != (x.shape[0],):
                raise ValueError(
                    f"step: expected an int or a tensor of shape (B,) = ({x.shape[0]},), got "
                    f"{describe(step)}."
                )
        x = self.sample_processor.project_sample(x)
        if noise is None:
            noise = torch.randn_like(x)
        else:
            _check_tensor(noise, "noise")
            if noise.shape != x.shape:
                raise ValueError(
                    f"noise: expected the shape of x {tuple(x.shape)}, got {tuple(noise.shape)}."
                )
        abar = self.get_alpha_bar(step).to(x)
        noisy = (abar.sqrt() / self.rescale) * x + (1 - abar).sqrt() * noise
        return TrainingItem(noisy, noise, step)

    # sampling -----------------------------------------------------------------------------
    def _reverse(
        self,
        model: ModelFn,
        initial: torch.Tensor | None,
        steps: list[int],
        condition: Any,
        return_list: bool,
    ) -> torch.Tensor | list[torch.Tensor]:
        if not callable(model):
            raise TypeError(
                f"model: expected a callable model(x_t, step) -> eps, got {describe(model)}."
            )
        if initial is None:
            raise ValueError(
                "initial: the reverse process needs a starting point. "
                "Fix: pass initial=torch.randn(B, C, T) (or schedule.get_initial_noise(x))."
            )
        _check_tensor(initial, "initial", ndim=3)
        abars = self.alpha_bars.to(torch.float64).cpu()
        current = initial
        iterates = [self.sample_processor.return_sample(initial)] if return_list else []
        for k, step in enumerate(steps):
            abar = abars[step]
            abar_prev = abars[steps[k + 1]] if k + 1 < len(steps) else torch.tensor(1.0)
            alpha = abar / abar_prev  # 1 - beta of this (possibly sub-sampled) step
            step_t = torch.full((current.shape[0],), step, dtype=torch.long, device=current.device)
            with torch.no_grad():
                out = (
                    model(current, step_t)
                    if condition is None
                    else model(current, step_t, condition=condition)
                )
            estimate = getattr(out, "sample", out)
            if not isinstance(estimate, torch.Tensor) or estimate.shape != current.shape:
                raise ValueError(
                    f"model: expected an output of shape {tuple(current.shape)} (the predicted "
                    f"noise), got {describe(estimate)}."
                )
            coef = float((1 - alpha) / (1 - abar).sqrt())
            previous = (current - coef * estimate) / float(alpha.sqrt())
            last = k + 1 == len(steps)
            if last or self.variance == "none":
                sigma2 = 0.0
            elif self.variance == "beta":
                sigma2 = float(1 - alpha)
            else:  # beta_tilde
                sigma2 = float((1 - abar_prev) / (1 - abar) * (1 - alpha))
            if sigma2 > 0:
                previous = previous + math.sqrt(sigma2) * torch.randn_like(previous)
            if self.clip:
                previous = previous.clamp(-self.clip, self.clip)
            if last:
                previous = previous * self.rescale
            current = previous
            if return_list:
                iterates.append(self.sample_processor.return_sample(previous))
        if return_list:
            return iterates
        return self.sample_processor.return_sample(current)

    def generate(
        self,
        model: ModelFn,
        initial: torch.Tensor | None = None,
        condition: Any = None,
        return_list: bool = False,
    ) -> torch.Tensor | list[torch.Tensor]:
        """The full DDPM reverse process, from step ``num_steps - 1`` down to clean audio.

        Each step: ``x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_hat) / sqrt(1 - beta_t)
        + sigma_t z`` (``sigma_t`` from ``variance``; none at the last step), clamped to
        ``[-clip, clip]``; the final sample is multiplied by ``rescale`` and mapped back by
        the sample processor.

        Args:
            model: epsilon-predictor ``model(x_t, step)`` (see the class docstring).
            initial: starting noise (B, C, T), in the sample processor's space.
            condition: passed to the model as ``condition=`` when not ``None``.
            return_list: return every iterate (``num_steps + 1`` tensors (B, C, T), the first
                is ``initial``, each mapped back by the sample processor) instead of the
                final sample.

        Returns:
            audio (B, C, T), or the list of iterates.
        """
        steps = list(range(self.num_steps - 1, -1, -1))
        return self._reverse(model, initial, steps, condition, return_list)

    def generate_subsampled(
        self,
        model: ModelFn,
        initial: torch.Tensor,
        step_list: Sequence[int] | None = None,
        condition: Any = None,
        return_list: bool = False,
    ) -> torch.Tensor | list[torch.Tensor]:
        """The reverse process through the steps in ``step_list`` only (fewer model calls).

        The chain visits ``step_list[0] > step_list[1] > ...`` (the betas between visited
        steps follow from ``alpha_bar``: ``1 - beta = abar_s / abar_next``), then makes a last
        jump to clean audio. ``step_list=list(range(num_steps))[::-1]`` is exactly
        :meth:`generate`. Default: every ``num_steps // 20``-th step from the last one
        (audiocraft: ``list(range(1000))[::-50]``). Unlike audiocraft, the last listed step is
        denoised too (audiocraft treats it as already clean), and ``variance`` is honoured
        (audiocraft always uses ``"beta_tilde"`` here).

        Args:
            model, initial, condition, return_list: as in :meth:`generate`.
            step_list: strictly decreasing step indices in ``[0, num_steps - 1]``.

        Returns:
            audio (B, C, T), or the list of ``len(step_list) + 1`` iterates.
        """
        if step_list is None:
            step_list = list(range(self.num_steps))[:: -max(1, self.num_steps // 20)]
        if isinstance(step_list, torch.Tensor):
            step_list = step_list.tolist()
        if isinstance(step_list, (str, bytes)) or not isinstance(step_list, Sequence):
            raise TypeError(
                f"step_list: expected a list of step indices, got {describe(step_list)}."
            )
        steps = [self._check_step(s, f"step_list[{i}]") for i, s in enumerate(step_list)]
        if not steps:
            raise ValueError("step_list: expected at least one step, got an empty list.")
        for i in range(len(steps) - 1):
            if not steps[i] > steps[i + 1]:
                raise ValueError(
                    f"step_list: expected strictly decreasing steps (the reverse process goes "
                    f"from noise to data), but step_list[{i}] = {steps[i]} is followed by "
                    f"{steps[i + 1]}. Fix: sorted(set(step_list), reverse=True)."
                )
        return self._reverse(model, initial, steps, condition, return_list)
