"""Write the student edition's Jupyter Book config: the book's own, with solutions hidden.

    python scripts/student_config.py OUT.yml [CACHE_DIR]

It shares the book build's execution cache (same notebooks, same mode), so a student build
after `make book` does not execute the notebooks again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main(out: str, cache: str | None = None) -> None:
    cfg = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    cfg["title"] = f"{cfg['title']} (student edition)"
    # book/_ext/book_fixes.py removes the solutions (sphinx-exercise's own hide_solutions
    # breaks on gated solution-start/solution-end blocks).
    cfg.setdefault("sphinx", {}).setdefault("config", {})["student_edition"] = True
    cache = cache or str(ROOT / "book" / "_build" / ".jupyter_cache")
    cfg.setdefault("execute", {})["cache"] = str(Path(cache).resolve())
    # This file lives elsewhere, so paths relative to book/ become absolute.
    book = ROOT / "book"
    local = cfg["sphinx"].get("local_extensions") or {}
    cfg["sphinx"]["local_extensions"] = {name: str(book / rel) for name, rel in local.items()}
    cfg["bibtex_bibfiles"] = [str(book / f) for f in cfg.get("bibtex_bibfiles", [])]
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    print(f"student config written to {path}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
