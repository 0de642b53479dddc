"""Classifier-free guidance (Ho and Salimans 2022), one function for every guided sampler.

:func:`guided` mixes the conditional and unconditional predictions, ``u + w (c - u)``;
:func:`~tutorial_lib.samplers.vddim_sample` (``tl.vdiffusion.sample``) and
:func:`~tutorial_lib.samplers.sample_segment` use it.

Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .._validate import check_number

__all__ = ["guided"]


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
