"""A leg whose rows `tradebot journal archive` moved out is decided, not missed: the audit finds
its tombstone (tradebot/journal/tombstones.py) and counts it apart, as received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tradebot.alphahub.history import HistoryLeg
from tradebot.core.signal import LegId, LegKind, Side
from tradebot.journal.sqlite import open_journal
from tradebot.tracking.coverage import Fate, JournalLeg, audit
from tradebot.tracking.coverage_sources import archived_legs

DAY = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
SINCE, UNTIL = DAY - timedelta(days=1), DAY + timedelta(days=1)


def hist(symbol: str, side: Side = Side.BUY) -> HistoryLeg:
    return HistoryLeg(16, symbol, side, Decimal("100"), DAY, f"{side} {symbol}")


def test_an_archived_leg_is_found_by_its_tombstone_and_counted_apart(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "j.sqlite")
    try:
        # the archive kept VRTX's decision (a close, as the live path judged it), not AAPL's
        close = LegId(16, LegKind.CLOSE, "VRTX", Side.SELL, DAY).key
        journal.keep_archived_decisions([("leg", close)])
        history = {16: [hist("AAPL"), hist("VRTX", Side.SELL), hist("MSFT")]}
        msft = (16, "MSFT", "buy", DAY)
        found = archived_legs(journal, history, known={msft})
        assert found == [JournalLeg((16, "VRTX", "sell", DAY), Fate.ARCHIVED)]
        legs = [*found, JournalLeg(msft, Fate.LIVE)]
        (algo,) = audit([16], legs, history, {}, since=SINCE, until=UNTIL).algorithms
        (day,) = algo.days
        assert (day.history, day.live, day.archived, day.missed) == (3, 1, 1, 1)
        assert day.ratio == Decimal(2) / Decimal(3)  # archived counts as received
        assert [n.identity[1] for n in day.named] == ["AAPL"]  # only the missed one is named
    finally:
        journal.close()


def test_a_leg_with_rows_is_not_asked_for_again(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "j.sqlite")
    try:
        journal.keep_archived_decisions(
            [("leg", LegId(16, LegKind.OPEN, "AAPL", Side.BUY, DAY).key)]
        )
        aapl = (16, "AAPL", "buy", DAY)
        assert archived_legs(journal, {16: [hist("AAPL")]}, known={aapl}) == []
    finally:
        journal.close()
