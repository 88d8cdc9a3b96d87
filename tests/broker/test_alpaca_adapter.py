"""The Alpaca adapter against the local server: rejections, reads, cancels, the stream."""

from __future__ import annotations

import logging
import traceback
from decimal import Decimal

import pytest
from pydantic import SecretStr

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.config.model import Mode
from tradebot.core.events import OrderAccepted, OrderCanceled, OrderFilled
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import TimeInForce
from tradebot.core.signal import Side
from tradebot.exceptions import AuthenticationError, OrderRejected, TradebotError
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.models import SimAsset
from tradebot.simulators.alpaca.server import AlpacaServer

from .conftest import (
    KEY_ID,
    SECRET_KEY,
    T0,
    drain,
    fast_config,
    make_intent,
    take_events,
    wait_until,
)

POST = ("POST", "/v2/orders")


async def test_submit_fills_and_events_move_positions(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    snap = await broker.submit(make_intent(qty="4"))
    assert snap.status in (OrderStatus.PENDING, OrderStatus.FILLED)
    accepted, filled = await take_events(broker, 2)
    assert isinstance(accepted, OrderAccepted)
    assert isinstance(filled, OrderFilled)
    assert (filled.qty, filled.price, filled.partial) == (Decimal(4), Decimal(100), False)
    assert await broker.positions() == {"AAPL": Decimal(4)}
    account = await broker.account()
    assert account.cash == Decimal(99600)
    assert account.account_id == "PA0000SIM1"


async def test_buying_power_rejection_is_recorded_not_retried(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    with pytest.raises(OrderRejected) as caught:
        await broker.submit(make_intent(qty="5000"))  # 500,000 USD > 100,000 cash
    assert caught.value.status == 403
    assert "buying power" in str(caught.value)
    assert server.requests.count(POST) == 1
    assert server.orders() == []


async def test_not_shortable_is_refused_before_sending(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.set_asset(SimAsset("GME", Decimal(20), shortable=False))
    with pytest.raises(OrderRejected) as caught:
        await broker.submit(make_intent(symbol="GME", side=Side.SELL, qty="3"))
    assert caught.value.code == "not_shortable"
    assert POST not in server.requests


async def test_selling_what_is_held_of_a_not_shortable_asset_is_fine(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.set_asset(SimAsset("GME", Decimal(20), shortable=False))
    await broker.submit(make_intent("buy-gme", symbol="GME", qty="3"))
    await wait_until(lambda: server.orders("buy-gme")[0]["status"] == "filled")
    snap = await broker.submit(make_intent("sell-gme", symbol="GME", side=Side.SELL, qty="3"))
    assert snap.qty == Decimal(3)


async def test_server_side_short_refusal_is_a_rejection(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    await broker.asset("TSLA")  # cached as shortable...
    server.set_asset(SimAsset("TSLA", Decimal(200), shortable=False))  # ...then it changes
    with pytest.raises(OrderRejected, match="sold short"):
        await broker.submit(make_intent(symbol="TSLA", side=Side.SELL, qty="1"))
    assert server.requests.count(POST) == 1


async def test_not_tradable_and_unknown_assets_are_refused(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.set_asset(SimAsset("HALT", Decimal(5), tradable=False))
    with pytest.raises(OrderRejected, match="not tradable"):
        await broker.submit(make_intent(symbol="HALT"))
    server.account.auto_assets = False
    with pytest.raises(OrderRejected, match="not tradable"):
        await broker.submit(make_intent(symbol="NOPE"))
    assert POST not in server.requests


async def test_quantities_and_prices_are_rounded_for_the_asset(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.set_asset(SimAsset("BRK", Decimal(50), fractionable=False))
    server.script_fills(FillScript(hold=True))
    await broker.submit(make_intent("whole", symbol="BRK", qty="2.7", limit="50.129"))
    (held,) = server.orders("whole")
    assert (held["qty"], held["limit_price"]) == ("2", "50.12")  # down: never more, never worse
    await broker.submit(make_intent("frac", qty="0.1234567891", tif=TimeInForce.DAY))
    assert server.orders("frac")[0]["qty"] == "0.123456789"
    with pytest.raises(OrderRejected, match="day orders"):
        await broker.submit(make_intent("frac-gtc", qty="0.5", tif=TimeInForce.GTC))


async def test_reads(server: AlpacaServer, broker: AlpacaBroker) -> None:
    server.set_asset(SimAsset("SPY", Decimal(400), shortable=False, fractionable=False))
    asset = await broker.asset("SPY")
    assert (asset.tradable, asset.shortable, asset.fractionable) == (True, False, False)
    clock = await broker.clock()
    assert clock.is_open and clock.timestamp.tzinfo is not None
    assert await broker.positions() == {}
    assert await broker.get_order("never-sent") is None


async def test_cancel_emits_canceled_and_is_a_no_op_once_ended(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(hold=True))
    intent = make_intent()
    await broker.submit(intent)
    await broker.cancel(intent.client_order_id)
    accepted, canceled = await take_events(broker, 2)
    assert isinstance(accepted, OrderAccepted) and isinstance(canceled, OrderCanceled)
    await broker.cancel(intent.client_order_id)  # already canceled: nothing happens
    snap = await broker.get_order(intent.client_order_id)
    assert snap is not None and snap.status is OrderStatus.CANCELED
    assert server.requests.count(("DELETE", f"/v2/orders/{snap.broker_order_id}")) == 1


async def test_fills_missed_while_the_stream_was_down_are_emitted_once(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(hold=True))
    intent = make_intent(qty="6")
    await broker.submit(intent)
    (accepted,) = await take_events(broker, 1)
    assert isinstance(accepted, OrderAccepted)
    server.stream.accepting = False
    server.stream.drop_connections()
    await wait_until(lambda: server.stream.listeners == 0)
    server.fill(intent.client_order_id, Decimal(2))  # nobody is listening: the stream loses it
    server.fill(intent.client_order_id)
    connections = server.stream.connections_made
    server.stream.accepting = True
    await wait_until(lambda: server.stream.connections_made > connections)
    (filled,) = await take_events(broker, 1)
    assert isinstance(filled, OrderFilled)
    assert (filled.qty, filled.cum_qty, filled.partial) == (Decimal(6), Decimal(6), False)
    await broker.reconcile()  # a second look finds nothing new
    assert drain(broker) == []


async def test_stream_and_reconcile_never_report_a_fill_twice(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.script_fills(FillScript(hold=True))
    intent = make_intent(qty="6")
    await broker.submit(intent)
    server.fill(intent.client_order_id, Decimal(2))
    events = await take_events(broker, 2)
    await broker.reconcile()
    server.fill(intent.client_order_id)
    events += await take_events(broker, 1)
    await broker.reconcile()
    events += drain(broker)
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert [(f.qty, f.cum_qty) for f in fills] == [
        (Decimal(2), Decimal(2)),
        (Decimal(4), Decimal(6)),
    ]


async def test_wrong_keys_stop_at_start_without_retrying(server: AlpacaServer) -> None:
    adapter = AlpacaBroker(
        fast_config(server), Mode.PAPER, key_id=SecretStr("PKWRONG"), secret_key=SecretStr("nope")
    )
    with pytest.raises(AuthenticationError):
        async with adapter:
            pass
    assert server.requests == []  # refused before routing: the server logs authorised ones only


async def test_keys_never_reach_repr_logs_or_errors(
    server: AlpacaServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tradebot.simulators.alpaca.faults import Fault

    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    adapter = AlpacaBroker(
        fast_config(server, max_attempts=2),
        Mode.PAPER,
        key_id=SecretStr(KEY_ID),
        secret_key=SecretStr(SECRET_KEY),
    )
    async with adapter:
        server.add_fault(Fault.error(500, process=True))
        server.add_fault(Fault.error(503, times=5, method="GET", path=None))
        try:
            await adapter.submit(make_intent())
        except TradebotError as exc:
            errors.append(exc)
        texts = [repr(adapter), str(adapter.__dict__), caplog.text]
    assert errors, "the submit should have failed"
    for exc in errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for text in texts:
        assert SECRET_KEY not in text
        assert KEY_ID not in text


async def test_a_deliberate_resend_needs_the_next_attempt_id(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    from tradebot.core.ids import client_order_id
    from tradebot.core.signal import LegId, LegKind

    leg = LegId(1, LegKind.OPEN, "AAPL", Side.BUY, T0)
    first_id = client_order_id("PA0000SIM1", [leg], "open")
    server.script_fills(FillScript(hold=True))
    await broker.submit(make_intent(first_id))
    await broker.cancel(first_id)
    # The same id again is never a new order: Alpaca keeps ids unique even after a cancel.
    same = await broker.submit(make_intent(first_id))
    assert same.status is OrderStatus.CANCELED
    assert len(server.orders()) == 1
    retry_id = client_order_id("PA0000SIM1", [leg], "open", attempt=1)
    assert retry_id != first_id and retry_id.startswith(first_id)
    resent = await broker.submit(make_intent(retry_id))
    assert resent.status is OrderStatus.PENDING
    assert [o["client_order_id"] for o in server.orders()] == [first_id, retry_id]


def test_repr_masks_the_endpoint_credentials() -> None:
    from tradebot.config.model import AlpacaConfig

    config = AlpacaConfig(
        url="http://127.0.0.1:1/?api_token=URLPW-adapter-1",
        stream_url="ws://127.0.0.1:2/stream?token=TOKEN-adapter-1",
    )
    adapter = AlpacaBroker(
        config, Mode.PAPER, key_id=SecretStr("KEY-adapter-1"), secret_key=SecretStr("SEC-adapter-1")
    )
    text = repr(adapter) + repr(config)
    assert "127.0.0.1:1" in text
    for secret in ("URLPW-adapter-1", "TOKEN-adapter-1", "KEY-adapter-1", "SEC-adapter-1"):
        assert secret not in text
