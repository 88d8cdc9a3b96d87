"""The backfill against the AlphaHub simulator: which history legs count as missed, and what a
missing, odd or failing history endpoint does (warned once, never a hot loop, never a crash)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.alphahub.conftest import fast_settings, make_listener, running, until
from tradebot.alphahub.listener import Listener
from tradebot.exceptions import HistoryUnavailable, TransientError
from tradebot.runtime.backfill import Backfiller, Found, Window, identities
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

    async def known(self, keys: Sequence[str]) -> set[str]:
        return self.journaled & set(keys)

    async def deliver(self, found: Found) -> None:
        self.found.append(found)

    async def on_unavailable(self, detail: str) -> None:
        self.unavailable.append(detail)


def backfiller(listener: Listener, rec: Recorded, attempts: int = 3) -> Backfiller:
    return Backfiller(
        listener,
        known=rec.known,
        deliver=rec.deliver,
        since=None,
        say=rec.said.append,
        on_unavailable=rec.on_unavailable,
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
