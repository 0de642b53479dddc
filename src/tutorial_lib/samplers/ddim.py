"""DDIM (Song et al. 2021): sampling with its ``eta`` knob, inversion, inpainting, slerp.

- :func:`ddim_update`: the one place every DDIM-style sampler moves ``x`` (also
  the v-DDIM of ``vddim.py``); :func:`ddim_step`: one step from an ``eps`` prediction.
- :func:`ddim_sample`: ``eta = 0`` deterministic (the probability-flow ODE) ... ``eta = 1``
  DDPM-like; ``start_step``/``init`` start part-way from an input (variations).
- :func:`ddim_invert`: the deterministic update run backwards, clean data -> its noise.
- :func:`ddim_inpaint`: DDIM that keeps a known region (inpainting, outpainting).
- :func:`slerp`: spherical interpolation between two noises (to interpolate samples).

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import objectives
from .._validate import check_int, check_number, describe
from ._common import (
    Model,
    Trajectory,
    _check_clip,
    _check_flag,
    _check_noise,
    _check_pair,
    _ddpm_setup,
    _evaluate,
    _loop,
    _noise_like,
    _predict,
    _Recorder,
)

__all__ = ["ddim_inpaint", "ddim_invert", "ddim_sample", "ddim_step", "ddim_update", "slerp"]


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
    :func:`~tutorial_lib.samplers.vddim_step` with ``x0_hat`` and ``eps_hat`` from a ``v`` prediction (which stays
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
    clipped_eps: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """DDIM step ``k`` of the visited steps ``ts``: ``(x_next, x0_hat, alpha_bar reached)``."""
    s = int(ts[k])
    a, a_prev = float(ab[s]), (float(ab[ts[k + 1]]) if k + 1 < len(ts) else 1.0)
    x0_hat, eps_hat = _predict(model, x, s, ab, prediction, clip_x0, clipped_eps)
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
    clipped_eps: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Trajectory]:
    """DDIM sampling: :func:`ddim_step` through ``steps`` evenly spaced training steps.

    ``eta = 0`` follows the probability-flow ODE deterministically (the same noise always
    gives the same sample); ``eta = 1`` adds the DDPM posterior noise (equal to
    :func:`ddpm_sample`); values in between interpolate.

    Args:
        model, x_T, alpha_bars, prediction, clip_x0, generator, return_trajectory, progress:
            as in :func:`ddpm_sample` (``clip_x0`` clamps ``x0_hat`` only; the noise
            direction keeps the network's ``eps_hat``, as diffusers does by default).
        steps: number of steps (= network evaluations), 1 .. N.
        eta: the stochasticity, in [0, 1].
        start_step: skip the first ``start_step`` of the ``steps`` visited steps (the Audio
            Diffusion pipeline's variations): ``init`` is noised with ``x_T`` to the level of
            visited step ``start_step``, ``sqrt(abar) init + sqrt(1 - abar) x_T``, and the
            remaining ``steps - start_step`` steps run from there. (The seed noises to the
            level of the step *before*, one step noisier than the network is then told.)
        init: the clean input of ``start_step > 0`` (the shape of ``x_T``).
        clipped_eps: with ``clip_x0``, move along the noise that the *clamped* ``x0_hat``
            implies, ``(x - sqrt(abar) x0_hat) / sqrt(1 - abar)``, instead of the network's
            (diffusers' ``use_clipped_model_output=True``). Keeping the network's noise while
            clamping its picture makes every step disagree with itself wherever the estimate
            left the range; guided pictures, pushed past it, drift (chapter 4 measures it).

    Returns:
        the sample (B, ...), or ``(sample, trajectory)``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    ab, ts = _ddpm_setup(model, x_T, alpha_bars, steps, prediction)
    eta = check_number(eta, "eta", low=0.0, high=1.0)
    clip_x0 = _check_clip(clip_x0)
    clipped_eps = _check_flag(clipped_eps, "clipped_eps")
    x, k0 = _start(x_T, ab, ts, start_step, init)
    rec = _Recorder(_check_flag(return_trajectory, "return_trajectory"), x, (ts[k0] + 1) / len(ab))
    n = len(ab)
    for j in _loop(len(ts) - k0, _check_flag(progress, "progress"), "DDIM"):
        k = k0 + j
        x, x0_hat, a_prev = _ddim_move(
            model, x, ts, k, ab, prediction, clip_x0, eta, generator, clipped_eps
        )
        rec.add(x, (int(ts[k + 1]) + 1) / n if k + 1 < len(ts) else 0.0, x0_hat)
    return rec.result(x, len(ts) - k0, "ddim")


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
    clipped_eps: bool = False,
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
        model, x_T, alpha_bars, steps, eta, prediction, clip_x0, generator, progress,
            clipped_eps: as in :func:`ddim_sample`.
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
    clipped_eps = _check_flag(clipped_eps, "clipped_eps")
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
        x, _, a_prev = _ddim_move(
            model, x, ts, k, ab, prediction, clip_x0, eta, generator, clipped_eps
        )
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
