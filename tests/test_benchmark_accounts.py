"""`benchmarks/accounts.py` still runs end to end (a small run: `tradebot run` with one and with
two accounts, each at its own local Alpaca server, the AlphaHub simulator; then two with the
second's broker hanging) and prints its figures beside their targets. Nothing is asserted about
speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "accounts.py"


def test_the_accounts_benchmark_runs_and_prints_its_figures() -> None:
    command = [sys.executable, str(BENCH), "--accounts", "1", "2", "--signals", "2"]
    done = subprocess.run(
        [*command, "--settle", "0.01"], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    lines = done.stdout.splitlines()
    assert "1 account, 2 signals:" in lines and "2 accounts, 2 signals:" in lines
    for count in (1, 2):
        for what in ("signal -> first order, median", "signal -> last order, median"):
            (line,) = [x for x in lines if f"accounts {count}: {what}" in x]
            assert line.rstrip().endswith("ms"), line
    (kth,) = [lines[i + 1] for i, x in enumerate(lines) if "k-th account's order" in x]
    assert kth.split()[0] == "2:", kth
    (spread,) = [x for x in lines if "accounts 2: last - first, per extra account" in x]
    assert "target ≤ 5 ms" in spread and spread.rsplit(" ", 1)[-1] in ("PASS", "MISS"), spread
    assert not [x for x in lines if "accounts 1: last - first" in x]
    # the run with the second account's broker hanging: the first's orders, against all healthy
    assert "2 accounts, the last one's broker hanging every order, 2 signals:" in lines
    (hung,) = [x for x in lines if "accounts 2, one hanging: last healthy order / all" in x]
    assert "target ≤ 1.25" in hung and hung.rsplit(" ", 1)[-1] in ("PASS", "MISS"), hung
    assert not [x for x in lines if "accounts 1, one hanging" in x]
