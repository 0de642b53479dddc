"""Open every page of the built book in headless Chromium: nothing broken, nothing online.

The pages must render their math from the MathJax copy the build put in ``_static/mathjax/``:
nothing from a CDN is served here, so a page that still points at one shows raw TeX and fails.
"""

from __future__ import annotations

import rendered_book


def test_every_page_renders_offline(html_dir, chromium):
    pages = rendered_book.html_pages(html_dir)
    assert "index.html" in pages or "intro.html" in pages, f"no front page among {pages[:5]}"
    reports = rendered_book.check_pages(html_dir, pages, chromium=chromium)
    problems = [f"{r.page}: {p}" for r in reports for p in r.problems]
    summary = (
        f"{len(reports)} pages, {sum(r.n_math for r in reports)} math elements, "
        f"{sum(r.n_audio for r in reports)} audio players"
    )
    print(summary)
    assert not problems, summary + "\n" + "\n".join(problems)


def test_book_has_math_and_sound(html_dir, chromium):
    """Guard the guard: a book with no math or no players would pass the test above vacuously."""
    pages = rendered_book.html_pages(html_dir)
    reports = rendered_book.check_pages(html_dir, pages, chromium=chromium)
    assert sum(r.n_math for r in reports) > 0, "no math found on any page"
    chapters = [r for r in reports if r.page[:2].isdigit() and "/" in r.page and r.page[:2] != "00"]
    assert chapters, f"no chapter pages found among {len(reports)} pages"
    assert sum(r.n_audio for r in chapters) > 0, "chapters exist but no page has a player"
