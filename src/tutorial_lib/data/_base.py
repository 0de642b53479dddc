"""The dataset class shared by the generated datasets, splits, seeding and batching (internal)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validate import check_choice, check_int, describe
from . import _cache

SPLITS = ("train", "validation", "test")
#: Fractions of a finite pool that go to each split (when a pool is partitioned).
SPLIT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
_SPLIT_ALIASES = {"valid": "validation", "val": "validation", "dev": "validation"}


def check_split(split: Any, name: str = "split") -> str:
    """Return the canonical split name (``'train'``, ``'validation'``, ``'test'``)."""
    if isinstance(split, str):
        split = _SPLIT_ALIASES.get(split.strip().lower(), split.strip().lower())
    return check_choice(split, name, SPLITS)


def clip_rng(*keys: Any) -> np.random.Generator:
    """A numpy generator seeded from any mix of ints and strings (stable across runs).

    Each clip gets its own stream from ``(dataset, seed, split, index)``, so clip ``i`` is the
    same whether you ask for 10 clips or 10,000, and no two splits share a stream.
    """
    words = []
    for key in keys:
        if isinstance(key, (int, np.integer)):
            words.append(int(key) & 0xFFFFFFFF)
            words.append((int(key) >> 32) & 0xFFFFFFFF)
        else:
            digest = hashlib.sha256(str(key).encode("utf-8")).digest()
            words.extend(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
    return np.random.default_rng(np.random.SeedSequence(words))


def split_of(key: str) -> str:
    """Which split a pool element belongs to: a stable hash of ``key`` (80/10/10)."""
    u = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little") / 2.0**64
    if u < SPLIT_FRACTIONS["train"]:
        return "train"
    if u < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["validation"]:
        return "validation"
    return "test"


def check_channels(channels: Any) -> int:
    channels = check_int(channels, "channels", min_value=1)
    if channels not in (1, 2):
        raise ValueError(f"channels: expected 1 (mono) or 2 (stereo), got {channels}.")
    return channels


WORKERS_ENV = "TUTORIAL_WORKERS"


def data_workers(n: int) -> int:
    """Processes that render ``n`` clips: ``$TUTORIAL_WORKERS`` if set, else every core in
    ``full`` mode (thousands of clips before a GPU run) and 1 in ``fast``/``book`` mode
    (the notebooks' budgets are measured with one). Small sets always render in-process."""
    import os

    from ..config import mode

    raw = os.environ.get(WORKERS_ENV, "").strip()
    if raw:
        workers = check_int(int(raw) if raw.isdigit() else raw, WORKERS_ENV, min_value=1)
    else:
        workers = (os.cpu_count() or 1) if mode() == "full" else 1
    return 1 if n < 64 else min(workers, 32)


def _render_chunk(make: Callable[[int], Any], start: int, stop: int) -> list[Any]:
    return [make(i) for i in range(start, stop)]


def render_clips(
    make: Callable[[int], tuple[np.ndarray, dict[str, Any]]],
    n: int,
    audio: np.ndarray,
    desc: str,
    progress: bool | None,
) -> list[dict[str, Any]]:
    """Fill ``audio[i]`` with clip ``i`` of ``make(i) -> (clip, info)``; the infos in order.

    Each clip depends on its index alone (``clip_rng``), so the result is the same for any
    number of worker processes (:func:`data_workers`); ``make`` must be picklable (a
    module-level function or a ``functools.partial`` of one) when there are several.
    """
    workers = data_workers(n)
    items: list[dict[str, Any]] = []
    with progress_bar(n, desc, progress) as bar:
        if workers == 1:
            for i in range(n):
                audio[i], info = make(i)
                items.append(info)
                bar.update()
            return items
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        size = max(16, -(-n // (workers * 8)))
        bounds = [(a, min(n, a + size)) for a in range(0, n, size)]
        # fork where there is one (Linux): the workers render with NumPy, SciPy and the
        # SoundFont only, never torch, and fork does not re-run an unguarded __main__
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            starts = [a for a, _ in bounds]
            chunks = pool.map(_render_chunk, [make] * len(bounds), starts, [b for _, b in bounds])
            for start, chunk in zip(starts, chunks, strict=True):
                for j, (clip, info) in enumerate(chunk):
                    audio[start + j] = clip
                    items.append(info)
                bar.update(len(chunk))
    return items


def progress_bar(total: int, desc: str, progress: bool | None) -> Any:
    """A tqdm bar (``progress=None``: only for long jobs, over 200 items)."""
    from ..config import progress as progress_bar

    show = progress if progress is not None else total > 200
    return progress_bar(total=total, desc=desc, disable=not show)


class ClipDataset(Dataset):
    """A labelled set of equal-length clips held as int16 PCM (in memory or memory-mapped).

    ``ds[i]`` is a dict::

        {"audio": Tensor (C, T) float32 in [-1, 1], "label": int, "class_name": str,
         "index": int, ...per-clip metadata (ints, floats, strings)}

    so a ``torch.utils.data.DataLoader`` batches it into ``{"audio": (B, C, T), "label": (B,),
    ...}`` (use :func:`collate` when items carry variable-length fields, as :func:`midi` does).

    Attributes: ``sr`` (Hz), ``classes`` (label names, ``label`` indexes them), ``labels``
    (int64 numpy array, shape (N,)), ``meta`` (list of per-clip dicts), ``split``, ``name``,
    ``backend`` (``'soundfont'``, ``'parametric'`` or ``'mixed'``), ``renderer`` (what made the
    sound: the SoundFont renderer's package, version and SoundFont, or ``'parametric'``;
    part of the cache key), ``cache_path``.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """

    def __init__(
        self,
        audio: np.ndarray,
        meta: list[dict[str, Any]],
        *,
        sr: int,
        classes: Sequence[str],
        name: str,
        split: str,
        backend: str,
        renderer: str | None = None,
        cache_path: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if audio.ndim != 3 or audio.shape[0] != len(meta):
            raise ValueError(
                f"audio: expected shape (N, C, T) with N = len(meta) = {len(meta)}, "
                f"got {describe(audio)}."
            )
        self._audio = audio
        self.meta = list(meta)
        self.sr = int(sr)
        self.classes = list(classes)
        self.name = name
        self.split = split
        self.backend = backend
        self.renderer = renderer or backend
        self.cache_path = cache_path
        self.extra = dict(extra or {})
        self.labels = np.array([int(m["label"]) for m in self.meta], dtype=np.int64)

    # -- torch Dataset protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.meta)

    def clip(self, i: int) -> torch.Tensor:
        """Clip ``i`` as a float32 tensor ``(C, T)`` in [-1, 1]."""
        x = np.asarray(self._audio[i], dtype=np.float32)
        if self._audio.dtype == np.int16:
            x = x / 32767.0
        return torch.from_numpy(np.ascontiguousarray(x))

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self)
        if isinstance(i, (int, np.integer)) and -n <= int(i) < n:
            i = int(i) % n
        else:
            raise IndexError(f"index: expected an int in [-{n}, {n}), got {describe(i)}.")
        item = {k: v for k, v in self.meta[i].items() if not isinstance(v, (list, dict))}
        item["audio"] = self.clip(i)
        item["label"] = int(self.labels[i])
        item["index"] = i
        return item

    # -- conveniences ---------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        """Number of channels C."""
        return int(self._audio.shape[1])

    @property
    def length(self) -> int:
        """Samples per clip T."""
        return int(self._audio.shape[2])

    def tensors(self, indices: Sequence[int] | None = None) -> torch.Tensor:
        """All clips (or ``indices``) stacked: a float32 tensor ``(N, C, T)`` in [-1, 1]."""
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        x = np.asarray(self._audio[idx], dtype=np.float32)
        if self._audio.dtype == np.int16:
            x = x / 32767.0
        return torch.from_numpy(np.ascontiguousarray(x))

    def by_class(self, name_or_label: str | int) -> np.ndarray:
        """Indices of the clips of one class (by name or label index)."""
        label = (
            self.classes.index(name_or_label)
            if isinstance(name_or_label, str)
            else int(name_or_label)
        )
        return np.nonzero(self.labels == label)[0]

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        per_class = ", ".join(f"{c}: {k}" for c, k in zip(self.classes, counts, strict=False) if k)
        return (
            f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"sr={self.sr}, channels={self.channels}, length={self.length} "
            f"({self.length / self.sr:.3g} s), backend={self.backend!r}, renderer={self.renderer!r}, classes={{{per_class}}})"
        )


def collate(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch items from any dataset here: stacks ``audio`` ``(B, C, T)`` and ``label`` ``(B,)``.

    Equal-shape tensors are stacked, numbers become tensors, everything else (strings,
    variable-length note lists, paths) is kept as a list. Pass it as
    ``DataLoader(ds, batch_size=8, collate_fn=tl.data.collate)``.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """
    if len(batch) == 0:
        raise ValueError("batch: expected at least one item, got an empty list.")
    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [item[key] for item in batch]
        first = values[0]
        if isinstance(first, torch.Tensor) and all(
            isinstance(v, torch.Tensor) and v.shape == first.shape for v in values
        ):
            out[key] = torch.stack(values)
        elif all(isinstance(v, (bool, int, np.integer)) for v in values):
            out[key] = torch.as_tensor([int(v) for v in values], dtype=torch.int64)
        elif all(isinstance(v, (float, np.floating)) for v in values):
            out[key] = torch.as_tensor([float(v) for v in values], dtype=torch.float32)
        else:
            out[key] = values
    return out


def build_cached(
    name: str,
    spec: dict[str, Any],
    generate: Callable[[], tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]],
    *,
    cache: bool,
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any], Any]:
    """Load ``name`` from the cache under the hash of ``spec``, or generate and store it.

    ``generate()`` returns ``(audio float (N, C, T), items, extra)``. Returns
    ``(audio int16 (N, C, T), items, extra, folder or None)``.
    """
    folder = _cache.entry_dir(name, spec)
    if cache:
        hit = _cache.load(folder)
        if hit is not None:
            audio, meta = hit
            return audio, meta["items"], meta.get("extra", {}), folder
    audio, items, extra = generate()
    pcm = _cache.to_pcm16(audio)
    if cache:
        _cache.store(folder, pcm, {"spec": spec, "items": items, "extra": extra})
        hit = _cache.load(folder)
        if hit is not None:
            return hit[0], items, extra, folder
    return pcm, items, extra, None
