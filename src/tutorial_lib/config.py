"""Run modes, seeding and device choice: the first thing every notebook calls.

The book runs at three sizes, chosen by one environment variable, never by editing a notebook:

============  ==========================================================================
``fast``      CI: every notebook in at most 90 s on a 2-core CPU (tiny loops, few samples).
``book``      The rendered book (the default): at most 5 min a notebook on a 2-core CPU, real
              (short) training and real sound.
``full``      GPU-scale training, the size that produces the reference checkpoints.
============  ==========================================================================

Set it before starting Jupyter (``TUTORIAL_MODE=fast jupyter lab``) or in Python with
:func:`set_mode`. Every loop length in the book goes through :func:`steps`.

Introduced in: book/00_intro/how_this_book_works.md
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import warnings
from collections.abc import Iterator
from typing import Any, TypeVar

from ._validate import check_choice, check_int

__all__ = [
    "BUDGETS",
    "MODES",
    "mode",
    "set_mode",
    "use_mode",
    "steps",
    "seed_everything",
    "pick_device",
    "resolve_device",
    "device_of",
    "on_device",
    "progress",
    "setup",
    "static_widgets",
]

MODES = ("fast", "book", "full")
#: Per-notebook budgets on a 2-core CPU: wall time (s) and peak resident memory of the
#: kernel (MiB). ``scripts/notebook_budget.py`` measures every notebook that ``make test``
#: (fast) and ``make book`` (book) execute and fails the run when one goes over. ``full``
#: mode is for a GPU and has no budget. 4 GiB a notebook lets the book build on an 8 GB laptop.
BUDGETS: dict[str, dict[str, float]] = {
    "fast": {"seconds": 90.0, "memory_mib": 2048.0},
    "book": {"seconds": 300.0, "memory_mib": 4096.0},
}
ENV_VAR = "TUTORIAL_MODE"
STATIC_ENV_VAR = "TUTORIAL_STATIC_WIDGETS"  # set by the HTML book build (make book)
DEFAULT_MODE = "book"
T = TypeVar("T")

_override: str | None = None


def _check_mode(value: str, name: str) -> str:
    if isinstance(value, str):
        value = value.strip().lower()
    return check_choice(value, name, MODES)


def mode() -> str:
    """The current run mode: ``'fast'``, ``'book'`` or ``'full'``.

    Read from :func:`set_mode` if it was called, else from ``$TUTORIAL_MODE``, else ``'book'``.
    An unknown value is an error (a typo must not silently run the 5-minute version in CI).
    """
    if _override is not None:
        return _override
    raw = os.environ.get(ENV_VAR, "")
    if raw.strip() == "":
        return DEFAULT_MODE
    return _check_mode(raw, f"${ENV_VAR}")


def set_mode(value: str | None) -> None:
    """Set the run mode for this process (``None`` goes back to ``$TUTORIAL_MODE``)."""
    global _override
    _override = None if value is None else _check_mode(value, "value")


@contextlib.contextmanager
def use_mode(value: str) -> Iterator[str]:
    """Context manager: run a block in another mode, e.g. ``with tl.use_mode("fast"): ...``."""
    global _override
    previous = _override
    set_mode(value)
    try:
        yield _override  # type: ignore[misc]
    finally:
        _override = previous


def steps(*, fast: T, book: T, full: T | None = None) -> T:
    """Pick a size by run mode: ``n = tl.steps(fast=20, book=600, full=50_000)``.

    Works for any value (step counts, batch sizes, configs). ``full`` defaults to ``book``.
    """
    current = mode()
    if current == "fast":
        return fast
    if current == "full" and full is not None:
        return full
    return book


def static_widgets() -> bool:
    """True in the HTML book build (``$TUTORIAL_STATIC_WIDGETS`` is 1/true/yes/on).

    A static page runs no Python, so sliders show their static twin there and progress bars
    are left out (a bar that cannot move is noise on the page).
    """
    return os.environ.get(STATIC_ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")


def progress(
    iterable: Any = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    disable: bool = False,
    **kwargs: Any,
) -> Any:
    """The library's one progress bar (tqdm): a widget in Jupyter/Colab, text in a terminal.

    Hidden in the HTML book build (:func:`static_widgets`). Extra keyword arguments go to
    ``tqdm`` (``unit``, ``initial``, ``leave``: default False, ...).
    """
    from tqdm.auto import tqdm

    kwargs.setdefault("leave", False)
    return tqdm(iterable, total=total, desc=desc, disable=disable or static_widgets(), **kwargs)


def seed_everything(seed: int = 0) -> int:
    """Seed Python's ``random``, NumPy and torch (CPU and all GPUs); return the seed."""
    seed = check_int(seed, "seed", min_value=0, max_value=2**32 - 1)
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seeding the legacy global RNG is the point)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def pick_device(prefer: str | None = None, *, verbose: bool = True) -> Any:
    """Choose the torch device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` forces one (``'cpu'``, ``'cuda'``, ``'mps'``); asking for one that is not
    available is an error. Falling back to the CPU prints a loud warning in ``full`` mode
    and a note otherwise (the book's ``fast`` and ``book`` modes are sized for a CPU).
    """
    import torch

    if prefer is not None:
        check_choice(prefer, "prefer", ("cpu", "cuda", "mps"))
        ok = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": getattr(torch.backends, "mps", None) is not None
            and torch.backends.mps.is_available(),
        }[prefer]
        if not ok:
            raise ValueError(
                f"prefer: device {prefer!r} is not available on this machine. "
                f"Fix: leave prefer=None to pick the best available device."
            )
        return torch.device(prefer)
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        if verbose:
            print(f"Device: cuda ({torch.cuda.get_device_name(0)})")
        return dev
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        if verbose:
            print("Device: mps (Apple GPU)")
        return torch.device("mps")
    msg = "Device: cpu. No GPU found (neither CUDA nor Apple MPS)."
    if mode() == "full":
        warnings.warn(
            msg + " 'full' mode trains the reference checkpoints and expects a GPU: "
            "this will be very slow. Use TUTORIAL_MODE=book on a CPU.",
            RuntimeWarning,
            stacklevel=2,
        )
    elif verbose:
        print(msg + " Fine for 'fast' and 'book' modes, which are sized for a laptop CPU.")
    return torch.device("cpu")


DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: Any = None, *, run_mode: str | None = None) -> Any:
    """The ``torch.device`` a recipe, sampler or command runs on: one rule for the library.

    ``device`` is ``None`` or ``"auto"`` (the default: :func:`pick_device` in ``full`` mode,
    the CPU in ``fast`` and ``book`` mode, which are sized and measured for a CPU and whose
    results must not depend on the machine), a name (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"``) or a ``torch.device``. ``run_mode`` defaults to :func:`mode`. Asking for a
    device that is not there is an error that says so.

    Introduced in: book/appendix_scale/A_02_training_at_scale.ipynb
    """
    import torch

    if isinstance(device, torch.device):
        dev = device
    elif device is None or device == "auto":
        current = mode() if run_mode is None else _check_mode(run_mode, "run_mode")
        return pick_device(verbose=False) if current == "full" else torch.device("cpu")
    elif isinstance(device, str):
        kind = device.split(":", 1)[0]
        if kind not in DEVICES[1:] and kind != "meta":
            raise ValueError(
                f"device: expected one of {list(DEVICES)} (or 'cuda:N'), got {device!r}. "
                f"Fix: device='auto' picks the GPU when there is one."
            )
        dev = torch.device(device)
    else:
        raise TypeError(
            f"device: expected None, 'auto', 'cpu', 'cuda', 'mps' or a torch.device, got "
            f"{type(device).__name__}."
        )
    if dev.type in ("cuda", "mps"):
        try:
            pick_device(dev.type, verbose=False)
        except ValueError:
            raise ValueError(
                f"device: {str(dev)!r} is not available on this machine. Fix: device='auto' "
                f"(the GPU when there is one) or device='cpu'."
            ) from None
    return dev


def device_of(module: Any) -> Any:
    """The device of a network's first parameter (or buffer); the CPU for one without any.

    Introduced in: book/appendix_scale/A_02_training_at_scale.ipynb
    """
    import torch

    if not hasattr(module, "parameters"):
        return torch.device("cpu")
    first = next(itertools.chain(module.parameters(), module.buffers()), None)
    return torch.device("cpu") if first is None else first.device


def _index(device: Any) -> Any:
    """``device`` with the current CUDA index filled in (``"cuda"`` -> ``cuda:0``)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def on_device(model: Any, device: Any) -> Any:
    """``model`` itself when it is on ``device`` already, else a copy of it there (eval mode).

    The caller's module stays where it is (a few MB copied per call, so a copy is never
    stale); the families and the samplers that take ``device=`` use it.

    Introduced in: book/appendix_scale/A_02_training_at_scale.ipynb
    """
    import copy

    if _index(device_of(model)) == _index(device):
        return model
    return copy.deepcopy(model).to(device).eval()


def set_threads(threads: int) -> int:
    """Use ``threads`` CPU threads for torch and for NumPy's linear algebra; return it.

    Small networks gain little from a second thread, and one thread stays fast when other
    programs share the CPU (several busy threads on two cores can run many times slower).
    Has no effect on GPU work.
    """
    threads = check_int(threads, "threads", min_value=1, max_value=1024)
    import torch

    torch.set_num_threads(threads)
    try:  # NumPy/SciPy's BLAS (tl.metrics' matrix square roots); threadpoolctl comes with librosa
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - optional
        pass
    return threads


def setup(
    seed: int = 0, *, device: str | None = None, threads: int | None = None, verbose: bool = True
) -> Any:
    """Start a notebook: seed everything, pick the device, set the plot style, print the mode.

    Returns the ``torch.device`` to use. Call it once, in the setup cell::

        import tutorial_lib as tl
        device = tl.setup(seed=0)

    ``threads`` (optional) caps the CPU threads (:func:`set_threads`).
    """
    seed = seed_everything(seed)
    current = mode()  # validates $TUTORIAL_MODE before any work
    if threads is not None:
        set_threads(threads)
    from ._style import set_style  # the style without the plotting layer

    set_style()
    dev = pick_device(device, verbose=verbose)
    if verbose:
        print(f"Mode: {current} (set TUTORIAL_MODE=fast|book|full to change), seed: {seed}")
    return dev
