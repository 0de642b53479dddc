"""The book's plot style: one dict of matplotlib settings and the function that applies it.

A base module (it imports nothing from the library), so that ``tl.setup()`` in ``config`` can
apply the style without importing the plotting layer. Its public names are
``tl.plotting.STYLE`` and ``tl.plotting.set_style``.

Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
"""

from __future__ import annotations

from typing import Any

__all__ = ["STYLE", "set_style"]

#: The book's matplotlib settings (applied by :func:`set_style`).
STYLE: dict[str, Any] = {
    "figure.figsize": (7.0, 3.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "image.cmap": "magma",
}


def set_style() -> dict[str, Any]:
    """Apply the book's plot style to matplotlib's rcParams; return the settings applied.

    Readable font sizes, a light grid, constrained layout, no top/right spines, the
    ``magma`` colormap. Call it once (``tl.setup()`` does); nothing changes at import time.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    import matplotlib as mpl

    mpl.rcParams.update(STYLE)
    return dict(STYLE)
