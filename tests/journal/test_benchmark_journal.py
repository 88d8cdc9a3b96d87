"""`benchmarks/journal.py` still runs end to end (a small run) and prints the report's figures
next to their targets: docs/operations.md quotes them. Nothing about speed is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "journal.py"


def test_the_journal_benchmark_runs_and_prints_the_report_against_its_targets() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--events", "3000", "--writes", "20"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    assert "durable events/s, one per commit" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("report on 3,000 rows"))
    assert re.search(r"target ≤ 1 s\s+(PASS|MISS)$", line), line
    line = next(x for x in out.splitlines() if x.strip().startswith("report peak RSS"))
    assert re.search(r"target ≤ 100 MB\s+(PASS|MISS)$", line), line
    assert "tradebot report --from-rows" in out
