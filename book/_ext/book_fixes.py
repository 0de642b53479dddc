"""Small fixes for the rendered book, so that its pages have no console errors.

1. sphinx-thebe registers its inline configuration script twice under Jupyter Book 1.x, and
   the second copy fails with "Identifier 'THEBE_JS_URL' has already been declared".
   Identical scripts are kept once.
2. The theme sets ``data-mode`` to "" for a first-time visitor and then logs
   "Got invalid theme mode". A small script gives it a valid default ("auto") first.

3. The student edition (``make student``) removes every solution. sphinx-exercise's own
   ``hide_solutions`` drops a gated ``solution-start`` but leaves its ``solution-end`` (and the
   cells between), which breaks the HTML writer; so the student edition sets
   ``student_edition: true`` instead, and a transform removes each solution after
   sphinx-exercise has merged the gated cells into one solution node.

4. MathJax is served by the book itself: ``_config.yml`` sets ``mathjax_path`` to a path in
   the site's ``_static/``, and this extension copies the files there from the copy that
   ``make setup`` fetched (``scripts/fetch_mathjax.py``), so pages render their math with no
   network and from any static host. A build without that copy stops at its start, saying
   to run ``make setup``, instead of publishing pages that show raw TeX.

5. The live panels (``tl.export.live_panel``, chapters 2 and 3) run a reference model in the reader's
   browser. At the end of an HTML build this extension writes what they load into the site's
   ``_static/live/`` (``tl.export.LIVE_DIR``): each model of ``LIVE_MODELS`` exported fresh
   from its shipped checkpoint (``tl.export.onnx_model``: ``<model>.onnx`` + ``<model>.json``)
   and ONNX Runtime Web from the copy ``make setup`` fetched with ``npm ci``
   (``scripts/fetch_onnxruntime_web.py``). The panel's own scripts (``live_panel.js``,
   ``live_sampler.js``) are in ``book/_static/``. As for MathJax, a build without the runtime
   stops at its start, saying to run ``make setup``.

tests/browser checks that every page of the built book opens with no console error, its
math rendered and nothing asked of the network;
tests/test_book_build.py checks that the student edition has no solutions.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sphinx.errors import ConfigError
from sphinx.transforms import SphinxTransform

FETCH_MATHJAX = Path(__file__).resolve().parents[2] / "scripts" / "fetch_mathjax.py"
FETCH_ORT = Path(__file__).resolve().parents[2] / "scripts" / "fetch_onnxruntime_web.py"
#: The models the book's live panels run (exported into _static/live/ at every HTML build).
LIVE_MODELS = ("drums-unet", "drums-small-rf")

DEFAULT_MODE_JS = (
    'if (!document.documentElement.dataset.mode) { document.documentElement.dataset.mode = "auto"; }'
    " if (!document.documentElement.dataset.theme) {"
    ' document.documentElement.dataset.theme = "light"; }'
)


def _dedupe_scripts(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for js in scripts:
        filename = str(getattr(js, "filename", js) or "")
        body = str(getattr(js, "attributes", {}).get("body", ""))
        key = (filename, body)
        if key in seen:
            continue
        seen.add(key)
        unique.append(js)
    context["script_files"] = unique


class RemoveSolutions(SphinxTransform):
    """Remove every (merged) solution when building the student edition."""

    default_priority = 20  # after sphinx-exercise's MergeGatedSolutions (priority 10)

    def apply(self, **kwargs: Any) -> None:
        if not self.config.student_edition:
            return
        from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node

        for cls in (solution_node, solution_start_node, solution_end_node):
            for node in list(self.document.findall(cls)):
                node.parent.remove(node)


def _script(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fetch_mathjax() -> Any:
    """scripts/fetch_mathjax.py, the one place that knows where the local MathJax is."""
    return _script("fetch_mathjax", FETCH_MATHJAX)


def _fetch_ort() -> Any:
    """scripts/fetch_onnxruntime_web.py, the one place that knows where ONNX Runtime Web is."""
    return _script("fetch_onnxruntime_web", FETCH_ORT)


def _local_mathjax(app: Any) -> tuple[Any, Path] | None:
    """(fetch_mathjax, the folder under _static/ to fill) for an HTML build; None otherwise."""
    if app.builder.format != "html":
        return None
    path = str(app.config.mathjax_path or "")
    fm = _fetch_mathjax()
    if "://" in path or path.startswith("//") or not path.endswith(fm.COMPONENT):
        raise ConfigError(
            f"mathjax_path is {path!r}: the book serves MathJax itself, so it must be a path "
            f"in the site's _static/ ending in {fm.COMPONENT} (book/_config.yml)"
        )
    return fm, Path(app.outdir) / "_static" / path[: -len(fm.COMPONENT)]


def _check_mathjax(app: Any) -> None:
    """Stop the build at its start (before any notebook runs) when MathJax is missing."""
    local = _local_mathjax(app)
    if local is not None:
        fm, _ = local
        try:
            fm.require()
        except fm.MathJaxMissing as exc:
            raise ConfigError(str(exc)) from None


def _copy_mathjax(app: Any, exception: Exception | None) -> None:
    local = _local_mathjax(app) if exception is None else None
    if local is not None:
        fm, dest = local
        fm.copy_to_site(dest)


def _check_live(app: Any) -> None:
    """Stop the build at its start when ONNX Runtime Web (for the live panels) is missing."""
    if app.builder.format != "html":
        return
    fo = _fetch_ort()
    try:
        fo.require()
    except fo.RuntimeMissing as exc:
        raise ConfigError(str(exc)) from None


def _write_live(app: Any, exception: Exception | None) -> None:
    """The live panels' files: the runtime and every model of LIVE_MODELS, in _static/live/."""
    if exception is not None or app.builder.format != "html":
        return
    from tutorial_lib import export

    dest = Path(app.outdir) / export.LIVE_DIR
    _fetch_ort().copy_to_site(dest)
    for name in LIVE_MODELS:
        export.onnx_model(name, dest / f"{name}.onnx")


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("student_edition", False, "env")
    app.add_transform(RemoveSolutions)
    app.add_js_file(None, body=DEFAULT_MODE_JS, priority=1)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("builder-inited", _check_mathjax)
    app.connect("build-finished", _copy_mathjax)
    app.connect("builder-inited", _check_live)
    app.connect("build-finished", _write_live)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
