"""Exits through the real adapter and the local Alpaca server: bracket, oto and oco orders, stops,
trailing stops, legs named by our ids in answers and events (after a restart too), the shares
the exits hold, and the cancel/fill race on a stop leg."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest
from pydantic import SecretStr

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.config.model import Mode
from tradebot.core.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled
from tradebot.core.ids import exit_id
from tradebot.core.order_shape import (
    Bracket,
    Limit,
    Oco,
    OrderClass,
    OrderPrice,
    Oto,
    Stop,
    TrailingStop,
)
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import IntentRole, OrderIntent, TimeInForce
from tradebot.core.signal import Side
from tradebot.exceptions import OrderRejected
from tradebot.simulators.alpaca.faults import Fault, FillScript
from tradebot.simulators.alpaca.prices import parse_price_path
from tradebot.simulators.alpaca.server import AlpacaServer

from .conftest import KEY_ID, SECRET_KEY, fast_config, make_intent, wait_until

ENTRY = "tb1-AAPL-o-00000000000000e1"
TP, SL = exit_id(ENTRY, "tp"), exit_id(ENTRY, "sl")
LIST = ("GET", "/v2/orders")


def bracket(
    order_class: OrderClass = OrderClass.BRACKET,
    *,
    tp: str | None = "105",
    sl: str | None = "95",
    limit: str | None = None,
    qty: str = "10",
) -> OrderIntent:
    entry = make_intent(ENTRY, qty=qty, limit=limit, tif=TimeInForce.GTC)
    take = None if tp is None else Decimal(tp)
    stop = None if sl is None else Decimal(sl)
    if order_class is OrderClass.BRACKET:
        assert take is not None and stop is not None
        return replace(entry, attached=Bracket(take, stop))
    assert order_class is OrderClass.OTO
    return replace(entry, attached=Oto(take, stop))


def exit_order(cid: str, price: OrderPrice, qty: str = "10", **fields: object) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        algo_id=1,
        symbol="AAPL",
        side=Side.SELL,
        qty=Decimal(qty),
        price=price,
        time_in_force=TimeInForce.GTC,
        role=IntentRole.EXIT,
        leg_ids=(),
        reference_price=Decimal(100),
        **fields,  # type: ignore[arg-type]
    )


async def events_until(
    broker: AlpacaBroker, done: Callable[[list[OrderEvent]], bool]
) -> list[OrderEvent]:
    """Events from the broker's stream until ``done`` holds for them."""
    stream, seen = broker.events(), list[OrderEvent]()
    async with asyncio.timeout(10):
        while not done(seen):
            seen.append(await anext(stream))
    return seen


def of(events: list[OrderEvent], cid: str) -> list[OrderEvent]:
    return [e for e in events if e.client_order_id == cid]


def ended(*cids: str) -> Callable[[list[OrderEvent]], bool]:
    """Every one of ``cids`` has a final event (a complete fill, a cancel)."""
    return lambda seen: all(
        any((isinstance(e, OrderFilled) and not e.partial) or e.final_kind for e in of(seen, cid))
        for cid in cids
    )


async def connected(server: AlpacaServer, adapters: int) -> None:
    """``adapters`` adapters listen, and each has made its on-connect reconcile's listing."""
    await wait_until(
        lambda: server.stream.listeners == adapters and server.requests.count(LIST) >= adapters
    )


def prices(server: AlpacaServer, *values: str) -> None:
    """Load a path of AAPL prices (one a second) for the test to step through."""
    lines = [f'{{"at": {i}, "symbol": "AAPL", "price": "{p}"}}' for i, p in enumerate(values)]
    server.load_price_path(parse_price_path("\n".join(lines)))


async def filled_bracket(server: AlpacaServer, broker: AlpacaBroker, **terms: str) -> None:
    """A bracket buy of 10 at market (100) that has filled, its exits live."""
    server.script_fills(FillScript(limits_cross=True))
    snap = await broker.submit(bracket(**terms))
    assert [leg.client_order_id for leg in snap.legs] == [TP, SL]
    assert {leg.status for leg in snap.legs} == {OrderStatus.PENDING}
    await events_until(broker, lambda seen: len(of(seen, TP)) == 1 and len(of(seen, SL)) == 1)


async def test_a_bracket_takes_profit_and_its_stop_is_canceled(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(limits_cross=True))
    prices(server, "104", "105", "105.5")
    snap = await broker.submit(bracket())
    assert snap.client_order_id == ENTRY
    legs = {leg.client_order_id: leg for leg in snap.legs}
    assert set(legs) == {TP, SL}
    assert all(leg.broker_order_id != snap.broker_order_id for leg in legs.values())
    entry_events = await events_until(broker, ended(ENTRY))
    assert server.account.positions["AAPL"].qty == 10
    for _ in range(2):  # 104, then 105: at the limit, not through it
        server.step_price_path()
    tp_leg = await broker.get_order(TP)
    assert tp_leg is not None and tp_leg.status is OrderStatus.PENDING
    server.step_price_path()  # 105.5: through it
    events = entry_events + await events_until(broker, ended(TP, SL))
    (tp_fill,) = [e for e in of(events, TP) if isinstance(e, OrderFilled)]
    assert (tp_fill.symbol, tp_fill.side, tp_fill.qty, tp_fill.price) == (
        "AAPL",
        Side.SELL,
        Decimal(10),
        Decimal(105),
    )
    assert (tp_fill.cum_qty, tp_fill.order_qty, tp_fill.partial) == (10, 10, False)
    assert tp_fill.broker_order_id == legs[TP].broker_order_id
    assert [type(e) for e in of(events, SL)] == [OrderAccepted, OrderCanceled]
    sl_leg = await broker.get_order(SL)
    assert sl_leg is not None and sl_leg.status is OrderStatus.CANCELED
    assert server.account.positions["AAPL"].qty == 0
    # every event is about an order we named: none under Alpaca's uuids
    assert {e.client_order_id for e in events} == {ENTRY, TP, SL}


async def test_a_stop_the_price_gaps_through_fills_below_its_stop(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    await filled_bracket(server, broker)
    prices(server, "96", "93")
    server.step_price_path()  # 96: above the stop
    leg = await broker.get_order(SL)
    assert leg is not None and leg.status is OrderStatus.PENDING
    server.step_price_path()  # 93: gapped through 95
    events = await events_until(broker, ended(TP, SL))
    (fill,) = [e for e in of(events, SL) if isinstance(e, OrderFilled)]
    assert (fill.side, fill.qty, fill.price) == (Side.SELL, Decimal(10), Decimal(93))
    assert [type(e) for e in of(events, TP)] == [OrderCanceled]


async def test_exits_after_the_fill_go_as_a_stop_and_a_limit_on_the_tick(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    await broker.submit(make_intent(ENTRY, qty="10"))
    await wait_until(lambda: server.account.positions.get("AAPL") is not None)
    await broker.submit(exit_order(SL, Stop(Decimal("95.001")), qty="5"))
    await broker.submit(exit_order(TP, Limit(Decimal("105.009")), qty="5"))
    (stop,), (take,) = server.orders(SL), server.orders(TP)
    # a sell's stop rounds up and its take-profit down: toward the entry, never further
    assert (stop["type"], stop["stop_price"], stop["limit_price"]) == ("stop", "95.01", None)
    assert (take["type"], take["limit_price"], take["order_class"]) == ("limit", "105", "simple")


async def test_a_trailing_stop_ratchets_up_then_fires(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(limits_cross=True))
    await broker.submit(make_intent(ENTRY, qty="10"))
    await wait_until(lambda: server.account.positions.get("AAPL") is not None)
    ts = exit_id(ENTRY, "ts")
    await broker.submit(exit_order(ts, TrailingStop(Decimal(5))))
    (placed,) = server.orders(ts)
    assert (placed["hwm"], placed["stop_price"], placed["trail_percent"]) == ("100", "95", "5")
    prices(server, "104", "110", "106", "104.4")
    for _ in range(3):  # up to 110 (stop 104.50), back to 106: above it
        server.step_price_path()
    (trailing,) = server.orders(ts)
    assert (trailing["hwm"], trailing["stop_price"], trailing["status"]) == ("110", "104.5", "new")
    server.step_price_path()  # 104.40: through the ratcheted stop (the first one was 95)
    events = of(await events_until(broker, ended(ts)), ts)
    (fill,) = [e for e in events if isinstance(e, OrderFilled)]
    assert (fill.side, fill.qty, fill.price) == (Side.SELL, Decimal(10), Decimal("104.4"))


async def test_an_oco_after_the_fill_stops_out_and_cancels_its_take_profit(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(limits_cross=True))
    await broker.submit(make_intent(ENTRY, qty="10"))
    await wait_until(lambda: server.account.positions.get("AAPL") is not None)
    oco = exit_order(
        TP, Limit(Decimal(105)), attached=Oco(take_profit=Decimal(105), stop_loss=Decimal(95))
    )
    snap = await broker.submit(oco)
    assert snap.client_order_id == TP
    assert [(leg.client_order_id, leg.status) for leg in snap.legs] == [(SL, OrderStatus.PENDING)]
    (raw,) = server.orders(TP)
    assert (raw["order_class"], raw["type"], raw["limit_price"]) == ("oco", "limit", "105")
    prices(server, "94")
    server.step_price_path()
    events = await events_until(broker, ended(TP, SL))
    (fill,) = [e for e in of(events, SL) if isinstance(e, OrderFilled)]
    assert (fill.side, fill.qty, fill.price) == (Side.SELL, Decimal(10), Decimal(94))
    assert isinstance(of(events, TP)[-1], OrderCanceled)
    leg = await broker.get_order(SL)
    assert leg is not None and leg.status is OrderStatus.FILLED and leg.filled_qty == 10


async def test_canceling_an_entry_cancels_its_legs(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(limits_cross=True))
    await broker.submit(bracket(limit="99"))  # rests: the price is 100
    await broker.cancel(ENTRY)
    events = await events_until(broker, ended(ENTRY, TP, SL))
    for cid in (TP, SL):
        assert [type(e) for e in of(events, cid)] == [OrderAccepted, OrderCanceled], cid
    for cid in (ENTRY, TP, SL):
        snap = await broker.get_order(cid)
        assert snap is not None and snap.status is OrderStatus.CANCELED, cid
    assert server.account.positions.get("AAPL") is None


async def test_a_leg_is_found_by_our_id_and_never_by_the_wrong_type(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(limits_cross=True))
    await broker.submit(bracket(OrderClass.OTO, sl=None, limit="99"))
    fresh = AlpacaBroker(
        fast_config(server, stream=False),
        Mode.PAPER,
        key_id=SecretStr(KEY_ID),
        secret_key=SecretStr(SECRET_KEY),
    )
    async with fresh:  # knows no names: it finds the leg through its parent
        leg = await fresh.get_order(TP)
        assert leg is not None and leg.client_order_id == TP
        assert (leg.side, leg.qty, leg.status) == (Side.SELL, Decimal(10), OrderStatus.PENDING)
        (raw,) = server.legs(ENTRY)
        assert leg.broker_order_id == raw["id"]
        # the oto has no stop leg: "-sl" matches nothing, not the take-profit
        assert await fresh.get_order(SL) is None
        assert await fresh.get_order(exit_id("tb1-AAPL-o-unknown", "sl")) is None


async def test_the_exits_hold_the_shares_another_sell_wants(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    await filled_bracket(server, broker)
    with pytest.raises(OrderRejected) as caught:
        await broker.submit(make_intent("tb1-AAPL-c-1", side=Side.SELL, qty="4"))
    assert caught.value.status == 403
    assert "insufficient qty available for order (requested: 4, available: 0)" in str(caught.value)
    await broker.cancel(SL)  # one exit alone still holds the shares: only one can fill
    with pytest.raises(OrderRejected):
        await broker.submit(make_intent("tb1-AAPL-c-2", side=Side.SELL, qty="4"))
    await broker.cancel(TP)
    await broker.submit(make_intent("tb1-AAPL-c-3", side=Side.SELL, qty="4"))


async def test_leg_events_are_named_after_a_restart_by_one_listing(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    """A fresh adapter (a restarted bot) knows no leg names: the first update under a name
    Alpaca made up makes it list the recent orders once, and every leg lands on our ids."""
    server.script_fills(FillScript(limits_cross=True))
    prices(server, "106")
    restarted = AlpacaBroker(
        fast_config(server), Mode.PAPER, key_id=SecretStr(KEY_ID), secret_key=SecretStr(SECRET_KEY)
    )
    async with restarted:
        await connected(server, 2)
        listings = server.requests.count(LIST)
        await broker.submit(bracket())  # the other process placed it
        events = await events_until(restarted, ended(ENTRY))
        server.step_price_path()
        events += await events_until(restarted, ended(TP, SL))
        assert server.requests.count(LIST) == listings + 1
    assert {e.client_order_id for e in events} == {ENTRY, TP, SL}
    (fill,) = [e for e in of(events, TP) if isinstance(e, OrderFilled)]
    assert (fill.qty, fill.price) == (Decimal(10), Decimal(105))


async def test_a_foreign_order_passes_through_and_is_listed_for_once(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(hold=True))
    await connected(server, 1)
    with server.lock:  # placed by hand, without a client order id: Alpaca names it (a uuid)
        foreign = server.account.submit(
            {"symbol": "MSFT", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}
        )
    listings = server.requests.count(LIST)
    server.fill(foreign.id, Decimal("0.5"))
    server.fill(foreign.id)
    events = await events_until(broker, ended(foreign.client_order_id))
    assert {e.client_order_id for e in events} == {foreign.client_order_id}
    assert server.requests.count(LIST) == listings + 1


async def test_exit_fills_missed_while_the_stream_was_down_are_reconciled_on_our_ids(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(hold=True))
    await broker.submit(bracket())  # its answer names the legs: they are watched from now on
    await events_until(broker, lambda seen: len(seen) == 1)  # the entry's acceptance
    server.stream.accepting = False
    server.stream.drop_connections()
    await wait_until(lambda: server.stream.listeners == 0)
    server.fill(ENTRY)  # nobody hears the entry fill, nor its legs going live,
    server.script_fills(FillScript(limits_cross=True))
    prices(server, "106")
    server.step_price_path()  # nor the take-profit's fill
    await wait_until(lambda: server.account.positions["AAPL"].qty == 0)
    server.stream.accepting = True
    events = await events_until(broker, ended(ENTRY, TP, SL))
    assert [type(e) for e in of(events, TP)] == [OrderAccepted, OrderFilled]
    (fill,) = [e for e in of(events, TP) if isinstance(e, OrderFilled)]
    assert (fill.qty, fill.price) == (Decimal(10), Decimal(105))
    assert [type(e) for e in of(events, SL)] == [OrderAccepted, OrderCanceled]


@pytest.mark.parametrize(
    ("race", "stop_status", "tp_status"),
    [
        (None, OrderStatus.FILLED, OrderStatus.CANCELED),  # the stop fills; its sibling goes
        (Decimal(4), OrderStatus.CANCELED, OrderStatus.CANCELED),  # 4 fill, the rest is canceled
    ],
)
async def test_a_stop_leg_fills_while_its_cancel_is_in_flight(
    server: AlpacaServer,
    broker: AlpacaBroker,
    race: Decimal | None,
    stop_status: OrderStatus,
    tp_status: OrderStatus,
) -> None:
    await filled_bracket(server, broker)
    server.race_cancels(race)
    await broker.cancel(SL)  # accepted; the stop fills first, at the current price
    events = await events_until(broker, ended(TP, SL))
    stop = await broker.get_order(SL)
    take = await broker.get_order(TP)
    assert stop is not None and take is not None
    assert (stop.status, take.status) == (stop_status, tp_status)
    filled = race if race is not None else Decimal(10)
    assert stop.filled_qty == filled and stop.filled_avg_price == 100
    assert sum(e.qty for e in of(events, SL) if isinstance(e, OrderFilled)) == filled
    assert server.account.positions["AAPL"].qty == 10 - filled


async def test_a_restarted_adapter_reconciles_open_legs_under_our_ids(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(limits_cross=True))
    await broker.submit(bracket(limit="99"))  # rests, its legs held
    restarted = AlpacaBroker(
        fast_config(server), Mode.PAPER, key_id=SecretStr(KEY_ID), secret_key=SecretStr(SECRET_KEY)
    )
    async with restarted:  # its reconcile on connect lists the open orders, legs among them
        events = await events_until(restarted, lambda seen: len(seen) == 3)
    assert sorted((type(e).__name__, e.client_order_id) for e in events) == [
        ("OrderAccepted", ENTRY),
        ("OrderAccepted", SL),
        ("OrderAccepted", TP),
    ]


async def test_a_leg_update_that_cannot_be_named_yet_waits_for_the_reconcile(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    """The listing that would name a leg fails: its update is held back (never published under
    Alpaca's name) and the reconcile it asks for reports the leg under our id."""
    server.script_fills(FillScript(hold=True))
    restarted = AlpacaBroker(
        fast_config(server), Mode.PAPER, key_id=SecretStr(KEY_ID), secret_key=SecretStr(SECRET_KEY)
    )
    async with restarted:
        await connected(server, 2)
        await broker.submit(bracket())
        listings = server.requests.count(LIST)
        server.add_fault(Fault.error(500, method="GET", path="/v2/orders", times=5))
        server.fill(ENTRY)  # the legs go live: updates under names the restarted one lacks
        events = await events_until(
            restarted, lambda seen: len(of(seen, TP)) == 1 and len(of(seen, SL)) == 1
        )
        assert server.requests.count(LIST) > listings + 5  # five failed tries, then answers
    assert {e.client_order_id for e in events} == {ENTRY, TP, SL}
    assert [type(e) for e in of(events, TP)] == [OrderAccepted]
