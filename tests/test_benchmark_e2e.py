"""`benchmarks/e2e.py` still runs end to end (a small run: real bots, real simulators) and prints
its three medians and the ratio next to its target. Nothing is asserted about speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "e2e.py"


def test_the_e2e_benchmark_runs_and_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--signals", "4", "--rounds", "1", "--settle", "0.01"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    for bot in ("tradebot run", "minimal parse + submit_order", "minimal + price request"):
        line = next(line for line in out.splitlines() if bot in line)
        assert "median" in line and "n=4" in line, line
    ratio = next(line for line in out.splitlines() if "e2e tradebot / (minimal" in line)
    assert "target ≤ 1.3" in ratio and ratio.rsplit(" ", 1)[-1] in ("PASS", "MISS")


def test_the_e2e_benchmark_measures_a_baseline_checkout_in_every_round() -> None:
    # the same interpreter as its own baseline: the A/B path runs, whatever the figures
    command = [sys.executable, str(BENCH), "--signals", "2", "--rounds", "2", "--settle", "0.01"]
    out = subprocess.run(
        [*command, "--baseline", sys.executable],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.strip().startswith("baseline"))
    assert "median" in line and "n=4" in line, line
    rounds = [line for line in out.splitlines() if line.strip().startswith("round ")]
    assert len(rounds) == 2 and all("baseline" in line for line in rounds), rounds
