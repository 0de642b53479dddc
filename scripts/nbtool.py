"""Notebook housekeeping for contributors.

    python scripts/nbtool.py strip [NOTEBOOK ...]      # remove outputs, counts, widget state
    python scripts/nbtool.py bootstrap [NOTEBOOK ...]  # (re)write the Colab bootstrap cell
    python scripts/nbtool.py new book/07_x/07_01_name.ipynb "Title" sec-label
    python scripts/nbtool.py check                      # every structure rule (as the tests do)

With no NOTEBOOK, strip and bootstrap act on every notebook of the book.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("book_rules", ROOT / "tests" / "book_rules.py")
rules = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rules)


def _targets(paths: list[str]) -> list[Path]:
    return [Path(p) for p in paths] if paths else rules.notebooks()


def _write(nb: nbformat.NotebookNode, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(path)


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def set_bootstrap(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(
        rules.bootstrap_source(rules.repository_url()), metadata={"tags": ["remove-cell"]}
    )
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "code" and "google.colab" in first.source:
        nb.cells[0] = cell
    else:
        nb.cells.insert(0, cell)
    return nb


def new(path: Path, title: str, label: str) -> None:
    if path.exists():
        sys.exit(f"nbtool new: {path} exists already")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"({label})=\n# {title}\n\n**What you will learn.** ...\n\n**Prerequisites.** ..."
        ),
        nbformat.v4.new_code_cell(
            "import tutorial_lib as tl\n\ntl.setup(seed=0)\ndevice = tl.pick_device(verbose=False)"
        ),
        nbformat.v4.new_markdown_cell("## 1. First section\n\n..."),
        nbformat.v4.new_markdown_cell("## Summary\n\n..."),
        nbformat.v4.new_markdown_cell("## Exercises\n\n..."),
        nbformat.v4.new_markdown_cell("## Further reading\n\n..."),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(strip(set_bootstrap(nb)), path)
    print(f"created {path}; add it to book/_toc.yml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("strip", "bootstrap"):
        p = sub.add_parser(name)
        p.add_argument("notebooks", nargs="*")
    p = sub.add_parser("new")
    p.add_argument("path", type=Path)
    p.add_argument("title")
    p.add_argument("label", help="MyST label, e.g. sec-waveform-unet")
    sub.add_parser("check")
    args = parser.parse_args(argv)
    if args.cmd == "new":
        new(args.path, args.title, args.label)
        return 0
    if args.cmd == "check":
        problems = rules.check_book() + rules.check_dependencies() + rules.check_sources()
        print("\n".join(problems) or "all structure rules pass")
        return 1 if problems else 0
    for path in _targets(args.notebooks):
        nb = nbformat.read(path, as_version=4)
        nb = strip(nb) if args.cmd == "strip" else set_bootstrap(nb)
        _write(nb, path)
        print(f"{args.cmd}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
