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
- ``train_settings(mode)`` (a dict with :data:`SETTINGS_KEYS`), ``dataset(n, split="train")``,
  ``build(config=None)``;
- ``train(mode, out_dir, resume=False, *, device=None) -> Path`` (the recipe: writes every
  checkpoint of ``CHECKPOINTS`` to ``out_dir`` and returns the main one) and
  ``train_model(model, name=CHECKPOINTS[0], mode=None, *, device=None)`` (trains ``model``
  in place as the recipe trains ``name``, writing nothing);
- ``load(name=CHECKPOINTS[0])`` (a reference model in eval mode, trained in the current mode
  if its file is missing), ``sample(n, steps=None, sampler=None, seed=0, *, name=...,
  device=None) -> (audio, sr)`` and ``evaluate(models, *, n=..., steps=None, seed=0,
  device=None, ...) -> {label: scores}``.

:func:`check_family` checks all of it (:data:`SIGNATURES`: names, order, defaults; extras
only keyword-only), and the types of ``SAMPLING`` (:data:`SAMPLING_KEYS`) and of
``train_settings(mode)``.

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

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "SAMPLING_KEYS",
    "SETTINGS_KEYS",
    "SIGNATURES",
    "check_family",
    "get",
    "names",
]

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

REQUIRED = inspect.Parameter.empty
#: Default markers of :data:`SIGNATURES`: the family's main checkpoint (``CHECKPOINTS[0]``),
#: or any name of ``MODELS``.
MAIN = "<CHECKPOINTS[0]>"
A_MODEL = "<a name of MODELS>"

#: The contract's signatures (``docs/FAMILIES.md``, "The contract"): the positional
#: parameters ``(name, default)`` in order, none other, then the keyword-only parameters
#: every family has. Anything else a family takes is an extra and comes after ``*``.
SIGNATURES: dict[str, tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]]] = {
    "train_settings": ((("mode", REQUIRED),), ()),
    "dataset": ((("n", REQUIRED), ("split", "train")), ()),
    "build": ((("config", None),), ()),
    "train": ((("mode", REQUIRED), ("out_dir", REQUIRED), ("resume", False)), (("device", None),)),
    "train_model": ((("model", REQUIRED), ("name", MAIN), ("mode", None)), (("device", None),)),
    "load": ((("name", MAIN),), ()),
    "sample": (
        (("n", REQUIRED), ("steps", None), ("sampler", None), ("seed", 0)),
        (("name", A_MODEL), ("device", None)),
    ),
    "evaluate": ((("models", REQUIRED),), (("steps", None), ("seed", 0), ("device", None))),
}
#: The functions every family module defines, with the parameters they must accept.
FUNCTIONS: dict[str, tuple[str, ...]] = {
    fn: tuple(name for name, _ in (*pos, *kw)) for fn, (pos, kw) in SIGNATURES.items()
}
#: ``evaluate`` counts its clips with one keyword: ``n`` (clips per model) or, for a
#: class-conditional family that draws the same number of each class, ``n_per_class``.
EVALUATE_SIZES = ("n", "n_per_class")
#: The keys (and types) of ``train_settings(mode)`` in every family, for every mode.
SETTINGS_KEYS: dict[str, type] = {
    "steps": int,
    "batch": int,
    "lr": float,
    "seed": int,
    "n_train": int,
    "ema_decay": float,
    "warmup_steps": int,
}
#: The keys (and types) of ``SAMPLING`` in every family: the default number of steps and the
#: default sampler's name (``"auto"``: the family picks per model, as ``drums_small`` by
#: objective).
SAMPLING_KEYS: dict[str, type] = {"steps": int, "sampler": str}


def names(package: str = __name__) -> list[str]:
    """The family modules of ``package`` (default: this one), sorted: ``["drums_small", ...]``.

    Every module whose name does not start with ``_`` is a family.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    pkg = importlib.import_module(package)
    found = pkgutil.iter_modules(getattr(pkg, "__path__", []))
    return sorted(m.name for m in found if not m.name.startswith("_"))


def _contract(fn: str) -> str:
    pos, kw = SIGNATURES[fn]
    extra = {"evaluate": ", n=... (or n_per_class=...)"}.get(fn, "")

    def one(name: str, default: Any) -> str:
        return (
            name
            if default is REQUIRED
            else f"{name}={default!r}".replace("'<", "<").replace(">'", ">")
        )

    parts = [one(*p) for p in pos] + (["*"] if kw or extra else []) + [one(*p) for p in kw]
    return f"{fn}({', '.join(parts)}{extra}, ...)"


def _main(module: ModuleType) -> Any:
    """``CHECKPOINTS[0]``, or ``None`` when the family has no such constant (reported apart)."""
    checkpoints = getattr(module, "CHECKPOINTS", None)
    return checkpoints[0] if isinstance(checkpoints, (tuple, list)) and checkpoints else None


def _same_default(have: Any, want: Any, module: ModuleType) -> bool:
    if want is MAIN:  # without CHECKPOINTS any name will do: the missing constant is reported
        return have == _main(module) or (_main(module) is None and isinstance(have, str))
    if want is A_MODEL:
        models = getattr(module, "MODELS", None)
        return isinstance(have, str) and (not isinstance(models, dict) or have in models)
    if want is REQUIRED or want is None or isinstance(want, bool):
        return have is want
    return type(have) is type(want) and have == want


def _signature_problems(module: ModuleType, fn_name: str, fn: Any) -> list[str]:
    """What in ``fn``'s signature differs from :data:`SIGNATURES` (each with its fix)."""
    pos, kw = SIGNATURES[fn_name]
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    problems = []
    where = f"{fn_name}{sig}"
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        problems.append(f"{where} takes *args or **kwargs. Fix: name every parameter")
    have = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = [p.name for p in have]
    want = [name for name, _ in pos]
    if names != want:
        extras = [n for n in names if n not in want]
        fix = (f"put {', '.join(extras)} after `*` (keyword-only, a family extra)" if extras
               and [n for n in names if n in want] == want else
               f"take the positional parameters ({', '.join(want)}) in this order")  # fmt: skip
        problems.append(f"{where} has the positional parameters ({', '.join(names)}). Fix: {fix}")
    by_name = sig.parameters
    for name, default in pos:
        p = by_name.get(name)
        if p is not None and p in have and not _same_default(p.default, default, module):
            want_txt = "no default" if default is REQUIRED else f"the default {default!r}"
            if default is MAIN:
                want_txt = f"the default {_main(module)!r} (the main checkpoint)"
            got = "none" if p.default is REQUIRED else repr(p.default)
            problems.append(f"{where}: {name} has the default {got}. Fix: give it {want_txt}")
    for name, default in kw:
        p = by_name.get(name)
        if p is None or p.kind is not p.KEYWORD_ONLY:
            problems.append(f"{where} lacks the keyword-only {name}. Fix: add it after `*`")
        elif not _same_default(p.default, default, module):
            want_txt = "a name of MODELS" if default is A_MODEL else repr(default)
            problems.append(
                f"{where}: {name} has the default {p.default!r}. Fix: make it {want_txt}"
            )
    if fn_name == "evaluate":
        sizes = [n for n in EVALUATE_SIZES
                 if n in by_name and by_name[n].kind is by_name[n].KEYWORD_ONLY]  # fmt: skip
        if len(sizes) != 1:
            problems.append(
                f"{where} counts its clips with {sizes or 'no keyword'}. Fix: one keyword-only "
                f"n (clips per model) or n_per_class (clips per class)"
            )
    return [f"{p}; the contract is {_contract(fn_name)}" for p in problems]


def _is(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _value_problems(module: ModuleType) -> list[str]:
    """The types of ``SAMPLING``, ``train_settings(mode)`` and the names' constants.

    What is missing is skipped here (:func:`check_family` reports it once, as missing).
    """
    problems = []
    missing = object()
    recipe, description = (getattr(module, c, missing) for c in ("RECIPE", "DESCRIPTION"))
    if missing not in (recipe, description) and not (
        isinstance(recipe, str) and isinstance(description, str)
    ):
        problems.append("RECIPE and DESCRIPTION are not str. Fix: the recipe's name and one line")
    models, checkpoints = (
        getattr(module, "MODELS", missing),
        getattr(module, "CHECKPOINTS", missing),
    )
    if models is missing:
        pass
    elif not isinstance(models, dict) or not models:
        problems.append("MODELS is not a dict. Fix: sampleable model names -> descriptions")
    elif checkpoints is not missing and (not checkpoints or not set(checkpoints) <= set(models)):
        problems.append(
            "CHECKPOINTS is not a non-empty tuple of names of MODELS. Fix: list the recipe's "
            "reference checkpoints, main one first, each also in MODELS"
        )
    sampling = getattr(module, "SAMPLING", missing)
    if sampling is missing:
        pass
    elif not isinstance(sampling, dict):
        problems.append(f"SAMPLING is a {type(sampling).__name__}. Fix: a dict, at least "
                        f"{{'steps': int, 'sampler': str}}")  # fmt: skip
    else:
        what = {
            "steps": "the default number of steps",
            "sampler": "the default sampler's name; 'auto' when it depends on the model",
        }
        for key, kind in SAMPLING_KEYS.items():
            if not _is(sampling.get(key), kind):
                got = repr(sampling[key]) if key in sampling else "missing"
                problems.append(f"SAMPLING[{key!r}] is {got}. Fix: a {kind.__name__} ({what[key]})")
    reported: set[tuple[str, ...]] = set()  # the same drift in every mode is said once
    for mode in (
        ("fast", "book", "full") if callable(getattr(module, "train_settings", None)) else ()
    ):
        try:
            settings = module.train_settings(mode)
        except Exception as e:  # noqa: BLE001 - reported with the family's name
            if (type(e).__name__, str(e)) not in reported:
                reported.add((type(e).__name__, str(e)))
                problems.append(f"train_settings({mode!r}) raised {type(e).__name__}: {e}")
            continue
        if not isinstance(settings, dict):
            problems.append(f"train_settings({mode!r}) returned a {type(settings).__name__}. "
                            f"Fix: a dict")  # fmt: skip
            continue
        bad_keys = tuple(k for k, kind in SETTINGS_KEYS.items() if not _is(settings.get(k), kind))
        if bad_keys and bad_keys not in reported:
            reported.add(bad_keys)
            bad = [f"{k} ({SETTINGS_KEYS[k].__name__}): {settings.get(k, 'missing')!r}"
                   for k in bad_keys]  # fmt: skip
            problems.append(
                f"train_settings({mode!r}) has {'; '.join(bad)}. Fix: return every key of "
                f"tl.families.SETTINGS_KEYS with its type (steps, batch: not max_steps, "
                f"batch_size)"
            )
    return problems


def check_family(module: ModuleType) -> ModuleType:
    """Check that ``module`` has the shape of a family; ``TypeError`` naming each difference.

    The names (:data:`CONSTANTS`, :data:`SIGNATURES`), each function's signature (parameter
    names, order and defaults; extras only keyword-only, after ``*``), and the types of
    ``SAMPLING`` (:data:`SAMPLING_KEYS`) and of ``train_settings(mode)`` for every mode
    (:data:`SETTINGS_KEYS`). Every difference is reported at once, in a fixed order: missing
    constants, then the functions in the contract's order, then the values. The message names
    the family, the function and the fix.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    problems = [f"the constant {c} is missing" for c in CONSTANTS if not hasattr(module, c)]
    for fn_name in SIGNATURES:
        fn = getattr(module, fn_name, None)
        if not callable(fn):
            problems.append(f"the function {fn_name} is missing. Fix: {_contract(fn_name)}")
            continue
        problems += _signature_problems(module, fn_name, fn)
    problems += _value_problems(module)  # also when a signature drifted: all of it at once
    if problems:
        raise TypeError(
            f"family {module.__name__} does not have the shape of a family:\n  - "
            + "\n  - ".join(problems)
            + "\nEvery module of tutorial_lib.families has the shape written down in "
            "docs/FAMILIES.md, 'The contract' (tutorial_lib/families/drums_unet.py is a worked "
            "example)."
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
