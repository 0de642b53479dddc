"""Write the Jupyter Book config for one build: the book's own, with a cache for its mode.

    python scripts/book_config.py OUT.yml --mode fast|book|full [--student]
    python scripts/book_config.py OUT.yml --mode book --chapter NB --toc TOC.yml  # one chapter

Why: MyST-NB caches executed notebooks keyed on their code alone, in one folder by default.
The book runs at three sizes (``TUTORIAL_MODE``), so a build in one mode would show outputs
cached by another, and after a change to ``src/tutorial_lib`` it would show outputs of the
old library. This script gives each mode its own cache folder
(``book/_build/.jupyter_cache/<mode>``) and clears that folder when the library's sources
changed since it was filled. ``--student`` makes the student edition: solutions removed
(``student_edition: true``, see ``book/_ext/book_fixes.py``), sharing the mode's cache.
``--chapter NB --toc TOC.yml`` also writes a table of contents with the introduction, that
one notebook and the bibliography (``make chapter NB=...``: one chapter alone, same cache).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
STAMP = "library.sha256"


def library_hash() -> str:
    """SHA-256 over the library's files and pyproject.toml."""
    digest = hashlib.sha256()
    files = sorted((ROOT / "src" / "tutorial_lib").rglob("*"))
    for path in [ROOT / "pyproject.toml", *files]:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def guard_cache(cache: Path) -> None:
    """Clear ``cache`` when it was filled by another version of the library."""
    current = library_hash()
    stamp = cache / STAMP
    if cache.exists() and (not stamp.exists() or stamp.read_text().strip() != current):
        shutil.rmtree(cache)
        print(f"book_config: the library changed since {cache} was filled; cleared it")
    cache.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")


def build_config(mode: str, student: bool) -> dict:
    cfg = yaml.safe_load((BOOK / "_config.yml").read_text())
    cache = BOOK / "_build" / ".jupyter_cache" / mode
    guard_cache(cache)
    cfg.setdefault("execute", {})["cache"] = str(cache)
    # The written file lives elsewhere, so paths relative to book/ become absolute.
    sphinx = cfg.setdefault("sphinx", {})
    local = sphinx.get("local_extensions") or {}
    sphinx["local_extensions"] = {name: str(BOOK / rel) for name, rel in local.items()}
    cfg["bibtex_bibfiles"] = [str(BOOK / f) for f in cfg.get("bibtex_bibfiles", [])]
    if student:
        cfg["title"] = f"{cfg['title']} (student edition)"
        sphinx.setdefault("config", {})["student_edition"] = True
    return cfg


def chapter_toc(notebook: Path) -> dict:
    """A table of contents with the introduction, one notebook and the bibliography."""
    path = Path(notebook).resolve()
    try:
        rel = path.relative_to(BOOK).with_suffix("")
    except ValueError:
        raise SystemExit(f"NB: expected a notebook under {BOOK}, got {notebook}") from None
    if not path.is_file() or path.suffix != ".ipynb":
        raise SystemExit(f"NB: no notebook at {notebook} (e.g. NB=book/01_*/01_01_*.ipynb)")
    return {
        "format": "jb-book",
        "root": "intro",
        "chapters": [{"file": rel.as_posix()}, {"file": "bibliography"}],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mode", required=True, choices=("fast", "book", "full"))
    parser.add_argument("--student", action="store_true")
    parser.add_argument("--chapter", type=Path, default=None, help="one notebook (with --toc)")
    parser.add_argument("--toc", type=Path, default=None, help="where to write its toc")
    args = parser.parse_args(argv)
    if (args.chapter is None) != (args.toc is None):
        parser.error("--chapter and --toc go together")
    if args.chapter is not None:
        args.toc.parent.mkdir(parents=True, exist_ok=True)
        args.toc.write_text(yaml.safe_dump(chapter_toc(args.chapter), sort_keys=False))
    cfg = build_config(args.mode, args.student)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(yaml.safe_dump(cfg, sort_keys=False))


if __name__ == "__main__":
    main()
