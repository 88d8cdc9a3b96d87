"""The chaser through the real Alpaca adapter to the local Alpaca server, with a real journal:
a limit that fills, a limit chased by the timer or the price and finished at market, the
cancel/fill race, a closed market, and restarts in the middle of a chase.

Time is a hand-moved monotonic clock and the chaser is ticked by hand: nothing here waits on
the wall clock, and the server's fills are driven by its price path and by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.execution.alpaca_rig import fast_adapter
from tests.execution.chase_limits import Limits
from tests.execution.fixed_planner import make_signal
from tradebot.broker.alpaca import AlpacaBroker
from tradebot.core.book import PositionBook
from tradebot.core.ids import client_order_id, remainder_id
from tradebot.core.order_shape import ChaseTerms, Limit
from tradebot.core.orders import IntentRole, OrderIntent, Plan, TimeInForce
from tradebot.core.signal import Side
from tradebot.execution import Executor
from tradebot.execution.chaser import Chaser
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.journal.review import story
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer

KEY, SECRET = "PKCHASETEST0000001", "chase-test-secret"
SIGNAL = make_signal(16, opens=(("AAPL", "buy", "100"),))
LIMIT_ID = client_order_id("ACCT", [SIGNAL.legs[0].id], "open")


def limit_intent(qty: str = "10", limit: str = "100.00", side: Side = Side.BUY) -> OrderIntent:
    leg = SIGNAL.legs[0]
    return OrderIntent(
        client_order_id=LIMIT_ID,
        algo_id=16,
        symbol="AAPL",
        side=side,
        qty=Decimal(qty),
        price=Limit(Decimal(limit), ChaseTerms(chase_after=60.0, chase_pct=Decimal("0.33"))),
        time_in_force=TimeInForce.DAY,
        role=IntentRole.OPEN,
        leg_ids=(leg.id,),
        reference_price=Decimal(100),
    )


@dataclass
class Rig:
    server: AlpacaServer
    journal: SqliteJournal
    broker: AlpacaBroker
    executor: Executor
    clock: list[float]
    limits: Limits

    def chaser(self) -> Chaser:
        """A new chaser, as a new process would build it (nothing carried over in memory)."""
        return Chaser(
            self.executor,
            busy=asyncio.Lock(),
            stopping=asyncio.Event(),
            max_age=timedelta(hours=1),
            now=lambda: datetime.now(UTC),
            limits=self.limits.in_force(),
            monotonic=lambda: self.clock[0],
        )

    def filled(self) -> Decimal:
        """The leg's total at the broker: the limit's fills plus the remainder's."""
        return sum(
            (Decimal(o["filled_qty"]) for o in self.server.orders() if o["symbol"] == "AAPL"),
            Decimal(0),
        )

    async def settled(self) -> None:
        """Wait until the server has no open order (its timed fills run on its own thread)."""
        async with asyncio.timeout(10):
            while any(o["status"] in ("new", "partially_filled") for o in self.server.orders()):  # noqa: ASYNC110
                await asyncio.sleep(0.01)


def adapter(server: AlpacaServer) -> AlpacaBroker:
    return fast_adapter(server, KEY, SECRET)


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer(key=KEY, secret=SECRET) as running:
        running.script_fills(FillScript(limits_cross=True))
        running.set_price("AAPL", Decimal("100.10"))  # above the buy limit: it rests
        yield running


@pytest.fixture
async def rig(server: AlpacaServer, tmp_path: Path) -> AsyncIterator[Rig]:
    with open_journal(tmp_path / "j.sqlite") as journal:
        async with adapter(server) as broker:
            executor = Executor(journal, broker, PositionBook())
            signal_id = journal.record_signal(SIGNAL)
            await executor.execute(Plan(intents=(limit_intent(),)), signal_id=signal_id)
            yield Rig(server, journal, broker, executor, [1000.0], Limits(broker))


def chase_rows(journal: SqliteJournal) -> list[str]:
    rows = journal.entries(EntryFilter(statuses=(Status.CHASE,), newest_first=False))
    return [str(r.data.get("step")) for r in rows]


async def test_a_limit_that_fills_is_not_chased(rig: Rig) -> None:
    chaser = rig.chaser()
    await chaser.tick()
    assert chaser.following == (LIMIT_ID,)
    rig.server.set_price("AAPL", Decimal("99.90"))  # crosses: the limit fills at 100.00
    await rig.settled()
    rig.clock[0] += 3600  # long past chase_after: nothing left to chase
    await chaser.tick()
    assert chaser.following == ()
    assert rig.filled() == Decimal(10)
    assert [o["client_order_id"] for o in rig.server.orders()] == [LIMIT_ID]
    assert chase_rows(rig.journal) == ["done"]


async def test_the_timer_cancels_and_exactly_the_rest_goes_at_market(rig: Rig) -> None:
    chaser = rig.chaser()
    await chaser.tick()
    rig.server.fill(LIMIT_ID, Decimal(3))  # a partial fill at the limit
    rig.clock[0] += 59
    await chaser.tick()
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "partially_filled"  # not yet
    rig.clock[0] += 1
    await chaser.tick()  # the timer: the cancel is journaled, then asked for
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "canceled"
    assert rig.server.orders(remainder_id(LIMIT_ID)) == []  # nothing before the next look
    await chaser.tick()  # the broker shows it canceled with 3 filled: 7 at market
    await rig.settled()
    remainder = rig.server.orders(remainder_id(LIMIT_ID))
    assert [(o["type"], o["qty"]) for o in remainder] == [("market", "7")]
    assert rig.filled() == Decimal(10)
    assert chase_rows(rig.journal) == ["cancel"]
    intents = rig.journal.entries(EntryFilter(statuses=(Status.INTENT,), newest_first=False))
    assert [i.client_order_id for i in intents] == [LIMIT_ID, remainder_id(LIMIT_ID)]
    assert {i.leg for i in intents} == {SIGNAL.legs[0].id.key}  # both linked to the leg
    assert chaser.following == ()
    sent = await rig.broker.get_order(remainder_id(LIMIT_ID))
    assert sent is not None
    await rig.executor.record_snapshot(sent, "lookup")
    # `tradebot explain <limit id>`: the whole chain, the remainder's fill included
    chain = [(str(e.status), e.client_order_id == LIMIT_ID) for e in story(rig.journal, LIMIT_ID)]
    for step in [
        ("intent", True),
        ("partial", True),
        ("chase", True),
        ("canceled", True),
        ("intent", False),
        ("filled", False),
    ]:
        assert step in chain, step
    assert chain.index(("chase", True)) < chain.index(("intent", False))


async def test_a_close_during_the_chase_means_no_remainder(rig: Rig) -> None:
    """3 of 10 filled, then the algorithm closes AAPL (its close sells those 3): the rest of the
    old open must not go out at market, or the position would be re-opened by 7."""
    chaser = rig.chaser()
    await chaser.tick()
    rig.server.fill(LIMIT_ID, Decimal(3))
    await chaser.tick()
    close = make_signal(16, closes=(("AAPL", "sell", "100"),))
    rig.journal.record_signal(close)  # the close's leg, journaled after the limit
    rig.clock[0] += 60
    await chaser.tick()  # the timer: cancel
    await chaser.tick()  # canceled with 3 filled: superseded, nothing at market
    assert rig.server.orders(remainder_id(LIMIT_ID)) == []
    assert chase_rows(rig.journal) == ["cancel", "superseded"]
    assert chaser.following == ()


async def test_the_price_moving_away_chases_before_the_timer(rig: Rig) -> None:
    chaser = rig.chaser()
    await chaser.tick()
    rig.server.set_price("AAPL", Decimal("100.33"))  # 0.33% past 100.00: not more than
    await chaser.tick()
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "new"
    rig.server.set_price("AAPL", Decimal("100.34"))
    await chaser.tick()
    await chaser.tick()
    await rig.settled()
    assert rig.filled() == Decimal(10)
    rows = rig.journal.entries(EntryFilter(statuses=(Status.CHASE,)))
    assert [r.data["why"] for r in rows] == ["price"]


@pytest.mark.parametrize(
    ("race", "remainder"),
    [(None, None), (Decimal(4), "6")],  # the fill wins wholly; or in part
)
async def test_the_cancel_fill_race_never_exceeds_the_planned_quantity(
    rig: Rig, race: Decimal | None, remainder: str | None
) -> None:
    chaser = rig.chaser()
    await chaser.tick()
    rig.server.race_cancels(race)  # fills arrive while the cancel is in flight
    rig.clock[0] += 60
    await chaser.tick()
    await chaser.tick()
    await rig.settled()
    sent = [o["qty"] for o in rig.server.orders(remainder_id(LIMIT_ID))]
    assert sent == ([remainder] if remainder else [])
    assert rig.filled() == Decimal(10)
    assert chaser.following == ()
    rows = chase_rows(rig.journal)
    restarted = rig.chaser()  # a restart finds the chase finished: nothing more, nothing twice
    await restarted.resume()
    await restarted.tick()
    assert restarted.following == () and chase_rows(rig.journal) == rows
    assert rig.filled() == Decimal(10)


async def test_the_timer_waits_for_the_market_to_open(rig: Rig) -> None:
    rig.server.account.market_open = False
    chaser = rig.chaser()
    await chaser.tick()
    rig.clock[0] += 10_000
    await chaser.tick()
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "new"  # closed: the timer never ran
    rig.server.account.market_open = True
    await chaser.tick()  # the timer starts now
    rig.clock[0] += 59
    await chaser.tick()
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "new"
    rig.clock[0] += 1
    await chaser.tick()
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "canceled"


async def test_a_chase_never_acts_while_the_session_is_closed(rig: Rig) -> None:
    chaser = rig.chaser()
    await chaser.tick()  # open: the timer starts
    rig.clock[0] += 30
    rig.server.account.market_open = False  # the session ends mid-chase
    rig.clock[0] += 10_000
    await chaser.tick()
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "new"  # no cancel while closed
    assert rig.server.orders(remainder_id(LIMIT_ID)) == []  # no remainder queued for the open
    rig.server.account.market_open = True
    await chaser.tick()  # the open: long past chase_after, chased at once
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "canceled"


async def test_a_restart_between_the_cancel_and_the_remainder_sends_it_once(rig: Rig) -> None:
    first = rig.chaser()
    await first.tick()
    rig.server.fill(LIMIT_ID, Decimal(2))
    rig.clock[0] += 60
    await first.tick()  # journaled the cancel and asked for it; then the process dies
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "canceled"
    second = rig.chaser()  # the next process: nothing in memory
    await second.resume()
    assert second.following == (LIMIT_ID,)
    await second.tick()
    await rig.settled()
    assert [o["qty"] for o in rig.server.orders(remainder_id(LIMIT_ID))] == ["8"]
    third = rig.chaser()  # and once more: the remainder is on record, nothing is resent
    await third.resume()
    await third.tick()
    assert third.following == ()
    assert len(rig.server.orders(remainder_id(LIMIT_ID))) == 1
    assert rig.filled() == Decimal(10)


async def test_a_restart_before_the_cancel_reached_the_broker_cancels_again(rig: Rig) -> None:
    first = rig.chaser()
    await first.tick()
    rig.clock[0] += 60
    rig.journal.record_chase(limit_intent(), "chasing (timer)", {"step": "cancel"}, None)
    # ...the process died after the chase row, before the cancel left: the limit is still live
    second = rig.chaser()
    await second.resume()
    await second.tick()  # asks for the cancel again
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "canceled"
    await second.tick()
    await rig.settled()
    assert [o["qty"] for o in rig.server.orders(remainder_id(LIMIT_ID))] == ["10"]
    assert rig.filled() == Decimal(10)


async def test_a_limit_canceled_by_someone_else_is_not_finished_at_market(rig: Rig) -> None:
    chaser = rig.chaser()
    await chaser.tick()
    rig.server.cancel(LIMIT_ID)  # a person, at the broker
    await chaser.tick()
    assert chaser.following == ()
    assert rig.server.orders(remainder_id(LIMIT_ID)) == []
    assert chase_rows(rig.journal) == ["done"]


async def test_the_kill_switch_holds_the_chase_until_it_is_lifted(rig: Rig) -> None:
    halted = [True]
    chaser = Chaser(
        rig.executor,
        busy=asyncio.Lock(),
        stopping=asyncio.Event(),
        max_age=timedelta(hours=1),
        now=lambda: datetime.now(UTC),
        limits=rig.limits.in_force(),
        monotonic=lambda: rig.clock[0],
        may_act=lambda intent: not halted[0],
    )
    await chaser.tick()
    rig.clock[0] += 600
    await chaser.tick()
    await chaser.tick()
    assert rig.server.orders(LIMIT_ID)[0]["status"] == "new"  # halted: neither cancel nor send
    assert chase_rows(rig.journal) == []
    halted[0] = False
    await chaser.tick()
    await chaser.tick()
    await rig.settled()
    assert [o["qty"] for o in rig.server.orders(remainder_id(LIMIT_ID))] == ["10"]
