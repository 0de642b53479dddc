"""Your own sounds: any folder of WAV, FLAC, MP3 or OGG files as a torch ``Dataset``.

Introduced in: book/appendix/A_01_metrics.ipynb
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validate import check_choice, check_int, check_sample_rate, describe
from ._base import check_channels, check_split, progress_bar, split_of

__all__ = ["AUDIO_EXTENSIONS", "AudioFolder", "UnreadableAudioWarning"]

#: File name endings read by :class:`AudioFolder` (case-insensitive).
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")


class UnreadableAudioWarning(UserWarning):
    """Some files of an :class:`AudioFolder` could not be read and were skipped.

    Introduced in: book/appendix/A_01_metrics.ipynb
    """


class AudioFolder(Dataset):
    """A folder of audio files (searched recursively), resampled and cut or padded.

    Every file is read once when the dataset is made (so a damaged file shows up now, not in
    the middle of training); files that cannot be read are skipped, listed in ``.skipped``
    as ``(path, reason)`` and reported in one :class:`UnreadableAudioWarning` with their count.

    Args:
        root: the folder.
        sr: sample rate in Hz every file is resampled to.
        length: samples per clip T; longer files are cut, shorter ones padded with zeros
            (``align`` says where). ``None`` keeps each file's own length (then batch with
            ``batch_size=1`` or cut yourself).
        channels: 1 (mono: channels averaged) or 2 (stereo: mono files duplicated).
        split: ``None`` (every file) or ``'train'`` / ``'validation'`` / ``'test'``: a fixed
            80/10/10 partition by a hash of each file's path relative to ``root``.
        labels: ``'folder'``: ``label`` is the index of the file's first sub-folder name in
            ``classes`` (like torchvision's ImageFolder; files directly in ``root`` get class
            ``'.'``); ``None``: every label is 0.
        align: ``'left'`` (keep the start), ``'center'`` or ``'right'``.
        extensions: file endings to read.
        progress: show a progress bar (``None``: for more than 200 files).

    ``ds[i]`` is ``{"audio": Tensor (C, T) float32, "label": int, "class_name": str,
    "path": str, "index": int}``. Attributes: ``sr``, ``classes``, ``labels`` (numpy (N,)),
    ``paths``, ``skipped``.

    Example::

        mine = tl.data.AudioFolder("my_drums/", sr=16000, length=16384)
        len(mine), mine.skipped

    Introduced in: book/appendix/A_01_metrics.ipynb
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        sr: int = 16000,
        length: int | None = None,
        channels: int = 1,
        split: str | None = None,
        labels: str | None = "folder",
        align: str = "left",
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
        progress: bool | None = None,
    ) -> None:
        from .. import audio as tl_audio

        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root: expected a folder path, got {describe(root)}.")
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"root: {str(self.root)!r} is not a folder. Fix: pass the folder that holds "
                f"your audio files (searched recursively)."
            )
        self.sr = check_sample_rate(sr, "sr")
        self.length = None if length is None else check_int(length, "length", min_value=1)
        self.channels = check_channels(channels)
        self.split = None if split is None else check_split(split)
        check_choice(labels, "labels", ("folder", None))
        check_choice(align, "align", ("left", "center", "right"))
        exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
        files = sorted(
            p
            for p in self.root.rglob("*")
            if p.is_file() and p.suffix.lower() in exts and not p.name.startswith(".")
        )
        if self.split is not None:
            files = [
                p
                for p in files
                if split_of(f"folder:{p.relative_to(self.root).as_posix()}") == self.split
            ]
        if not files:
            raise FileNotFoundError(
                f"root: no audio files ({', '.join(exts)}) in {str(self.root)!r}"
                f"{'' if self.split is None else f' for split {self.split!r}'}. "
                f"Fix: check the folder, or pass extensions=... for other file types."
            )

        def class_of(p: Path) -> str:
            parts = p.relative_to(self.root).parts
            return parts[0] if labels == "folder" and len(parts) > 1 else "."

        self.classes = sorted({class_of(p) for p in files})
        self.paths: list[Path] = []
        self.skipped: list[tuple[str, str]] = []
        self._clips: list[torch.Tensor] = []
        label_list = []
        with progress_bar(len(files), "reading audio", progress) as bar:
            for p in files:
                try:
                    x, _ = tl_audio.load(p, sr=self.sr)
                    if x.shape[-1] == 0:
                        raise ValueError("the file holds no samples")
                    if not torch.isfinite(x).all():
                        raise ValueError("the file holds NaN or Inf samples")
                except Exception as error:  # unreadable, corrupt, empty: report and skip
                    reason = str(error).split(". Fix:")[0]
                    self.skipped.append((str(p), f"{type(error).__name__}: {reason}"))
                    bar.update()
                    continue
                x = tl_audio.to_mono(x) if self.channels == 1 else (
                    tl_audio.to_stereo(x) if x.shape[0] == 1 else x[:2]
                )  # fmt: skip
                if self.length is not None:
                    x = tl_audio.fix_length(x, self.length, align=align)
                self._clips.append(x.contiguous())
                self.paths.append(p)
                label_list.append(self.classes.index(class_of(p)))
                bar.update()
        self.labels = np.array(label_list, dtype=np.int64)
        if self.skipped:
            shown = "\n".join(f"  {path}: {why}" for path, why in self.skipped[:20])
            more = f"\n  ... and {len(self.skipped) - 20} more" if len(self.skipped) > 20 else ""
            warnings.warn(
                f"AudioFolder: skipped {len(self.skipped)} of {len(files)} files that could not "
                f"be read:\n{shown}{more}",
                UnreadableAudioWarning,
                stacklevel=2,
            )
        if not self._clips:
            raise ValueError(
                f"root: none of the {len(files)} audio files in {str(self.root)!r} could be "
                f"read (first error: {self.skipped[0][1]}). Fix: check the files, or convert "
                f"them to WAV."
            )

    def __len__(self) -> int:
        return len(self._clips)

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self)
        if not (isinstance(i, (int, np.integer)) and -n <= int(i) < n):
            raise IndexError(f"index: expected an int in [-{n}, {n}), got {describe(i)}.")
        i = int(i) % n
        label = int(self.labels[i])
        return {
            "audio": self._clips[i],
            "label": label,
            "class_name": self.classes[label],
            "path": str(self.paths[i]),
            "index": i,
        }

    def clip(self, i: int) -> torch.Tensor:
        """Clip ``i``: float32 tensor ``(C, T)``."""
        return self._clips[int(i)]

    def tensors(self) -> torch.Tensor:
        """All clips stacked ``(N, C, T)`` (needs ``length`` set, or equal-length files)."""
        shapes = {tuple(c.shape) for c in self._clips}
        if len(shapes) > 1:
            raise ValueError(
                f"length: the clips have different lengths ({len(shapes)} shapes), so they "
                f"cannot be stacked. Fix: make the folder with length=..., e.g. length=16384."
            )
        return torch.stack(self._clips)

    def __repr__(self) -> str:
        return (
            f"AudioFolder(root={str(self.root)!r}, n={len(self)}, sr={self.sr}, "
            f"channels={self.channels}, length={self.length}, split={self.split!r}, "
            f"classes={self.classes}, skipped={len(self.skipped)})"
        )
