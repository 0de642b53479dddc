"""Fixtures for the rendered-book browser tests (run by ``make browser-test``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper module next to these tests

import rendered_book  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--html-dir",
        default=str(ROOT / "book" / "_build" / "fast" / "_build" / "html"),
        help="folder of the built HTML book to check (make book-fast builds it)",
    )
    parser.addoption(
        "--student-html-dir",
        default=str(ROOT / "book" / "_build" / "student-fast" / "_build" / "html"),
        help="folder of the built student edition (make student-fast builds it)",
    )


def _unavailable(reason: str) -> None:
    if rendered_book.browser_required():
        pytest.fail(f"{reason} (CI=true: the browser test must run here)")
    message = f"\n*** BROWSER TEST SKIPPED: {reason} ***\n"
    print(message, file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = rendered_book.find_chromium()
    if path is None:
        _unavailable("no Chromium found (install Debian/Ubuntu's 'chromium' package, or Chrome)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _unavailable("the Python package 'playwright' is not installed (pip install -e .[dev])")
    return path


@pytest.fixture(scope="session")
def mathjax_root() -> Path:
    """The MathJax copy that ``make setup`` fetched (the one the book build copies into its
    ``_static/mathjax/``); fetched here if missing. The test pages of test_checker.py use it;
    the built book carries its own."""
    fetch_mathjax = rendered_book.fetch_mathjax()
    try:
        return fetch_mathjax.ensure()
    except fetch_mathjax.MathJaxMissing as exc:  # npm missing or the registry unreachable
        _unavailable(f"could not get the local MathJax copy: {exc}")


@pytest.fixture(scope="session")
def html_dir(request: pytest.FixtureRequest) -> Path:
    path = Path(request.config.getoption("--html-dir"))
    if not (path / "index.html").exists():
        pytest.fail(f"--html-dir: no built book at {path}. Fix: run 'make book-fast' first.")
    return path


@pytest.fixture(scope="session")
def student_html_dir(request: pytest.FixtureRequest) -> Path:
    path = Path(request.config.getoption("--student-html-dir"))
    if not (path / "index.html").exists():
        pytest.fail(
            f"--student-html-dir: no built student edition at {path}. "
            "Fix: run 'make student-fast' first."
        )
    return path
