"""What the bot does with recovered legs (``alphahub.backfill: trade | journal``), on a real
journal: queued for the planner or journaled, ambiguous legs never traded, the source kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.alphahub.conftest import fast_settings
from tradebot.alphahub.history import HistoryLeg
from tradebot.alphahub.listener import Listener
from tradebot.config.model import BackfillMode
from tradebot.core.book import PositionBook
from tradebot.core.signal import LegKind, Side, Signal, SignalSource, parse_signal
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.sqlite import SqliteJournal
from tradebot.runtime.backfill import Found, Window, identities
from tradebot.runtime.recovered import RecoveredSignals, journaled_legs, last_frame

T0 = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
MU = {"symbol": "MU", "side": "buy", "price": 10, "timestamp": "2026-11-27T14:30:00"}


def hleg(symbol: str, side: str | None, seconds: int = 0) -> HistoryLeg:
    return HistoryLeg(
        16,
        symbol,
        None if side is None else Side(side),
        None if side is None else Decimal("10"),
        T0 + timedelta(seconds=seconds),
        json.dumps({"symbol": symbol, "side": side or "hold"}),
    )


def found(*legs: HistoryLeg) -> Found:
    trades = tuple(x for x in legs if x.side is not None)
    holds = tuple(x for x in legs if x.side is None)
    return Found(Window(16, T0, T0 + timedelta(minutes=1), "lapse"), len(legs), trades, holds, ())


@pytest.fixture
def journal(tmp_path: Path) -> SqliteJournal:
    store = open_journal(tmp_path / "j.sqlite")
    yield store  # type: ignore[misc]
    store.close()


def listener() -> Listener:
    return Listener(fast_settings("http://127.0.0.1:9"), (16,))


def sink(
    journal: SqliteJournal, hub: Listener, mode: BackfillMode, said: list[str]
) -> RecoveredSignals:
    book = PositionBook({(16, "VRTX"): Decimal(10)})
    return RecoveredSignals(journal, book, hub, mode, say=said.append, now=lambda: T0)


def rows(journal: SqliteJournal, status: Status) -> list[object]:
    return list(journal.entries(EntryFilter(statuses=(status,), newest_first=False)))


async def test_trade_queues_signals_for_the_planner_and_journals_ambiguous_legs(
    journal: SqliteJournal,
) -> None:
    hub, said = listener(), []
    legs = [hleg("VRTX", "sell"), hleg("MU", "buy"), hleg("VRTX", "buy", 1), hleg("X", None)]
    await sink(journal, hub, BackfillMode.TRADE, said)(found(*legs))
    signal: Signal = hub.queue.get_nowait()
    later: Signal = hub.queue.get_nowait()
    assert hub.queue.empty()
    assert signal.source is later.source is SignalSource.BACKFILL
    assert [(str(x.kind), x.symbol) for x in signal.legs] == [("close", "VRTX"), ("open", "MU")]
    # the sell closed VRTX in the projection, so the buy a second later is an open
    assert [(str(x.kind), x.symbol) for x in later.legs] == [("open", "VRTX")]
    for leg in signal.legs:
        assert hub.legs_seen(identities(leg))  # a live copy would be dropped
    (summary,) = [e.detail for e in rows(journal, Status.GAP)]  # type: ignore[attr-defined]
    assert "3 missed" in summary and "1 hold" in summary
    assert said == [summary]


async def test_an_ambiguous_leg_is_journaled_not_traded_and_not_claimed(
    journal: SqliteJournal,
) -> None:
    hub, said = listener(), []
    await sink(journal, hub, BackfillMode.TRADE, said)(found(hleg("VRTX", "buy")))
    assert hub.queue.empty()
    (skip,) = rows(journal, Status.SKIPPED)
    assert skip.data["reason"] == "backfill_ambiguous"  # type: ignore[attr-defined]
    (head,) = rows(journal, Status.SIGNAL)
    assert head.data["source"] == "backfill"  # type: ignore[attr-defined]
    assert not hub.legs_seen(identities(hleg("VRTX", "buy")))
    # journaled: a later backfill of the same window does not report it again
    keys = [i.key for i in identities(hleg("VRTX", "buy"))]
    assert journaled_legs(journal, keys) == {keys[0]}


async def test_journal_mode_records_every_recovered_leg_and_trades_none(
    journal: SqliteJournal,
) -> None:
    hub, said = listener(), []
    await sink(journal, hub, BackfillMode.JOURNAL, said)(found(hleg("MU", "buy")))
    assert hub.queue.empty()
    (leg_row,) = rows(journal, Status.LEG)
    assert leg_row.data == {"kind": "open", "source": "backfill"}  # type: ignore[attr-defined]
    (skip,) = rows(journal, Status.SKIPPED)
    assert skip.data["reason"] == "backfill_journal"  # type: ignore[attr-defined]
    assert journal.unplanned_signals() == ()  # never planned at the next start either


def test_a_journaled_leg_is_known_whatever_its_kind(journal: SqliteJournal) -> None:
    open_leg = hleg("MU", "buy")
    keys = [i.key for i in identities(open_leg)]
    assert journaled_legs(journal, keys) == set()
    pushed = {
        "close": [{"symbol": "MU", "side": "buy", "price": 10, "timestamp": "2026-11-27T14:30:00"}]
    }
    from tradebot.core.signal import parse_signal

    journal.record_signal(parse_signal(16, pushed, received_at=T0))
    assert journaled_legs(journal, keys) == {identities(open_leg)[1].key}
    assert identities(open_leg)[1].kind is LegKind.CLOSE


def test_since_when_at_start_up(journal: SqliteJournal) -> None:
    journal.record_start("first run")
    assert last_frame(journal, 16) is None  # a first run has missed nothing of its own
    journal.record_start("second run")
    (first, _) = rows(journal, Status.START)
    assert last_frame(journal, 16) == first.at  # type: ignore[attr-defined]
    journal.record_signal(parse_signal(16, {"open": []}, received_at=T0))
    assert last_frame(journal, 16) == T0
    assert last_frame(journal, 14) == first.at  # type: ignore[attr-defined]


def test_a_queued_recovered_signal_keeps_its_source_across_a_restart(
    journal: SqliteJournal,
) -> None:
    from tradebot.core.signal import parse_signal

    payload = {
        "open": [{"symbol": "MU", "side": "buy", "price": 10, "timestamp": "2026-11-27T14:30:00"}]
    }
    live = parse_signal(16, payload, received_at=T0)
    journal.record_signal(live)
    journal.record_signal(Signal(16, T0, (), live.open_legs, source=SignalSource.BACKFILL))
    sources = [s.signal.source for s in journal.unplanned_signals()]
    assert sources == [SignalSource.LIVE, SignalSource.BACKFILL]


def test_legs_recovered_before_a_restart_stay_claimed_under_both_kinds(
    journal: SqliteJournal,
) -> None:
    """Run 1 recovered MU (as an open) from the history; after a restart AlphaHub pushes the same
    leg live as a close. It is the same leg: dropped, never planned a second time."""
    from tradebot.runtime.recovered import reclaim_recovered

    said: list[str] = []
    first = listener()
    asyncio_run(sink(journal, first, BackfillMode.TRADE, said)(found(hleg("MU", "buy"))))
    recovered = first.queue.get_nowait()
    journal.record_signal(recovered)  # as the signal loop journals it, source backfill
    restarted = listener()
    assert reclaim_recovered(journal, restarted, T0 - timedelta(days=1)) == 1
    live = {"close": [{**MU, "side": "buy"}]}
    restarted.push(0, 16, live, json.dumps(live))
    assert restarted.queue.empty()
    # a different leg is not caught by it
    other = {"open": [{**MU, "symbol": "MX"}]}
    restarted.push(0, 16, other, json.dumps(other))
    assert [leg.symbol for leg in restarted.queue.get_nowait().legs] == ["MX"]


def asyncio_run(awaitable: object) -> None:
    import asyncio

    asyncio.run(awaitable)  # type: ignore[arg-type]


def test_a_leg_refused_before_a_restart_is_not_traded_when_pushed_again(
    journal: SqliteJournal,
) -> None:
    """Run 1 refused AAPL and MU (weights 0.7 + 0.7). After a restart AlphaHub pushes AAPL
    again, alone (0.7 is now within the allocation): it was decided, it is not traded."""
    from tradebot.runtime.recovered import reclaim_recovered

    aapl, mu = {**MU, "symbol": "AAPL", "weight": 0.7}, {**MU, "weight": 0.7}
    refused = parse_signal(16, {"open": [aapl, mu]}, received_at=T0)
    assert refused.legs == ()
    journal.record_signal(refused)
    restarted = listener()
    assert reclaim_recovered(journal, restarted, T0 - timedelta(days=1)) == 2
    again = {"open": [aapl]}
    restarted.push(0, 16, again, json.dumps(again))
    assert restarted.queue.empty()
    other = {"open": [{**MU, "symbol": "MX", "weight": 0.7}]}  # a new leg still goes through
    restarted.push(0, 16, other, json.dumps(other))
    assert [leg.symbol for leg in restarted.queue.get_nowait().legs] == ["MX"]
