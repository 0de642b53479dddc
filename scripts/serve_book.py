"""Serve the built book on this machine, as any static host would (``make serve``).

    python scripts/serve_book.py [DIR] [--port 8000] [--host 127.0.0.1]

DIR defaults to ``book/_build/html`` (``make book``). Browsers refuse to run WebAssembly from
pages opened as ``file://``, so the live panels (chapter 3) need the book served over HTTP:
this is Python's own static server with the MIME types those pages need (``.wasm`` as
``application/wasm``, ``.mjs`` as JavaScript). Nothing else is required of a host: no
cross-origin isolation headers (the runtime runs on one thread). Stdlib only.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIME = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
        ".json": "application/json", ".onnx": "application/octet-stream"}  # fmt: skip


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=ROOT / "book" / "_build" / "html")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    if not (args.dir / "index.html").is_file():
        print(f"serve_book: no built book in {args.dir}: run `make book` first", file=sys.stderr)
        return 2
    handler = functools.partial(Handler, directory=str(args.dir))
    try:
        server = http.server.ThreadingHTTPServer((args.host, args.port), handler)
    except OSError as exc:
        print(f"serve_book: cannot listen on {args.host}:{args.port} ({exc}); "
              "try another port: make serve PORT=8001", file=sys.stderr)  # fmt: skip
        return 1
    print(f"Serving {args.dir} at http://{args.host}:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
