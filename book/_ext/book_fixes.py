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

tests/browser checks that every page of the built book opens with no console error;
tests/test_book_build.py checks that the student edition has no solutions.
"""

from __future__ import annotations

from typing import Any

from sphinx.transforms import SphinxTransform

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


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("student_edition", False, "env")
    app.add_transform(RemoveSolutions)
    app.add_js_file(None, body=DEFAULT_MODE_JS, priority=1)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
