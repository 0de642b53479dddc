"""The drum data of both drum families (chapters 2 and 3): one helper for the clips and batches.

Not a family (its name starts with ``_``): :func:`clips` is what each drum family's
``dataset`` returns, and :func:`batches` is how both draw their training batches (through
:func:`tutorial_lib.training.random_batches`).

Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._validate import check_int, check_number


def clips(
    n: int,
    split: str,
    *,
    sr: int,
    length: int,
    classes: Sequence[str] | None = None,
    progress: bool | None = None,
) -> Any:
    """``n`` drum clips of ``split`` at a family's sizes: ``tl.data.drums(...)`` (cached).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    from .. import data

    n = check_int(n, "n", min_value=1)
    classes = None if classes is None else list(classes)
    return data.drums(n, split=split, sr=sr, length=length, classes=classes, progress=progress)


def batches(
    ds: Any, batch_size: int, *, scale: float = 1.0, conditional: bool = False
) -> Callable[[int], Any]:
    """The training batches of a drum family: random clips of ``ds``, divided by ``scale``.

    ``conditional=True`` adds the class labels (a dict ``{"audio", "label"}`` per batch).

    Introduced in: book/02_ddpm_vs_flow/02_01_ddpm_vs_flow.ipynb
    """
    import torch

    from .. import training

    scale = check_number(scale, "scale", low=0.0, low_open=True)
    audio = ds.tensors()
    if scale != 1.0:
        audio = audio / scale
    labels = torch.from_numpy(ds.labels) if conditional else None
    return training.random_batches(audio, batch_size, labels=labels)
