"""Where a family's network runs: one helper for every family (not a family itself).

The device rule of the library: functions compute on the device of their inputs, and the
families' ``train``, ``sample`` and generation helpers take ``device=`` (``None``/``"auto"``:
the GPU in ``full`` mode, the CPU in ``fast`` and ``book`` mode; see
``tl.config.resolve_device``). Reference models are loaded once, on the CPU, and cached;
:func:`on_device` gives a copy on another device (a few MB, made per call, so it is never
stale), so a notebook that samples on a GPU never moves the module that other cells hold.

Introduced in: book/appendix_scale/A_02_training_at_scale.ipynb
"""

from __future__ import annotations

from typing import Any

from ..config import on_device

__all__ = ["on_device", "place", "resolve", "to_cpu"]


def place(model: Any, device: Any) -> Any:
    """``model`` in eval mode where it is (``device=None``), or :func:`on_device` of it at
    ``device`` resolved (``"auto"``: the GPU in ``full`` mode)."""
    if device is None:
        return model.eval()
    return on_device(model.eval(), resolve(device))


def resolve(device: Any, mode: str | None = None) -> Any:
    """``tl.config.resolve_device(device, run_mode=mode)``."""
    from ..config import resolve_device

    return resolve_device(device, run_mode=mode)


def to_cpu(x: Any) -> Any:
    """``x`` on the CPU (results of a family come back there), or ``x`` itself on ``meta``,
    the device of shapes without values that the tests use to catch mixed devices."""
    return x if x.device.type == "meta" else x.cpu()
