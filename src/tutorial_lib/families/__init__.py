"""The book's trained model families: one module per family, every module of one shape.

A *family* is what a chapter trains and ships: a network from :mod:`tutorial_lib.models`, the
data it learns, its training recipe, its reference checkpoints and its sampler. Each family
is one module of this package (``drums_small`` for chapter 2, ``drums_unet`` for chapter 3)
with the same names and argument conventions (``docs/FAMILIES.md`` is the full contract):

- constants: ``SR`` (Hz), ``LENGTH`` (samples), ``CLASSES`` (names, or ``None``), ``CONFIG``
  (the network's architecture), ``SAMPLING`` (sampler defaults), ``RECIPE`` and
  ``DESCRIPTION`` (the training recipe's name and one line about it), ``CHECKPOINTS`` (the
  reference checkpoints the recipe writes, main one first) and ``MODELS`` (sampleable names
  -> one line each);
- ``train_settings(mode)``, ``dataset(n, split="train")``, ``build(config=None)``;
- ``train(mode, out_dir, resume=False) -> Path`` (the recipe: writes every checkpoint of
  ``CHECKPOINTS`` to ``out_dir`` and returns the main one) and ``train_model(model, name,
  mode=None)`` (trains ``model`` in place as the recipe trains ``name``, writing nothing);
- ``load(name)`` (a reference model in eval mode, trained in the current mode if its file is
  missing), ``sample(n, steps=None, sampler=None, seed=0, *, name=...) -> (audio, sr)`` and
  ``evaluate(models, *, steps=None, seed=0, ...) -> {label: scores}``.

:mod:`tutorial_lib.registry` finds the families by listing this package (every module whose
name does not start with ``_``), so ``tutorial-lib train RECIPE`` and ``tutorial-lib sample
MODEL`` work for a new family as soon as its file is here. Families load lazily::

    import tutorial_lib as tl
    drums = tl.families.drums_unet
    audio, sr = drums.sample(4, name="drums-unet-kick")

Introduced in: book/00_intro/how_this_book_works.md
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType
from typing import Any

__all__ = ["CONSTANTS", "FUNCTIONS", "check_family", "get", "names"]

#: The constants every family module defines.
CONSTANTS = (
    "SR",
    "LENGTH",
    "CLASSES",
    "CONFIG",
    "SAMPLING",
    "RECIPE",
    "DESCRIPTION",
    "CHECKPOINTS",
    "MODELS",
)
#: The functions every family module defines, with the parameters they must accept first.
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "train_settings": ("mode",),
    "dataset": ("n", "split"),
    "build": ("config",),
    "train": ("mode", "out_dir", "resume"),
    "train_model": ("model", "name", "mode"),
    "load": ("name",),
    "sample": ("n", "steps", "sampler", "seed", "name"),
    "evaluate": ("models", "steps", "seed"),
}


def names(package: str = __name__) -> list[str]:
    """The family modules of ``package`` (default: this one), sorted: ``["drums_small", ...]``.

    Every module whose name does not start with ``_`` is a family.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    pkg = importlib.import_module(package)
    found = pkgutil.iter_modules(getattr(pkg, "__path__", []))
    return sorted(m.name for m in found if not m.name.startswith("_"))


def check_family(module: ModuleType) -> ModuleType:
    """Check that ``module`` has the shape of a family; ``TypeError`` naming what is missing.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    problems = [f"the constant {c}" for c in CONSTANTS if not hasattr(module, c)]
    for fn_name, params in FUNCTIONS.items():
        fn = getattr(module, fn_name, None)
        if not callable(fn):
            problems.append(f"the function {fn_name}({', '.join(params)}, ...)")
            continue
        have = list(inspect.signature(fn).parameters)
        missing = [p for p in params if p not in have]
        if missing:
            problems.append(f"{fn_name}(...) without the parameter(s) {', '.join(missing)}")
    if not problems:
        if not isinstance(module.RECIPE, str) or not isinstance(module.DESCRIPTION, str):
            problems.append("RECIPE and DESCRIPTION as str (the recipe's name and one line)")
        if not isinstance(module.MODELS, dict) or not module.MODELS:
            problems.append("MODELS as a dict of sampleable model names -> descriptions")
        elif not module.CHECKPOINTS or not set(module.CHECKPOINTS) <= set(module.MODELS):
            problems.append("CHECKPOINTS as a non-empty tuple of names that are also in MODELS")
    if problems:
        raise TypeError(
            f"family {module.__name__}: missing {'; '.join(problems)}. Every module of "
            f"tutorial_lib.families has the shape written down in docs/FAMILIES.md (see "
            f"tutorial_lib/families/drums_unet.py for a worked example)."
        )
    return module


def get(name: str, package: str = __name__) -> ModuleType:
    """The family module ``name`` of ``package``, imported and checked (:func:`check_family`).

    Introduced in: book/00_intro/how_this_book_works.md
    """
    from .._validate import check_choice

    check_choice(name, "name", names(package))
    return check_family(importlib.import_module(f"{package}.{name}"))


def __getattr__(name: str) -> Any:
    if not name.startswith("_") and name in names():
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tutorial_lib.families' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(names()))
