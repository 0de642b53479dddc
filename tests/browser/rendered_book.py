"""Check a rendered HTML book in a real headless Chromium, offline.

Used by ``test_rendered_book.py`` (the real book) and ``test_checker.py`` (pages broken on
purpose, to show each check can fail). For every page it reports:

- console errors and uncaught page errors;
- math that MathJax did not render (or rendered as an error);
- ``<audio>`` elements without a playable source (the browser must load its metadata);
- images that do not load;
- cell outputs that hold a traceback or an error (except in cells tagged ``raises-exception``,
  the book's deliberate error demos);
- requests to the network (the book must not need them), scripts or stylesheets that a page
  loads from another host (a CDN), and files of the site that answer with an error
  (e.g. a MathJax font missing from ``_static/mathjax/``);
- what a reader would see as a mistake (``reader_problems``): math or MyST markup left raw in
  the prose (``$...$``, a literal `` {cite}`key` ``), a doubled word ("Exercise Exercise"),
  stderr or progress-bar output in a cell, a ``raises-exception`` cell that did not raise,
  and an exercise or solution that says "listen" with no player in it or its solution.

The pages are served from a local HTTP server and every other request is refused, as for a
reader with no network. The book serves MathJax from its own ``_static/mathjax/`` (copied
there at build time from the copy ``make setup`` fetched, ``scripts/fetch_mathjax.py``), so
nothing is intercepted: a page that still loads MathJax from a CDN shows raw TeX here and
fails. ``fetch_mathjax()`` gives the test pages of ``test_checker.py`` the same copy.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import importlib.util
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

# Runs in the page after load: waits for MathJax, then inspects math, audio, images, outputs.
PAGE_PROBE = """
async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const report = {math: 0, mathRendered: 0, mathErrors: [], audio: [], images: [], tracebacks: []};
  const mathNodes = document.querySelectorAll('div.math, span.math');
  report.math = mathNodes.length;
  if (report.math > 0) {
    for (let i = 0; i < 100; i++) {
      if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
        try {
          await Promise.race([window.MathJax.startup.promise, sleep(15000)]);
        } catch (e) {}
        break;
      }
      await sleep(100);
    }
    for (let i = 0; i < 50 && document.querySelectorAll('mjx-container').length < report.math; i++) {
      await sleep(100);
    }
    report.mathRendered = document.querySelectorAll('mjx-container').length;
    document.querySelectorAll('mjx-merror, [data-mjx-error]').forEach((e) =>
      report.mathErrors.push((e.getAttribute('data-mjx-error') || e.textContent).slice(0, 200)));
    // MathJax's fonts come from the site too: one that does not load shows as boxes
    await Promise.race([document.fonts.ready, sleep(5000)]);
    document.fonts.forEach((f) => {
      if (f.status === 'error') report.mathErrors.push('font did not load: ' + f.family);
    });
  }
  const audios = Array.from(document.querySelectorAll('audio'));
  await Promise.all(audios.map((a) => new Promise((resolve) => {
    if (a.readyState >= 1 || a.error) return resolve();
    a.addEventListener('loadedmetadata', resolve, {once: true});
    a.addEventListener('error', resolve, {once: true});
    const s = a.querySelector('source');
    if (s) s.addEventListener('error', resolve, {once: true});
    a.load();
    setTimeout(resolve, 5000);
  })));
  audios.forEach((a, i) => {
    const src = a.currentSrc || a.src || '';
    report.audio.push({index: i, src: src.slice(0, 60), readyState: a.readyState,
                       duration: a.duration, error: a.error ? a.error.code : null});
  });
  const imgs = Array.from(document.querySelectorAll('img'));
  await Promise.all(imgs.map((im) => im.complete ? null : new Promise((resolve) => {
    im.addEventListener('load', resolve, {once: true});
    im.addEventListener('error', resolve, {once: true});
    setTimeout(resolve, 5000);
  })));
  imgs.forEach((im) => {
    if (!(im.complete && im.naturalWidth > 0)) report.images.push((im.getAttribute('src') || '').slice(0, 80));
  });
  const outputs = document.querySelectorAll('.cell_output, .output');
  outputs.forEach((o) => {
    const cell = o.closest('.cell');
    if (cell && cell.classList.contains('tag_raises-exception')) return;  // a deliberate error demo
    const text = o.innerText || '';
    const isError = o.querySelector('.traceback, .output.error, .ansi-red-fg') !== null &&
      /Error|Traceback/.test(text);
    if (/Traceback \\(most recent call last\\)/.test(text) || isError || o.classList.contains('error')) {
      report.tracebacks.push(text.slice(0, 300));
    }
  });
  // ---- what a reader sees: prose, outputs, error demos, exercises ----
  report.reader = [];
  const root = document.querySelector('article') || document.querySelector('main') || document.body;
  const prose = root.querySelectorAll('p, li, h1, h2, h3, h4, h5, h6, .admonition-title, figcaption, dt, td');
  prose.forEach((el) => {
    if (el.closest('.cell, pre, .highlight, .output, nav, .toc, .bd-toc')) return;
    if (el.querySelector('p, li')) return;  // judged by its own paragraphs
    const clone = el.cloneNode(true);
    clone.querySelectorAll('mjx-container, code, pre, .math, script, style').forEach((n) => n.remove());
    const text = (clone.textContent || '').replace(/\\s+/g, ' ').trim();
    if (!text) return;
    if (/\\$[^$]*\\$|\\\\\\(|\\\\\\[|\\$\\$/.test(text)) {
      report.reader.push('raw math in prose: ' + JSON.stringify(text.slice(0, 120)));
    }
    const role = text.match(/\\{(cite|ref|numref|eq|doc|term|math|download|prf:ref|cite:[a-z]+)\\}`?[^`\\s]*`?/);
    if (role) report.reader.push('raw MyST role in prose: ' + JSON.stringify(role[0]));
    const dup = text.match(/\\b([A-Za-z][A-Za-z']+)\\s+\\1\\b/i);
    if (dup) report.reader.push('doubled word: ' + JSON.stringify(dup[0]) + ' in ' + JSON.stringify(text.slice(0, 80)));
  });
  root.querySelectorAll('.output.stderr').forEach((o) => {
    report.reader.push('stderr output in a cell: ' + JSON.stringify((o.textContent || '').trim().slice(0, 120)));
  });
  root.querySelectorAll('.output').forEach((o) => {
    if (o.classList.contains('stderr')) return;  // reported above
    const t = o.textContent || '';
    if (/\\d+%\\|[^|\\n]*\\|/.test(t)) report.reader.push('progress bar in a cell output: ' + JSON.stringify(t.trim().slice(0, 120)));
  });
  root.querySelectorAll('.cell.tag_raises-exception').forEach((cell) => {
    const out = cell.querySelector('.output.traceback, .output.error, .traceback');
    const text = cell.querySelector('.cell_output') ? cell.querySelector('.cell_output').textContent : '';
    if (!out && !/Error|Traceback/.test(text || '')) {
      const src = cell.querySelector('.cell_input') ? cell.querySelector('.cell_input').textContent : '';
      report.reader.push('raises-exception cell did not raise: ' + JSON.stringify(src.trim().slice(0, 120)));
    }
  });
  // exercises and solutions that ask to listen need a player: in the solution itself, or
  // (for an exercise) anywhere up to the end of the solution that follows it
  const items = Array.from(root.querySelectorAll('.exercise, .solution, audio'));
  const says = (el) => /listen/i.test(el.textContent || '');
  items.forEach((el, i) => {
    if (el.tagName === 'AUDIO' || !says(el)) return;
    let ok = el.querySelector('audio') !== null;
    if (!ok && el.classList.contains('exercise')) {
      for (let j = i + 1; j < items.length; j++) {
        const other = items[j];
        if (other.tagName === 'AUDIO') { ok = true; break; }
        if (other.classList.contains('exercise')) break;
        if (other.classList.contains('solution')) { ok = other.querySelector('audio') !== null; break; }
      }
    }
    if (!ok) {
      const title = el.querySelector('.admonition-title');
      report.reader.push('says "listen" with no player: ' + JSON.stringify((title ? title.textContent : '').trim().slice(0, 80)));
    }
  });
  // every exercise's self-check, run on the placeholder answer as stored, must say it is not
  // right yet (a check that passes on the placeholder cannot fail)
  const blocks = Array.from(root.querySelectorAll('.exercise, .solution, .cell'));
  blocks.forEach((el, i) => {
    if (!el.classList.contains('exercise')) return;
    let failed = false;
    for (let j = i + 1; j < blocks.length; j++) {
      const other = blocks[j];
      if (other.classList.contains('exercise') || other.classList.contains('solution')) break;
      if (other.closest('.solution')) break;
      if (/\u274c|not right yet/.test(other.textContent || '')) { failed = true; break; }
    }
    if (!failed) {
      const title = el.querySelector('.admonition-title');
      report.reader.push('exercise check does not fail on the placeholder answer: ' +
        JSON.stringify((title ? title.textContent : '').trim().slice(0, 80)));
    }
  });
  return report;
}
"""


@dataclass
class PageReport:
    """What the checks found on one page; ``problems`` is empty when the page is fine."""

    page: str
    problems: list[str] = field(default_factory=list)
    n_math: int = 0
    n_audio: int = 0
    n_images: int = 0


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def fetch_mathjax():
    """``scripts/fetch_mathjax.py``, the one place that fetches and places the MathJax copy
    (``make setup`` runs it; the book build copies from it)."""
    spec = importlib.util.spec_from_file_location(
        "fetch_mathjax", ROOT / "scripts" / "fetch_mathjax.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _RemoteAssets(html.parser.HTMLParser):
    """Scripts, stylesheets and other loaded assets of a page that come from another host."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "audio", "video", "source", "iframe"):
            url = a.get("src") or ""
        elif tag == "link" and (a.get("rel") or "").lower() in (
            "stylesheet",
            "preload",
            "modulepreload",
            "icon",
        ):
            url = a.get("href") or ""
        else:
            return
        if re.match(r"(?i)^(https?:)?//", url.strip()):
            self.found.append(f"<{tag}> {url.strip()}")


def remote_assets(page_html: str) -> list[str]:
    """What ``page_html`` loads from another host (``<script src="https://cdn...">``...)."""
    parser = _RemoteAssets()
    parser.feed(page_html)
    return parser.found


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free port of 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def html_pages(html_dir: Path) -> list[str]:
    """The book's content pages, relative to ``html_dir`` (Sphinx's own index pages excluded)."""
    skip = {"genindex.html", "search.html", "py-modindex.html"}
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir).as_posix()
        if rel in skip or rel.startswith(("_static/", "_sources/", "_images/", "jupyter_execute/")):
            continue
        if 'http-equiv="Refresh"' in path.read_text(errors="replace")[:2000]:
            continue  # a redirect (index.html -> the root page), not a page of its own
        pages.append(rel)
    return pages


def check_pages(html_dir: Path, pages: list[str], *, chromium: str) -> list[PageReport]:
    """Open each page in headless Chromium, with no network, and run every check; one report
    per page."""
    from playwright.sync_api import sync_playwright

    reports = []
    with serve(html_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context()
            for page_path in pages:
                reports.append(_check_one(context, base, html_dir, page_path))
        finally:
            browser.close()
    return reports


def _check_one(context, base: str, html_dir: Path, page_path: str) -> PageReport:
    report = PageReport(page_path)
    for asset in remote_assets((html_dir / page_path).read_text(errors="replace")):
        report.problems.append(f"loads from another host (not available offline): {asset}")
    page = context.new_page()
    blocked: list[str] = []
    missing: list[str] = []

    def route(route_obj) -> None:
        url = route_obj.request.url
        if url.startswith(base) or url.startswith("data:"):
            route_obj.continue_()
            return
        blocked.append(url)
        route_obj.abort()

    def response(resp) -> None:
        if (
            resp.url.startswith(base)
            and resp.status >= 400
            and not resp.url.endswith("/favicon.ico")
        ):
            missing.append(f"{resp.url[len(base) :]} (HTTP {resp.status})")

    page.route("**/*", route)
    page.on("response", response)
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append(f"uncaught: {exc}"))
    try:
        response = page.goto(base + page_path, wait_until="load", timeout=60_000)
        if response is None or not response.ok:
            status = None if response is None else response.status
            report.problems.append(f"page did not load (HTTP {status})")
            return report
        probe = page.evaluate(PAGE_PROBE)
    finally:
        page.close()
    report.n_math, report.n_audio = probe["math"], len(probe["audio"])
    if probe["math"] and probe["mathRendered"] < probe["math"]:
        report.problems.append(
            f"math not rendered: {probe['mathRendered']} of {probe['math']} math elements typeset"
        )
    for err in probe["mathErrors"]:
        report.problems.append(f"MathJax error: {err}")
    for a in probe["audio"]:
        if a["error"] is not None or a["readyState"] < 1 or not (a["duration"] or 0) > 0:
            report.problems.append(
                f"audio #{a['index']} not playable (src={a['src']!r}, readyState="
                f"{a['readyState']}, error={a['error']})"
            )
    for src in probe["images"]:
        report.problems.append(f"image does not load: {src!r}")
    for text in probe["tracebacks"]:
        report.problems.append(f"cell output holds an error: {text[:200]!r}")
    for msg in console_errors:
        report.problems.append(f"console error: {msg[:300]}")
    for url in blocked:
        report.problems.append(f"needs the network (not available offline): {url}")
    for what in missing:
        report.problems.append(f"a file of the site does not load: {what}")
    report.problems.extend(probe["reader"])
    return report


def browser_required() -> bool:
    """Under CI (``CI=true``) the browser test must run; elsewhere it may skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Clip:
    """One embedded WAV of a page: where it is and how loud (RMS and peak, dBFS)."""

    page: str
    index: int
    rms_db: float
    peak_db: float


_WAV_SRC = re.compile(r"data:audio/(?:wav|x-wav);base64,([A-Za-z0-9+/=\s]+)")


def embedded_clips(html_dir: Path, pages: list[str]) -> list[Clip]:
    """Decode every WAV embedded in ``pages`` (the players' ``data:`` sources) and measure it."""
    import base64
    import io
    import math

    import numpy as np
    import soundfile as sf

    clips = []
    for page in pages:
        text = (html_dir / page).read_text(errors="replace")
        for i, match in enumerate(_WAV_SRC.finditer(text)):
            data, _ = sf.read(io.BytesIO(base64.b64decode(match.group(1))), dtype="float64")
            rms = float(np.sqrt(np.mean(np.square(data)))) if data.size else 0.0
            peak = float(np.max(np.abs(data))) if data.size else 0.0
            db = [20 * math.log10(v) if v > 0 else -math.inf for v in (rms, peak)]
            clips.append(Clip(page, i, db[0], db[1]))
    return clips


def level_problems(clips: list[Clip], *, max_rms_db: float, silent_db: float) -> list[str]:
    """The listening policy, checked on what a reader hears: no clip above ``max_rms_db`` RMS,
    no silent clip (RMS below ``silent_db``)."""
    problems = []
    for c in clips:
        if c.rms_db > max_rms_db + 0.1:
            problems.append(
                f"{c.page}: player #{c.index} is too loud: RMS {c.rms_db:.1f} dBFS > "
                f"{max_rms_db:g} dBFS (tl.audio.MAX_PLAY_RMS_DB)"
            )
        if c.rms_db < silent_db:
            problems.append(
                f"{c.page}: player #{c.index} is silent: RMS {c.rms_db:.1f} dBFS < {silent_db:g} dBFS"
            )
    return problems
