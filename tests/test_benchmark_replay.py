"""`benchmarks/replay.py` still runs (a small run) and prints its figures next to its target.
Nothing is asserted about speed: that lives in the benchmark, on a quiet machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "replay.py"


def test_the_replay_benchmark_runs_and_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--days", "20", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith("replay: 4 algorithms x 20 days:") and " signals, " in lines[0]
    verdict = next(line for line in lines if line.strip().startswith("replay of 20 days"))
    assert "target ≤ 10 s" in verdict and verdict.rsplit(" ", 1)[-1] in ("PASS", "MISS")
    assert any(line.strip().startswith("replay, signals per second") for line in lines)
