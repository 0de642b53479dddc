"""v-DDIM: the DDIM sampler of v-diffusion, in angles, with classifier-free guidance (and ``eta``).

The sampler of chapter 3's waveform U-Net (``drums-unet``) and of audio-diffusion-pytorch
(Tiny Audio Diffusion). The process is ``tl.vdiffusion``'s: time ``t`` from 0 (clean) to 1
(pure noise), ``a = cos(t pi / 2)``, ``s = sin(t pi / 2)``, ``xt = a x0 + s eps``, and the
network predicts ``v = a eps - s x0``, from which both other quantities follow exactly::

    x0 = a xt - s v,    eps = s xt + a v

- :func:`vddim_times`: the times ``1 = t_0 > ... > t_K = 0``, ``t_i = (1 - i / K) ** rho``.
- :func:`v_to_x0_eps`: ``(x0_hat, eps_hat)`` from ``(xt, v)`` (``tl.objectives.convert``
  with ``source="v"``).
- :func:`vddim_step`: one step ``x_next = a(t_next) x0_hat + s(t_next) eps_hat``
  (:func:`~tutorial_lib.samplers.ddim_update`, the update of every DDIM-style sampler).
- :func:`vddim_sample`: the whole loop, ``model(xt, t[, class_labels])`` with classifier-free
  guidance (:func:`~tutorial_lib.samplers.guided`), ``x0_hat`` clamped to the audio's range, and
  DDIM's ``eta`` (0, the default: deterministic; 1: DDPM's posterior noise at each step).

``tl.vdiffusion`` (the process and its loss) re-exports them under the names chapter 3 uses:
``sample``, ``sample_times``, ``to_x0_eps``, ``ddim_step``. The network's contract (labels,
``-1`` for none) differs from the toy samplers of :data:`~tutorial_lib.samplers.SAMPLERS`,
so this sampler is called directly, not by name through ``tl.samplers.sample``.

Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from .._validate import check_int, check_number, describe
from .ddim import _ddim_sigma, ddim_update
from .guidance import guided

__all__ = ["v_to_x0_eps", "vddim_sample", "vddim_step", "vddim_times"]


def _alpha_bar_of(t: Any, x: torch.Tensor) -> Any:
    """``alpha_bar`` at ``t`` (a float, or (B,)) as ``objectives.convert`` takes it."""
    from ..schedules import cosine_alpha_bar

    tt = t.detach().double().cpu() if torch.is_tensor(t) else torch.tensor(float(t))
    if tt.ndim > 1:
        tt = tt.reshape(tt.shape[0])
    ab = cosine_alpha_bar(tt.clamp(0.0, 1.0), s=0.0)
    return float(ab) if ab.ndim == 0 else ab


def _call(model: Any, xt: torch.Tensor, t: torch.Tensor, labels: Any) -> torch.Tensor:
    """The network on ``(xt, t)``, with ``labels`` as a third argument unless ``None``."""
    return model(xt, t) if labels is None else model(xt, t, labels)


def v_to_x0_eps(xt: torch.Tensor, v: torch.Tensor, t: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Recover ``(x0, eps)`` from ``xt`` and ``v``: ``x0 = a xt - s v``, ``eps = s xt + a v``.

    ``t`` is a float or ``(B,)`` (``a = cos(t pi / 2)``, ``s = sin(t pi / 2)``); also
    ``tl.vdiffusion.to_x0_eps``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    from ..objectives import convert

    ab = _alpha_bar_of(t, xt)
    return (
        convert(v, xt, ab, source="v", target="x0"),
        convert(v, xt, ab, source="v", target="eps"),
    )


def vddim_step(xt: torch.Tensor, v: torch.Tensor, t: Any, t_next: Any) -> torch.Tensor:
    """One deterministic DDIM step in angles from time ``t`` to ``t_next`` (< ``t``).

    ``x_next = a(t_next) * x0_hat + s(t_next) * eps_hat`` with ``(x0_hat, eps_hat)``
    from :func:`v_to_x0_eps`. Shapes ``(B, C, T)``; times floats or ``(B,)``; also
    ``tl.vdiffusion.ddim_step``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    x0_hat, eps_hat = v_to_x0_eps(xt, v, t)
    return ddim_update(x0_hat, eps_hat, _alpha_bar_of(t_next, xt))


@torch.no_grad()
def vddim_times(steps: int, rho: float = 1.0) -> torch.Tensor:
    """The sampler's times ``t_i = (1 - i / steps) ** rho``, ``i = 0..steps``: from 1 to 0.

    ``rho = 1`` spaces them evenly; ``rho > 1`` puts more of them near ``t = 0``; also
    ``tl.vdiffusion.sample_times``.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    steps = check_int(steps, "steps", min_value=1)
    rho = check_number(rho, "rho", low=1.0)
    return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64) ** rho


def _clip_bound(clip_x0: Any) -> float | None:
    """``clip_x0`` of :func:`vddim_sample` as a bound: ``True`` -> 1, ``False`` -> ``None``."""
    if isinstance(clip_x0, bool):
        return 1.0 if clip_x0 else None
    return float(check_number(clip_x0, "clip_x0", low=0.0, low_open=True))


@torch.no_grad()
def vddim_sample(
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
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    device: Any = None,
    progress: bool = False,
) -> torch.Tensor:
    """Generate audio with the v-DDIM sampler (``steps`` network calls), deterministic by default.

    Times go ``1 = t_0 > t_1 > ... > t_steps = 0``, ``t_i = (1 - i / steps) ** rho`` (evenly
    for ``rho = 1``, as audio-diffusion-pytorch; ``rho > 1`` spends more steps at low noise,
    where the last steps' errors become the output's noise floor); at each step the network's ``v``
    gives ``x0_hat`` and ``eps_hat`` and :func:`vddim_step` moves to the next time. The last
    step returns ``x0_hat``. Also ``tl.vdiffusion.sample``.

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
        eta: DDIM's ``eta`` (Song et al. 2021): each step to ``t'`` adds fresh noise of
            standard deviation ``eta * sqrt((1 - abar') / (1 - abar) * (1 - abar / abar'))``
            and keeps correspondingly less of ``eps_hat`` (``tl.samplers.ddim_update``). 0 is
            the deterministic sampler; 1 adds DDPM's posterior noise, so later steps can undo
            part of what earlier ones got wrong (chapter 3 measures what that does to the
            noise floor).
        generator: where the fresh noise of ``eta > 0`` comes from, drawn on the CPU in step
            order (default: a generator seeded with ``seed + 1`` when ``seed`` is given, else
            the global one).
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
    eta = check_number(eta, "eta", low=0.0)
    clip = _clip_bound(clip_x0)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(
            f"generator: expected a torch.Generator or None, got {describe(generator)}."
        )
    if generator is None and seed is not None and eta > 0:
        generator = torch.Generator().manual_seed(int(seed) + 1)
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
    b = x.shape[0]
    weight = guidance if class_labels is not None else 1.0  # no labels: nothing to guide
    no_class = torch.full((b,), -1, dtype=torch.long, device=device)  # the unconditional label
    times = vddim_times(steps, rho)
    it = range(steps)
    if progress:
        from ..config import progress as progress_bar

        it = progress_bar(it, desc="sampling")
    for i in it:
        t = torch.full((b,), float(times[i]), device=device)
        v = guided(functools.partial(_call, model), x, t, class_labels, no_class, weight)
        x0_hat, eps_hat = v_to_x0_eps(x, v.float(), float(times[i]))  # one time for the batch
        if clip is not None:
            x0_hat = x0_hat.clamp(-clip, clip)
        if i == steps - 1:
            return x0_hat
        ab_next = _alpha_bar_of(float(times[i + 1]), x)
        sigma, z = 0.0, None
        if eta > 0:  # DDIM's fresh noise (eta = 0 draws none)
            sigma = _ddim_sigma(_alpha_bar_of(float(times[i]), x), ab_next, eta)
            z = torch.randn(tuple(x.shape), generator=generator).to(device)
        x = ddim_update(x0_hat, eps_hat, ab_next, sigma=sigma, noise=z)
    return x
