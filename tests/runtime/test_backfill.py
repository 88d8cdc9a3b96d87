"""The backfill against the AlphaHub simulator: which history legs count as missed, and what a
missing, odd or failing history endpoint does (warned once, never a hot loop, never a crash)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.alphahub.conftest import fast_settings, make_listener, running, until
from tradebot.alphahub.gaps import Gap
from tradebot.alphahub.listener import Listener
from tradebot.config.model import Config
from tradebot.core.book import PositionBook
from tradebot.core.signal import parse_leg_key
from tradebot.exceptions import HistoryUnavailable, TransientError
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.records import Entry
from tradebot.journal.sqlite import SqliteJournal
from tradebot.runtime.backfill import Backfiller, Found, Window, identities
from tradebot.runtime.channel import Channel
from tradebot.runtime.recovered import make_backfiller
from tradebot.simulators.alphahub import AlphaHubSimulator


@pytest.fixture
async def sim() -> AsyncIterator[AlphaHubSimulator]:
    async with AlphaHubSimulator() as simulator:
        yield simulator


def at(seconds: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


def hleg(symbol: str, when: datetime, side: str = "buy") -> dict[str, Any]:
    return {"price": 10.5, "side": side, "symbol": symbol, "timestamp": f"{when:%Y-%m-%dT%H:%M:%S}"}


class Recorded:
    """What the backfiller said and handed on (a recording fake of the bot's side)."""

    def __init__(self, journaled: Sequence[str] = ()) -> None:
        self.journaled = set(journaled)
        self.found: list[Found] = []
        self.said: list[str] = []
        self.unavailable: list[str] = []
        self.nothing: list[str] = []

    async def known(self, keys: Sequence[str]) -> set[str]:
        return self.journaled & set(keys)

    async def deliver(self, found: Found) -> None:
        self.found.append(found)

    async def on_unavailable(self, detail: str) -> None:
        self.unavailable.append(detail)

    async def on_nothing(self, algo_id: int, detail: str) -> None:
        self.nothing.append(detail)


def backfiller(listener: Listener, rec: Recorded, attempts: int = 3) -> Backfiller:
    return Backfiller(
        listener,
        known=rec.known,
        deliver=rec.deliver,
        since=None,
        say=rec.said.append,
        on_unavailable=rec.on_unavailable,
        on_nothing=rec.on_nothing,
        now=lambda: datetime.now(UTC),
        attempts=attempts,
        retry_delays=(0.01, 0.02),
    )


@asynccontextmanager
async def joined(sim: AlphaHubSimulator, **overrides: Any) -> AsyncIterator[Listener]:
    listener, _ = make_listener(sim, (16,), backfill_margin=5, **overrides)
    async with running(listener):
        await until(lambda: listener.all_joined, listener)
        yield listener


def window(start: float = -60, end: float = 0) -> Window:
    return Window(16, at(start), at(end), "lapse")


async def test_missed_means_in_the_window_and_neither_journaled_nor_received(
    sim: AlphaHubSimulator,
) -> None:
    journaled_at = at(-10)  # one time for the history and the journal's copy
    async with joined(sim) as listener:
        await sim.push(16, {"open": [hleg("LIVE", at(-30))]})  # received live
        await asyncio.wait_for(listener.queue.get(), 10)
        sim.history.add(
            16,
            [
                hleg("MISSED", at(-20)),
                hleg("JOURNALED", journaled_at, "sell"),
                hleg("MARGIN", at(-63)),  # before the window, within its 5 s margin
                hleg("BEFORE", at(-70)),
                hleg("AFTER", at(10)),
                hleg("HELD", at(-5), "hold"),
                {k: v for k, v in hleg("NOSYMBOL", at(-5)).items() if k != "symbol"},
            ],
        )
        journaled = [identities_key("JOURNALED", journaled_at, "sell")]
        rec = Recorded(journaled)
        found = await backfiller(listener, rec).backfill(window())
    assert sorted(x.symbol for x in found.missed) == ["MARGIN", "MISSED"]
    assert [h.symbol for h in found.holds] == ["HELD"]
    assert found.in_window == 5 and len(found.bad) == 1  # LIVE, MISSED, JOURNALED, MARGIN, HELD
    assert rec.found == [found] and rec.said == []


def identities_key(symbol: str, when: datetime, side: str) -> str:
    from tradebot.alphahub.history import parse_history

    (leg,), _ = parse_history(16, [hleg(symbol, when, side)], UTC)
    return identities(leg)[1].key  # journaled as a close: matched whatever its kind


async def test_a_leg_claimed_by_the_backfill_is_dropped_when_it_arrives_live(
    sim: AlphaHubSimulator,
) -> None:
    stamp = at(-20)  # one time for both copies (two calls may fall in different seconds)
    async with joined(sim) as listener:
        sim.history.add(16, [hleg("VRTX", stamp)])
        found = await backfiller(listener, Recorded()).backfill(window())
        (missed,) = found.missed
        listener.claim_legs(identities(missed))  # what the bot's deliver does
        # AlphaHub pushes it again, live, as a close this time: dropped; a new leg comes through
        await sim.push(16, {"close": [hleg("VRTX", stamp)], "open": [hleg("MU", at(-1))]})
        signal = await asyncio.wait_for(listener.queue.get(), 10)
        assert [leg.symbol for leg in signal.legs] == ["MU"]
        again = await backfiller(listener, Recorded()).backfill(window())
    assert again.missed == ()  # and a second backfill does not bring it back


@pytest.mark.parametrize("fault", ["404", "html", "shape", "garbage"])
async def test_an_unavailable_endpoint_is_warned_once_and_asked_once_per_window(
    sim: AlphaHubSimulator, fault: str
) -> None:
    sim.history_fault(fault)
    async with joined(sim) as listener:
        rec = Recorded()
        filler = backfiller(listener, rec)
        for _ in range(3):
            with pytest.raises(HistoryUnavailable):
                await filler.backfill(window())
        assert not listener.queue.qsize()
    assert sim.history.requests == 3  # one per window: no retry of a permanent answer
    assert len(rec.unavailable) == 1 and rec.unavailable[0].startswith("backfill unavailable")
    assert len(rec.said) == 1 and rec.found == []


async def test_401_is_tried_once_more_with_a_fresh_token(sim: AlphaHubSimulator) -> None:
    async with joined(sim) as listener:
        sim.history_fault("401", count=1)  # e.g. the token had just expired
        sim.history.add(16, [hleg("VRTX", at(-20))])
        rec = Recorded()
        found = await backfiller(listener, rec).backfill(window())
        assert [x.symbol for x in found.missed] == ["VRTX"]
        assert sim.history.requests == 2 and rec.unavailable == []
        sim.history_fault("401")  # refused even with a fresh token: unavailable
        with pytest.raises(HistoryUnavailable):
            await backfiller(listener, rec).backfill(window())
    assert "HTTP 401" in rec.unavailable[0]


async def test_transient_errors_are_retried_a_bounded_number_of_times(
    sim: AlphaHubSimulator,
) -> None:
    async with joined(sim) as listener:
        sim.history.add(16, [hleg("VRTX", at(-20))])
        sim.history_fault("500", count=2)
        rec = Recorded()
        found = await backfiller(listener, rec, attempts=3).backfill(window())
        assert [x.symbol for x in found.missed] == ["VRTX"] and sim.history.requests == 3
        sim.history_fault("500")
        with pytest.raises(TransientError):
            await backfiller(listener, rec, attempts=3).backfill(window())
    assert sim.history.requests == 6
    assert rec.unavailable == [] and "failed: signal history: HTTP 500" in rec.said[0]


async def test_a_slow_endpoint_times_out_and_live_signals_keep_flowing(
    sim: AlphaHubSimulator,
) -> None:
    async with joined(sim, request_timeout=0.3) as listener:
        sim.history_fault("slow", delay=2.0)
        rec = Recorded()
        reading = asyncio.create_task(backfiller(listener, rec, attempts=2).backfill(window()))
        await sim.push(16, {"open": [hleg("LIVE", at(0))]})
        signal = await asyncio.wait_for(listener.queue.get(), 10)  # while the backfill waits
        assert not reading.done()
        with pytest.raises(TransientError):
            await reading
    assert [leg.symbol for leg in signal.legs] == ["LIVE"]
    assert sim.history.requests == 2


async def test_a_lapse_on_every_connection_is_read_once(sim: AlphaHubSimulator) -> None:
    fillers: list[Backfiller] = []
    settings = fast_settings(sim.url, connections=2, backfill_margin=5)
    # wired as the bot wires it: every closed gap goes to the backfiller
    listener = Listener(settings, (16,), on_gap=lambda gap: fillers[0].gap_closed(gap))
    rec = Recorded()
    fillers.append(backfiller(listener, rec))

    def closed() -> int:
        return len([g for g in listener.gaps if g.rejoined_at])

    async with running(listener):
        task = asyncio.create_task(fillers[0].run())
        try:
            await asyncio.wait_for(sim.wait_joined(16, 2), 10)
            sim.drop(sim.connections[0])  # one connection: no lapse, nothing read
            await until(lambda: closed() == 1, listener)
            await asyncio.wait_for(sim.wait_joined(16, 2), 10)
            sim.drop()  # both: a lapse, read once though two gaps close
            assert await sim.push(16, {"open": [hleg("LOST", at(0))]}) == 0
            await until(lambda: closed() == 3, listener)
            await asyncio.wait_for(fillers[0].wait_completed(1), 10)
        finally:
            task.cancel()
    (found,) = rec.found
    assert [x.symbol for x in found.missed] == ["LOST"]
    assert sim.history.requests == 1


# -- one leg, one fate (issue 19): the history's groups judged as live signals -----------------


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    store = open_journal(tmp_path / "j.sqlite")
    yield store
    store.close()


def wleg(symbol: str, when: datetime, side: str = "buy", **extra: Any) -> dict[str, Any]:
    return hleg(symbol, when, side) | extra


def bot_backfiller(listener: Listener, journal: SqliteJournal) -> Backfiller:
    """The bot's own backfiller (:func:`make_backfiller`) on a real journal, trading."""
    algo = {"strategy": "fixed_shares", "params": {"shares": 10}}
    config = Config.model_validate({"algorithms": {16: algo}})
    config = config.model_copy(update={"alphahub": listener.settings})
    filler = make_backfiller(
        config,
        journal,
        PositionBook(),
        listener,
        gaps=Channel[Gap](),
        on_error=lambda detail: journal.record_error(detail),
        say=lambda text: None,
        now=lambda: datetime.now(UTC),
    )
    assert isinstance(filler, Backfiller)
    return filler


def rows(journal: SqliteJournal, status: Status) -> list[Entry]:
    return list(journal.entries(EntryFilter(statuses=(status,), newest_first=False)))


async def test_weights_over_the_whole_in_the_history_are_refused_as_live(
    sim: AlphaHubSimulator, journal: SqliteJournal
) -> None:
    """Issue 19 #1: two opens weighted 0.7 are refused live; read back from the history after
    a lapse they were bought, both, full size. Now the history's group is judged as live."""
    stamp = at(-20)
    async with joined(sim) as listener:
        sim.history.add(16, [wleg("AAPL", stamp, weight=0.7), wleg("MU", stamp, weight=0.7)])
        found = await bot_backfiller(listener, journal).backfill(window())
        assert len(found.missed) == 2
        assert listener.queue.empty()  # nothing for the planner: no order
        for key in (f"16:open:{s}:buy:{stamp:%Y-%m-%dT%H:%M:%S}Z" for s in ("AAPL", "MU")):
            # decided: a live copy is dropped
            assert listener.legs_seen(identities(parse_leg_key(key)))
    refused = rows(journal, Status.LEG_REJECTED)
    assert sorted(e.symbol or "" for e in refused) == ["AAPL", "MU"]
    assert all("add up to 1.4, more than 1" in e.detail for e in refused)
    assert [e.data["reason"] for e in rows(journal, Status.SKIPPED)] == ["invalid", "invalid"]
    (summary,) = [e.detail for e in rows(journal, Status.GAP)]
    assert "2 missed, 0 sent to the planner, 2 rejected by their signal's rules" in summary


async def test_a_weight_survives_the_history_into_the_planned_leg(
    sim: AlphaHubSimulator, journal: SqliteJournal
) -> None:
    stamp = at(-20)
    async with joined(sim) as listener:
        sim.history.add(16, [wleg("AAPL", stamp, weight=0.3), wleg("MU", stamp, weight=0.6)])
        await bot_backfiller(listener, journal).backfill(window())
        signal = listener.queue.get_nowait()
    assert [(x.symbol, x.weight) for x in signal.legs] == [
        ("AAPL", Decimal("0.3")),
        ("MU", Decimal("0.6")),
    ]


async def test_contradictory_legs_in_the_history_are_refused(
    sim: AlphaHubSimulator, journal: SqliteJournal
) -> None:
    stamp = at(-20)
    async with joined(sim) as listener:
        history = [wleg("AAPL", stamp), wleg("AAPL", stamp, "sell"), wleg("MU", stamp)]
        sim.history.add(16, history)
        await bot_backfiller(listener, journal).backfill(window())
        signal = listener.queue.get_nowait()
        assert listener.queue.empty()
    assert [x.symbol for x in signal.legs] == ["MU"]  # never an AAPL order
    assert [str(r.refusal) for r in signal.rejected] == ["contradictory"] * 2
    assert rows(journal, Status.LEG_REJECTED) == []  # the signal loop journals what it plans
    journal.record_signal(signal)  # as it does
    refused = rows(journal, Status.LEG_REJECTED)
    assert [(e.symbol, e.side) for e in refused] == [("AAPL", "buy"), ("AAPL", "sell")]


async def test_a_leg_rejected_live_is_never_traded_by_the_backfill(
    sim: AlphaHubSimulator, journal: SqliteJournal
) -> None:
    """Issue 19 #1/#3: the live path rejected the two 0.7 legs; every connection then dropped
    and the backfill found them in the history. Neither this run (the listener remembers the
    legs it saw refused) nor a restarted one (the journal keeps their identity) trades them."""
    stamp = at(-20)
    legs = [wleg("AAPL", stamp, weight=0.7), wleg("MU", stamp, weight=0.7)]
    async with joined(sim) as listener:
        await sim.push(16, {"open": legs})
        live = await asyncio.wait_for(listener.queue.get(), 10)
        assert live.legs == () and len(live.rejected) == 2
        journal.record_signal(live)  # as the signal loop journals it
        sim.history.add(16, legs)
        found = await backfiller(listener, Recorded()).backfill(window())  # nothing journaled
        assert found.missed == ()
    async with joined(sim) as restarted:  # a new process: only the journal knows
        found = await bot_backfiller(restarted, journal).backfill(window())
        assert found.missed == () and restarted.queue.empty()


async def test_a_misspelled_group_key_leaves_a_row(
    sim: AlphaHubSimulator, journal: SqliteJournal
) -> None:
    """Issue 19 #8: a frame whose only key is ``opne`` left no journal row."""
    async with joined(sim) as listener:
        await sim.push(16, {"opne": [wleg("AAPL", at(0))]})
        await sim.push(16, {"open": [wleg("MU", at(0))]})
        first = await asyncio.wait_for(listener.queue.get(), 10)
    assert first.legs == ()
    journal.record_signal(first)
    (row,) = rows(journal, Status.LEG_REJECTED)
    assert row.detail == "unknown key 'opne': a signal has only 'open' and 'close'"
    (head,) = rows(journal, Status.SIGNAL)
    assert "opne" in head.data["raw"]


@pytest.mark.parametrize("fault", ["404", "html"])
async def test_every_unavailable_window_leaves_a_row_naming_the_reason(
    sim: AlphaHubSimulator, journal: SqliteJournal, fault: str
) -> None:
    """Issue 19 #8: a lapse answered 404 left no row naming the reason (after the first, not
    even a warning); and the warning read "answered the answer is an HTML page"."""
    sim.history_fault(fault)
    said = {"404": "answered HTTP 404 (Not Found)", "html": "answered an HTML page instead"}
    async with joined(sim) as listener:
        filler = bot_backfiller(listener, journal)
        for _ in range(2):
            with pytest.raises(HistoryUnavailable):
                await filler.backfill(window())
    gaps = [e.detail for e in rows(journal, Status.GAP)]
    assert len(gaps) == 2 and all(said[fault] in d and "not read" in d for d in gaps)
    assert all("cannot be recovered" in d for d in gaps)
    (error,) = rows(journal, Status.ERROR)  # the warning: once per run
    assert said[fault] in error.detail and "answered the answer" not in error.detail


async def test_every_failed_window_names_the_reason(sim: AlphaHubSimulator) -> None:
    sim.history_fault("500")
    async with joined(sim) as listener:
        rec = Recorded()
        with pytest.raises(TransientError):
            await backfiller(listener, rec, attempts=2).backfill(window())
    (detail,) = rec.nothing
    assert detail.startswith("backfill for algorithm 16 (lapse ")
    assert "failed: none of 2 tries got an answer (the last: signal history: HTTP 500)" in detail


async def test_a_window_that_fails_on_a_bug_names_it_and_the_backfill_goes_on(
    sim: AlphaHubSimulator,
) -> None:
    rec = Recorded()

    async def broken(found: Found) -> None:
        raise RuntimeError("a bug in deliver")

    async def since(algo_id: int) -> datetime:
        return at(-60)

    async with joined(sim) as listener:
        filler = Backfiller(
            listener,
            known=rec.known,
            deliver=broken,
            since=since,
            say=rec.said.append,
            on_nothing=rec.on_nothing,
            now=lambda: datetime.now(UTC),
        )
        task = asyncio.create_task(filler.run())
        try:
            await asyncio.wait_for(filler.wait_completed(1), 10)
        finally:
            task.cancel()
    (detail,) = rec.nothing
    assert "failed on an internal error (RuntimeError, see the log)" in detail
    assert rec.said == ["warning: backfill for algorithm 16 failed (see log)"]
