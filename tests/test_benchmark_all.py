"""`benchmarks/all.py --quick` still runs every benchmark and writes the table docs/operations.md
quotes. Nothing about speed is asserted: a MISS is a measurement, not a failure; a benchmark that no
longer runs is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from targets import check, note, passes  # noqa: E402

from tests.pgserver import pg_bin  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")  # tests/web/test_browser.py's


def runnable() -> list[str]:
    """Every benchmark; outside CI, those whose tools are missing are left out (as the tests
    that need PostgreSQL or Chromium are skipped): CI runs them all."""
    names = ["plan", "listener", "broker", "journal", "e2e", "dashboard", "failover", "execution"]
    names.append("replay")
    names.append("track")
    names.append("accounts")
    if os.environ.get("CI") != "true":
        if pg_bin() is None:
            names.remove("failover")
        if not CHROMIUM.exists():
            names.remove("dashboard")
    return names


def test_all_quick_runs_every_benchmark_and_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    names = runnable()
    command = [sys.executable, str(BENCHMARKS / "all.py"), "--quick", "--out", str(out)]
    done = subprocess.run(
        [*command, "--only", *names],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    text = out.read_text()
    assert "| figure | target | measured | PASS/MISS |" in text
    assert "Quick mode" in text and "cores" in text and "Python 3." in text
    rows = [line for line in text.splitlines() if line.endswith(("| PASS |", "| MISS |"))]
    figures = " ".join(rows)
    wanted = {
        "e2e": ("e2e tradebot / (minimal + price + commit)",),
        "plan": ("plan() median, every limit on",),
        "replay": ("replay of 20 days x 4 algorithms, total",),
        "track": ("track on 20,000 rows", "track peak RSS"),
        "journal": ("report on 20,000 rows", "report peak RSS", "CSV export on 20,000 rows"),
        "dashboard": ("dashboard Positions", "dashboard Performance"),
        "broker": ("broker adapter / bare SDK submit",),
        "listener": ("listener handoff, median",),
        "failover": ("failover kill -9",),
        "accounts": (
            "accounts 2: last - first, per extra account",
            "accounts 2, one hanging: last healthy order / all healthy",
        ),
    }
    for name in names:
        assert f"`{name}.py`" in text
        for figure in wanted.get(name, ()):
            assert figure in figures, (figure, text)
    assert "FAILED" not in text


def test_a_figure_is_printed_beside_its_target_with_pass_or_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv("TRADEBOT_BENCH_RESULTS", str(results))
    assert check("plan() median", 149.9, "<", 150, "us") is True
    assert check("plan() median", 150.0, "<", 150, "us") is False
    assert check("ratio", 1.3, "<=", 1.3) is True
    assert check("events", 4999, ">=", 5000, "/s") is False
    note("no target", 12.345, "ms")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("PASS") and "149.9 us   target < 150 us " in printed[0]
    assert printed[1].endswith("MISS") and "target < 150 us" in printed[1]
    assert printed[2].endswith("PASS") and "target ≤ 1.3 " in printed[2]
    assert printed[3].endswith("MISS") and "target ≥ 5,000 /s" in printed[3]
    assert printed[4].split() == ["no", "target", "12.35", "ms"]
    lines = results.read_text().splitlines()
    assert len(lines) == 5 and '"verdict": "MISS"' in lines[1] and '"verdict": ""' in lines[4]
    assert passes(1, "<", 2) and not passes(2, "<", 2) and passes(2, "<=", 2)
    assert passes(3, ">", 2) and not passes(2, ">", 2) and passes(2, ">=", 2)
