"""Named training recipes and sampleable models: the book's model families, found by listing.

Two small tables:

- a **recipe** trains a model the way the book's reference checkpoint was trained::

      fn(mode: str, out_dir: Path, resume: bool) -> Path   # the checkpoint it wrote

  ``mode`` is ``"fast"``, ``"book"`` or ``"full"`` (see ``tl.steps``); ``resume=True``
  continues an interrupted run from ``out_dir``.
- a **model** is something you can sample sound from::

      sample_fn(n: int, steps: int | None, sampler: str | None, seed: int)
          -> (audio: torch.Tensor of shape (N, C, T) in [-1, 1], sr: int in Hz)

  ``steps`` and ``sampler`` choose the sampler and its number of steps (``None``: the
  model's defaults).

On the first lookup (``recipes()``, ``get_model(...)``, ...) the registry lists the
family package :mod:`tutorial_lib.families` and registers every family it finds (each
module of one shape, ``docs/FAMILIES.md``): the family's ``RECIPE`` runs its ``train``, and
each name of its ``MODELS`` samples with ``sample(..., name=NAME)``. Nobody keeps a list: a
new family module is found by being there. ``import tutorial_lib`` stays instant, since
nothing is imported before the first lookup. A notebook can add its own entries with
:func:`register_recipe` and :func:`register_model`. The command line (``tutorial-lib train
NAME``, ``tutorial-lib sample NAME``) uses these tables.

Introduced in: book/00_intro/how_this_book_works.md
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._validate import check_choice, check_int, describe

__all__ = [
    "get_model",
    "get_recipe",
    "models",
    "recipes",
    "register_model",
    "register_recipe",
    "run_recipe",
    "sample",
]

#: The packages whose modules are model families (every module not starting with ``_``);
#: listed and imported on the first lookup.
_FAMILY_PACKAGES: tuple[str, ...] = ("tutorial_lib.families",)

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.\-]*")


@dataclass(frozen=True)
class _Entry:
    fn: Callable[..., Any]
    description: str

    @property
    def origin(self) -> str:
        return f"{getattr(self.fn, '__module__', '?')}.{getattr(self.fn, '__qualname__', '?')}"


_RECIPES: dict[str, _Entry] = {}
_MODELS: dict[str, _Entry] = {}
_loaded: set[str] = set()


def _family_functions(module: Any) -> tuple[Callable[..., Any], dict[str, Callable[..., Any]]]:
    """The recipe function and the sample functions (one per name of ``MODELS``) of a family."""

    def recipe(mode: str, out_dir: Path, resume: bool, device: Any = None) -> Path:
        # a device only when one is asked for: a family written before devices still runs
        kw = _device_kw(module.train, device, f"{module.__name__}.train")
        return module.train(mode, out_dir, resume, **kw)

    recipe.__module__ = module.__name__
    recipe.__qualname__ = "train"
    samplers = {}
    for model_name in module.MODELS:

        def sample_fn(n: int, steps: int | None, sampler: str | None, seed: int,
                      device: Any = None, _name: str = model_name) -> Any:  # fmt: skip
            kw = _device_kw(module.sample, device, f"{module.__name__}.sample")
            return module.sample(n, steps, sampler, seed, name=_name, **kw)

        sample_fn.__module__ = module.__name__
        sample_fn.__qualname__ = f"sample[name={model_name}]"
        samplers[model_name] = sample_fn
    return recipe, samplers


def _load_families() -> None:
    """Register every family of the family packages, once."""
    from . import families

    for package in _FAMILY_PACKAGES:
        if package in _loaded:
            continue
        for family in families.names(package):
            try:
                module = families.get(family, package)
            except Exception as err:
                raise ImportError(
                    f"registry: could not load the model family {package}.{family}: "
                    f"{type(err).__name__}: {err}"
                ) from err
            recipe, samplers = _family_functions(module)
            register_recipe(module.RECIPE, recipe, module.DESCRIPTION)
            for model_name, sample_fn in samplers.items():
                register_model(model_name, sample_fn, module.MODELS[model_name])
        _loaded.add(package)


def _register(
    table: dict[str, _Entry], kind: str, name: Any, fn: Any, description: Any, replace: bool
) -> Callable[..., Any]:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(
            f"name: expected a {kind} name of lowercase letters, digits, '_', '-' or '.', "
            f"starting with a letter or digit, got {describe(name)}. "
            f"Fix: e.g. 'waveform_unet_drums'."
        )
    if not callable(fn):
        raise TypeError(f"fn: expected the {kind} function, got {describe(fn)}.")
    if not isinstance(description, str) or not description.strip():
        raise ValueError(
            f"description: expected a non-empty one-line description of the {kind}, "
            f"got {describe(description)}."
        )
    entry = _Entry(fn, " ".join(description.split()))
    old = table.get(name)
    # Re-registering the same function (a re-imported or autoreloaded module) is fine.
    if old is not None and not replace and old.origin != entry.origin:
        raise ValueError(
            f"name: the {kind} {name!r} is already registered by {old.origin}; now "
            f"{entry.origin} registers it too. Fix: choose another name, or pass "
            f"replace=True to override it on purpose."
        )
    table[name] = entry
    return fn


def register_recipe(
    name: str, fn: Callable[[str, Path, bool], Path], description: str, *, replace: bool = False
) -> Callable[[str, Path, bool], Path]:
    """Register a training recipe ``fn(mode, out_dir, resume) -> Path of its checkpoint``.

    Args:
        name: a unique name, e.g. ``"waveform_unet_drums"`` (lowercase, digits, ``_-.``).
        fn: the recipe (see the module docstring for its contract).
        description: one line for people (shown by ``tutorial-lib train --list``).
        replace: allow replacing another function registered under ``name``.

    Returns:
        ``fn`` unchanged.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    return _register(_RECIPES, "recipe", name, fn, description, replace)


def register_model(
    name: str,
    sample_fn: Callable[[int, int | None, str | None, int], tuple[Any, int]],
    description: str,
    *,
    replace: bool = False,
) -> Callable[[int, int | None, str | None, int], tuple[Any, int]]:
    """Register a model to sample from: ``sample_fn(n, steps, sampler, seed) -> (audio, sr)``.

    ``audio`` is a float tensor of shape ``(N, C, T)`` in ``[-1, 1]``, ``sr`` the sample
    rate in Hz. Arguments as for :func:`register_recipe`.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    return _register(_MODELS, "model", name, sample_fn, description, replace)


def recipes() -> dict[str, str]:
    """All registered recipes, name -> description, sorted by name.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    _load_families()
    return {name: _RECIPES[name].description for name in sorted(_RECIPES)}


def models() -> dict[str, str]:
    """All registered models, name -> description, sorted by name.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    _load_families()
    return {name: _MODELS[name].description for name in sorted(_MODELS)}


def _lookup(table: dict[str, _Entry], kind: str, name: Any) -> Callable[..., Any]:
    _load_families()
    if not isinstance(name, str):
        raise TypeError(f"name: expected a {kind} name (str), got {describe(name)}.")
    if name not in table:
        if not table:
            raise ValueError(
                f"name: unknown {kind} {name!r}: no {kind}s are registered yet "
                f"(family packages: {', '.join(_FAMILY_PACKAGES) or 'none'})."
            )
        check_choice(name, "name", sorted(table))
    return table[name].fn


def get_recipe(name: str) -> Callable[[str, Path, bool], Path]:
    """The recipe function registered as ``name``; an unknown name lists the valid ones.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    return _lookup(_RECIPES, "recipe", name)


def get_model(name: str) -> Callable[[int, int | None, str | None, int], tuple[Any, int]]:
    """The sample function registered as ``name``; an unknown name lists the valid ones.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    return _lookup(_MODELS, "model", name)


def _device_kw(fn: Callable[..., Any], device: Any, what: str) -> dict[str, Any]:
    """``{"device": device}`` when ``fn`` takes a device and one is asked for, else ``{}``: a
    function written without one runs on the CPU, and asking it for another device is an
    error that says so."""
    import inspect

    if device is None:
        return {}
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        params = ()
    if any(p.name == "device" or p.kind is p.VAR_KEYWORD for p in params):
        return {"device": device}
    if str(device) not in ("cpu", "auto"):
        raise ValueError(
            f"device: {what} was written without a device argument, so it runs on the CPU "
            f"only; got device={str(device)!r}. Fix: device='cpu', or give it a device= "
            f"argument."
        )
    return {}


def _call_on(fn: Callable[..., Any], device: Any, what: str, *args: Any) -> Any:
    """``fn(*args)``, with ``device=`` when it takes one (:func:`_device_kw`)."""
    return fn(*args, **_device_kw(fn, device, what))


def run_recipe(
    name: str, mode: str, out_dir: str | Path, *, resume: bool = False, device: Any = None
) -> Path:
    """Run the recipe ``name`` and check that it kept its contract.

    Args:
        name: a registered recipe.
        mode: ``"fast"``, ``"book"`` or ``"full"``.
        out_dir: where the recipe writes its checkpoints (created if missing).
        resume: continue an interrupted run in ``out_dir``.
        device: where to train (``None``: the recipe's default, ``"auto"``: the GPU in
            ``full`` mode and the CPU otherwise). Passed only when given, so recipes
            registered without a ``device`` argument keep working on the CPU.

    Returns:
        The checkpoint file the recipe wrote (it must exist).

    Introduced in: book/00_intro/how_this_book_works.md
    """
    from .config import MODES

    fn = get_recipe(name)
    check_choice(mode, "mode", MODES)
    if not isinstance(resume, bool):
        raise TypeError(f"resume: expected True or False, got {describe(resume)}.")
    if not isinstance(out_dir, (str, Path)) or str(out_dir) == "":
        raise TypeError(f"out_dir: expected a folder path, got {describe(out_dir)}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = _call_on(fn, device, f"recipe {name!r}", mode, out, resume)
    if not isinstance(result, (str, Path)) or not Path(result).is_file():
        raise RuntimeError(
            f"recipe {name!r} ({_RECIPES[name].origin}) must return the path of the checkpoint "
            f"it wrote, got {describe(result)}."
        )
    return Path(result)


def sample(
    name: str,
    n: int = 1,
    *,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    device: Any = None,
) -> tuple[Any, int]:
    """Sample ``n`` clips from the registered model ``name``: ``(audio (N, C, T), sr in Hz)``.

    Checks the model's output (a finite float tensor of shape ``(n, C, T)`` and a plausible
    sample rate). Runs without autograd (``torch.no_grad()``). ``device``: where the network
    runs (passed only when given; the families' default is the GPU in ``full`` mode and the
    CPU otherwise); the audio comes back on the CPU.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    import torch

    from ._validate import check_audio, check_sample_rate

    fn = get_model(name)
    n = check_int(n, "n", min_value=1)
    if steps is not None:
        steps = check_int(steps, "steps", min_value=1)
    if sampler is not None and not isinstance(sampler, str):
        raise TypeError(f"sampler: expected a sampler name (str) or None, got {describe(sampler)}.")
    seed = check_int(seed, "seed", min_value=0, max_value=2**32 - 1)
    with torch.no_grad():  # sampling never trains: no autograd graph, whatever fn does
        result = _call_on(fn, device, f"model {name!r}", n, steps, sampler, seed)
    origin = _MODELS[name].origin
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError(
            f"model {name!r} ({origin}) must return (audio, sr), got {describe(result)}."
        )
    audio, sr = result
    if not torch.is_tensor(audio) or not audio.is_floating_point():
        raise RuntimeError(
            f"model {name!r} ({origin}) must return a float tensor, got {describe(audio)}."
        )
    check_audio(audio, f"audio from model {name!r}", batch=True)
    if audio.shape[0] != n:
        raise RuntimeError(f"model {name!r} ({origin}) returned {audio.shape[0]} clips, {n} asked.")
    return audio, check_sample_rate(sr, f"sr from model {name!r}")
