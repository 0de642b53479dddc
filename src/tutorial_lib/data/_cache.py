"""The on-disk cache of generated datasets (internal).

A dataset is generated once and stored under a *content hash* of everything that determines
its audio: the dataset name, the generator's version, every argument (split, size, sample
rate, seed, ...), the synthesis backend and the SoundFont file. Change any of them and the
hash changes, so a stale cache can never be served.

Layout, under :func:`cache_dir` (``$TUTORIAL_CACHE``, default ``~/.cache/tutorial_lib``)::

    data/<name>/<hash>/audio.npy    int16 PCM, shape (N, C, T), full scale 32767
    data/<name>/<hash>/meta.json    labels, per-clip metadata and the arguments

Both files are written atomically (``tl.checkpoints.atomic_write``, from ``tutorial_lib._io``); ``meta.json`` is written
last, so a folder without it is an interrupted write and is regenerated.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

ENV_VAR = "TUTORIAL_CACHE"
_AUDIO = "audio.npy"
_META = "meta.json"


def cache_dir() -> Path:
    """The cache folder: ``$TUTORIAL_CACHE`` if set, else ``~/.cache/tutorial_lib``.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    raw = os.environ.get(ENV_VAR, "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "tutorial_lib"


def content_hash(spec: dict[str, Any]) -> str:
    """A short SHA-256 hash (16 hex digits) of a JSON-able dict, keys sorted."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def entry_dir(name: str, spec: dict[str, Any]) -> Path:
    """The folder of one cached dataset."""
    return cache_dir() / "data" / name / content_hash(spec)


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] to int16 PCM (clipped)."""
    return np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


def load(folder: Path) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Return ``(audio int16 memmap (N, C, T), meta)`` or ``None`` when absent or damaged."""
    meta_path, audio_path = folder / _META, folder / _AUDIO
    if not (meta_path.is_file() and audio_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        audio = np.load(audio_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if audio.ndim != 3 or audio.shape[0] != len(meta.get("items", ())):
        return None
    return audio, meta


def store(folder: Path, audio: np.ndarray, meta: dict[str, Any]) -> None:
    """Write ``audio`` (int16, (N, C, T)) and ``meta`` atomically (meta last)."""
    from .._io import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(folder / _AUDIO, "wb") as f:
        np.save(f, np.ascontiguousarray(audio), allow_pickle=False)
    with atomic_write(folder / _META, "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
