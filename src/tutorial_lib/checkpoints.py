"""Saving and loading weights safely, and the book's reference checkpoints.

Three ideas, each small:

1. **Weights only as safetensors.** A ``.safetensors`` file is a JSON header plus raw tensor
   bytes. Loading one cannot run code, unlike a pickle (``torch.save``/``torch.load``), which
   can run anything its author put in it. This module never unpickles. The model's config (a
   JSON-able dict) and free-form metadata travel in the header, so a file says what it is.
2. **Atomic writes.** :func:`atomic_write` writes to a temporary file in the same folder and
   renames it over the target only when everything was written. An interrupted save (a crash,
   a full disk, a stopped notebook cell) leaves the old file intact and no half-written one.
   Every file the library writes goes through it.
3. **Load or train.** Each chapter trains its model briefly, so you see the loop work, then
   loads the *reference checkpoint* that the same code trained for longer.
   :func:`load_or_train` looks the name up in ``weights/registry.json`` (shipped with the
   package), checks the file's SHA-256 hash and the model config, and loads it; with no
   reference file it trains instead. A hash or config mismatch is an error, never silently
   ignored.

Example::

    import tutorial_lib as tl
    tl.checkpoints.save("unet.safetensors", model, config={"channels": 32})
    state_dict, config, metadata = tl.checkpoints.load("unet.safetensors")
    tl.checkpoints.load_into(model, "unet.safetensors")

Introduced in: book/00_intro/how_this_book_works.md
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._io import as_path as _as_path
from ._io import atomic_write
from ._validate import check_choice, check_int, describe

__all__ = [
    "MAX_WEIGHTS_BYTES",
    "ReferenceCheckpoint",
    "ReferenceMissingWarning",
    "add_reference",
    "atomic_write",
    "compare_state",
    "config_diff",
    "load",
    "load_into",
    "load_or_train",
    "reference",
    "references",
    "save",
    "set_metric",
    "sha256",
    "weights_dir",
    "weights_size",
]

#: The most the shipped ``weights/`` folder may hold, in bytes (25 MiB): it lives in git and
#: is installed with the package (also in Colab), so it must stay small.
MAX_WEIGHTS_BYTES = 25 * 1024 * 1024

_CONFIG_KEY = "tutorial_lib.config"
_METADATA_KEY = "tutorial_lib.metadata"
_REGISTRY_FILE = "registry.json"
_ENTRY_KEYS = ("name", "file", "sha256", "config", "recipe", "steps", "metric", "description")
_SAFE_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


# --------------------------------------------------------------------------------------------
# Save / load
# --------------------------------------------------------------------------------------------


def _json_text(value: Any, name: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name}: must be JSON-serialisable (dicts with str keys, lists, str, int, float, "
            f"bool, None; no NaN), got {describe(value)}: {err}. "
            f"Fix: convert tensors with .item()/.tolist(), paths with str(), tuples are fine."
        ) from None


def _normalize_json(value: Any) -> Any:
    """The value as it comes back from JSON (tuples become lists, keys become str)."""
    return json.loads(json.dumps(value, sort_keys=True))


def _state_dict_of(obj: Any, name: str) -> dict[str, Any]:
    import torch

    if isinstance(obj, torch.nn.Module):
        return dict(obj.state_dict())
    if isinstance(obj, Mapping):
        bad = [k for k, v in obj.items() if not isinstance(k, str) or not torch.is_tensor(v)]
        if bad:
            k = bad[0]
            raise TypeError(
                f"{name}: a state dict must map str names to tensors; entry {k!r} is "
                f"{describe(obj[k])}. Fix: keep only tensors (put numbers and strings in "
                f"config= or metadata=)."
            )
        return dict(obj)
    raise TypeError(
        f"{name}: expected a torch.nn.Module or a state dict (dict of str -> tensor), "
        f"got {describe(obj)}."
    )


def save(
    path: str | os.PathLike,
    model_or_state_dict: Any,
    *,
    config: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    dtype: Any = None,
) -> Path:
    """Save a model's weights (or a state dict) as a safetensors file, atomically.

    Args:
        path: the file to write, conventionally ending in ``.safetensors``.
        model_or_state_dict: a ``torch.nn.Module`` (its ``state_dict()`` is saved) or a
            ``dict`` of name -> tensor (any shapes; moved to the CPU).
        config: the model's config, a JSON-able dict (e.g. ``{"channels": 32, "depth": 4}``);
            stored in the file header so :func:`load_into` can check a model fits.
        metadata: anything else JSON-able (training steps, metrics, a note).
        dtype: ``None`` keeps each tensor's dtype; ``torch.float16`` or ``torch.bfloat16``
            stores floating-point tensors at half the size (integer buffers are kept).
            Loading into a float32 model converts back.

    Returns:
        The path written.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    import torch
    from safetensors.torch import save as st_save

    path = _as_path(path, "path")
    state = _state_dict_of(model_or_state_dict, "model_or_state_dict")
    if dtype is not None and dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise ValueError(
            f"dtype: expected None, torch.float16, torch.bfloat16 or torch.float32, got "
            f"{dtype!r}. Fix: dtype=torch.float16 halves the file size."
        )
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(
            f"config: expected a dict (the model config) or None, got {describe(config)}."
        )
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata: expected a dict or None, got {describe(metadata)}.")
    header = {"format": "pt"}
    if config is not None:
        header[_CONFIG_KEY] = _json_text(dict(config), "config")
    header[_METADATA_KEY] = _json_text(dict(metadata or {}), "metadata")

    tensors: dict[str, torch.Tensor] = {}
    for key, t in state.items():
        # clone: safetensors refuses tensors that share memory (e.g. tied weights)
        t = t.detach().to("cpu").contiguous().clone()
        if dtype is not None and t.is_floating_point() and t.dtype != dtype:
            finite_before = torch.isfinite(t)
            t = t.to(dtype)
            if bool((finite_before & ~torch.isfinite(t)).any()):
                big = float(state[key].detach().abs().max())
                raise ValueError(
                    f"dtype: tensor {key!r} holds values up to {big:.3g}, which overflow "
                    f"{dtype} (they would become inf). Fix: use dtype=torch.bfloat16 (same "
                    f"range as float32) or dtype=None."
                )
        tensors[key] = t
    data = st_save(tensors, metadata=header)
    with atomic_write(path, "wb") as f:
        f.write(data)
    return path


def _check_safetensors_file(path: Path) -> None:
    """Raise a clear error unless ``path`` looks like a safetensors file (without unpickling)."""
    if not path.exists():
        raise FileNotFoundError(
            f"path: no file at {str(path)!r}. Fix: check the path (relative paths start at the "
            f"current folder, {os.getcwd()!r})."
        )
    if path.is_dir():
        raise IsADirectoryError(f"path: {str(path)!r} is a folder, expected a .safetensors file.")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"PK\x03\x04") or (len(head) >= 2 and head[0] == 0x80 and head[1] <= 5):
        raise ValueError(
            f"path: {str(path)!r} is a PyTorch pickle file (torch.save format), not safetensors. "
            f"This library never unpickles: loading a pickle can run arbitrary code. "
            f"Fix: if you trust the file, convert it once: "
            f"tl.checkpoints.save('model.safetensors', torch.load(path, weights_only=True))."
        )
    if head.startswith(b"version https://git-lfs"):
        raise ValueError(
            f"path: {str(path)!r} is a Git LFS pointer, not the weights themselves. "
            f"Fix: run `git lfs pull` in the repository, or reinstall the package."
        )
    n = int.from_bytes(head[:8], "little") if len(head) >= 8 else -1
    if len(head) < 10 or n < 2 or 8 + n > size or head[8:9] != b"{":
        raise ValueError(
            f"path: {str(path)!r} is not a safetensors file ({size} bytes; the header does not "
            f"parse). It may be truncated or another format. Fix: save weights with "
            f"tl.checkpoints.save(...), or re-create the file."
        )


def load(
    path: str | os.PathLike, *, device: Any = "cpu"
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """Load a safetensors file: ``(state_dict, config, metadata)``.

    Never unpickles; a pickle (``torch.save``) file is refused with an explanation.

    Args:
        path: a ``.safetensors`` file.
        device: where to put the tensors (``"cpu"`` by default, or e.g. ``"cuda"``).

    Returns:
        ``state_dict``: name -> tensor, dtypes as stored; ``config``: the dict given to
        :func:`save` (``None`` if there was none); ``metadata``: the metadata dict (for a file
        written by another tool, its raw string header metadata).

    Introduced in: book/00_intro/how_this_book_works.md
    """
    from safetensors import safe_open

    path = _as_path(path, "path")
    _check_safetensors_file(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            header = dict(f.metadata() or {})
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types
        raise ValueError(
            f"path: could not read {str(path)!r} as safetensors: {err}. The file may be "
            f"truncated or corrupt. Fix: re-create it with tl.checkpoints.save(...)."
        ) from err
    config = json.loads(header[_CONFIG_KEY]) if _CONFIG_KEY in header else None
    if _METADATA_KEY in header:
        metadata = json.loads(header[_METADATA_KEY])
    else:
        metadata = {k: v for k, v in header.items() if k != "format"}
    return state, config, metadata


def config_diff(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Lines describing how two configs differ (nested dicts are compared key by key).

    Both are compared as JSON would store them (tuples equal lists). Returns ``[]`` when
    they are equal, else lines like ``"channels: expected 64, got 32"``.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    a, b = _normalize_json(dict(expected)), _normalize_json(dict(actual))
    lines: list[str] = []

    def walk(x: Any, y: Any, prefix: str) -> None:
        for key in sorted(set(x) | set(y)):
            name = f"{prefix}{key}"
            if key not in y:
                lines.append(f"{name}: expected {x[key]!r}, missing")
            elif key not in x:
                lines.append(f"{name}: not expected, got {y[key]!r}")
            elif isinstance(x[key], dict) and isinstance(y[key], dict):
                walk(x[key], y[key], name + ".")
            elif x[key] != y[key]:
                lines.append(f"{name}: expected {x[key]!r}, got {y[key]!r}")

    walk(a, b, "")
    return lines


def _model_config(model: Any) -> dict[str, Any] | None:
    cfg = getattr(model, "config", None)
    if isinstance(cfg, Mapping):
        return dict(cfg)
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)
    return None


def _first(items: list[str], n: int = 5) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _prefix_hint(unexpected: list[str], missing: list[str]) -> str:
    """Suggest a prefix to strip when the checkpoint's names are the model's plus a prefix."""
    wanted = set(missing)
    for key in unexpected[:50]:
        for m in missing[:50]:
            if key.endswith("." + m):
                prefix = key[: len(key) - len(m)]
                stripped = {k[len(prefix) :] for k in unexpected if k.startswith(prefix)}
                if wanted <= stripped:
                    return (
                        f"\nThe file's names are the model's with the prefix {prefix!r} (e.g. a "
                        f"trainer checkpoint, or a compiled/DataParallel model). Fix: pass "
                        f"prefix={prefix!r}."
                    )
    return ""


def compare_state(
    state: Mapping[str, Any], own: Mapping[str, Any]
) -> tuple[list[str], list[str], list[str]]:
    """How a loaded state dict differs from a model's: ``(missing, unexpected, mismatched)``.

    ``missing``: names of ``own`` not in ``state``; ``unexpected``: names of ``state`` not in
    ``own``; ``mismatched``: ``"name (file (shape), model (shape))"`` for tensors in both whose
    shapes differ.

    Introduced in: book/03_waveform_unet/03_01_waveform_unet.ipynb
    """
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    return missing, unexpected, mismatched


def load_into(
    model: Any,
    path: str | os.PathLike,
    *,
    strict: bool = True,
    config: Mapping[str, Any] | None = None,
    prefix: str = "",
) -> Any:
    """Load the weights in ``path`` into ``model`` (in place), checking that they fit.

    Tensors are converted to the dtype and device of the model's own tensors (so a float16
    file loads into a float32 model on a GPU).

    Checks, each with an error that lists the first offending names and the fix:

    - config: if the file stores a config and ``config`` is given (or the model has a
      ``.config`` dict or dataclass), they must be equal;
    - names: with ``strict=True`` the file and the model must have exactly the same tensor
      names (no *missing* or *unexpected* ones); ``strict=False`` loads the common ones;
    - shapes: every common name must have the same shape in both.

    Args:
        model: a ``torch.nn.Module``.
        path: a ``.safetensors`` file written by :func:`save` (or any safetensors file).
        strict: require the same names in file and model.
        config: the config the model was built with (optional, see above).
        prefix: only use tensors whose names start with this prefix, with it removed (e.g.
            ``prefix="ema."`` loads the EMA weights from a :class:`~tutorial_lib.training.Trainer`
            checkpoint).

    Returns:
        ``model``, for chaining.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}.")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix: expected a str, got {describe(prefix)}.")
    path = _as_path(path, "path")
    state, file_config, _ = load(path)
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise ValueError(f"prefix: no tensor in {str(path)!r} starts with {prefix!r}.")

    expected = dict(config) if config is not None else _model_config(model)
    if expected is not None and file_config is not None:
        diff = config_diff(file_config, expected)
        if diff:
            raise ValueError(
                f"config: the checkpoint {path.name!r} was saved from a model with another "
                f"config ({len(diff)} difference(s), 'expected' = in the file, 'got' = yours):\n  "
                + "\n  ".join(diff[:10])
                + "\nFix: build the model with the checkpoint's config "
                "(config = tl.checkpoints.load(path)[1]), or load a checkpoint saved from yours."
            )

    own = model.state_dict()
    missing, unexpected, mismatched = compare_state(state, own)
    if mismatched or (strict and (missing or unexpected)):
        parts = []
        if missing:
            parts.append(f"missing from the file ({len(missing)}): {_first(missing)}")
        if unexpected:
            parts.append(f"unexpected in the file ({len(unexpected)}): {_first(unexpected)}")
        if mismatched:
            parts.append(f"different shapes ({len(mismatched)}): {_first(mismatched)}")
        hint = _prefix_hint(unexpected, missing) or (
            "\nThe model was probably built with another config or architecture. Fix: build it "
            "with the checkpoint's config (tl.checkpoints.load(path)[1]); strict=False loads "
            "only the matching names (their shapes must still agree)."
        )
        raise ValueError(
            f"path: the weights in {path.name!r} do not fit this {type(model).__name__}:\n  "
            + "\n  ".join(parts)
            + hint
        )
    model.load_state_dict(state, strict=strict)
    return model


def sha256(path: str | os.PathLike) -> str:
    """The SHA-256 hash of a file, as 64 hex digits (read in 1 MiB chunks).

    Introduced in: book/00_intro/how_this_book_works.md
    """
    import hashlib

    path = _as_path(path, "path")
    if not path.is_file():
        raise FileNotFoundError(f"path: no file at {str(path)!r}.")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Reference checkpoints (weights/registry.json)
# --------------------------------------------------------------------------------------------


def weights_dir() -> Path:
    """The folder of the shipped reference checkpoints: ``tutorial_lib/weights/``.

    It is package data, so a local clone (``pip install -e .``) and a
    ``pip install git+https://...`` in Colab both find the files next to ``registry.json``.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    return Path(__file__).resolve().parent / "weights"


def weights_size(folder: str | os.PathLike | None = None) -> int:
    """Total size in bytes of all files in the weights folder (default :func:`weights_dir`).

    Must stay below :data:`MAX_WEIGHTS_BYTES` (25 MiB); a test checks it.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    folder = weights_dir() if folder is None else _as_path(folder, "folder")
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class ReferenceMissingWarning(UserWarning):
    """A registered reference checkpoint's file is missing and ``load_or_train`` trains instead.

    Introduced in: book/00_intro/how_this_book_works.md
    """


@dataclasses.dataclass(frozen=True)
class ReferenceCheckpoint:
    """One entry of ``weights/registry.json``: a checkpoint trained by a recipe.

    Attributes:
        name: the name chapters use, e.g. ``"waveform_unet_drums"``.
        file: the file name inside the weights folder (``*.safetensors``).
        sha256: the file's SHA-256 hash (64 hex digits); a mismatch means a corrupt or
            stale file.
        config: the model config it was trained with (JSON-able dict).
        recipe: the training recipe that produced it (see ``tl.registry.recipes()``).
        steps: how many optimiser steps it was trained for.
        metric: measured numbers, e.g. ``{"fad": 2.1, "final_loss": 0.031}``.
        description: one sentence for people.
        folder: the weights folder the entry was read from (not stored in the JSON).

    Introduced in: book/00_intro/how_this_book_works.md
    """

    name: str
    file: str
    sha256: str
    config: dict[str, Any]
    recipe: str
    steps: int
    metric: dict[str, Any]
    description: str
    folder: Path = dataclasses.field(default_factory=weights_dir, compare=False, repr=False)

    @property
    def path(self) -> Path:
        """The full path of the checkpoint file.

        Introduced in: book/00_intro/how_this_book_works.md
        """
        return self.folder / self.file

    def to_dict(self) -> dict[str, Any]:
        """The entry as stored in ``registry.json``.

        Introduced in: book/00_intro/how_this_book_works.md
        """
        return {k: getattr(self, k) for k in _ENTRY_KEYS}


def _registry_path(folder: Path) -> Path:
    return folder / _REGISTRY_FILE


def _parse_entry(raw: Any, index: int, source: Path, folder: Path) -> ReferenceCheckpoint:
    where = f"{str(source)!r}, entry {index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object, got {describe(raw)}.")
    missing = [k for k in _ENTRY_KEYS if k not in raw]
    extra = [k for k in raw if k not in _ENTRY_KEYS]
    if missing or extra:
        raise ValueError(
            f"{where}: missing keys {missing}, unknown keys {extra}. "
            f"Each entry has exactly: {', '.join(_ENTRY_KEYS)}."
        )
    types = {
        "name": str,
        "file": str,
        "sha256": str,
        "config": dict,
        "recipe": str,
        "steps": int,
        "metric": dict,
        "description": str,
    }
    for key, typ in types.items():
        if not isinstance(raw[key], typ) or isinstance(raw[key], bool):
            raise ValueError(
                f"{where}: {key!r} must be a {typ.__name__}, got {describe(raw[key])}."
            )
    if "/" in raw["file"] or "\\" in raw["file"] or raw["file"].startswith("."):
        raise ValueError(
            f"{where}: 'file' must be a plain file name in the folder, got {raw['file']!r}."
        )
    if not re.fullmatch(r"[0-9a-f]{64}", raw["sha256"]):
        raise ValueError(
            f"{where}: 'sha256' must be 64 lowercase hex digits, got {raw['sha256']!r}."
        )
    return ReferenceCheckpoint(**raw, folder=folder)


def _read_registry(folder: Path) -> dict[str, ReferenceCheckpoint]:
    source = _registry_path(folder)
    if not source.exists():
        return {}
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(source)!r} is not valid JSON: {err}.") from err
    if not isinstance(raw, list):
        raise ValueError(f"{str(source)!r}: expected a JSON list of entries, got {describe(raw)}.")
    entries: dict[str, ReferenceCheckpoint] = {}
    for i, item in enumerate(raw):
        entry = _parse_entry(item, i, source, folder)
        if entry.name in entries:
            raise ValueError(f"{str(source)!r}: the name {entry.name!r} appears twice.")
        entries[entry.name] = entry
    return dict(sorted(entries.items()))


def _folder_arg(folder: str | os.PathLike | None) -> Path:
    return weights_dir() if folder is None else _as_path(folder, "weights_dir")


def references(*, weights_dir: str | os.PathLike | None = None) -> dict[str, ReferenceCheckpoint]:
    """All reference checkpoints, name -> :class:`ReferenceCheckpoint`, sorted by name.

    Args:
        weights_dir: another folder holding a ``registry.json`` (default: the shipped one).

    Introduced in: book/00_intro/how_this_book_works.md
    """
    return _read_registry(_folder_arg(weights_dir))


def reference(name: str, *, weights_dir: str | os.PathLike | None = None) -> ReferenceCheckpoint:
    """The registry entry called ``name``; an unknown name lists the valid ones.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    folder = _folder_arg(weights_dir)
    entries = _read_registry(folder)
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {describe(name)}.")
    if name not in entries:
        if not entries:
            raise ValueError(
                f"name: no reference checkpoint {name!r}: the registry "
                f"{str(_registry_path(folder))!r} is empty."
            )
        check_choice(name, "name", list(entries))
    return entries[name]


def _format_metric(metric: Mapping[str, Any], name: str, most: int = 6) -> str:
    """``most`` single-number metrics as ``k=v``, plainest names first (``fd`` before
    ``fd_short``); the rest, and every table (a dict or list), are counted, not listed."""
    keys = sorted(
        (k for k in metric if not isinstance(metric[k], (dict, list))),
        key=lambda k: (k.count("_"), k),
    )
    parts = [
        f"{k}={metric[k]:.4g}" if isinstance(metric[k], float) else f"{k}={metric[k]}" for k in keys
    ]
    hidden = len(metric) - min(len(parts), most)
    parts = parts[:most]
    if hidden:
        parts.append(f"... ({hidden} more in tl.checkpoints.reference({name!r}).metric)")
    return ", ".join(parts) if parts else "none recorded"


def load_or_train(
    name: str,
    model: Any,
    train_fn: Callable[[Any], Any],
    *,
    config: Mapping[str, Any],
    weights_dir: str | os.PathLike | None = None,
) -> Any:
    """Load the reference checkpoint ``name`` into ``model``, or train ``model`` if there is none.

    The decision, step by step:

    1. ``name`` is not in ``registry.json``: call ``train_fn(model)`` (it trains in the
       current run mode, ``tl.mode()``), print that it trained, return ``model``.
    2. ``config`` differs from the entry's config: ``ValueError`` listing the differing keys
       (the notebook and the registry disagree about the model; one of them is stale).
    3. The file is missing: train as in 1, with a :class:`ReferenceMissingWarning` that says
       what it costs: the model is a short run of the current mode, not the reference, so
       the registry's numbers a chapter quotes do not describe it.
    4. The file's SHA-256 differs from the entry's: ``ValueError`` (a corrupt or stale file).
    5. Otherwise: load the weights (checking names and shapes), print what was loaded with its
       training steps and metrics, return ``model``.

    Args:
        name: the reference checkpoint's name.
        model: a ``torch.nn.Module`` built with ``config``.
        train_fn: ``train_fn(model)`` trains ``model`` in place (its return value is ignored).
        config: the model config (JSON-able dict), compared with the registry's.
        weights_dir: another folder with a ``registry.json`` (for tests).

    Returns:
        ``model``, with loaded or freshly trained weights.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    import torch

    from .config import mode

    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty str, got {describe(name)}.")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}.")
    if not callable(train_fn):
        raise TypeError(
            f"train_fn: expected a function train_fn(model) that trains the model, got "
            f"{describe(train_fn)}."
        )
    if not isinstance(config, Mapping):
        raise TypeError(f"config: expected the model config as a dict, got {describe(config)}.")
    _json_text(dict(config), "config")
    folder = _folder_arg(weights_dir)
    entries = _read_registry(folder)

    def train(reason: str) -> Any:
        print(f"No reference checkpoint {name!r} ({reason}): training instead, in {mode()!r} mode.")
        train_fn(model)
        return model

    if name not in entries:
        known = ", ".join(map(repr, entries)) or "none"
        return train(f"not in {str(_registry_path(folder))!r}; registered: {known}")
    ref = entries[name]
    diff = config_diff(ref.config, config)
    if diff:
        raise ValueError(
            f"config: the reference checkpoint {name!r} was trained with another config "
            f"({len(diff)} difference(s), 'expected' = registry, 'got' = yours):\n  "
            + "\n  ".join(diff[:10])
            + f"\nFix: build the model with tl.checkpoints.reference({name!r}).config, or, if "
            f"the notebook's config changed on purpose, retrain the reference with recipe "
            f"{ref.recipe!r} and update the registry (tl.checkpoints.add_reference)."
        )
    if not ref.path.is_file():
        warnings.warn(
            f"The reference checkpoint {name!r} is registered but its file {str(ref.path)!r} "
            f"is missing, so the model is trained now in {mode()!r} mode instead: it is not "
            f"the reference, and the numbers the registry (and a chapter) quote for {name!r} "
            f"do not describe it. Fix: restore the file (`git checkout -- {ref.file}` in "
            f"src/tutorial_lib/weights of a clone, or reinstall the package), or retrain it "
            f"with `tutorial-lib train {ref.recipe}`.",
            ReferenceMissingWarning,
            stacklevel=2,
        )
        return train(f"its file {str(ref.path)!r} is missing")
    actual = sha256(ref.path)
    if actual != ref.sha256:
        raise ValueError(
            f"name: the file of reference checkpoint {name!r} ({str(ref.path)!r}) has SHA-256 "
            f"{actual[:12]}..., but the registry expects {ref.sha256[:12]}.... The file is "
            f"corrupt (an interrupted copy or download) or stale (retrained without updating "
            f"registry.json). Fix: restore it (`git checkout -- <file>` in a clone, or "
            f"reinstall the package), or, if you retrained it on purpose, update the entry "
            f"with tl.checkpoints.add_reference(...)."
        )
    load_into(model, ref.path, config=config)
    size_mb = ref.path.stat().st_size / 1e6
    print(
        f"Loaded reference checkpoint {name!r}: {ref.steps:,} training steps (recipe "
        f"{ref.recipe!r}), metrics: {_format_metric(ref.metric, name)} [{ref.file}, {size_mb:.1f} MB]."
    )
    return model


def add_reference(
    checkpoint: str | os.PathLike,
    name: str,
    *,
    recipe: str,
    steps: int,
    metric: Mapping[str, Any],
    description: str,
    weights_dir: str | os.PathLike | None = None,
) -> ReferenceCheckpoint:
    """Add (or replace) a reference checkpoint: copy the file in, hash it, update the registry.

    For maintainers after running a recipe. The file (written by :func:`save` with a
    ``config``) is copied to ``<weights_dir>/<name>.safetensors`` and its entry written to
    ``registry.json`` (both atomically); the folder must stay under :data:`MAX_WEIGHTS_BYTES`.
    Save with ``dtype=torch.float16`` to halve the size.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    src = _as_path(checkpoint, "checkpoint")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", name):
        raise ValueError(f"name: expected lowercase letters, digits, '_' or '-', got {name!r}.")
    for arg, value in (("recipe", recipe), ("description", description)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{arg}: expected a non-empty str, got {describe(value)}.")
    steps = check_int(steps, "steps", min_value=0)
    if not isinstance(metric, Mapping):
        raise TypeError(f"metric: expected a dict of measured numbers, got {describe(metric)}.")
    metric = _normalize_json(dict(metric))
    _json_text(metric, "metric")
    _, config, _ = load(src)
    if config is None:
        raise ValueError(
            f"checkpoint: {str(src)!r} stores no model config. "
            f"Fix: save it with tl.checkpoints.save(path, model, config=...)."
        )
    folder = _folder_arg(weights_dir)
    entries = _read_registry(folder)
    dest = folder / f"{name}.safetensors"
    old = dest.stat().st_size if dest.exists() else 0
    new_total = weights_size(folder) - old + src.stat().st_size
    if new_total > MAX_WEIGHTS_BYTES:
        raise ValueError(
            f"checkpoint: adding it would make {str(folder)!r} {new_total / 2**20:.1f} MiB, over "
            f"the {MAX_WEIGHTS_BYTES / 2**20:.0f} MiB limit. Fix: save it with "
            f"dtype=torch.float16, or train a smaller model."
        )
    if src.resolve() != dest.resolve():
        with atomic_write(dest, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
    entry = ReferenceCheckpoint(
        name=name,
        file=dest.name,
        sha256=sha256(dest),
        config=config,
        recipe=recipe,
        steps=steps,
        metric=metric,
        description=description.strip(),
        folder=folder,
    )
    entries[name] = entry
    with atomic_write(_registry_path(folder), "w") as f:
        json.dump([e.to_dict() for _, e in sorted(entries.items())], f, indent=2)
        f.write("\n")
    return entry


def set_metric(
    name: str, key: str, value: Any, *, weights_dir: str | os.PathLike | None = None
) -> ReferenceCheckpoint:
    """Put ``metric[key] = value`` into the registered reference ``name`` (same file, same entry).

    For maintainers' benchmark scripts that measure a registered model again and keep the
    result with it: everything else in the entry (file, hash, recipe, steps, the other
    metrics) stays as it is. Written atomically, as :func:`add_reference` writes.

    Introduced in: book/00_intro/how_this_book_works.md
    """
    if not isinstance(key, str) or not key.strip():
        raise ValueError(
            f"key: expected a non-empty str naming the metric entry, got {describe(key)}."
        )
    ref = reference(name, weights_dir=weights_dir)
    return add_reference(
        ref.path, ref.name, recipe=ref.recipe, steps=ref.steps, metric={**ref.metric, key: value},
        description=ref.description, weights_dir=weights_dir,
    )  # fmt: skip
