"""Interactive figures with a static twin.

:func:`explore` shows a slider over a list of values (a noise level, a step ``t``, ...) and
calls your function for the chosen value. In Jupyter and Colab that is a live ipywidgets
slider. The HTML book cannot run Python callbacks, so when ``TUTORIAL_STATIC_WIDGETS=1`` (the
book build sets it) :func:`explore` instead runs the function for a handful of values ahead
of time and shows the results as a grid of labelled panels: **the static twin is what readers
of the HTML book see.**

Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._validate import check_int, describe
from .config import STATIC_ENV_VAR  # the variable that switches explore() to its static twin

__all__ = ["STATIC_ENV_VAR", "MAX_STATIC_VALUES", "static_mode", "build_explorer", "explore"]

#: At most this many values are precomputed for the static twin (evenly subsampled).
MAX_STATIC_VALUES = 8


def static_mode() -> bool:
    """True when ``$TUTORIAL_STATIC_WIDGETS`` is ``1`` / ``true`` / ``yes`` (the book build).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    from .config import static_widgets

    return static_widgets()


def _format_value(value: Any, format: str | Callable[[Any], str] | None) -> str:
    if callable(format):
        return str(format(value))
    if isinstance(format, str):
        return format.format(value)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def _check_values(values: Any) -> list[Any]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"values: expected a sequence of values for the slider (a list, range or 1-D "
            f"array), got {describe(values)}. Fix: e.g. values=[0, 250, 500, 999]."
        )
    if getattr(values, "ndim", 1) != 1:
        raise ValueError(f"values: expected a 1-D sequence, got shape {tuple(values.shape)}.")
    out = [v.item() if hasattr(v, "item") and getattr(v, "ndim", 0) == 0 else v for v in values]
    if not out:
        raise ValueError("values: is empty. Fix: pass at least one value, e.g. [0, 250, 500].")
    return out


def _labels(values: list[Any], format: Any) -> list[str]:
    if format is not None and not (callable(format) or isinstance(format, str)):
        raise TypeError(
            f"format: expected None, a format string like '{{:.2f}}' or a function, "
            f"got {describe(format)}."
        )
    labels = [_format_value(v, format) for v in values]
    if len(set(labels)) < len(labels):  # the slider needs distinct labels
        labels = [f"{lab} (#{i})" for i, lab in enumerate(labels)]
    return labels


def _subsample(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, k)})


def _fig_to_img(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{data}" style="max-width:100%;height:auto" alt="figure">'
    )


def _mime_to_html(bundle: dict[str, Any]) -> str:
    if "text/html" in bundle:
        return str(bundle["text/html"])
    if "image/png" in bundle:
        data = bundle["image/png"]
        if isinstance(data, bytes):
            data = base64.b64encode(data).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" style="max-width:100%;height:auto" alt="figure">'
    if "image/svg+xml" in bundle:
        return str(bundle["image/svg+xml"])
    if "text/plain" in bundle:
        return f"<pre>{html.escape(str(bundle['text/plain']))}</pre>"
    return ""


def _object_to_html(obj: Any) -> str:
    """HTML for whatever ``fn`` returned: a Figure, an Axes, a player, HTML, or text."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if obj is None:
        return ""
    if isinstance(obj, Axes):
        obj = obj.figure
    if isinstance(obj, Figure):
        return _fig_to_img(obj)
    if isinstance(obj, (list, tuple)):
        return "".join(_object_to_html(o) for o in obj)
    repr_html = getattr(obj, "_repr_html_", None)
    if callable(repr_html):
        out = repr_html()
        if out:
            return str(out)
    repr_png = getattr(obj, "_repr_png_", None)
    if callable(repr_png):
        png = repr_png()
        if png:
            return _mime_to_html({"image/png": png})
    return f"<pre>{html.escape(repr(obj))}</pre>"


def _returned_figures(result: Any) -> list[Any]:
    """The matplotlib Figures in what ``fn`` returned (a Figure, an Axes, or a list of them)."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    items = list(result) if isinstance(result, (list, tuple)) else [result]
    figs = [it.figure if isinstance(it, Axes) else it for it in items]
    return [f for f in figs if isinstance(f, Figure)]


def _run_captured(fn: Callable[[Any], Any], value: Any) -> str:
    """Call ``fn(value)`` and return everything it showed or returned as HTML.

    Captures: IPython ``display(...)`` calls (inside a kernel), printed text, matplotlib
    figures it opened (rendered to PNG, then closed) and its return value.
    """
    import contextlib

    import matplotlib.pyplot as plt
    from IPython.utils.capture import capture_output

    before = set(plt.get_fignums())
    stdout = io.StringIO()
    with capture_output(stdout=False, stderr=False, display=True) as cap:
        with contextlib.redirect_stdout(stdout):
            result = fn(value)
    parts = [_mime_to_html(out.data) for out in cap.outputs]
    text = stdout.getvalue()
    if text.strip():
        parts.append(f"<pre>{html.escape(text)}</pre>")
    returned = _returned_figures(result)
    for num in sorted(set(plt.get_fignums()) - before):
        fig = plt.figure(num)
        if not any(fig is f for f in returned):
            parts.append(_fig_to_img(fig))
        plt.close(fig)
    parts.append(_object_to_html(result))
    for fig in returned:
        plt.close(fig)
    return "".join(p for p in parts if p)


def _static_html(
    fn: Callable[[Any], Any],
    values: list[Any],
    labels: list[str],
    label: str,
    columns: int,
    max_values: int,
) -> Any:
    from IPython.display import HTML

    idx = _subsample(len(values), max_values)
    note = "Static preview of an interactive figure: run the notebook to use the slider."
    if len(idx) < len(values):
        note = (
            f"Static preview of an interactive figure: {len(idx)} of {len(values)} values of "
            f"{html.escape(label)}, evenly spaced. Run the notebook to use the slider over all."
        )
    panels = []
    for i in idx:
        body = _run_captured(fn, values[i])
        panels.append(
            f'<div class="tl-explore-panel" style="flex:1 1 calc({100 / columns:.4g}% - 12px);'
            f'min-width:240px;border:1px solid #ddd;border-radius:4px;padding:6px">'
            f'<div class="tl-explore-label" style="font-weight:600;margin-bottom:4px">'
            f"{html.escape(label)} = {html.escape(labels[i])}</div>{body}</div>"
        )
    return HTML(
        f'<div class="tl-explore-static"><p style="font-style:italic;margin:0 0 6px 0">{note}</p>'
        f'<div style="display:flex;flex-wrap:wrap;gap:12px">{"".join(panels)}</div></div>'
    )


def _show(fn: Callable[[Any], Any], value: Any) -> None:
    """Call ``fn(value)`` inside an Output context: show what it returned and the figures it made."""
    import matplotlib.pyplot as plt
    from IPython.display import display
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    before = set(plt.get_fignums())
    result = fn(value)
    returned = _returned_figures(result)
    for num in sorted(set(plt.get_fignums()) - before):
        fig = plt.figure(num)
        if not any(fig is f for f in returned):
            display(fig)
            plt.close(fig)
    items = list(result) if isinstance(result, (list, tuple)) else [result]
    for item in items:
        if isinstance(item, Axes):
            item = item.figure
        if item is not None:
            display(item)
        if isinstance(item, Figure):
            plt.close(item)


def build_explorer(
    fn: Callable[[Any], Any],
    values: Sequence[Any],
    *,
    label: str = "t",
    format: str | Callable[[Any], str] | None = None,
    static: bool | None = None,
    columns: int = 2,
    max_static: int = MAX_STATIC_VALUES,
) -> Any:
    """Build (without displaying) what :func:`explore` shows; see there for the arguments.

    Returns an ``ipywidgets.VBox`` ``[slider, output]`` (interactive) or an
    ``IPython.display.HTML`` grid (``static=True``; ``None`` reads ``$TUTORIAL_STATIC_WIDGETS``).

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    if not callable(fn):
        raise TypeError(
            f"fn: expected a function of one value (it shows or returns a figure or player), "
            f"got {describe(fn)}. Fix: e.g. explore(lambda t: tl.audio.play(xt[t], sr), ts)."
        )
    if not isinstance(label, str):
        raise TypeError(f"label: expected a str (the slider's name), got {describe(label)}.")
    vals = _check_values(values)
    labels = _labels(vals, format)
    columns = check_int(columns, "columns", min_value=1)
    max_static = check_int(max_static, "max_static", min_value=1)
    if static is None:
        static = static_mode()
    if static:
        return _static_html(fn, vals, labels, label, columns, max_static)

    import ipywidgets as w

    slider = w.SelectionSlider(
        options=list(zip(labels, range(len(vals)), strict=True)),
        value=0,
        description=label,
        continuous_update=False,
        style={"description_width": "initial"},
        layout=w.Layout(width="min(100%, 600px)"),
    )
    out = w.Output()

    def render(change: Any = None) -> None:
        with out:
            out.clear_output(wait=True)
            _show(fn, vals[slider.value])

    slider.observe(render, names="value")
    render()
    box = w.VBox([slider, out])
    box.render = render  # type: ignore[attr-defined]  # handy for tests and re-draws
    return box


def explore(
    fn: Callable[[Any], Any],
    values: Sequence[Any],
    *,
    label: str = "t",
    format: str | Callable[[Any], str] | None = None,
    columns: int = 2,
    max_static: int = MAX_STATIC_VALUES,
) -> None:
    """Show a slider over ``values`` that calls ``fn(value)``; a static grid in the HTML book.

    Args:
        fn: called with one value; it either displays figures/players itself
            (``display(tl.audio.play(...))``, or draws matplotlib figures) or returns what to
            show (a Figure, an Axes, a player, HTML, or a list of those). Figures it opens are
            shown and then closed.
        values: the slider's positions, e.g. ``[0, 100, 250, 500, 999]`` (any objects).
        label: the slider's name, e.g. ``"t"``.
        format: how to write a value: ``None`` (``str``, ``:g`` for floats), a format string
            such as ``"{:.2f}"``, or a function.
        columns: panels per row in the static twin.
        max_static: how many values the static twin precomputes (default 8, evenly spaced,
            first and last included; a note says so).

    In Jupyter/Colab this displays an ipywidgets ``SelectionSlider`` and an output area.
    When ``$TUTORIAL_STATIC_WIDGETS=1`` (set by the book build; callbacks do not run in a
    static HTML page) it displays the **static twin** instead: for each value a labelled
    panel with ``fn``'s output (figures as PNG, players as embedded audio). The static twin
    is what readers of the HTML book see, so make ``fn`` cheap and keep ``values`` short.

    Introduced in: book/01_forward_noising/01_01_forward_noising.ipynb
    """
    from IPython.display import display

    display(
        build_explorer(
            fn, values, label=label, format=format, columns=columns, max_static=max_static
        )
    )
