"""v-diffusion: the objective and DDIM-style sampler of audio-diffusion-pytorch (Tiny Audio Diffusion).

Time ``t`` runs from 0 (clean) to 1 (pure noise) and the noise level is an *angle*
``phi = t * pi / 2``::

    a = cos(phi),  s = sin(phi)                  (a**2 + s**2 = 1)
    xt = a * x0 + s * eps                        (eps ~ N(0, I))
    v  = a * eps - s * x0                        (the "velocity": d xt / d phi)

The network predicts ``v``; from ``(xt, v)`` both other quantities follow exactly::

    x0  = a * xt - s * v
    eps = s * xt + a * v

Relation to the previous chapter: this is a variance-preserving process with
``alpha_bar(t) = a**2 = cos(t * pi / 2)**2`` (the book's notation: ``a_t = sqrt(alpha_bar)``,
``s_t = sqrt(1 - alpha_bar)``), the cosine schedule without its offset, so
everything there (epsilon prediction, DDPM, DDIM) carries over. Predicting ``v`` instead of
``eps`` keeps the conversions to ``x0`` and ``eps`` free of divisions (no division by a
vanishing ``a`` or ``s``) and stays well-defined at ``t = 1`` (where ``eps``-prediction
cannot recover ``x0``). Its scale is not constant: from 1 near ``t = 0`` to the data's RMS
near ``t = 1``. The sampler is deterministic DDIM written in
angles: at each step predict ``x0`` and ``eps`` from ``v`` and move to the next, smaller angle::

    x_next = a_next * x0_hat + s_next * eps_hat

The library has one of each piece, and this module reuses them: the schedule is
``tl.schedules.cosine_alpha_bar(t, s=0)``, the conversions are ``tl.objectives.convert``
(``source="v"``), and the move is ``tl.samplers.ddim_update``, the update of every DDIM-style
sampler of the book. (Chapter 3 writes them out by hand first and checks them against these.)

Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch

from ._validate import check_int, check_number, describe

__all__ = [
    "alpha_bar",
    "alpha_sigma",
    "ddim_step",
    "loss",
    "make_loss_fn",
    "noise",
    "sample",
    "sample_times",
    "to_x0_eps",
    "v_target",
]


def _t_like(t: Any, x: torch.Tensor) -> torch.Tensor:
    """``t`` (float, ``(B,)`` or broadcastable) -> shape ``(B, 1, 1)`` on ``x``'s device."""
    if not torch.is_tensor(t):
        t = torch.tensor(float(t))
    t = t.to(device=x.device, dtype=torch.float32)
    if t.ndim == 1:
        t = t[:, None, None]
    return t


def alpha_bar(t: Any) -> torch.Tensor:
    """The equivalent DDPM signal level ``alpha_bar(t) = cos(t pi / 2) ** 2`` (float32).

    The cosine schedule without its offset: ``tl.schedules.cosine_alpha_bar(t, s=0)``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    return _cos_alpha_bar(t).float()


def _cos_alpha_bar(t: Any) -> torch.Tensor:
    """``cos(t pi / 2) ** 2`` on ``t``'s device, float64 (float32 on MPS), no host sync.

    ``tl.schedules.cosine_alpha_bar(t, s=0)`` without its value checks, which read the
    values back to the host: the training loss calls this every step, on any device.
    """
    if not torch.is_tensor(t):
        from .schedules import cosine_alpha_bar

        return cosine_alpha_bar(t, s=0.0)  # numbers and arrays: checked, on the CPU
    work = torch.float32 if t.device.type == "mps" else torch.float64
    return torch.cos(t.detach().to(work) * math.pi / 2) ** 2  # as cosine_alpha_bar, bit for bit


def alpha_sigma(t: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(a, s) = (cos(t pi / 2), sin(t pi / 2))`` for ``t`` in ``[0, 1]`` (any shape).

    The book's ``a_t = sqrt(alpha_bar(t))`` and ``s_t = sqrt(1 - alpha_bar(t))`` (float32).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    ab = _cos_alpha_bar(t)
    return ab.sqrt().float(), (1 - ab).clamp_min(0.0).sqrt().float()


def noise(x0: torch.Tensor, t: Any, eps: torch.Tensor | None = None) -> torch.Tensor:
    """``xt = a * x0 + s * eps``: ``x0`` ``(B, C, T)``, ``t`` float or ``(B,)``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    if eps is None:
        eps = torch.randn_like(x0)
    a, s = alpha_sigma(_t_like(t, x0))
    return a * x0 + s * eps


def v_target(x0: torch.Tensor, eps: torch.Tensor, t: Any) -> torch.Tensor:
    """``v = a * eps - s * x0`` (shape of ``x0``; ``t`` float or ``(B,)``).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    a, s = alpha_sigma(_t_like(t, x0))
    return a * eps - s * x0


def to_x0_eps(xt: torch.Tensor, v: torch.Tensor, t: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Recover ``(x0, eps)`` from ``xt`` and ``v``: ``x0 = a xt - s v``, ``eps = s xt + a v``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    from .objectives import convert

    ab = _alpha_bar_of(t, xt)
    return (
        convert(v, xt, ab, source="v", target="x0"),
        convert(v, xt, ab, source="v", target="eps"),
    )


def _alpha_bar_of(t: Any, x: torch.Tensor) -> Any:
    """``alpha_bar`` at ``t`` (a float, or (B,)) as ``objectives.convert`` takes it."""
    from .schedules import cosine_alpha_bar

    tt = t.detach().double().cpu() if torch.is_tensor(t) else torch.tensor(float(t))
    if tt.ndim > 1:
        tt = tt.reshape(tt.shape[0])
    ab = cosine_alpha_bar(tt.clamp(0.0, 1.0), s=0.0)
    return float(ab) if ab.ndim == 0 else ab


def _call(model: Any, xt: torch.Tensor, t: torch.Tensor, labels: Any) -> torch.Tensor:
    return model(xt, t) if labels is None else model(xt, t, labels)


def loss(
    model: Any,
    x0: torch.Tensor,
    *,
    class_labels: Any = None,
    class_dropout: float = 0.0,
) -> torch.Tensor:
    """The v-diffusion loss ``mean((model(xt, t[, labels]) - v) ** 2)`` for one batch.

    ``t ~ U(0, 1)`` per clip, ``eps ~ N(0, I)`` (global torch generator, so the
    :class:`~tutorial_lib.training.Trainer` can resume exactly).

    Args:
        model: ``model(xt (B, C, T), t (B,)[, class_labels]) -> v_hat (B, C, T)``.
        x0: clean audio ``(B, C, T)``.
        class_labels: ``None`` or a ``(B,)`` long tensor of labels for a conditional model.
        class_dropout: probability of replacing a label with ``-1`` ("no class"), which
            trains the unconditional model too (for classifier-free guidance).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    if not torch.is_tensor(x0) or x0.ndim != 3:
        raise ValueError(f"x0: expected a tensor (B, C, T), got {describe(x0)}.")
    class_dropout = check_number(class_dropout, "class_dropout", low=0.0, high=1.0)
    b = x0.shape[0]
    t = torch.rand(b, device=x0.device)
    eps = torch.randn_like(x0)
    xt = noise(x0, t, eps)
    if class_labels is not None and class_dropout > 0:
        class_labels = torch.as_tensor(class_labels, device=x0.device).long()
        drop = torch.rand(b, device=x0.device) < class_dropout
        class_labels = torch.where(drop, torch.full_like(class_labels, -1), class_labels)
    v_hat = _call(model, xt, t, class_labels)
    return ((v_hat.float() - v_target(x0, eps, t)) ** 2).mean()


def make_loss_fn(
    *, conditional: bool = False, class_dropout: float = 0.1
) -> Callable[[Any, Any], torch.Tensor]:
    """A ``loss_fn(model, batch)`` for :class:`~tutorial_lib.training.Trainer`.

    ``batch`` is a tensor ``(B, C, T)`` or a dict with ``"audio"`` ``(B, C, T)`` (and
    ``"label"`` ``(B,)``, used when ``conditional``, with ``class_dropout``).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """

    def loss_fn(model: Any, batch: Any) -> torch.Tensor:
        if isinstance(batch, dict):
            x0, labels = batch["audio"], batch.get("label")
        else:
            x0, labels = batch, None
        if not conditional:
            labels = None
        elif labels is None:
            raise ValueError("batch: a conditional loss needs batches with a 'label' entry.")
        return loss(
            model,
            x0,
            class_labels=labels,
            class_dropout=class_dropout if labels is not None else 0.0,
        )

    return loss_fn


def ddim_step(xt: torch.Tensor, v: torch.Tensor, t: Any, t_next: Any) -> torch.Tensor:
    """One deterministic DDIM step in angles from time ``t`` to ``t_next`` (< ``t``).

    ``x_next = a(t_next) * x0_hat + s(t_next) * eps_hat`` with ``(x0_hat, eps_hat)``
    from :func:`to_x0_eps`. Shapes ``(B, C, T)``; times floats or ``(B,)``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    from .samplers import ddim_update

    x0_hat, eps_hat = to_x0_eps(xt, v, t)
    return ddim_update(x0_hat, eps_hat, _alpha_bar_of(t_next, xt))


@torch.no_grad()
def sample_times(steps: int, rho: float = 1.0) -> torch.Tensor:
    """The sampler's times ``t_i = (1 - i / steps) ** rho``, ``i = 0..steps``: from 1 to 0.

    ``rho = 1`` spaces them evenly; ``rho > 1`` puts more of them near ``t = 0``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    steps = check_int(steps, "steps", min_value=1)
    rho = check_number(rho, "rho", low=1.0)
    return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64) ** rho


def _clip_bound(clip_x0: Any) -> float | None:
    """``clip_x0`` of :func:`sample` as a bound: ``True`` -> 1, ``False`` -> ``None``."""
    if isinstance(clip_x0, bool):
        return 1.0 if clip_x0 else None
    return float(check_number(clip_x0, "clip_x0", low=0.0, low_open=True))


@torch.no_grad()
def sample(
    model: Any,
    shape: tuple[int, int, int] | None = None,
    *,
    steps: int = 50,
    class_labels: Any = None,
    guidance: float = 1.0,
    x_init: torch.Tensor | None = None,
    seed: int | None = None,
    clip_x0: bool | float = True,
    rho: float = 1.0,
    device: Any = None,
    progress: bool = False,
) -> torch.Tensor:
    """Generate audio with the deterministic v-DDIM sampler (``steps`` network calls).

    Times go ``1 = t_0 > t_1 > ... > t_steps = 0``, ``t_i = (1 - i / steps) ** rho`` (evenly
    for ``rho = 1``, as audio-diffusion-pytorch; ``rho > 1`` spends more steps at low noise,
    where the last steps' errors become the output's noise floor); at each step the network's ``v``
    gives ``x0_hat`` and ``eps_hat`` and :func:`ddim_step` moves to the next time. The last
    step returns ``x0_hat``.

    Args:
        model: ``model(xt, t[, class_labels]) -> v_hat``, e.g. a
            :class:`~tutorial_lib.models.unet1d.UNet1d` (put it in ``eval()`` mode).
        shape: ``(B, C, T)`` of the output (or give ``x_init``).
        steps: number of sampler steps (>= 1).
        class_labels: ``None`` or labels for a conditional model (see ``UNet1d.forward``).
        guidance: classifier-free guidance scale ``w``: ``v = v_uncond + w (v_cond -
            v_uncond)`` (``tl.samplers.guided``); 1 is plain conditional sampling and 0 the
            unconditional model (one network call per step each).
        x_init: the starting noise ``(B, C, T)`` (default: ``randn`` with ``seed``).
        seed: seed for the starting noise (``None``: the global generator).
        clip_x0: clamp ``x0_hat`` to ``[-1, 1]`` at each step (audio's range); a number
            ``c > 0`` clamps to ``[-c, c]`` (audio divided by a scale ``k`` has the range
            ``[-1/k, 1/k]``); ``False``: no clamp.
        rho: spacing of the times (>= 1; 1: even).
        device: where to sample (default: the model's device).
        progress: show a progress bar.

    Returns:
        ``(B, C, T)`` float32 audio (in ``[-1, 1]`` with ``clip_x0``). Runs under
        ``torch.no_grad()``: sampling keeps no autograd graph (30 steps of 8 clips with
        guidance would otherwise peak at about 18 GiB, measured by
        ``benchmarks/bench_autograd_memory.py``; 0.3 GiB without).

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    steps = check_int(steps, "steps", min_value=1)
    guidance = check_number(guidance, "guidance", low=0.0)
    rho = check_number(rho, "rho", low=1.0)
    clip = _clip_bound(clip_x0)
    if device is None:
        first = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        device = first.device if first is not None else torch.device("cpu")
    if x_init is None:
        if shape is None or len(shape) != 3:
            raise ValueError(f"shape: expected (B, C, T), got {shape!r}. Fix: or pass x_init.")
        gen = None if seed is None else torch.Generator().manual_seed(int(seed))
        x = torch.randn(tuple(int(s) for s in shape), generator=gen).to(device)
    else:
        if not torch.is_tensor(x_init) or x_init.ndim != 3:
            raise ValueError(f"x_init: expected a tensor (B, C, T), got {describe(x_init)}.")
        x = x_init.to(device).float()
    from .samplers import ddim_update, guided

    b = x.shape[0]
    weight = guidance if class_labels is not None else 1.0  # no labels: nothing to guide
    no_class = torch.full((b,), -1, dtype=torch.long, device=device)  # the unconditional label
    times = sample_times(steps, rho)
    it = range(steps)
    if progress:
        from .config import progress as progress_bar

        it = progress_bar(it, desc="sampling")
    for i in it:
        t = torch.full((b,), float(times[i]), device=device)
        v = guided(functools.partial(_call, model), x, t, class_labels, no_class, weight)
        x0_hat, eps_hat = to_x0_eps(x, v.float(), float(times[i]))  # one time for the batch
        if clip is not None:
            x0_hat = x0_hat.clamp(-clip, clip)
        if i == steps - 1:
            return x0_hat
        x = ddim_update(x0_hat, eps_hat, _alpha_bar_of(float(times[i + 1]), x))
    return x
