"""`benchmarks/execution.py` still runs end to end (a small run): docs/operations.md quotes its
figures, and a change to the server or the adapter must not leave it broken unnoticed. Its figures
are not asserted beyond what a run must always show (every leg decided, market legs all filled)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "execution.py"


def test_the_execution_benchmark_runs_and_prints_the_three_styles() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--signals", "30", "--symbols", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    header = next(line for line in out.splitlines() if "limit_then_market" in line)
    assert header.split() == ["market", "limit", "limit_then_market"]
    legs = next(line for line in out.splitlines() if line.startswith("legs (filled completely)"))
    assert legs.split()[3:5] == ["30", "(30)"]  # every market leg decided and filled
    assert legs.split()[5] == "30" and legs.split()[7] == "30"
