"""Drive chapter 3's live panel in headless Chromium: set the controls, click Generate, read back.

Used by ``test_live_panel.py`` (the checks) and ``benchmarks/bench_live_panel.py`` (the
timing it records). The built book is served by ``scripts/serve_book.py``'s handler, the one
``make serve`` runs, and every request to another host is refused (the reader may be offline).
"""

from __future__ import annotations

import base64
import functools
import http.server
import importlib.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PAGE = "03_waveform_unet/03_01_waveform_unet.html"
#: Chapter 2's panel: the flow model drums-small-rf, Euler steps, no classes.
FLOW_PAGE = "02_ddpm_vs_flow/02_01_ddpm_vs_flow.html"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"]  # fmt: skip

# Runs in the page once Generate finished: the panel's last result and its player's WAV.
READ_RESULT = """
async () => {
  const panel = document.querySelector('.live-panel');
  const r = panel.liveResult;
  const audio = panel.querySelector('audio');
  const bytes = new Uint8Array(await (await fetch(audio.src)).arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return {samples: Array.from(r.samples), seconds: r.seconds, loadSeconds: r.loadSeconds,
          calls: r.calls, gainDb: r.gainDb, status: panel.querySelector('.live-status').textContent,
          wav: btoa(bin)};
}
"""


def serve_book() -> Any:
    """``scripts/serve_book.py`` (``make serve``)."""
    spec = importlib.util.spec_from_file_location("serve_book", ROOT / "scripts" / "serve_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _QuietHandler(serve_book().Handler):
    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def served(directory: Path) -> Iterator[str]:
    """Serve ``directory`` as ``make serve`` does, on a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def browser_page(chromium: str, base: str) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A fresh Chromium page that may load only from ``base``; yields (page, console errors,
    refused requests)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    refused: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith((base, "data:", "blob:")):
            r.continue_()
        else:
            refused.append(url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_context().new_page()
            page.route("**/*", route)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
            yield page, errors, refused
        finally:
            browser.close()


def set_controls(
    page: Any, *, steps: Any, seed: Any, class_name: str | None = None, guidance: Any = None
) -> None:
    """Fill the panel's controls (class and guidance only where given: a model without
    classes has neither)."""
    panel = page.locator(".live-panel")
    if class_name is not None:
        panel.locator("select[name=class]").select_option(class_name)
    for name, value in (("steps", steps), ("guidance", guidance), ("seed", seed)):
        if value is not None:
            panel.locator(f"input[name={name}]").fill(str(value))


def generate(page: Any, timeout_s: float = 300) -> str:
    """Click Generate and wait until the panel is done or says what went wrong; its state."""
    page.locator(".live-panel button[type=submit]").click()
    page.wait_for_function(
        "() => ['done', 'error'].includes(document.querySelector('.live-panel').dataset.state)",
        timeout=timeout_s * 1000,
    )
    return page.locator(".live-panel").get_attribute("data-state")


def status(page: Any) -> str:
    return page.locator(".live-panel .live-status").inner_text()


def read_result(page: Any) -> dict[str, Any]:
    """The last result: ``samples`` (list), ``seconds``, ``loadSeconds``, ``calls``, ``gainDb``,
    ``status`` and ``wav`` (the player's file, bytes)."""
    result = page.evaluate(READ_RESULT)
    result["wav"] = base64.b64decode(result["wav"])
    return result


def pytorch_clip(**settings: Any) -> Any:
    """``tl.export.live_sample(**settings)`` (the panel's clip computed by PyTorch), on one
    thread: the network is small, and two threads on a busy 2-core machine were measured 50x
    slower (156 s instead of 3 s for 30 steps, load average 3)."""
    import torch

    from tutorial_lib import export

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return export.live_sample(**settings)
    finally:
        torch.set_num_threads(threads)


def run_in_page(html_dir: Path, chromium: str, settings: dict[str, Any], repeats: int = 1) -> list:
    """Generate ``repeats`` times with ``settings`` on one page load; the results in order."""
    results = []
    with served(html_dir) as base, browser_page(chromium, base) as (page, errors, refused):
        page.goto(base + PAGE, wait_until="load")
        set_controls(page, **settings)
        for _ in range(repeats):
            state = generate(page)
            if state != "done":
                raise RuntimeError(f"the panel says: {status(page)}")
            results.append(read_result(page))
        if errors or refused:
            raise RuntimeError(f"console errors {errors}, requests to other hosts {refused}")
    return results
