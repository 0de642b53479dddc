"""scripts/fetch_onnxruntime_web.py: ONNX Runtime Web from package.json + package-lock.json
(``npm ci``), kept whole or not at all, refreshed when the lock changes, and copied flat into
the site's ``_static/live/``. No network: a fake ``npm ci`` writes the package."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fo = _load("fetch_onnxruntime_web", ROOT / "scripts" / "fetch_onnxruntime_web.py")


def test_the_lock_pins_the_package_json_version_with_its_sha512():
    pkg = json.loads(fo.PACKAGE_JSON.read_text())
    lock = json.loads(fo.LOCK.read_text())
    entry = lock["packages"][f"node_modules/{fo.PACKAGE}"]
    assert pkg["dependencies"][fo.PACKAGE] == entry["version"] == fo.version()
    assert entry["integrity"].startswith("sha512-")
    assert lock["packages"][""]["dependencies"] == pkg["dependencies"]


@pytest.fixture
def fake_npm(monkeypatch):
    calls = []

    def npm_ci(work: Path) -> None:
        calls.append(work)
        assert (work / "package-lock.json").read_bytes() == fo.LOCK.read_bytes()
        package = work / "node_modules" / fo.PACKAGE
        for rel in fo.SITE_FILES:
            (package / rel).parent.mkdir(parents=True, exist_ok=True)
            (package / rel).write_text(rel)
        (package / "package.json").write_text(json.dumps({"version": fo.version()}))
        (package / "dist" / "ort.webgpu.min.js").write_text("not kept")

    monkeypatch.setattr(fo, "_npm_ci", npm_ci)
    return calls


def test_ensure_installs_once_and_keeps_only_the_site_files(tmp_path, fake_npm):
    root = fo.ensure(tmp_path)
    assert fo.is_complete(root) and len(fake_npm) == 1
    assert not (root / "dist" / "ort.webgpu.min.js").exists()
    assert fo.ensure(tmp_path) == root and len(fake_npm) == 1  # offline the second time
    assert [p.name for p in tmp_path.iterdir()] == [root.name]  # no scratch folder left
    (root / fo.STAMP).write_text("another lock\n")  # the lock changed: fetch again
    assert fo.ensure(tmp_path) == root and len(fake_npm) == 2


def test_missing_copy_says_to_run_make_setup(tmp_path):
    with pytest.raises(fo.RuntimeMissing, match="make setup"):
        fo.require(tmp_path)
    assert fo.main(["--check", "--cache", str(tmp_path)]) == 1


def test_copy_to_site_is_flat(tmp_path, fake_npm):
    written = fo.copy_to_site(tmp_path / "site", fo.ensure(tmp_path / "cache"))
    assert sorted(p.name for p in written) == sorted(
        ["onnxruntime-web.package.json", "ort.wasm.min.js", "ort-wasm-simd-threaded.mjs",
         "ort-wasm-simd-threaded.wasm"]
    )  # fmt: skip


def test_a_failing_npm_says_so(tmp_path, monkeypatch):
    def npm_ci(work: Path) -> None:
        raise fo.RuntimeMissing("`npm ci` failed (exit 1); is the npm registry reachable?")

    monkeypatch.setattr(fo, "_npm_ci", npm_ci)
    with pytest.raises(fo.RuntimeMissing, match="registry"):
        fo.ensure(tmp_path)
    assert not fo.is_complete(fo.runtime_dir(tmp_path)) and list(tmp_path.iterdir()) == []


def test_book_build_stops_without_the_runtime_and_writes_the_live_files(tmp_path, monkeypatch):
    """book_fixes: a build without the runtime stops at its start (saying make setup); a
    finished build gets the runtime and every model of LIVE_MODELS in _static/live/."""
    from types import SimpleNamespace

    from sphinx.errors import ConfigError

    from tutorial_lib import export

    fixes = _load("book_fixes", ROOT / "book" / "_ext" / "book_fixes.py")
    app = SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path))
    missing = SimpleNamespace(require=lambda: fo.require(tmp_path / "none"),
                              RuntimeMissing=fo.RuntimeMissing)  # fmt: skip
    monkeypatch.setattr(fixes, "_fetch_ort", lambda: missing)
    with pytest.raises(ConfigError, match="make setup"):
        fixes._check_live(app)
    copied, exported = [], []
    fake = SimpleNamespace(copy_to_site=lambda dest: copied.append(dest))
    monkeypatch.setattr(fixes, "_fetch_ort", lambda: fake)
    monkeypatch.setattr(export, "onnx_model", lambda name, path: exported.append((name, path)))
    fixes._write_live(app, None)
    live = tmp_path / export.LIVE_DIR
    assert copied == [live]
    assert exported == [(m, live / f"{m}.onnx") for m in fixes.LIVE_MODELS]
    assert set(fixes.LIVE_MODELS) <= set(export.LIVE_MODELS)
    fixes._write_live(app, RuntimeError("the build failed"))  # nothing after a failed build
    assert len(copied) == 1
