"""Chapter 3's live panel in headless Chromium: the reference U-Net runs in the page.

Served as ``make serve`` serves it, offline. With fixed settings the panel must make the clip
PyTorch makes for the same seed and settings (``tl.export.live_sample``: the family's own
sampler on ``tl.export.seeded_noise``), within ``TOLERANCE`` (absolute, per sample, on audio in
[-1, 1]: float32 ONNX Runtime Web against float32 PyTorch over 60 network calls); its player
must be within the book's listening policy. Bad input and a page opened as ``file://`` get a
message in the panel. The generation time is printed, with only a generous sanity bound:
``benchmarks/bench_live_panel.py`` records the figure.
"""

from __future__ import annotations

import io
import math

import live_panel
import numpy as np
import pytest
import soundfile as sf
from test_levels import SILENT_DB

from tutorial_lib import export
from tutorial_lib.audio import MAX_PLAY_RMS_DB

SETTINGS = {"class_name": "snare", "steps": 30, "guidance": 3, "seed": 7}
TOLERANCE = 1e-3
SANITY_SECONDS = 120  # not a speed test: the recorded figure is in benchmarks/live_panel.json


def _db(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))
    return 20 * math.log10(rms) if rms > 0 else -math.inf


@pytest.fixture(scope="module")
def page(html_dir, chromium):
    if not (html_dir / export.LIVE_DIR / "drums-unet.onnx").is_file():
        pytest.fail(f"{html_dir} has no {export.LIVE_DIR}/drums-unet.onnx: rebuild the book")
    with live_panel.served(html_dir) as base, live_panel.browser_page(chromium, base) as opened:
        page, errors, refused = opened
        page.goto(base + live_panel.PAGE, wait_until="load")
        yield page
        assert not errors, f"console errors: {errors}"
        assert not refused, f"requests to other hosts: {refused}"


def test_the_panel_makes_pytorchs_clip(page):
    live_panel.set_controls(page, **SETTINGS)
    assert live_panel.generate(page) == "done", live_panel.status(page)
    got = live_panel.read_result(page)
    samples = np.asarray(got["samples"], np.float32)
    want = live_panel.pytorch_clip(**SETTINGS)
    diff = float(np.abs(samples - want).max())
    print(
        f"\nlive panel: {SETTINGS}: {got['seconds']:.2f} s for {got['calls']} network evaluations "
        f"(model and runtime loaded in {got['loadSeconds']:.2f} s); max |page - PyTorch| = "
        f"{diff:.2e}; RMS {_db(samples):.1f} dBFS"
    )
    assert samples.shape == want.shape and got["calls"] == 2 * SETTINGS["steps"]
    assert diff <= TOLERANCE
    assert _db(samples) > SILENT_DB, "the generated clip is silent"
    # what the reader hears: the player's WAV, attenuated to the listening policy if louder
    played, sr = sf.read(io.BytesIO(got["wav"]), dtype="float64")
    assert sr == 16000 and played.shape == samples.shape
    assert SILENT_DB < _db(played) <= MAX_PLAY_RMS_DB + 0.1
    gain = 10 ** (got["gainDb"] / 20)
    assert np.abs(played - samples * gain).max() <= 1.5 / 32767  # 16-bit rounding
    assert "Generated a snare in" in got["status"]
    assert got["seconds"] < SANITY_SECONDS


def test_another_seed_or_class_gives_another_clip(page):
    first = np.asarray(live_panel.read_result(page)["samples"])
    live_panel.set_controls(page, **{**SETTINGS, "class_name": "kick", "steps": 3})
    assert live_panel.generate(page) == "done", live_panel.status(page)
    kick = np.asarray(live_panel.read_result(page)["samples"], np.float32)
    assert np.abs(kick - first).max() > 0.01
    want = live_panel.pytorch_clip(**{**SETTINGS, "class_name": "kick", "steps": 3})
    assert np.abs(kick - want).max() <= TOLERANCE


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("steps", "0", "Steps: enter a whole number"), ("seed", "abc", "Seed: enter a whole number"),
     ("guidance", "-1", "Guidance: enter a number"), ("steps", "2.5", "Steps: enter")],
)  # fmt: skip
def test_bad_input_says_what_is_wrong(page, field, value, message):
    live_panel.set_controls(page, **{**SETTINGS, field: value})
    assert live_panel.generate(page) == "error"
    assert message in live_panel.status(page) and f'"{value}"' in live_panel.status(page)


def test_opened_as_a_file_the_panel_says_how_to_serve(page, html_dir):
    other = page.context.new_page()
    try:
        other.goto((html_dir / live_panel.PAGE).resolve().as_uri(), wait_until="load")
        assert "make serve" in live_panel.status(other)
        assert live_panel.generate(other, timeout_s=10) == "error"
        assert "make serve" in live_panel.status(other)
    finally:
        other.close()


def test_chapter_2s_flow_panel_makes_pytorchs_clip(page, html_dir):
    """Chapter 2's panel: drums-small-rf with Euler steps (no class, no guidance)."""
    if not (html_dir / live_panel.FLOW_PAGE).is_file():
        pytest.skip(f"{live_panel.FLOW_PAGE} is not in this build (a one-chapter build)")
    other = page.context.new_page()
    try:
        other.goto(page.url.split(live_panel.PAGE)[0] + live_panel.FLOW_PAGE, wait_until="load")
        assert other.locator(".live-panel select[name=class]").count() == 0
        assert other.locator(".live-panel input[name=guidance]").count() == 0
        live_panel.set_controls(other, steps=4, seed=3)
        assert live_panel.generate(other) == "done", live_panel.status(other)
        got = live_panel.read_result(other)
    finally:
        other.close()
    samples = np.asarray(got["samples"], np.float32)
    want = live_panel.pytorch_clip(name="drums-small-rf", class_name=None, steps=4, seed=3)
    diff = float(np.abs(samples - want).max())
    print(f"\nflow panel: 4 Euler steps, seed 3: {got['seconds']:.2f} s, max |diff| {diff:.2e}")
    assert got["calls"] == 4 and diff <= TOLERANCE and _db(samples) > SILENT_DB
    played, _ = sf.read(io.BytesIO(got["wav"]), dtype="float64")
    assert SILENT_DB < _db(played) <= MAX_PLAY_RMS_DB + 0.1


def test_the_student_edition_keeps_the_panel(student_html_dir):
    page = (student_html_dir / live_panel.PAGE).read_text(errors="replace")
    assert 'class="live-panel"' in page and "live_panel.js" in page
    for name in ("drums-unet.onnx", "drums-unet.json", "drums-small-rf.onnx", "ort.wasm.min.js",
                 "ort-wasm-simd-threaded.wasm"):  # fmt: skip
        assert (student_html_dir / export.LIVE_DIR / name).is_file(), name


def test_the_live_files_fit_the_budget(html_dir):
    """The exported model and the runtime add at most 30 MB to the site (issue 29)."""
    live = html_dir / export.LIVE_DIR
    total = sum(p.stat().st_size for p in live.rglob("*") if p.is_file())
    print(f"\n{export.LIVE_DIR}: {total / 1e6:.1f} MB")
    assert 5e6 < total <= 30e6
