"""The tests mirror the library: every public module with public functions or classes has its
own test file, ``tests/test_<module>.py`` (``test_<package>_<module>.py`` also counts for a
module of a subpackage, as ``test_models_small.py``). Private modules (``_io``, ``__init__``)
are left out. A new module gets its test file, or an entry below with the reason."""

from __future__ import annotations

import ast
from pathlib import Path

import tutorial_lib

ROOT = Path(tutorial_lib.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent

#: Modules tested elsewhere: module (relative to the package) -> where, and why.
EXCEPTIONS: dict[str, str] = {
    "data/drums": "test_data.py: the datasets share one file (one ClipDataset contract)",
    "data/folder": "test_data.py: the datasets share one file (one ClipDataset contract)",
    "data/midi": "test_data.py: the datasets share one file (one ClipDataset contract)",
    "data/notes": "test_data.py: the datasets share one file (one ClipDataset contract)",
    "data/synth": "test_data.py: the renderers behind the datasets, tested through them",
}


def _public(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
            and not n.name.startswith("_")]  # fmt: skip


def test_every_public_module_has_its_test_file():
    missing, covered = [], set()
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if any(part.startswith("_") for part in rel.parts) or not _public(path):
            continue
        names = {f"test_{rel.name}.py", f"test_{'_'.join(rel.parts)}.py"}
        if any((TESTS / n).is_file() for n in names):
            covered.add(rel.as_posix())
        elif rel.as_posix() not in EXCEPTIONS:
            missing.append(f"{rel.as_posix()}: add tests/test_{rel.name}.py")
    assert not missing, "\n".join(missing)
    stale = set(EXCEPTIONS) & covered  # an exception that now has its own file
    assert not stale, f"EXCEPTIONS: {sorted(stale)} have their test files now; remove them"
    gone = {m for m in EXCEPTIONS if not (ROOT / f"{m}.py").is_file()}
    assert not gone, f"EXCEPTIONS: {sorted(gone)} are no longer modules; remove them"
