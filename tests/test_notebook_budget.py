"""scripts/notebook_budget.py: it finds each kernel, measures its time and peak memory, and
fails a run whose notebook goes over budget (a fake kernel stands in for Jupyter's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "notebook_budget.py"

# A "kernel": a Python process whose command line names ipykernel_launcher, as Jupyter's do.
# It holds about 300 MiB (touched, so resident) for 1.5 s.
FAKE_KERNEL = (
    "import time; x = bytearray(b'x' * (300 * 2**20)); time.sleep(1.5)",
    "ipykernel_launcher",
)


def _run(tmp_path: Path, *budget: str, command: list[str] | None = None):
    nb_dir = tmp_path / "chapter"
    nb_dir.mkdir(exist_ok=True)
    (nb_dir / "01_01_chapter.ipynb").write_text("{}")
    report = tmp_path / "report.json"
    kernel = [sys.executable, "-c", *FAKE_KERNEL]
    inner = command or [sys.executable, "-c",
                        f"import subprocess; subprocess.run({kernel!r}, cwd={str(nb_dir)!r})"]  # fmt: skip
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--mode", "fast", "--report", str(report), *budget, "--",
         *inner], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return out, json.loads(report.read_text())


def test_measures_each_kernel_and_passes_within_budget(tmp_path):
    out, rep = _run(tmp_path, "--max-seconds", "60", "--max-mib", "4096")
    assert out.returncode == 0, out.stdout + out.stderr
    [row] = rep["notebooks"]
    assert row["notebook"].endswith("chapter/01_01_chapter.ipynb")
    assert 1.0 <= row["seconds"] < 30
    assert 300 <= row["peak_memory_mib"] < 1000
    assert row["over_budget"] == [] and "| fast |" in out.stdout


@pytest.mark.parametrize(
    ("budget", "what"),
    [(("--max-mib", "100"), "memory"), (("--max-seconds", "0.5"), "time")],
)
def test_a_notebook_over_budget_fails_the_run(tmp_path, budget, what):
    out, rep = _run(tmp_path, *budget)
    assert out.returncode == 1
    assert "OVER BUDGET: " in out.stderr and what in out.stderr
    assert rep["notebooks"][0]["over_budget"]


def test_the_commands_own_failure_is_passed_on(tmp_path):
    out, rep = _run(tmp_path, command=[sys.executable, "-c", "raise SystemExit(3)"])
    assert out.returncode == 3 and rep["command_status"] == 3 and rep["notebooks"] == []
    assert "no notebook was executed" in out.stdout


def test_table_of_reports(tmp_path):
    _, rep = _run(tmp_path, "--max-mib", "4096")
    out = subprocess.run([sys.executable, str(SCRIPT), "table", str(tmp_path / "report.json")],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert "| notebook | seconds | peak memory (MiB) |" in out.stdout
    assert "01_01_chapter.ipynb" in out.stdout
