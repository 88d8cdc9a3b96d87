"""kill -9 at every step boundary, then restart with recovery: every leg ordered exactly once or
recorded as failed with a reason, the journal complete, positions equal to the broker's.

Each case runs the real journal, executor and recovery in a subprocess (crash_driver.py) against
the scripted broker with its state in a file, so that it survives the kill.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.scripted_broker import ScriptedBroker
from tradebot.journal import EntryFilter, Status, open_journal

ROOT = Path(__file__).resolve().parents[2]
RECEIVED = datetime.now(UTC).replace(microsecond=0)
SIGNAL_B = ["--close", "AAPL:sell:190.5", "--open", "MSFT:buy:410", "--open", "NVDA:sell:120.25"]


def drive(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "tests.execution.crash_driver",
        "--journal",
        str(tmp / "journal.sqlite"),
        "--broker",
        str(tmp / "broker.sqlite"),
        *args,
    ]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def crash_then_recover(tmp: Path, step: str, *restart: str) -> dict[str, Any]:
    earlier = (RECEIVED - timedelta(seconds=30)).isoformat()
    ok(drive(tmp, "--open", "AAPL:buy:189", "--received-at", earlier))
    crashed = drive(tmp, *SIGNAL_B, "--received-at", RECEIVED.isoformat(), "--crash-at", step)
    assert crashed.returncode == -signal.SIGKILL, f"never reached {step}: {crashed.stderr}"
    return ok(drive(tmp, *restart))


def check_consistent(tmp: Path) -> tuple[dict[str, tuple[str, str, str]], list[Any]]:
    """What must hold after any crash and recovery; returns broker orders and B's leg rows."""
    with closing(ScriptedBroker(state=tmp / "broker.sqlite")) as broker:
        held = broker.orders
        # recovery looked orders up rather than re-sending them: one submit call per order
        assert set(
            Counter(coid for method, coid in broker.calls if method == "submit").values()
        ) <= {1}
    orders = {coid: (o.symbol, str(o.side), str(o.qty)) for coid, o in held.items()}
    with open_journal(tmp / "journal.sqlite") as journal:
        assert journal.unresolved_intents() == ()
        intents = journal.entries(EntryFilter(statuses=(Status.INTENT,)))
        # no order at the broker that the journal does not know, and none twice (coid is unique)
        assert set(orders) <= {e.client_order_id for e in intents}
        for coid in orders:
            fills = journal.entries(
                EntryFilter(client_order_ids=(coid,), statuses=(Status.PARTIAL, Status.FILLED))
            )
            assert sum(f.qty for f in fills) == Decimal(orders[coid][2])
        for e in intents:
            if e.client_order_id not in orders:  # never sent: must say why
                (failed,) = journal.entries(
                    EntryFilter(
                        client_order_ids=(e.client_order_id or "",), statuses=(Status.FAILED,)
                    )
                )
                assert "stale" in failed.detail
        legs_b = journal.entries(EntryFilter(statuses=(Status.LEG,), since=RECEIVED))
        assert len(legs_b) == 3
        book = journal.rebuild_book()
        assert not journal.entries(EntryFilter(statuses=(Status.DRIFT,)))
    net = {s: Decimal(0) for s in ("AAPL", "MSFT", "NVDA")}
    for symbol, side, qty in orders.values():
        net[symbol] += Decimal(qty) * (1 if side == "buy" else -1)
    assert {s: q for s, q in net.items() if q} == book.net_positions()
    return orders, list(legs_b)


FRESH_BOUNDARIES = [
    "signal_journaled",
    "plan_journaled",
    "before_submit",  # the close is durable, nothing sent
    "before_submit:2",  # the close sent and recorded, the opens durable but not sent
    "submit_returned",
    "accepted_recorded",
    "fill_received",
    "fill_recorded",
    "fill_received:3",
]


@pytest.mark.parametrize("step", FRESH_BOUNDARIES)
def test_crash_then_recover_orders_every_leg_exactly_once(tmp_path: Path, step: str) -> None:
    crash_then_recover(tmp_path, step)
    orders, _ = check_consistent(tmp_path)
    # fresh signal: everything went out, once: A's open, B's close and two opens
    assert sorted(s for s, _, _ in orders.values()) == ["AAPL", "AAPL", "MSFT", "NVDA"]


@pytest.mark.parametrize("step", ["signal_journaled", "plan_journaled", "before_submit:2"])
def test_crash_then_recover_late_records_unsent_legs_as_failed(tmp_path: Path, step: str) -> None:
    later = (RECEIVED + timedelta(hours=2)).isoformat()
    out = crash_then_recover(tmp_path, step, "--now", later)
    orders, legs_b = check_consistent(tmp_path)
    assert out["recovery"], "recovery said nothing about what it did"
    with open_journal(tmp_path / "journal.sqlite") as journal:
        for leg in legs_b:
            rows = journal.entries(EntryFilter(legs=(leg.leg or "",)))
            kinds = {r.status for r in rows}
            if Status.INTENT in kinds:
                (intent,) = [r for r in rows if r.status is Status.INTENT]
                outcome = journal.entries(
                    EntryFilter(
                        client_order_ids=(intent.client_order_id or "",),
                        statuses=(Status.FILLED, Status.FAILED),
                    )
                )
                assert len(outcome) == 1
            else:  # never planned: skipped as stale, with the reason
                (skip,) = [r for r in rows if r.status is Status.SKIPPED]
                assert "stale" in skip.detail
    symbols = sorted(s for s, _, _ in orders.values())
    if step == "before_submit:2":  # the close had gone out before the crash; the opens not
        assert symbols == ["AAPL", "AAPL"]
    else:  # only signal A's open
        assert symbols == ["AAPL"]


def test_crash_during_recovery_then_recover_again(tmp_path: Path) -> None:
    earlier = (RECEIVED - timedelta(seconds=30)).isoformat()
    ok(drive(tmp_path, "--open", "AAPL:buy:189", "--received-at", earlier))
    crashed = drive(
        tmp_path, *SIGNAL_B, "--received-at", RECEIVED.isoformat(), "--crash-at", "before_submit"
    )
    assert crashed.returncode == -signal.SIGKILL
    # the restart is itself killed while recovery re-sends the unsent orders
    again = drive(tmp_path, "--crash-at", "submit_returned")
    assert again.returncode == -signal.SIGKILL
    ok(drive(tmp_path))
    orders, _ = check_consistent(tmp_path)
    assert sorted(s for s, _, _ in orders.values()) == ["AAPL", "AAPL", "MSFT", "NVDA"]
