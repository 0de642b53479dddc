"""tutorial_lib: the shared library of the book *Diffusion Models for Audio, by Building Them*.

Use it with one alias, so a reader always sees where a name lives::

    import tutorial_lib as tl
    device = tl.setup(seed=0)
    n_steps = tl.steps(fast=20, book=600, full=50_000)
    tl.audio.play(x, sr=16000)

Topic modules (imported on first use, so ``import tutorial_lib`` does no work):
``audio``, ``plotting``, ``widgets``, ``schedules``, ``objectives``, ``samplers``,
``vdiffusion``, ``models``, ``families``, ``training``, ``distributed``, ``memory``,
``checkpoints``, ``registry``, ``data``, ``mel``, ``codecs``, ``metrics``, ``tokens``,
``diagnostics``, ``exercises``, ``claims``, ``render``, ``cli``, ``note_metrics``,
``pipelines``, ``export``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import (
    MODES,
    device_of,
    mode,
    pick_device,
    resolve_device,
    seed_everything,
    set_mode,
    set_threads,
    setup,
    steps,
    use_mode,
)

__version__ = "0.1.0"

_SUBMODULES = (
    "audio",
    "checkpoints",
    "claims",
    "cli",
    "codecs",
    "config",
    "data",
    "diagnostics",
    "distributed",
    "exercises",
    "export",
    "families",
    "mel",
    "memory",
    "metrics",
    "models",
    "note_metrics",
    "objectives",
    "pipelines",
    "plotting",
    "registry",
    "render",
    "samplers",
    "schedules",
    "tokens",
    "training",
    "vdiffusion",
    "widgets",
)

__all__ = [
    "MODES",
    "mode",
    "device_of",
    "pick_device",
    "resolve_device",
    "seed_everything",
    "set_mode",
    "set_threads",
    "setup",
    "steps",
    "use_mode",
    *_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tutorial_lib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
