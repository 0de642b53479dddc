"""Run a command that executes notebooks and measure every notebook's kernel: time and memory.

    python scripts/notebook_budget.py --mode book --report book/_build/budget-book.json \\
        -- jupyter-book build book ...
    python scripts/notebook_budget.py --mode fast --report ... -- pytest --nbmake ...
    python scripts/notebook_budget.py table benchmarks/notebooks-*.json   # a Markdown table

The command runs as a child; every 0.2 s this script looks at the command's descendant
processes and follows each Jupyter kernel (``ipykernel_launcher``) from start to exit:

- **time**: how long the kernel lived (start-up, every cell, shut-down);
- **peak memory**: the kernel's peak resident set size (``VmHWM`` from ``/proc`` on Linux,
  so a spike between two polls is not missed; elsewhere the largest RSS polled), or the
  largest polled RSS of the kernel plus its own children, whichever is larger.

A kernel is attributed to the notebook in its working directory (Jupyter Book and nbmake
both start a notebook's kernel in the notebook's folder; the book keeps one notebook a
folder, a rule of ``tests/book_rules.py``). At the end it prints a table and writes a JSON report; a notebook over its mode's
budget (``tutorial_lib.config.BUDGETS``: fast 90 s / 2 GiB, book 300 s / 4 GiB) fails the run
(exit status 1) even when the command passed. Notebooks taken from an execution cache start
no kernel and are listed as not executed.

Why outside the kernel: the measurement must not depend on the notebook (a notebook killed
for memory cannot report its own peak) nor slow it down (the poll costs well under 1 % of a
core).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
POLL_S = 0.2


def _budgets() -> dict[str, dict[str, float]]:
    sys.path.insert(0, str(ROOT / "src"))
    from tutorial_lib.config import BUDGETS

    return BUDGETS


def _is_kernel(proc: psutil.Process) -> bool:
    try:
        cmd = proc.cmdline()
    except (psutil.Error, OSError):
        return False
    return any("ipykernel_launcher" in part or part == "ipykernel" for part in cmd)


def _hwm_mib(proc: psutil.Process) -> float | None:
    """Peak resident memory of one process (Linux ``VmHWM``), in MiB."""
    try:
        with open(f"/proc/{proc.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _notebook_for(cwd: str) -> str:
    folder = Path(cwd)
    found = sorted(p for p in folder.glob("*.ipynb") if "_build" not in p.parts)
    try:
        shown = folder.resolve().relative_to(ROOT)
    except ValueError:
        shown = folder
    if len(found) == 1:
        try:
            return str(found[0].resolve().relative_to(ROOT))
        except ValueError:
            return str(found[0])
    return f"{shown}/ ({len(found)} notebooks)" if found else f"{shown}/"


class _Kernel:
    def __init__(self, proc: psutil.Process, now: float) -> None:
        self.proc = proc
        self.started = now
        self.last_seen = now
        try:
            self.cwd = proc.cwd()
        except (psutil.Error, OSError):
            self.cwd = "?"
        self.peak_mib = 0.0

    def poll(self, now: float) -> bool:
        """Update; ``False`` once the process is gone."""
        try:
            if not self.proc.is_running() or self.proc.status() == psutil.STATUS_ZOMBIE:
                return False
            rss = self.proc.memory_info().rss
            for child in self.proc.children(recursive=True):
                try:
                    rss += child.memory_info().rss
                except (psutil.Error, OSError):
                    pass
        except (psutil.Error, OSError):
            return False
        hwm = _hwm_mib(self.proc)
        self.peak_mib = max(self.peak_mib, rss / 2**20, hwm or 0.0)
        self.last_seen = now
        return True

    def record(self, budget: dict[str, float] | None) -> dict:
        seconds = self.last_seen - self.started
        row = {
            "notebook": _notebook_for(self.cwd),
            "seconds": round(seconds, 1),
            "peak_memory_mib": round(self.peak_mib, 1),
        }
        if budget:
            over = []
            if seconds > budget["seconds"]:
                over.append(f"time {seconds:.0f} s > {budget['seconds']:.0f} s")
            if self.peak_mib > budget["memory_mib"]:
                over.append(f"memory {self.peak_mib:.0f} MiB > {budget['memory_mib']:.0f} MiB")
            row["over_budget"] = over
        return row


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = psutil.virtual_memory().total / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def run(mode: str, report: Path | None, command: list[str], budget: dict[str, float]) -> int:
    start = time.monotonic()
    child = subprocess.Popen(command)
    root = psutil.Process(child.pid)
    live: dict[int, _Kernel] = {}
    done: list[_Kernel] = []
    while True:
        now = time.monotonic()
        try:
            for proc in root.children(recursive=True):
                if proc.pid not in live and _is_kernel(proc):
                    live[proc.pid] = _Kernel(proc, now)
        except (psutil.Error, OSError):
            pass
        for pid in list(live):
            if not live[pid].poll(now):
                done.append(live.pop(pid))
        if child.poll() is not None:
            break
        time.sleep(POLL_S)
    done.extend(live.values())
    total = time.monotonic() - start
    rows = [k.record(budget) for k in sorted(done, key=lambda k: k.started)]
    result = {
        "mode": mode,
        "budget": budget,
        "machine": machine(),
        "command": " ".join(command),
        "command_status": child.returncode,
        "total_seconds": round(total, 1),
        "notebooks": rows,
    }
    print(
        f"\nnotebook budget ({mode} mode; budget per notebook: "
        + (f"{budget['seconds']:.0f} s, {budget['memory_mib']:.0f} MiB)" if budget else "none)")
    )
    print(table([result]))
    if not rows:
        print("(no notebook was executed: all came from the execution cache)")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=report.parent, suffix=".tmp", delete=False, encoding="utf-8"
        ) as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        os.replace(f.name, report)
        print(f"report: {report}")
    over = [r for r in rows if r.get("over_budget")]
    for r in over:
        print(f"OVER BUDGET: {r['notebook']}: {'; '.join(r['over_budget'])}", file=sys.stderr)
    if child.returncode != 0:
        return child.returncode
    return 1 if over else 0


def table(results: list[dict]) -> str:
    lines = ["| mode | notebook | seconds | peak memory (MiB) | within budget |",
             "|---|---|---|---|---|"]  # fmt: skip
    for res in results:
        for r in res["notebooks"]:
            ok = "yes" if not r.get("over_budget") else "NO: " + "; ".join(r["over_budget"])
            lines.append(
                f"| {res['mode']} | {r['notebook']} | {r['seconds']:.1f} | "
                f"{r['peak_memory_mib']:.0f} | {ok} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "table":
        results = [json.loads(Path(p).read_text(encoding="utf-8")) for p in argv[1:]]
        for res in results:
            print(f"<!-- {res['mode']}: {res['machine']} -->")
        print(table(results))
        return 0
    if "--" not in argv:
        print(
            "usage: notebook_budget.py --mode MODE [--report FILE] -- COMMAND ...", file=sys.stderr
        )
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", required=True, choices=("fast", "book", "full"))
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--max-seconds", type=float, default=None, help="override the budget")
    parser.add_argument("--max-mib", type=float, default=None, help="override the budget")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("no command after --")
    budget = dict(
        _budgets().get(args.mode) or {"seconds": float("inf"), "memory_mib": float("inf")}
    )
    if args.max_seconds is not None:
        budget["seconds"] = args.max_seconds
    if args.max_mib is not None:
        budget["memory_mib"] = args.max_mib
    return run(args.mode, args.report, command, budget)


if __name__ == "__main__":
    sys.exit(main())
