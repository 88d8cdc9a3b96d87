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
    assert "floor: bare sqlite3, one INSERT per fsynced commit" in out
    assert "journal / bare floor, taking turns" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("report on 3,000 rows"))
    assert re.search(r"target ≤ 1 s\s+(PASS|MISS)$", line), line
    line = next(x for x in out.splitlines() if x.strip().startswith("report peak RSS"))
    assert re.search(r"target ≤ 100 MB\s+(PASS|MISS)$", line), line
    assert "tradebot report --from-rows" in out


def test_the_floor_runs_beside_the_journal_and_prints_the_journals_share_of_it() -> None:
    """``--floor``: the bare sqlite3 loops and the journal, taking turns; benchmarks/README.md
    quotes these lines."""
    out = subprocess.run(
        [sys.executable, str(BENCH), "--floor", "--writes", "30", "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    rounds = [x for x in out.splitlines() if x.startswith("round ")]
    assert len(rounds) == 2, out
    assert all("floor bare" in x and "the journal's tables" in x for x in rounds), out
    for figure in (
        "floor: bare sqlite3, one INSERT per fsynced commit",
        "floor: into the journal's tables (no summary)",
        "journal / bare floor, median of the rounds' ratios",
        "journal / floor into its tables, median of ratios",
    ):
        assert any(x.strip().startswith(figure) for x in out.splitlines()), (figure, out)
    line = next(x for x in out.splitlines() if "journal durable events/s, one per commit" in x)
    assert re.search(r"target ≥ 5,000 /s\s+(PASS|MISS)$", line), line
