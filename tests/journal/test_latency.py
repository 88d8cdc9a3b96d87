"""Latency per algorithm (``tradebot report``'s third table): a journal with known times gives
known nearest-rank percentiles, and too few samples are said, not guessed."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tradebot.cli.main import cli
from tradebot.journal import open_journal
from tradebot.journal.interface import Journal
from tradebot.journal.latency import (
    LegTimes,
    latency_report,
    min_samples,
    tally,
    window_report,
)
from tradebot.journal.records import Status
from tradebot.journal.rows import Row

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
ENTRY = {"order_type": "market", "role": "open"}


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def order(
    journal: Journal,
    algo: int,
    coid: str,
    *,
    received: float,
    sent: float,
    fills: tuple[float, ...] = (),
    ends: bool = False,
    data: dict[str, Any] | None = None,
) -> None:
    """A signal received at ``received`` s, its order's intent at ``sent``, fills of 1 share
    at each of ``fills`` (the order is for ``len(fills)`` shares unless ``ends``: then one
    more, and the broker cancels the rest after the last fill)."""
    key = f"{algo}:open:AAA:buy:{coid}"
    signal_id = journal.write_rows(
        [Row(_at(received), Status.SIGNAL, "signal", algo_id=algo, data={"raw": {}})]
    )
    leg = Row(_at(received), Status.LEG, "leg", algo_id=algo, symbol="AAA", leg=key, side="buy")
    journal.write_rows([replace(leg, price=Decimal(100), signal_id=signal_id)])
    qty = len(fills) + (1 if ends else 0)
    rows = [
        Row(
            _at(sent),
            Status.INTENT,
            "intent",
            algo_id=algo,
            symbol="AAA",
            client_order_id=coid,
            signal_id=signal_id,
            leg=key,
            side="buy",
            qty=Decimal(qty),
            price=Decimal(100),
            data=data or ENTRY,
        )
    ]
    for n, at in enumerate(fills, start=1):
        rows.append(
            Row(
                _at(at),
                Status.FILLED if n == qty else Status.PARTIAL,
                "fill",
                algo_id=algo,
                symbol="AAA",
                client_order_id=coid,
                side="buy",
                qty=Decimal(1),
                price=Decimal(100),
                cum_qty=Decimal(n),
            )
        )
    if ends:
        rows.append(
            Row(_at(fills[-1] + 1), Status.CANCELED, "canceled", algo_id=algo, client_order_id=coid)
        )
    journal.write_rows(rows)


@pytest.fixture
def known(tmp_path: Path) -> Path:
    return write_known(tmp_path / "journal.sqlite")


def write_known(path: Path) -> Path:
    """Algorithm 1: ten legs, leg k sent k/10 s after its signal, first filled k s after it
    and last filled 10k s after it (two fills each). Algorithm 2: one leg, and one still
    working (a first fill, no last); an exit, which is not ours to time."""
    with open_journal(path) as journal:
        for k in range(1, 11):
            start = 1000.0 * k
            sent = start + k / 10
            order(journal, 1, f"o1-{k}", received=start, sent=sent, fills=(sent + k, sent + 10 * k))
        order(journal, 2, "o2-a", received=0.5, sent=0.75, fills=(1.75, 3.75))
        order(journal, 2, "o2-b", received=2, sent=2.5, fills=(4.5,), ends=False)
        # still working: two shares planned, one filled, no final status yet
        journal.write_rows(
            [
                Row(
                    _at(2.6),
                    Status.INTENT,
                    "intent",
                    algo_id=2,
                    symbol="AAA",
                    client_order_id="o2-c",
                    leg="2:open:AAA:buy:c",
                    side="buy",
                    qty=Decimal(2),
                    price=Decimal(100),
                    data=ENTRY,
                ),
                Row(
                    _at(3.6),
                    Status.PARTIAL,
                    "fill",
                    algo_id=2,
                    symbol="AAA",
                    client_order_id="o2-c",
                    side="buy",
                    qty=Decimal(1),
                    price=Decimal(100),
                    cum_qty=Decimal(1),
                ),
            ]
        )
        order(
            journal,
            2,
            "x2",
            received=5,
            sent=6,
            fills=(600,),
            data={"order_type": "stop", "role": "exit", "stop_price": "90"},
        )
    return path


def _report(path: Path) -> dict[int, dict[str, Any]]:
    with open_journal(path, readonly=True) as journal:
        found = latency_report(journal)
        assert found == window_report(journal.leg_times())  # the index walks, the sort: one rule
    return {r.algo_id: r.as_dict() for r in found.rows}


def test_known_times_give_known_nearest_rank_percentiles(known: Path) -> None:
    rows = _report(known)
    one = rows[1]
    assert one["signal_to_order_n"] == 10
    # nearest rank of 10 samples: p50 is the 5th, p90 the 9th; p99 needs 100 samples
    assert (one["signal_to_order_p50_s"], one["signal_to_order_p90_s"]) == ("0.5", "0.9")
    assert one["signal_to_order_p99_s"] is None
    assert (one["order_to_first_fill_p50_s"], one["order_to_first_fill_p90_s"]) == ("5", "9")
    assert (one["order_to_last_fill_p50_s"], one["order_to_last_fill_p90_s"]) == ("50", "90")


def test_a_working_leg_has_a_first_fill_and_no_last_and_exits_are_left_out(known: Path) -> None:
    two = _report(known)[2]
    # o2-a and o2-b have signals; o2-c has no LEG row; the exit x2 is not counted at all
    assert two["signal_to_order_n"] == 2
    assert two["signal_to_order_p50_s"] == "0.25"  # 0.25 and 0.5: the 1st of 2
    assert two["order_to_first_fill_n"] == 3  # o2-a 1, o2-b 2, o2-c 1
    assert two["order_to_first_fill_p50_s"] == "1"  # sorted 1, 1, 2: rank ceil(1.5) = 2
    assert two["order_to_last_fill_n"] == 2  # o2-c is still working
    assert two["order_to_last_fill_p50_s"] == "2"  # 3 (o2-a) and 2 (o2-b): the 1st of 2
    assert two["order_to_last_fill_p90_s"] is None  # 2 < 10 samples


def test_fewer_samples_than_a_percentile_needs_is_said() -> None:
    assert [min_samples(p) for p in (50, 90, 99)] == [2, 10, 100]
    legs = [LegTimes(7, 0, 1_000_000, 2_000_000, 3_000_000, True)]
    (row,) = tally(legs).table()[:1]
    assert row == {
        "algo_id": 7,
        "interval": "signal_to_order",
        "n": 1,
        "p50_s": "<2 samples",
        "p90_s": "<10 samples",
        "p99_s": "<100 samples",
    }
    # a hundred samples: p99 is the 99th, not the largest
    many = [LegTimes(7, 0, n, None, None, False) for n in range(1, 101)]
    assert tally(many).rows[0].as_dict()["signal_to_order_p99_s"] == "0.000099"


def test_report_prints_the_latency_table_and_json(known: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(cli, ["report", "--journal", str(known)])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    head = lines.index("latency, per algorithm (legs sent in the period; entries and closes):")
    table = lines[head + 1 :]
    row = next(line.split() for line in table if line.split()[:2] == ["1", "order_to_last_fill"])
    assert row[2:] == ["10", "50", "90", "<100", "samples"]
    out = runner.invoke(cli, ["report", "--journal", str(known), "--latency", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["percentiles"] == "nearest rank"
    one = next(r for r in data["rows"] if r["algo_id"] == 1)
    assert one["order_to_first_fill_p90_s"] == "9"
    assert one["order_to_last_fill_p50_s"] == "50"


def test_report_window_counts_legs_sent_in_it(known: Path) -> None:
    """--since/--until: legs sent in the window, fills after --until not seen."""
    since, until = _at(3000).isoformat(), _at(5000 + 0.5 + 30).isoformat()
    out = CliRunner().invoke(
        cli,
        [
            *("report", "--journal", str(known), "--latency", "--format", "json"),
            *("--since", since, "--until", until),
        ],
    )
    assert out.exit_code == 0, out.output
    (one,) = json.loads(out.output)["rows"]
    assert one["signal_to_order_n"] == 3  # legs 3, 4, 5
    assert one["order_to_first_fill_n"] == 3
    assert one["order_to_last_fill_n"] == 2  # leg 5's last fill (50 s after) is after --until


def test_a_journal_from_before_gets_the_latencies_on_open_and_verify_checks_them(
    known: Path,
) -> None:
    before = _report(known)
    conn = sqlite3.connect(known)
    with conn:  # the journal as the previous tradebot left it: schema v5, no latency columns
        for name in ("signal_us", "first_us", "last_us"):
            conn.execute(f"DROP INDEX ix_sum_leg_{name}")
        for name in ("received", "signal_us", "first_us", "last_us"):
            conn.execute(f"ALTER TABLE sum_leg DROP COLUMN {name}")
        for name in ("signal_n", "first_n", "last_n"):
            conn.execute(f"ALTER TABLE sum_style DROP COLUMN {name}")
        conn.execute("ALTER TABLE entries DROP COLUMN account")  # v7's
        conn.execute("PRAGMA user_version = 5")
    conn.close()
    assert _report(known) == before  # a reader upgrades it, from the rows
    runner = CliRunner()
    verified = runner.invoke(cli, ["journal", "verify", "--journal", str(known)])
    assert verified.exit_code == 0, verified.output
    conn = sqlite3.connect(known)
    with conn:
        conn.execute("UPDATE sum_leg SET first_us = first_us + 1 WHERE coid = 'o1-3'")
    conn.close()
    verified = runner.invoke(cli, ["journal", "verify", "--journal", str(known)])
    assert verified.exit_code == 1, verified.output
    assert "o1-3: rows make latencies" in verified.output
    conn = sqlite3.connect(known)
    with conn:
        conn.execute("UPDATE sum_leg SET first_us = first_us - 1 WHERE coid = 'o1-3'")
        conn.execute("UPDATE sum_style SET last_n = last_n + 1 WHERE algo_id = 2")
    conn.close()
    verified = runner.invoke(cli, ["journal", "verify", "--journal", str(known)])
    assert verified.exit_code == 1, verified.output
    assert "sum_style" in verified.output and "o1-3" not in verified.output
