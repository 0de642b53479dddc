"""The README quotes measured figures: they must be the ones the benchmark scripts stored."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_quotes_the_cli_memory_benchmark():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = json.loads((ROOT / "benchmarks" / "memory.json").read_text())["rows"]
    assert rows, "benchmarks/memory.json has no rows: run benchmarks/bench_memory.py"
    for row in rows:
        line = next((ln for ln in readme.splitlines() if f"`{row['command']}`" in ln), None)
        assert line is not None, f"README: no row for `{row['command']}`"
        assert f"{row['peak_memory_mib']:,} MiB" in line, (line, row)
    by_cmd = {r["command"]: r["peak_memory_mib"] for r in rows}
    one, many = (
        by_cmd["tutorial-lib sample drums-unet-kick --n 1"],
        by_cmd["tutorial-lib sample drums-unet-kick --n 256"],
    )
    assert many < 2 * one, "sample --n 256 should stream: its memory must not grow with --n"


def test_measured_notebook_budgets_are_within_budget():
    from tutorial_lib.config import BUDGETS

    for mode, name in (("fast", "notebooks-fast.json"), ("book", "notebooks-book.json")):
        rep = json.loads((ROOT / "benchmarks" / name).read_text())
        assert rep["mode"] == mode and rep["notebooks"], name
        for row in rep["notebooks"]:
            assert row["seconds"] <= BUDGETS[mode]["seconds"], (name, row)
            assert row["peak_memory_mib"] <= BUDGETS[mode]["memory_mib"], (name, row)


def test_readme_quotes_the_measured_book_build():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    rep = json.loads((ROOT / "benchmarks" / "notebooks-book.json").read_text())
    assert f"(measured: {rep['total_seconds']:.0f} s)" in readme
    largest = max(rep["notebooks"], key=lambda r: r["peak_memory_mib"])
    assert "chapter 3" in readme and largest["notebook"].startswith("book/03_")
    assert f"{largest['seconds']:.0f} s and {largest['peak_memory_mib'] / 1024:.1f} GB" in readme


def test_readme_quotes_the_autograd_memory_benchmark():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    rows = json.loads((ROOT / "benchmarks" / "autograd_memory.json").read_text())["rows"]
    off = next(r for r in rows if not r["autograd"])
    on = next(r for r in rows if r["autograd"] and r["steps"] == off["steps"])
    assert f"peaks at {on['peak_memory_mib'] / 1024:.2f} GiB for {on['clips']} clips" in readme
    assert f"against {off['peak_memory_mib'] / 1024:.2f} GiB without" in readme


def test_notebook_reports_cover_every_notebook_of_the_book():
    """benchmarks/notebooks-*.json must describe the book as it is: every notebook of the
    book (all listed in book/_toc.yml, tests/book_rules.py) has a row (copy
    book/_build/budget-*.json after a clean-clone CI run)."""
    import book_rules as rules

    notebooks = {nb.relative_to(ROOT).as_posix() for nb in rules.notebooks()}
    assert notebooks, "the book has no notebooks"
    for name in ("notebooks-fast.json", "notebooks-book.json"):
        rows = json.loads((ROOT / "benchmarks" / name).read_text())["notebooks"]
        measured = {r["notebook"] for r in rows}
        assert notebooks <= measured, (name, sorted(notebooks - measured))
