"""`benchmarks/track.py` still runs (a small run) and prints `tradebot track`'s figures next to
their targets. Nothing is asserted about speed: that lives in the benchmark, on a quiet machine."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "track.py"


def test_the_track_benchmark_runs_and_prints_its_figures_against_their_targets() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--events", "3000", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0].startswith("built a journal of 3,000 rows")
    line = next(x for x in lines if x.startswith("track on 3,000 rows"))
    assert re.search(r"target ≤ 2 s\s+(PASS|MISS)$", line), line
    line = next(x for x in lines if x.startswith("track peak RSS"))
    assert re.search(r"target ≤ 150 MB\s+(PASS|MISS)$", line), line
    assert any(x.startswith("track --algo 7 on 3,000 rows") for x in lines)
