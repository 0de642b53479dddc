"""Networks of the book, one small module each, imported on first use.

- :mod:`.small`: tiny time-conditioned networks for quick experiments: :class:`TimeMLP`
  (points, e.g. a 2-D toy distribution) and :class:`SmallConv1d` (short mono audio).
- :mod:`.unet1d`: the waveform U-Net of the later chapters.
- :mod:`.unet2d`: a 2-D U-Net for images such as mel spectrograms.

Only networks live here (``nn.Module`` classes and their building blocks): what a chapter
trains them on, how, and how it samples them is its family in :mod:`tutorial_lib.families`.

Everything loads lazily, so ``import tutorial_lib.models`` does no work and a module that is
missing or broken only fails when you use it::

    import tutorial_lib as tl
    net = tl.models.small.TimeMLP(dim=2)
    net = tl.models.SmallConv1d(channels=1)      # the same class, found by name

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("small", "unet1d", "unet2d")

#: Public names re-exported from submodules: name -> submodule.
_NAMES = {
    "TimeMLP": "small",
    "SmallConv1d": "small",
    "TimeEmbedding": "small",
    "UNet1d": "unet1d",
    "UNet2d": "unet2d",
}

__all__ = [*_SUBMODULES, *_NAMES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tutorial_lib.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
