"""One vocabulary: each count means the same on Now, Performance, ``tradebot report`` and
``tradebot status`` (docs/operations.md, "What each count means"), over a journal of known rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tradebot.cli.main import cli
from tradebot.journal import open_journal
from tradebot.journal.counts import LAPSE_OPENING
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.rows import Row
from tradebot.runtime.context import start_of_trading_day
from tradebot.runtime.status_feed import today_orders_and_fills
from tradebot.web.snapshot import not_asked
from tradebot.web.views import journal_page, now_view, performance_view

#: what the journal below holds, per count (algorithm 7; "not ours": a fill of no algorithm)
EXPECTED = {
    "signals": 2,
    "orders": 2,
    "fills": 1,
    "skips": 1,
    "rejections": 1,
    "refused legs": 2,
    "failed": 1,
    "lapses": 1,
    "not ours": 1,
}


def _rows(at: datetime) -> list[Row]:
    def r(status: Status, detail: str = "", **kw: object) -> Row:
        return Row(at, status, detail, **kw)  # type: ignore[arg-type]

    buy = {"symbol": "AAPL", "side": "buy", "qty": Decimal(1), "price": Decimal(100)}
    return [
        r(Status.SIGNAL, "1 close, 1 open, 2 rejected", algo_id=7),
        r(Status.LEG_REJECTED, "bad leg", algo_id=7),
        r(Status.LEG_REJECTED, "bad leg", algo_id=7),
        r(Status.SIGNAL, "0 close, 1 open, 0 rejected", algo_id=7),
        r(Status.INTENT, "buy", algo_id=7, client_order_id="c-1", **buy),
        r(Status.INTENT, "buy", algo_id=7, client_order_id="c-2", **buy),
        r(Status.FILLED, "filled", algo_id=7, client_order_id="c-1", cum_qty=Decimal(1), **buy),
        r(Status.REJECTED, "insufficient buying power", algo_id=7, client_order_id="c-2"),
        r(Status.SKIPPED, "not held", algo_id=7, data={"reason": "not_held"}),
        r(Status.FAILED, "gave up", algo_id=7, client_order_id="c-3"),
        # three connections' gaps, one lapse (the episode in which none was subscribed)
        *(
            r(Status.GAP, f"connection {c} lost algorithm 7 from x to y: closed", algo_id=7)
            for c in range(3)
        ),
        r(Status.GAP, LAPSE_OPENING.format(algo_id=7) + " (x to y): a signal ...", algo_id=7),
        # a fill of an order placed by hand at the broker: no intent, no algorithm
        r(
            Status.FILLED,
            "not ours: filled",
            client_order_id="by-hand",
            cum_qty=Decimal(1),
            data={"not_ours": True},
            **buy,
        ),
    ]


@pytest.fixture
def journal_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "journal.sqlite"
    with open_journal(path) as journal:
        journal.write_rows(_rows(datetime.now(UTC)))
    yield path


def test_each_count_is_the_same_on_now_performance_report_and_status(journal_path: Path) -> None:
    now = datetime.now(UTC)
    with open_journal(journal_path, readonly=True) as journal:
        today = now_view(journal, now)["today"]
        performance = performance_view(journal, not_asked("test"))["report"]
        orders, fills = today_orders_and_fills(journal, start_of_trading_day(now))
    assert today == EXPECTED
    [algo] = performance
    result = CliRunner().invoke(cli, ["report", "--journal", str(journal_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    for name in ("signals", "orders", "fills", "skips", "rejections", "failed", "lapses"):
        assert algo[name] == report[name] == EXPECTED[name], name
    assert algo["refused_legs"] == report["refused_legs"] == EXPECTED["refused legs"]
    assert (orders[7], fills[7]) == (EXPECTED["orders"], EXPECTED["fills"])  # tradebot status
    text = CliRunner().invoke(cli, ["report", "--journal", str(journal_path)]).stdout
    assert "REFUSED_LEGS" in text and "LAPSES" in text


def test_rows_are_listed_in_id_order_whatever_their_times(tmp_path: Path) -> None:
    """Equal times, and a row whose time is earlier than the row before it (a signal carries
    its moment of receipt): listed newest id first on the journal page, Now's recent rows and
    ``tradebot journal``, so a reload shows what the live feed showed."""
    path = tmp_path / "journal.sqlite"
    at = datetime.now(UTC)
    times = [at, at, at - timedelta(seconds=5), at, at - timedelta(seconds=1), at]
    with open_journal(path) as journal:
        ids = [journal.write_rows([Row(t, Status.ERROR, f"row {n}")]) for n, t in enumerate(times)]
        newest_first = list(reversed(ids))
        assert [r["id"] for r in now_view(journal, at + timedelta(seconds=1))["recent"]] == (
            newest_first
        )
        first = journal_page(journal, EntryFilter(), size=4)
        assert [r["id"] for r in first.rows] == newest_first[:4]
        rest = journal_page(journal, EntryFilter(), before=first.next_before, size=4)
        assert [r["id"] for r in rest.rows] == newest_first[4:]
    out = CliRunner().invoke(cli, ["journal", "--journal", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [r["id"] for r in json.loads(out.stdout)] == newest_first
