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
(``source="v"``), and the sampler lives with the other samplers, in
``samplers/vddim.py`` (``tl.samplers.vddim_sample``, its step ``vddim_step`` moving with
``tl.samplers.ddim_update``, the update of every DDIM-style sampler of the book, and
classifier-free guidance by ``tl.samplers.guided``). This module keeps the process and its
loss, and re-exports the sampler's pieces under the names chapter 3 uses: :func:`sample`
(``tl.samplers.vddim_sample``), :func:`sample_times` (``vddim_times``), :func:`to_x0_eps`
(``v_to_x0_eps``) and :func:`ddim_step` (``vddim_step``), the same functions. (Chapter 3
writes them out by hand first and checks them against these.)

Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ._validate import check_number, describe
from .objectives import drop_labels
from .samplers.vddim import _call
from .samplers.vddim import v_to_x0_eps as to_x0_eps
from .samplers.vddim import vddim_sample as sample
from .samplers.vddim import vddim_step as ddim_step
from .samplers.vddim import vddim_times as sample_times

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
        class_labels = drop_labels(class_labels, class_dropout, b, x0.device)
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
