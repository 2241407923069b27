"""Every benchmark under scripts/ runs, as `make bench` or its docstring runs it, at the smallest
sizes its flags allow: a broken import or flag shows here, not in a reader's terminal. The
figures are not checked (they vary by machine); the run ending 0 with its summary line is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from bot.settings import ROOT

pytestmark = [pytest.mark.process, pytest.mark.postgres]  # bots, and PostgreSQL servers

# Each script with the flags that make it short, and a line its summary prints.
SMALLEST = {
    "bench_engine.py": (["--people", "5", "--concurrency", "2", "--outbox"], "turns/s"),
    "bench_replicas.py": (["--people", "2", "--replicas", "1"], "replicas turns/s:"),
    "bench_telegram.py": (["--rounds", "1", "--people", "2"], "screening bot CPU ms/update:"),
}


def test_every_benchmark_script_has_a_smoke_run() -> None:
    assert sorted(path.name for path in (ROOT / "scripts").glob("bench_*.py")) == sorted(SMALLEST)


@pytest.mark.parametrize("script", sorted(SMALLEST))
def test_a_benchmark_runs_at_its_smallest_size(script: str) -> None:
    flags, summary = SMALLEST[script]
    # What a script keeps (logs, data) goes to a folder removed afterwards: not pytest's own,
    # which PostgreSQL's user (when the tests run as root) may not enter.
    folder = tempfile.mkdtemp(prefix="bot-bench-test-")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    env["TMPDIR"] = folder
    os.chmod(folder, 0o755)
    try:
        run = subprocess.run([sys.executable, f"scripts/{script}", *flags], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert summary in run.stdout, run.stdout
