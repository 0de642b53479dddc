"""The continuous-time segment sampler of chapter 6: mel frames for a ``NoteDecoder``.

:func:`sample_segment` runs DDIM (or its ancestral, DDPM-like version) on the continuous
cosine log-SNR schedule (``tl.objectives.cosine_alpha_sigma``, the schedule of
``tl.objectives.continuous_loss``), with classifier-free guidance (:func:`guided`).

Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
"""

from __future__ import annotations

from typing import Any

import torch

from .. import objectives
from .._validate import check_choice, check_int, check_number
from .guidance import guided

__all__ = ["SEGMENT_SAMPLERS", "sample_segment"]

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
    from ..config import device_of, on_device

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
