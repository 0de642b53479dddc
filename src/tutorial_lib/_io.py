"""Writing files atomically: the one helper every file the library writes goes through.

A base module (it imports only ``_validate``), so that every layer can use it: ``audio``
writes WAVs with it, ``data`` its caches, ``checkpoints`` its weights. Its public name is
``tl.checkpoints.atomic_write``.

Introduced in: book/00_intro/how_this_book_works.md
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ._validate import check_choice, describe

__all__ = ["as_path", "atomic_write"]


def as_path(path: Any, name: str) -> Path:
    if isinstance(path, (str, os.PathLike)) and str(path) != "":
        return Path(path).expanduser()
    raise TypeError(
        f"{name}: expected a file path (str or pathlib.Path), got {describe(path)}. "
        f"Fix: pass e.g. {name}='model.safetensors'."
    )


_UMASK: int | None = None


def _umask() -> int:
    global _UMASK
    if _UMASK is None:
        current = os.umask(0o022)
        os.umask(current)
        _UMASK = current
    return _UMASK


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "wb", *, encoding: str = "utf-8"
) -> Iterator[IO]:
    """Open ``path`` for writing so that it appears complete or not at all.

    Writes go to a hidden temporary file in the same folder (``.NAME.XXXX.tmp``); when the
    ``with`` block ends without an error the data is flushed to disk and the temporary file is
    renamed over ``path`` with :func:`os.replace` (atomic on POSIX and Windows). If the block
    raises (or the process is stopped), the temporary file is deleted and an existing ``path``
    is left untouched. Missing parent folders are created.

    Args:
        path: the file to write.
        mode: ``"wb"`` (bytes, the default) or ``"w"`` (text).
        encoding: text encoding for ``mode="w"``.

    Yields:
        The open file object.

    Example::

        with tl.checkpoints.atomic_write("notes.json", "w") as f:
            json.dump(notes, f)

    Introduced in: book/00_intro/how_this_book_works.md
    """
    path = as_path(path, "path")
    check_choice(mode, "mode", ("wb", "w"))
    if path.is_dir():
        raise IsADirectoryError(
            f"path: {str(path)!r} is a folder, expected a file path. "
            f"Fix: add a file name, e.g. {str(path / 'file.safetensors')!r}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:  # keep an existing file's permissions; new files get the usual 0o666 & ~umask
            perms = path.stat().st_mode & 0o777
        except FileNotFoundError:
            perms = 0o666 & ~_umask()
        os.chmod(tmp, perms)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
