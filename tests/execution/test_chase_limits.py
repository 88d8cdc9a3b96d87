"""A chased limit's market remainder obeys the limits in force when it leaves, not those of when
the limit was planned: the kill switch (halted: nothing; reduce-only: only what reduces), the
daily loss, the order limits and the price collar, each changed between the limit and its
remainder. A refused remainder is a ``chase`` row naming the limit and a line on the output;
the limit stays canceled and the leg ends with what it filled. Each test has its other side:
the same remainder within the limit goes out.

Through the real Alpaca adapter to the local Alpaca server, with a real journal; the chaser is
ticked by hand on a hand-moved clock (see test_chaser.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.core.helpers import make_config
from tests.execution.chase_limits import Limits
from tests.execution.test_chaser import LIMIT_ID, SIGNAL, adapter, chase_rows, limit_intent
from tradebot.core.book import PositionBook
from tradebot.core.ids import remainder_id
from tradebot.core.order_shape import Limit
from tradebot.core.orders import IntentRole, Plan
from tradebot.core.risk import DayState
from tradebot.core.signal import Side
from tradebot.execution import Executor
from tradebot.execution.chaser import Chaser
from tradebot.execution.exit_rules import entry_outcome
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer

KEY, SECRET = "PKCHASETEST0000001", "chase-test-secret"


class Desk:
    """One chased limit of algorithm 16 on AAPL, 3 of 10 filled, its cancel confirmed: the
    next tick decides the remainder under whatever :attr:`limits` then say."""

    def __init__(self, server: AlpacaServer, journal: SqliteJournal, executor: Executor) -> None:
        self.server, self.journal, self.executor = server, journal, executor
        self.limits = Limits(executor.broker)
        self.clock = [1000.0]
        self.said: list[str] = []
        self.chaser = Chaser(
            executor,
            busy=asyncio.Lock(),
            stopping=asyncio.Event(),
            max_age=timedelta(hours=1),
            now=lambda: datetime.now(UTC),
            limits=self.limits.in_force(),
            say=self.said.append,
            monotonic=lambda: self.clock[0],
            may_act=lambda intent: not self.limits.day.halted,  # one switch, as the runtime's
        )

    async def chase_to_the_remainder(self) -> None:
        await self.chaser.tick()
        self.server.fill(LIMIT_ID, Decimal(3))
        await self.chaser.tick()
        self.clock[0] += 60
        await self.chaser.tick()  # the timer: the cancel is journaled, then asked for
        assert self.server.orders(LIMIT_ID)[0]["status"] == "canceled"
        assert chase_rows(self.journal) == ["cancel"]

    async def remainder(self) -> list[str]:
        """Tick once more (the remainder is decided); what went to the broker under its id."""
        await self.chaser.tick()
        assert self.chaser.following == ()
        return [o["qty"] for o in self.server.orders(remainder_id(LIMIT_ID))]

    def refused_by(self) -> str:
        rows = self.journal.entries(EntryFilter(statuses=(Status.CHASE,), newest_first=False))
        assert [r.data["step"] for r in rows] == ["cancel", "refused"]
        refused = rows[-1]
        assert refused.client_order_id == LIMIT_ID and refused.data["qty"] == "7"
        assert refused.data["filled"] == "3"
        assert any(refused.detail in line for line in self.said), self.said  # and said so
        return str(refused.data["limit"])

    def leg_ended_with(self) -> Decimal:
        """What the leg came to, as the exit manager reads it: over, with the limit's fills."""
        rows = self.journal.entries(
            EntryFilter(client_order_ids=(LIMIT_ID, remainder_id(LIMIT_ID)))
        )
        outcome = entry_outcome(LIMIT_ID, Decimal(10), rows, remainder_id(LIMIT_ID))
        assert outcome.over
        return outcome.filled


@pytest.fixture
def server() -> AsyncIterator[AlpacaServer]:
    with AlpacaServer(key=KEY, secret=SECRET) as running:
        running.script_fills(FillScript(limits_cross=True))
        running.set_price("AAPL", Decimal("100.10"))  # above the buy limit: it rests
        yield running


async def desk_with(
    server: AlpacaServer, tmp_path: Path, book: PositionBook, side: Side, role: IntentRole
) -> AsyncIterator[Desk]:
    with open_journal(tmp_path / "j.sqlite") as journal:
        async with adapter(server) as broker:
            executor = Executor(journal, broker, book)
            signal_id = journal.record_signal(SIGNAL)
            limit = replace(limit_intent(side=side), role=role)
            if side is Side.SELL:  # a sell limit above the market: it rests
                limit = replace(limit, price=Limit(Decimal("100.20"), limit.chase))
            await executor.execute(Plan(intents=(limit,)), signal_id=signal_id)
            yield Desk(server, journal, executor)


@pytest.fixture
async def desk(server: AlpacaServer, tmp_path: Path) -> AsyncIterator[Desk]:
    """The chase of an open: a buy of 10 from flat (its remainder adds to the position)."""
    async for made in desk_with(server, tmp_path, PositionBook(), Side.BUY, IntentRole.OPEN):
        yield made


@pytest.fixture
async def closing(server: AlpacaServer, tmp_path: Path) -> AsyncIterator[Desk]:
    """The chase of a close: algorithm 16 holds 10, the limit sells them (its remainder
    reduces the position)."""
    book = PositionBook({(16, "AAPL"): Decimal(10)})
    async for made in desk_with(server, tmp_path, book, Side.SELL, IntentRole.CLOSE):
        yield made


async def test_the_remainder_goes_when_the_limits_allow_it(desk: Desk) -> None:
    await desk.chase_to_the_remainder()
    assert await desk.remainder() == ["7"]
    assert desk.limits.sent == {16: 1}  # it counts toward today's orders


async def test_a_halt_between_the_limit_and_its_remainder_refuses_the_remainder(
    desk: Desk,
) -> None:
    await desk.chase_to_the_remainder()
    desk.limits.day = DayState(halted=True)
    assert await desk.remainder() == []
    assert desk.refused_by() == "kill_switch"
    assert desk.server.orders(LIMIT_ID)[0]["status"] == "canceled"  # the limit stays canceled
    assert desk.leg_ended_with() == Decimal(3)  # the leg ends with what the limit filled
    assert desk.limits.sent == {}


async def test_reduce_only_refuses_a_remainder_that_adds(desk: Desk) -> None:
    await desk.chase_to_the_remainder()
    desk.limits.day = DayState(reduce_only=True)
    assert await desk.remainder() == []
    assert desk.refused_by() == "reduce_only"


async def test_reduce_only_lets_a_remainder_that_reduces_go(closing: Desk) -> None:
    await closing.chase_to_the_remainder()
    assert closing.executor.book.qty(16, "AAPL") == Decimal(7)  # 3 sold so far
    closing.limits.day = DayState(reduce_only=True)
    assert await closing.remainder() == ["7"]


async def test_a_remainder_that_reduces_still_stops_at_a_halt(closing: Desk) -> None:
    await closing.chase_to_the_remainder()
    closing.limits.day = DayState(halted=True)
    assert await closing.remainder() == []
    assert closing.refused_by() == "kill_switch"


@pytest.mark.parametrize(("lost", "refused"), [("150", True), ("99", False)])
async def test_the_daily_loss_reached_during_the_chase_refuses_the_remainder(
    desk: Desk, lost: str, refused: bool
) -> None:
    desk.limits.configure(risk={"max_daily_loss": "100"})
    await desk.chase_to_the_remainder()
    desk.limits.day = DayState(realised_pnl={16: -Decimal(lost)})  # a loss booked meanwhile
    assert await desk.remainder() == ([] if refused else ["7"])
    if refused:
        assert desk.refused_by() == "max_daily_loss"


async def test_the_daily_loss_never_stops_a_remainder_that_reduces(closing: Desk) -> None:
    closing.limits.configure(risk={"max_daily_loss": "100"})
    await closing.chase_to_the_remainder()
    closing.limits.day = DayState(realised_pnl={16: Decimal(-150)})
    assert await closing.remainder() == ["7"]


@pytest.mark.parametrize(("largest", "sent"), [("6", []), ("7", ["7"])])
async def test_max_order_qty_tightened_during_the_chase_refuses_a_larger_remainder(
    desk: Desk, largest: str, sent: list[str]
) -> None:
    await desk.chase_to_the_remainder()
    desk.limits.configure({"risk": {"max_order_qty": largest}})  # a config edit, live
    assert await desk.remainder() == sent
    if not sent:
        assert desk.refused_by() == "max_order_qty"


async def test_max_order_qty_binds_a_remainder_that_reduces_too(closing: Desk) -> None:
    await closing.chase_to_the_remainder()
    closing.limits.configure({"risk": {"max_order_qty": "6"}})
    assert await closing.remainder() == []
    assert closing.refused_by() == "max_order_qty"


@pytest.mark.parametrize(("sent_today", "sent"), [(2, []), (1, ["7"])])
async def test_the_orders_of_the_day_bind_the_remainder(
    desk: Desk, sent_today: int, sent: list[str]
) -> None:
    desk.limits.configure({"risk": {"max_orders_per_day": 2}})
    await desk.chase_to_the_remainder()
    desk.limits.day = DayState(orders_today={16: sent_today})
    assert await desk.remainder() == sent
    if not sent:
        assert desk.refused_by() == "max_orders_per_day"


@pytest.mark.parametrize(("price", "sent"), [("102.10", []), ("101.90", ["7"])])
async def test_the_price_collar_is_checked_against_a_fresh_reference(
    desk: Desk, price: str, sent: list[str]
) -> None:
    desk.limits.configure(risk={"price_collar_pct": "2"})  # planned at 100
    await desk.chase_to_the_remainder()
    desk.server.set_price("AAPL", Decimal(price))
    assert await desk.remainder() == sent
    if not sent:
        assert desk.refused_by() == "price_collar_pct"


@pytest.mark.parametrize(("room", "sent"), [("1000", []), ("1100", ["7"])])
async def test_the_position_limit_counts_what_the_limit_filled(
    desk: Desk, room: str, sent: list[str]
) -> None:
    # 3 held + 7 more at about 100.10 is about 1001: over 1000, within 1100
    desk.limits.configure({"risk": {"max_position_notional": room}})
    await desk.chase_to_the_remainder()
    assert desk.executor.book.qty(16, "AAPL") == Decimal(3)
    assert await desk.remainder() == sent
    if not sent:
        assert desk.refused_by() == "max_position_notional"


async def test_an_algorithm_removed_from_the_config_sends_no_remainder(desk: Desk) -> None:
    await desk.chase_to_the_remainder()
    desk.limits.config = make_config({17: {}})  # 16 taken out by a config edit
    assert await desk.remainder() == []
    assert desk.refused_by() == "algo_unknown"


async def test_a_restart_after_a_refusal_does_not_chase_again(desk: Desk) -> None:
    await desk.chase_to_the_remainder()
    desk.limits.day = DayState(halted=True)
    await desk.remainder()
    desk.limits.day = DayState()  # lifted: still nothing, the chase is over
    again = Chaser(
        desk.executor,
        busy=asyncio.Lock(),
        stopping=asyncio.Event(),
        max_age=timedelta(hours=1),
        now=lambda: datetime.now(UTC),
        limits=desk.limits.in_force(),
        monotonic=lambda: desk.clock[0],
    )
    await again.resume()
    await again.tick()
    assert again.following == ()
    assert desk.server.orders(remainder_id(LIMIT_ID)) == []
    assert chase_rows(desk.journal) == ["cancel", "refused"]
