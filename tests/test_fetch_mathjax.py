"""scripts/fetch_mathjax.py and the book build's use of it (book/_ext/book_fixes.py): the copy
is checked against its pinned sha512, appears whole or not at all, and a build without it
stops with the fix instead of publishing pages that load MathJax from a CDN. No network: a
fake ``npm pack`` writes the tarball."""

from __future__ import annotations

import importlib.util
import io
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fm = _load("fetch_mathjax", ROOT / "scripts" / "fetch_mathjax.py")


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


PACKAGE = {
    "LICENSE": b"Apache-2.0",
    fm.COMPONENT: b"window.MathJax = {};",
    "es5/output/chtml/fonts/woff-v2/MathJax_Zero.woff": b"font",
    "es5/input/tex/extensions/cancel.js": b"ext",
    "es5/ui/menu.js": b"menu",
    "es5/a11y/explorer.js": b"a11y",
    "es5/sre/mathmaps/en.json": b"{}",
    "es5/tex-svg.js": b"another component, not served",
}


@pytest.fixture
def fake_npm(monkeypatch):
    """npm pack writes this tarball; returns its integrity string."""
    data = _tarball(PACKAGE)
    calls = []

    def pack(spec: str, dest: Path) -> None:
        calls.append(spec)
        (dest / f"mathjax-{fm.VERSION}.tgz").write_bytes(data)

    monkeypatch.setattr(fm, "_npm_pack", pack)
    return fm.integrity_of(data), calls


def test_integrity_is_npm_format():
    # `printf abc | openssl dgst -sha512 -binary | base64`
    assert fm.integrity_of(b"abc") == (
        "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="
    )


def test_pinned_integrity_is_a_sha512():
    assert fm.INTEGRITY.startswith("sha512-") and len(fm.INTEGRITY) == len("sha512-") + 88


def test_tampered_tarball_is_refused_and_leaves_nothing(tmp_path, fake_npm):
    with pytest.raises(fm.MathJaxMissing, match="sha512 does not match"):
        fm.ensure(tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial copy, no work folder


def test_fetch_once_then_reuse(tmp_path, fake_npm, monkeypatch):
    integrity, calls = fake_npm
    monkeypatch.setattr(fm, "INTEGRITY", integrity)
    root = fm.ensure(tmp_path)
    assert root == fm.mathjax_dir(tmp_path) and fm.is_complete(root)
    assert [p.name for p in tmp_path.iterdir()] == [root.name]  # the work folder is gone
    assert fm.ensure(tmp_path) == root and calls == [f"mathjax@{fm.VERSION}"]  # not refetched


def test_missing_copy_says_to_run_make_setup(tmp_path, capsys):
    with pytest.raises(fm.MathJaxMissing, match="make setup"):
        fm.require(tmp_path)
    assert fm.main(["--check", "--cache", str(tmp_path)]) == 1
    assert "make setup" in capsys.readouterr().err


def test_copy_to_site_takes_what_the_pages_load(tmp_path, fake_npm, monkeypatch):
    monkeypatch.setattr(fm, "INTEGRITY", fake_npm[0])
    root = fm.ensure(tmp_path / "cache")
    site = fm.copy_to_site(tmp_path / "html" / "_static" / "mathjax", root)
    for rel in ("LICENSE", fm.COMPONENT, "es5/output/chtml/fonts/woff-v2/MathJax_Zero.woff"):
        assert (site / rel).is_file(), rel
    assert not (site / "es5" / "tex-svg.js").exists()
    (root / "es5" / "ui" / "menu.js").unlink()
    (root / "es5" / "ui").rmdir()
    with pytest.raises(fm.MathJaxMissing, match="lacks es5/ui"):
        fm.copy_to_site(tmp_path / "again", root)


def test_book_build_refuses_a_cdn_mathjax_path(tmp_path):
    from sphinx.errors import ConfigError

    fixes = _load("book_fixes", ROOT / "book" / "_ext" / "book_fixes.py")

    def app(path: str):
        return SimpleNamespace(
            builder=SimpleNamespace(format="html"),
            config=SimpleNamespace(mathjax_path=path),
            outdir=str(tmp_path),
        )

    _, dest = fixes._local_mathjax(app("mathjax/" + fm.COMPONENT))
    assert dest == tmp_path / "_static" / "mathjax"
    with pytest.raises(ConfigError, match="serves MathJax itself"):
        fixes._local_mathjax(app("https://cdn.jsdelivr.net/npm/mathjax@3/" + fm.COMPONENT))
    latex = SimpleNamespace(builder=SimpleNamespace(format="latex"))
    assert fixes._local_mathjax(latex) is None
