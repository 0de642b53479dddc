"""Training objectives: what a diffusion network predicts, and the losses that teach it.

Two families, written with the book's names (``x0`` clean data, ``eps`` or ``z`` Gaussian
noise, ``t`` time, ``alpha_bar``):

**DDPM** (variance preserving, Ho et al. 2020). With ``a = sqrt(alpha_bar_t)`` and
``s = sqrt(1 - alpha_bar_t)`` (so ``a^2 + s^2 = 1``)::

    x_t = a x0 + s eps

A network can predict any of three things, and each one gives the other two from ``x_t``:

====================  =======================  ==========================
prediction            x0 from it               eps from it
====================  =======================  ==========================
``"eps"`` (noise)     ``(x_t - s eps) / a``    ``eps``
``"x0"`` (data)       ``x0``                   ``(x_t - a x0) / s``
``"v"`` (velocity)    ``a x_t - s v``          ``s x_t + a v``
====================  =======================  ==========================

where ``v = a eps - s x0`` (Salimans and Ho 2022). ``v`` stays finite at both ends of the
schedule, ``eps`` loses ``x0`` when ``a -> 0`` (pure noise), ``x0`` loses ``eps`` when
``s -> 0``.

**Rectified flow** (Liu et al. 2023), with the sign convention of the book's seed text
(t = 0 is data, t = 1 is noise)::

    x_t = (1 - t) x0 + t z,     target  v = x0 - z,     dx_t/dt = z - x0 = -v.

So ``x0 = x_t + t v`` and ``z = x_t - (1 - t) v``. Training times ``t`` are drawn uniformly
or from a logit-normal distribution, ``t = sigmoid(m + s * n)``, ``n ~ N(0, 1)`` (Esser et
al. 2024), which spends more training on the middle times where the target is hardest.

The network is always called as ``model(x_t, t)`` with ``x_t`` of shape (B, ...) (e.g.
(B, C, T) audio or (B, 2) points) and ``t`` a float tensor (B,) of times in [0, 1]. For DDPM
the time of step ``s`` of ``N`` is ``t = (s + 1) / N`` (:func:`time_of_step`, as
``tl.schedules.timesteps``), so one network architecture serves both objectives.

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._validate import check_batch, check_choice, check_int, check_number, describe

__all__ = [
    "PREDICTIONS",
    "RF_TIMES",
    "continuous_loss",
    "convert",
    "cosine_alpha_sigma",
    "ddpm_loss",
    "ddpm_target",
    "drop_labels",
    "predict_eps",
    "predict_v",
    "predict_x0",
    "rf_eps_from_v",
    "rf_loss",
    "rf_target",
    "rf_x0_from_v",
    "sample_rf_times",
    "time_of_step",
]

PREDICTIONS = ("eps", "v", "x0")
"""What a DDPM network can predict: the noise, the velocity, or the clean data."""

RF_TIMES = ("logit_normal", "uniform")
"""How rectified-flow training draws its times."""

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------------------------
# Checks (private)
# --------------------------------------------------------------------------------------------


def _same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_b}: expected the shape of {name_a} {tuple(a.shape)}, got {tuple(b.shape)}."
        )


def _per_sample(value: Any, x: torch.Tensor, name: str, *, low: float, high: float) -> torch.Tensor:
    """A number or a tensor (B,) in [low, high], shaped (B, 1, ..., 1) to multiply x (B, ...)."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a number or a tensor (B,), got {describe(value)}.")
    c = torch.as_tensor(value, dtype=torch.float64)
    if c.ndim == 1 and c.shape[0] == x.shape[0]:
        c = c.view(-1, *([1] * (x.ndim - 1)))
    elif c.ndim != 0:
        raise ValueError(
            f"{name}: expected a number or a tensor of shape (B,) = ({x.shape[0]},), "
            f"got {describe(value)}."
        )
    if c.device.type == "cpu" and (not torch.isfinite(c).all() or c.min() < low or c.max() > high):
        raise ValueError(
            f"{name}: expected values in [{low:g}, {high:g}], got {float(c.min()):g} to "
            f"{float(c.max()):g}."
        )
    return c.to(device=x.device)


def _coefs(alpha_bar_t: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ab = _per_sample(alpha_bar_t, x, "alpha_bar_t", low=0.0, high=1.0)
    return ab.sqrt(), (1 - ab).sqrt()


def _out(y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return y.to(like.dtype)


# --------------------------------------------------------------------------------------------
# DDPM: conversions between eps, x0 and v
# --------------------------------------------------------------------------------------------


def time_of_step(step: Any, num_steps: int) -> torch.Tensor:
    """The network's time input for DDPM step ``step`` of ``num_steps``: ``(step + 1) / N``.

    Args:
        step: an int or a long tensor (B,) in ``[0, num_steps - 1]``.
        num_steps: ``N``, the number of training steps of the schedule.

    Returns:
        float32 tensor of the shape of ``step``, in ``(0, 1]``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    num_steps = check_int(num_steps, "num_steps", min_value=1)
    s = torch.as_tensor(step)
    if s.is_floating_point() or s.dtype == torch.bool:
        raise TypeError(f"step: expected integer step indices, got {describe(step)}.")
    if s.numel() and (s.min() < 0 or s.max() >= num_steps):
        raise ValueError(
            f"step: expected steps in [0, {num_steps - 1}], got {int(s.min())} to {int(s.max())}."
        )
    return (s.to(torch.float32) + 1) / num_steps


def predict_x0(
    xt: torch.Tensor, pred: torch.Tensor, alpha_bar_t: Any, prediction: str = "eps"
) -> torch.Tensor:
    """The clean-data estimate ``x0_hat`` from a network output of kind ``prediction``.

    Args:
        xt: the noisy batch (B, ...), e.g. (B, C, T).
        pred: the network output, the shape of ``xt``.
        alpha_bar_t: ``alpha_bar`` at the step, a number or a tensor (B,), in [0, 1]
            (``"eps"`` needs it > 0: pure noise holds no information about x0).
        prediction: ``"eps"``, ``"v"`` or ``"x0"``.

    Returns:
        x0_hat, the shape and dtype of ``xt``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    return convert(pred, xt, alpha_bar_t, source=prediction, target="x0")


def predict_eps(
    xt: torch.Tensor, pred: torch.Tensor, alpha_bar_t: Any, prediction: str = "eps"
) -> torch.Tensor:
    """The noise estimate ``eps_hat`` from a network output of kind ``prediction``.

    Shapes as in :func:`predict_x0` (``"x0"`` needs ``alpha_bar_t < 1``).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    return convert(pred, xt, alpha_bar_t, source=prediction, target="eps")


def predict_v(
    xt: torch.Tensor, pred: torch.Tensor, alpha_bar_t: Any, prediction: str = "eps"
) -> torch.Tensor:
    """The velocity estimate ``v_hat = a eps_hat - s x0_hat`` from a network output.

    Shapes as in :func:`predict_x0`.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    return convert(pred, xt, alpha_bar_t, source=prediction, target="v")


def convert(
    pred: torch.Tensor, xt: torch.Tensor, alpha_bar_t: Any, *, source: str, target: str
) -> torch.Tensor:
    """Turn one DDPM prediction into another: ``eps``, ``v`` and ``x0`` (see the module table).

    Args:
        pred: the prediction of kind ``source``, shape (B, ...).
        xt: the noisy batch it was made from, same shape.
        alpha_bar_t: a number or a tensor (B,) in [0, 1].
        source, target: each one of :data:`PREDICTIONS`.

    Returns:
        the ``target`` prediction, the shape and dtype of ``xt``. Computed in float64.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_choice(source, "source", PREDICTIONS)
    check_choice(target, "target", PREDICTIONS)
    check_batch(xt, "xt")
    check_batch(pred, "pred")
    _same_shape(xt, pred, "xt", "pred")
    a, s = _coefs(alpha_bar_t, xt)
    x, p = xt.double(), pred.double()
    if source == target:
        return pred.clone()
    # checked where the values are on the CPU (numbers, CPU tables): no GPU read-back
    known = not torch.is_tensor(alpha_bar_t) or alpha_bar_t.device.type == "cpu"
    ab_cpu = torch.as_tensor(alpha_bar_t, dtype=torch.float64) if known else None
    if source == "eps" and ab_cpu is not None and bool((ab_cpu == 0).any()):
        raise ValueError(
            "alpha_bar_t: is 0 (pure noise), where an eps prediction says nothing about x0. "
            "Fix: end the schedule at alpha_bar > 0 (e.g. max_beta < 1), or predict v."
        )
    if source == "x0" and ab_cpu is not None and bool((ab_cpu == 1).any()):
        raise ValueError(
            "alpha_bar_t: is 1 (no noise), where an x0 prediction says nothing about eps. "
            "Fix: use steps with alpha_bar < 1, or predict v."
        )
    # First get both x0 and eps, then build the target.
    if source == "eps":
        eps, x0 = p, (x - s * p) / a
    elif source == "x0":
        x0, eps = p, (x - a * p) / s
    else:  # v
        x0, eps = a * x - s * p, s * x + a * p
    out = {"x0": x0, "eps": eps, "v": a * eps - s * x0}[target]
    return _out(out, xt)


def ddpm_target(
    x0: torch.Tensor, eps: torch.Tensor, alpha_bar_t: Any, prediction: str = "eps"
) -> torch.Tensor:
    """The regression target of a DDPM network: ``eps``, ``x0`` or ``v = a eps - s x0``.

    Args:
        x0: clean batch (B, ...); eps: the noise that was added, same shape.
        alpha_bar_t: a number or a tensor (B,) in [0, 1] (only ``"v"`` uses it).
        prediction: one of :data:`PREDICTIONS`.

    Returns:
        the target, the shape and dtype of ``x0``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_choice(prediction, "prediction", PREDICTIONS)
    check_batch(x0, "x0")
    check_batch(eps, "eps")
    _same_shape(x0, eps, "x0", "eps")
    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    a, s = _coefs(alpha_bar_t, x0)
    return _out(a * eps.double() - s * x0.double(), x0)


def _call(model: Model, x: torch.Tensor, t: torch.Tensor, labels: Any = None) -> torch.Tensor:
    out = model(x, t) if labels is None else model(x, t, labels)
    out = getattr(out, "sample", out)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise ValueError(
            f"model: expected an output of the shape of its input {tuple(x.shape)}, "
            f"got {describe(out)}. Fix: the network must map (x_t, t) to a tensor like x_t."
        )
    return out


def ddpm_loss(
    model: Model,
    x0: torch.Tensor,
    alpha_bars: Any,
    *,
    prediction: str = "eps",
    step: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    class_labels: Any = None,
    class_dropout: float = 0.0,
) -> torch.Tensor:
    """The DDPM training loss: mean squared error between the network and its target.

    One random step per example, ``s ~ U{0, ..., N-1}``, fresh noise ``eps ~ N(0, I)``,
    ``x_t = sqrt(abar_s) x0 + sqrt(1 - abar_s) eps``, and
    ``loss = mean((model(x_t, (s + 1) / N) - target)^2)`` with the target of
    :func:`ddpm_target` (Ho et al.'s "simple" loss for ``"eps"``).

    Args:
        model: ``model(x_t, t) -> prediction``, both (B, ...), ``t`` float (B,) in (0, 1].
        x0: a clean batch (B, ...), e.g. (B, C, T) audio scaled to about unit variance.
        alpha_bars: the schedule's ``alpha_bar`` at every step, shape (N,).
        prediction: what the network predicts: ``"eps"``, ``"v"`` or ``"x0"``.
        step: (optional) the steps to use, a long tensor (B,), instead of random ones.
        noise: (optional) the noise to use, shape of ``x0``, instead of fresh noise.
        class_labels: (optional) a long tensor (B,) of class labels for a class-conditioned
            network, called ``model(x_t, t, class_labels)``.
        class_dropout: probability of replacing a label with ``-1`` ("no class"): the same
            network then learns the unconditional model too, for classifier-free guidance.

    Returns:
        the loss, a scalar tensor. Uses torch's global random generator (so
        ``tl.training.Trainer`` resumes exactly).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_choice(prediction, "prediction", PREDICTIONS)
    check_batch(x0, "x0")
    abars = torch.as_tensor(alpha_bars, dtype=torch.float64).cpu()
    if abars.ndim != 1 or abars.numel() < 1:
        raise ValueError(f"alpha_bars: expected a 1-D schedule (N,), got {describe(alpha_bars)}.")
    n = abars.numel()
    if step is None:
        step = torch.randint(0, n, (x0.shape[0],))
    t = time_of_step(step, n)
    if t.shape != (x0.shape[0],):
        raise ValueError(f"step: expected a long tensor of shape (B,) = ({x0.shape[0]},).")
    if noise is None:
        noise = torch.randn_like(x0)
    _same_shape(x0, noise, "x0", "noise")
    ab = abars[step.cpu()]  # checked on the CPU, moved to x0's device by _coefs (no host sync)
    a, s = _coefs(ab, x0)
    xt = (a * x0 + s * noise).to(x0.dtype)
    target = ddpm_target(x0, noise, ab, prediction)
    labels = drop_labels(class_labels, class_dropout, x0.shape[0], x0.device)
    pred = _call(model, xt, t.to(x0.device), labels)
    return ((pred - target) ** 2).mean()


def drop_labels(class_labels: Any, p: float, batch: int, device: Any = None) -> Any:
    """Class labels with each replaced by ``-1`` ("no class") with probability ``p``.

    The training half of classifier-free guidance (Ho and Salimans 2022): one network learns
    the conditional and the unconditional model. ``None`` stays ``None`` (an unconditional
    network); ``p = 0`` returns the labels as a long tensor. Uses torch's global generator.

    Introduced in: book/04_mel_diffusion/04_01_mel_diffusion.ipynb
    """
    p = check_number(p, "class_dropout", low=0.0, high=1.0)
    if class_labels is None:
        return None
    labels = torch.as_tensor(class_labels, device=device).long().reshape(-1)
    if labels.numel() != batch:
        raise ValueError(
            f"class_labels: expected one label per item ({batch}), got {describe(class_labels)}."
        )
    if p > 0:
        drop = torch.rand(batch, device=labels.device) < p
        labels = torch.where(drop, torch.full_like(labels, -1), labels)
    return labels


# --------------------------------------------------------------------------------------------
# Rectified flow
# --------------------------------------------------------------------------------------------


def sample_rf_times(
    n: int,
    kind: str = "logit_normal",
    *,
    mean: float = 0.0,
    std: float = 1.0,
    generator: torch.Generator | None = None,
    device: Any = None,
) -> torch.Tensor:
    """Training times for rectified flow, float32 tensor (n,) in (0, 1).

    - ``"uniform"``: ``t ~ U(0, 1)``.
    - ``"logit_normal"``: ``t = sigmoid(mean + std * n)``, ``n ~ N(0, 1)`` (the seed text's
      ``sigmoid(randn(...))`` for ``mean=0, std=1``): most times near the middle, few near
      0 or 1.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    n = check_int(n, "n", min_value=1)
    check_choice(kind, "kind", RF_TIMES)
    mean = check_number(mean, "mean")
    std = check_number(std, "std", low=0.0, low_open=True)
    if kind == "uniform":
        return torch.rand(n, generator=generator, device=device)
    return torch.sigmoid(mean + std * torch.randn(n, generator=generator, device=device))


def rf_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Rectified flow's regression target ``v = x0 - z`` (the seed's sign), shape of ``x0``.

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_batch(x0, "x0")
    check_batch(noise, "noise")
    _same_shape(x0, noise, "x0", "noise")
    return x0 - noise


def rf_x0_from_v(xt: torch.Tensor, v: torch.Tensor, t: Any) -> torch.Tensor:
    """Clean-data estimate from a velocity: ``x0 = x_t + t v``; ``t`` a number or (B,).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_batch(xt, "xt")
    _same_shape(xt, v, "xt", "v")
    tt = _per_sample(t, xt, "t", low=0.0, high=1.0)
    return _out(xt.double() + tt * v.double(), xt)


def rf_eps_from_v(xt: torch.Tensor, v: torch.Tensor, t: Any) -> torch.Tensor:
    """Noise estimate from a velocity: ``z = x_t - (1 - t) v``; ``t`` a number or (B,).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_batch(xt, "xt")
    _same_shape(xt, v, "xt", "v")
    tt = _per_sample(t, xt, "t", low=0.0, high=1.0)
    return _out(xt.double() - (1 - tt) * v.double(), xt)


def rf_loss(
    model: Model,
    x0: torch.Tensor,
    *,
    times: str = "logit_normal",
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """The rectified-flow loss ``mean((model(x_t, t) - (x0 - z))^2)``, ``x_t = (1-t) x0 + t z``.

    Args:
        model: ``model(x_t, t) -> v_hat``, both (B, ...), ``t`` float (B,) in [0, 1].
        x0: a clean batch (B, ...).
        times: how to draw ``t``: ``"logit_normal"`` (default) or ``"uniform"``
            (:func:`sample_rf_times`).
        t: (optional) the times (B,) to use instead of random ones.
        noise: (optional) the noise ``z`` to use, shape of ``x0``.

    Returns:
        the loss, a scalar tensor (uses torch's global random generator).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    check_choice(times, "times", RF_TIMES)
    check_batch(x0, "x0")
    b = x0.shape[0]
    if t is None:
        t = sample_rf_times(b, times, device=x0.device)
    if not isinstance(t, torch.Tensor) or t.shape != (b,):
        raise ValueError(f"t: expected a float tensor of shape (B,) = ({b},), got {describe(t)}.")
    if noise is None:
        noise = torch.randn_like(x0)
    _same_shape(x0, noise, "x0", "noise")
    tt = t.to(x0).view(-1, *([1] * (x0.ndim - 1)))
    xt = (1 - tt) * x0 + tt * noise
    pred = _call(model, xt, t.to(x0))
    return ((pred - rf_target(x0, noise)) ** 2).mean()


# --------------------------------------------------------------------------------------------
# Continuous time: the cosine log-SNR schedule (Spectrogram Diffusion)
# --------------------------------------------------------------------------------------------


def cosine_alpha_sigma(t: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(alpha, sigma) = (sqrt(sigmoid(lambda)), sqrt(sigmoid(-lambda)))`` at times ``t``.

    ``lambda = tl.schedules.cosine_log_snr(t)`` (limits +-20), so ``alpha**2 + sigma**2 = 1``;
    float32 on ``t``'s device (a tensor's values are not read back to the host, so a
    training step on a GPU does not wait for it; numbers and arrays are checked).

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    from .schedules import cosine_log_snr

    lam = cosine_log_snr(t, check=not torch.is_tensor(t)).float()
    return torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()


def continuous_loss(
    model: Any,
    x0: torch.Tensor,
    *,
    prediction: str = "x0",
    norm: str = "l1",
    cond: dict[str, Any] | None = None,
) -> torch.Tensor:
    """The continuous-time loss on the cosine log-SNR schedule, for one batch.

    ``t ~ U(0, 1)`` per example and ``eps ~ N(0, I)`` (the global generator, so a
    :class:`~tutorial_lib.training.Trainer` resumes exactly), ``z = alpha x0 + sigma eps``
    (:func:`cosine_alpha_sigma`), then the distance between ``model(z, t, **cond)`` and its
    target: ``prediction`` ``"x0"`` (the clean data), ``"eps"`` (the noise) or ``"v"``
    (``alpha eps - sigma x0``, :func:`ddpm_target`); ``norm`` ``"l1"`` (mean absolute error,
    Spectrogram Diffusion's) or ``"l2"`` (mean squared error). Everything follows ``x0``'s
    device.

    Introduced in: book/06_midi_synthesis/06_01_midi_synthesis.ipynb
    """
    prediction = check_choice(prediction, "prediction", PREDICTIONS)
    norm = check_choice(norm, "norm", ("l1", "l2"))
    if not torch.is_tensor(x0) or x0.ndim < 2:
        raise ValueError(f"x0: expected a batch tensor (B, ...), got {describe(x0)}.")
    t = torch.rand(x0.shape[0], device=x0.device)
    shape = (-1,) + (1,) * (x0.ndim - 1)
    alpha, sigma = (v.reshape(shape) for v in cosine_alpha_sigma(t))  # on x0's device
    eps = torch.randn_like(x0)
    z = alpha * x0 + sigma * eps
    pred = model(z, t, **(cond or {}))
    diff = pred - ddpm_target(x0, eps, (alpha**2).reshape(-1), prediction)
    return diff.abs().mean() if norm == "l1" else diff.square().mean()
