"""One contract, two markets: every scenario runs against the ``sim`` broker and against the real
Alpaca adapter talking to the local Alpaca server on 127.0.0.1, and must end the same on both.

Both markets take their fill and trigger rules from :mod:`tradebot.market_model.rules`; this file
is what keeps them (and the adapter's reading of the server) in step: a limit at exactly the
price (it rests), the price a limit fills at (on arrival: the market; after resting: its limit),
fills in parts, a stop reached exactly and one the price gaps through, a trailing stop's level on
the tick, a bracket's and an oco's one-cancels-other, a cancel that comes after the fill. The sim
broker runs without slippage, so the two quote alike.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest
from pydantic import SecretStr

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.broker.base import Broker
from tradebot.broker.sim import SimBroker
from tradebot.config.model import Mode, SimBrokerConfig
from tradebot.core.events import OrderCanceled, OrderEvent, OrderFilled
from tradebot.core.ids import exit_id
from tradebot.core.order_shape import Bracket, Limit, Oco, OrderPrice, TrailingStop
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.orders import IntentRole, OrderIntent, TimeInForce
from tradebot.core.signal import Side
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer

from .conftest import KEY_ID, SECRET_KEY, fast_config, make_intent

ENTRY = "tb1-AAPL-o-00000000000000c1"
TP, SL, TS = exit_id(ENTRY, "tp"), exit_id(ENTRY, "sl"), exit_id(ENTRY, "ts")
D = Decimal


@dataclass
class Market:
    """A broker and the hand that moves its market, with every event it has told so far."""

    name: str
    broker: Broker
    move: Callable[[str, Decimal], None]
    in_parts: Callable[[int], None]  # every fill from now on comes in this many executions
    events: list[OrderEvent] = field(default_factory=list)
    serial: int = 0

    def fills(self, cid: str) -> list[tuple[Decimal, Decimal, bool]]:
        """(qty, price, partial) of each fill of ``cid`` told so far."""
        return [(e.qty, e.price, e.partial) for e in self.events if _filled(e, cid)]

    async def held(self) -> Decimal:
        """The AAPL position (the barrier's MSFT buys aside)."""
        return (await self.broker.positions()).get("AAPL", D(0))

    def canceled(self, cid: str) -> bool:
        return any(isinstance(e, OrderCanceled) and e.client_order_id == cid for e in self.events)

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait for ``condition`` over the events told (a condition wait, not a timed one)."""
        async with asyncio.timeout(10):
            while not condition():  # noqa: ASYNC110 - the events arrive from another task
                await asyncio.sleep(0.005)

    async def ended(self, cid: str) -> OrderSnapshot:
        """The order once the broker shows it ended (filled, canceled, ...)."""
        async with asyncio.timeout(10):
            while True:
                snap = await self.broker.get_order(cid)
                if snap is not None and snap.status.is_final:
                    return snap
                await asyncio.sleep(0.005)

    async def barrier(self) -> None:
        """Everything the market was going to do by now has been told: a market order on
        another symbol goes through, and its fill comes after anything scheduled before it."""
        self.serial += 1
        cid = f"tb1-MSFT-o-barrier{self.serial}"
        await self.broker.submit(make_intent(cid, symbol="MSFT", qty="1"))
        await self.until(lambda: bool(self.fills(cid)))


def _filled(event: OrderEvent, cid: str) -> bool:
    return isinstance(event, OrderFilled) and event.client_order_id == cid


async def _record(broker: Broker, into: list[OrderEvent]) -> None:
    async for event in broker.events():
        into.append(event)


@pytest.fixture
def alpaca_server() -> Iterator[AlpacaServer]:
    with AlpacaServer(key=KEY_ID, secret=SECRET_KEY) as server:
        server.script_fills(FillScript(limits_cross=True))  # limits follow the price
        yield server


@pytest.fixture(params=["sim", "alpaca"])
async def market(request: pytest.FixtureRequest) -> AsyncIterator[Market]:
    if request.param == "sim":
        config = SimBrokerConfig(slippage_bps=D(0), prices={"AAPL": D(100), "MSFT": D(100)})
        async with SimBroker(config) as sim:
            venue = Market("sim", sim, sim.set_price, sim.fill_in_parts)
            async with _recording(venue):
                yield venue
        return
    server: AlpacaServer = request.getfixturevalue("alpaca_server")
    server.set_price("AAPL", D(100))
    server.set_price("MSFT", D(100))
    adapter = AlpacaBroker(
        fast_config(server), Mode.PAPER, key_id=SecretStr(KEY_ID), secret_key=SecretStr(SECRET_KEY)
    )
    async with adapter:
        venue = Market(
            "alpaca",
            adapter,
            server.set_price,
            lambda parts: server.script_fills(FillScript(limits_cross=True, parts=parts)),
        )
        async with asyncio.timeout(10):
            while server.stream.listeners < 1:  # noqa: ASYNC110 - the server's own thread
                await asyncio.sleep(0.01)
        async with _recording(venue):
            yield venue


class _recording:
    """Collect the broker's events into ``venue.events`` while the block runs."""

    def __init__(self, venue: Market) -> None:
        self._venue = venue
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        self._task = asyncio.create_task(_record(self._venue.broker, self._venue.events))

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


# -- intents ---------------------------------------------------------------------------------


def buy(cid: str = ENTRY, *, limit: str | None = None, qty: str = "10") -> OrderIntent:
    return make_intent(cid, qty=qty, limit=limit, tif=TimeInForce.GTC)


def bracket(*, limit: str | None = None, tp: str = "105", sl: str = "95") -> OrderIntent:
    return replace(buy(limit=limit), attached=Bracket(D(tp), D(sl)))


def exit_order(cid: str, price: OrderPrice, **fields: object) -> OrderIntent:
    """A sell of the 10 shares an earlier buy holds."""
    return OrderIntent(
        client_order_id=cid,
        algo_id=1,
        symbol="AAPL",
        side=Side.SELL,
        qty=D(10),
        price=price,
        time_in_force=TimeInForce.GTC,
        role=IntentRole.EXIT,
        leg_ids=(),
        reference_price=D(100),
        **fields,  # type: ignore[arg-type]
    )


async def holding(market: Market) -> None:
    """A long of 10 AAPL, bought at market (100)."""
    await market.broker.submit(buy("tb1-AAPL-o-00000000000000a0"))
    assert (await market.ended("tb1-AAPL-o-00000000000000a0")).status is OrderStatus.FILLED


# -- the contract ----------------------------------------------------------------------------


async def test_a_market_order_fills_at_the_market_price(market: Market) -> None:
    await market.broker.submit(buy())
    snap = await market.ended(ENTRY)
    assert (snap.status, snap.filled_qty, snap.filled_avg_price) == (
        OrderStatus.FILLED,
        D(10),
        D(100),
    )
    await market.until(lambda: bool(market.fills(ENTRY)))
    assert market.fills(ENTRY) == [(D(10), D(100), False)]
    assert await market.held() == D(10)


async def test_a_limit_marketable_on_arrival_fills_at_the_market(market: Market) -> None:
    await market.broker.submit(buy(limit="101"))  # the price is 100: better than the limit
    assert (await market.ended(ENTRY)).filled_avg_price == D(100)


async def test_a_limit_at_exactly_the_market_price_rests(market: Market) -> None:
    """The one rule for a limit at the price: it rests until a price goes through it."""
    await market.broker.submit(buy(limit="100"))  # the price is 100
    await market.barrier()
    resting = await market.broker.get_order(ENTRY)
    assert resting is not None and resting.status is OrderStatus.PENDING
    market.move("AAPL", D("99.99"))
    snap = await market.ended(ENTRY)
    assert (snap.status, snap.filled_avg_price) == (OrderStatus.FILLED, D(100))


async def test_a_limit_rests_until_the_price_reaches_it_then_fills_at_its_limit(
    market: Market,
) -> None:
    await market.broker.submit(buy(limit="99"))
    market.move("AAPL", D("99.01"))  # a cent short of it
    await market.barrier()
    resting = await market.broker.get_order(ENTRY)
    assert resting is not None and resting.status is OrderStatus.PENDING
    assert market.fills(ENTRY) == []
    market.move("AAPL", D("98.5"))  # gaps through it: it rested, so it fills at its limit
    await market.until(lambda: bool(market.fills(ENTRY)))
    assert market.fills(ENTRY) == [(D(10), D(99), False)]


async def test_a_resting_limit_waits_when_the_price_comes_to_exactly_its_limit(
    market: Market,
) -> None:
    await market.broker.submit(buy(limit="99"))
    market.move("AAPL", D(99))
    await market.barrier()
    assert market.fills(ENTRY) == []
    market.move("AAPL", D("98.99"))
    await market.until(lambda: bool(market.fills(ENTRY)))
    assert market.fills(ENTRY) == [(D(10), D(99), False)]


async def test_a_bracket_takes_profit_at_its_limit_and_its_stop_is_canceled(
    market: Market,
) -> None:
    snap = await market.broker.submit(bracket())
    assert [leg.client_order_id for leg in snap.legs] == [TP, SL]
    assert (await market.ended(ENTRY)).status is OrderStatus.FILLED
    market.move("AAPL", D(104))
    market.move("AAPL", D(105))  # at the take-profit's limit: it rests
    await market.barrier()
    tp = await market.broker.get_order(TP)
    assert tp is not None and tp.status is OrderStatus.PENDING
    market.move("AAPL", D(106))  # through the take-profit, which rested at 105
    filled, canceled = await market.ended(TP), await market.ended(SL)
    assert (filled.status, filled.filled_avg_price) == (OrderStatus.FILLED, D(105))
    assert canceled.status is OrderStatus.CANCELED
    await market.until(lambda: market.canceled(SL) and bool(market.fills(TP)))
    assert market.fills(TP) == [(D(10), D(105), False)]
    assert await market.held() == D(0)


async def test_a_stop_the_price_gaps_through_fills_at_the_market_below_it(
    market: Market,
) -> None:
    await market.broker.submit(bracket())
    await market.ended(ENTRY)
    market.move("AAPL", D("95.01"))  # short of the stop
    await market.barrier()
    assert market.fills(SL) == []
    market.move("AAPL", D(93))
    stopped, canceled = await market.ended(SL), await market.ended(TP)
    assert (stopped.status, stopped.filled_avg_price) == (OrderStatus.FILLED, D(93))
    assert canceled.status is OrderStatus.CANCELED


async def test_an_oco_stops_out_and_cancels_its_take_profit(market: Market) -> None:
    await holding(market)
    oco = exit_order(TP, Limit(D(105)), attached=Oco(take_profit=D(105), stop_loss=D(95)))
    snap = await market.broker.submit(oco)
    assert [leg.client_order_id for leg in snap.legs] == [SL]
    market.move("AAPL", D(95))  # exactly at the stop: reached
    stopped, canceled = await market.ended(SL), await market.ended(TP)
    assert (stopped.status, stopped.filled_avg_price) == (OrderStatus.FILLED, D(95))
    assert canceled.status is OrderStatus.CANCELED
    assert await market.held() == D(0)


async def test_an_oco_takes_profit_and_cancels_its_stop(market: Market) -> None:
    await holding(market)
    oco = exit_order(TP, Limit(D(105)), attached=Oco(take_profit=D(105), stop_loss=D(95)))
    await market.broker.submit(oco)
    market.move("AAPL", D("105.01"))
    taken, canceled = await market.ended(TP), await market.ended(SL)
    assert (taken.status, taken.filled_avg_price) == (OrderStatus.FILLED, D(105))
    assert canceled.status is OrderStatus.CANCELED


async def test_a_trailing_stop_follows_the_price_on_the_tick_and_triggers(
    market: Market,
) -> None:
    """3% behind a mark of 101.11 is 98.0767: on the tick, 98.08, which 98.08 reaches."""
    await holding(market)
    await market.broker.submit(exit_order(TS, TrailingStop(D(3))))
    market.move("AAPL", D("101.11"))  # the mark follows up: the stop is 98.08
    market.move("AAPL", D("98.09"))  # a cent above it
    await market.barrier()
    assert market.fills(TS) == []
    market.move("AAPL", D("98.08"))  # at the rounded stop: triggers, fills at the market
    snap = await market.ended(TS)
    assert (snap.status, snap.filled_avg_price) == (OrderStatus.FILLED, D("98.08"))


async def test_a_trailing_stop_does_not_follow_the_price_down(market: Market) -> None:
    await holding(market)
    await market.broker.submit(exit_order(TS, TrailingStop(D(5))))
    market.move("AAPL", D(110))  # stop 104.50
    market.move("AAPL", D(105))  # down: the stop stays
    await market.barrier()
    assert market.fills(TS) == []
    market.move("AAPL", D("104.4"))
    snap = await market.ended(TS)
    assert (snap.status, snap.filled_avg_price) == (OrderStatus.FILLED, D("104.4"))


async def test_canceling_an_order_that_just_filled_leaves_it_filled(market: Market) -> None:
    await market.broker.submit(buy(limit="99"))
    market.move("AAPL", D(98))
    assert (await market.ended(ENTRY)).status is OrderStatus.FILLED
    await market.broker.cancel(ENTRY)  # too late: a no-op, not an error
    await market.barrier()
    snap = await market.broker.get_order(ENTRY)
    assert snap is not None and (snap.status, snap.filled_qty) == (OrderStatus.FILLED, D(10))
    assert not market.canceled(ENTRY)
    assert await market.held() == D(10)


async def test_canceling_a_resting_bracket_entry_cancels_its_legs(market: Market) -> None:
    await market.broker.submit(bracket(limit="99"))  # rests: the price is 100
    await market.broker.cancel(ENTRY)
    for cid in (ENTRY, TP, SL):
        snap = await market.ended(cid)
        assert snap.status is OrderStatus.CANCELED, cid
    await market.until(lambda: market.canceled(ENTRY))
    assert await market.held() == D(0)


async def test_a_canceled_resting_limit_never_fills(market: Market) -> None:
    await market.broker.submit(buy(limit="99"))
    await market.broker.cancel(ENTRY)
    assert (await market.ended(ENTRY)).status is OrderStatus.CANCELED
    market.move("AAPL", D(90))
    await market.barrier()
    assert market.fills(ENTRY) == []


async def test_a_fill_in_parts_is_told_part_by_part(market: Market) -> None:
    market.in_parts(2)
    await market.broker.submit(buy())
    snap = await market.ended(ENTRY)
    assert (snap.status, snap.filled_qty, snap.filled_avg_price) == (
        OrderStatus.FILLED,
        D(10),
        D(100),
    )
    await market.until(lambda: len(market.fills(ENTRY)) == 2)
    assert market.fills(ENTRY) == [(D(5), D(100), True), (D(5), D(100), False)]
    assert await market.held() == D(10)


async def test_a_resting_limit_fills_in_parts_at_its_limit(market: Market) -> None:
    market.in_parts(2)
    await market.broker.submit(buy(limit="99", qty="5"))
    market.move("AAPL", D(98))
    await market.until(lambda: len(market.fills(ENTRY)) == 2)
    assert market.fills(ENTRY) == [(D(2), D(99), True), (D(3), D(99), False)]


async def test_a_bracket_entry_filled_in_parts_puts_its_legs_live_for_all_of_it(
    market: Market,
) -> None:
    market.in_parts(2)
    await market.broker.submit(bracket())
    assert (await market.ended(ENTRY)).filled_qty == D(10)
    market.in_parts(1)
    market.move("AAPL", D(94))
    stopped, canceled = await market.ended(SL), await market.ended(TP)
    assert (stopped.status, stopped.filled_qty, stopped.filled_avg_price) == (
        OrderStatus.FILLED,
        D(10),
        D(94),
    )
    assert canceled.status is OrderStatus.CANCELED
    assert await market.held() == D(0)
