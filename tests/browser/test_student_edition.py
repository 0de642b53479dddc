"""The student edition has every exercise and no solution; the normal edition has both."""

from __future__ import annotations

import re
from pathlib import Path

import rendered_book

EXERCISE = re.compile(r'class="exercise[ "]')
SOLUTION = re.compile(r'class="solution[ "]')


def _count(html_dir: Path, pattern: re.Pattern) -> dict[str, int]:
    counts = {}
    for page in rendered_book.html_pages(html_dir):
        n = len(pattern.findall((html_dir / page).read_text(encoding="utf-8")))
        if n:
            counts[page] = n
    return counts


def test_book_has_exercises_with_solutions(html_dir):
    exercises, solutions = _count(html_dir, EXERCISE), _count(html_dir, SOLUTION)
    assert exercises, "no exercise found in the book"
    assert set(solutions) == set(exercises), "every page with exercises shows their solutions"


def test_student_edition_keeps_exercises_and_drops_solutions(html_dir, student_html_dir):
    assert _count(student_html_dir, EXERCISE) == _count(html_dir, EXERCISE)
    assert _count(student_html_dir, SOLUTION) == {}
    index = (student_html_dir / "intro.html").read_text(encoding="utf-8")
    assert "student edition" in index
