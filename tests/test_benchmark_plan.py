"""`benchmarks/plan.py` still runs (a small run) and prints its figures next to its target.
Nothing is asserted about speed: that lives in the benchmark, on a quiet machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "plan.py"


def test_the_plan_benchmark_runs_and_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--runs", "50"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert any(line.startswith("every risk limit on") and "median" in line for line in lines)
    assert any(line.startswith("no risk limits") and "median" in line for line in lines)
    verdict = next(line for line in lines if line.strip().startswith("plan() median, every"))
    assert "target < 150 us" in verdict and verdict.rsplit(" ", 1)[-1] in ("PASS", "MISS")
