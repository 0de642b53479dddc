"""Helpers every family shares (not a family itself): a seeded build, batched sampling and
the FD/KID row of ``evaluate``.

- :func:`seeded`: ``fn()`` under ``torch.random.fork_rng()`` after ``torch.manual_seed(seed)``,
  so a recipe's initial weights depend on its seed alone and the caller's random state is
  left as it was;
- :func:`step_generator`: the generator of a DDIM run's fresh step noise (``eta > 0``),
  seeded by ``seed + 1`` (the starting noise uses ``seed``);
- :func:`batched`: a function over slices of a batch, each slice on a device, the results
  back on the CPU and concatenated (the clips do not depend on the batch size when the
  noise was drawn before);
- :func:`score_row`: the distribution scores every waveform family's ``evaluate`` reports,
  ``{"fd", "fd_low", "fd_high", "fd_floor", "kid", "kid_floor", "fd_ratio"}`` from
  ``tl.metrics.evaluate`` (``fd_low``/``fd_high``: its bootstrap interval).

Introduced in: book/00_intro/how_this_book_works.md
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._validate import check_int
from . import _device


def recipe_metadata(recipe: str, mode: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The header a recipe writes into its exported checkpoints: its name, the run mode and
    every setting (``setting_<key>``), so that a shipped file says how it was trained."""
    return {"recipe": recipe, "mode": mode, **{f"setting_{k}": v for k, v in settings.items()}}


def step_generator(seed: int) -> Any:
    """The generator of a DDIM run's fresh step noise (``eta > 0``): seeded by ``seed + 1``
    (the starting noise uses ``seed``), as the pipeline's ``step_generator``."""
    import torch

    return torch.Generator().manual_seed(check_int(seed, "seed", min_value=0) + 1)


def seeded(fn: Callable[[], Any], seed: int) -> Any:
    """``fn()`` with the global torch generator seeded by ``seed``, restored afterwards."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        return fn()


def batched(fn: Callable[..., Any], batch: int, *parts: Any, device: Any = None) -> Any:
    """``fn`` over slices of ``batch`` items of ``parts`` (tensors, lists or ``None``, all of
    the first one's length), concatenated on the CPU. A tensor slice moves to ``device``
    (``None``: it stays), a ``None`` part stays ``None``."""
    import torch

    n = len(parts[0])
    out = []
    for start in range(0, n, batch):
        part = slice(start, min(n, start + batch))
        args = [
            None if p is None
            else p[part].to(device) if torch.is_tensor(p) and device is not None
            else p[part]
            for p in parts
        ]  # fmt: skip
        out.append(_device.to_cpu(fn(*args)))
    return torch.cat(out)


def score_row(e_test: Any, e_fake: Any, e_val: Any, seed: int) -> dict[str, float]:
    """FD and KID of the embedded clips ``e_fake`` against the real test clips ``e_test``,
    with the floor of two real sets (``e_val``), ``fd / floor`` and FD's 95 % bootstrap
    interval ``fd_low``/``fd_high`` (``tl.metrics.evaluate``)."""
    from .. import metrics

    ev = metrics.evaluate(e_test, e_fake, reference=e_val, seed=seed)
    return {
        "fd": float(ev["fd"].value),
        "fd_low": float(ev["fd"].low),
        "fd_high": float(ev["fd"].high),
        "fd_floor": float(ev["fd_floor"].value),
        "kid": float(ev["kid"].value),
        "kid_floor": float(ev["kid_floor"].value),
        "fd_ratio": float(ev["fd_ratio"]),
    }
