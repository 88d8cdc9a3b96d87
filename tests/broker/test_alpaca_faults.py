"""Exactly once, whatever the network does: every fault knob of the local Alpaca server.

Each test submits through the adapter (real alpaca-py over loopback), then asserts that the
server holds exactly one order for the client order id and that the returned snapshot is right.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.core.events import OrderAccepted, OrderFilled
from tradebot.core.order_snapshot import OrderStatus
from tradebot.exceptions import BrokerUnavailable, OrderOutcomeUnknown, RateLimited
from tradebot.simulators.alpaca.faults import Fault, FaultKind, FillScript
from tradebot.simulators.alpaca.server import AlpacaServer

from .conftest import fast_config, make_intent, take_events, wait_until

POST = ("POST", "/v2/orders")
LOOKUP = ("GET", "/v2/orders:by_client_order_id")

FAULTS = {
    "429 with Retry-After": Fault.rate_limited("0"),
    "500 before the order": Fault.error(500),
    "503 before the order": Fault.error(503),
    "504 after the order was placed": Fault.error(504, process=True),
    "500 after the order was placed": Fault.error(500, process=True),
    "answer slower than the timeout": Fault.slow(1.5),
    "request delayed past the timeout, then processed": Fault.slow(1.0, process=False),
    "accepted, then the connection dropped": Fault.drop(),
    "two faults in a row": Fault.error(503, times=2),
}


def assert_one_order(server: AlpacaServer, cid: str) -> dict[str, object]:
    orders = server.orders(cid)
    assert len(orders) == 1, f"{len(orders)} orders for {cid}"
    assert len(server.orders()) == 1, "an order for another id was created"
    return orders[0]


@pytest.mark.parametrize("fault", FAULTS.values(), ids=list(FAULTS))
async def test_each_fault_leaves_exactly_one_order(
    server: AlpacaServer, broker: AlpacaBroker, fault: Fault
) -> None:
    intent = make_intent()
    server.add_fault(fault)
    snap = await broker.submit(intent)
    await wait_until(lambda: server.in_flight == 0)  # late requests have landed too
    held = assert_one_order(server, intent.client_order_id)
    assert snap.client_order_id == intent.client_order_id
    assert snap.broker_order_id == held["id"]
    assert (snap.symbol, snap.side, snap.qty) == ("AAPL", intent.side, Decimal(10))
    events = await take_events(broker, 2)
    assert isinstance(events[0], OrderAccepted)
    assert isinstance(events[1], OrderFilled) and events[1].cum_qty == Decimal(10)


async def test_unknown_outcome_is_looked_up_before_sending_again(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.add_fault(Fault.drop())
    intent = make_intent()
    await broker.submit(intent)
    assert_one_order(server, intent.client_order_id)
    posts = [i for i, r in enumerate(server.requests) if r == POST]
    lookups = [i for i, r in enumerate(server.requests) if r == LOOKUP]
    assert len(posts) == 1, "the order was sent again although it existed"
    assert lookups and lookups[0] > posts[0]


async def test_lost_answer_without_an_order_is_sent_again_with_the_same_id(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.add_fault(Fault.error(502))  # the gateway failed before the order reached Alpaca
    intent = make_intent()
    snap = await broker.submit(intent)
    assert_one_order(server, intent.client_order_id)
    assert snap.client_order_id == intent.client_order_id
    posts = [i for i, r in enumerate(server.requests) if r == POST]
    assert len(posts) == 2
    between = server.requests[posts[0] : posts[1]]
    assert LOOKUP in between  # looked up first, found nothing, then sent again


async def test_an_id_already_at_the_broker_returns_that_order(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    intent = make_intent()
    first = await broker.submit(intent)
    again = await broker.submit(intent)  # e.g. a restart that lost its journal's answer
    assert again.broker_order_id == first.broker_order_id
    assert_one_order(server, intent.client_order_id)


async def test_persistent_5xx_on_submit_ends_as_unknown_never_as_two_orders(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.add_fault(Fault.error(500, process=True))  # the order exists; the answer is a 500
    # ... and from then on every lookup fails too, so the adapter can never learn the outcome
    server.add_fault(
        Fault(FaultKind.STATUS, status=503, method=LOOKUP[0], path=LOOKUP[1], times=50)
    )
    intent = make_intent()
    with pytest.raises(OrderOutcomeUnknown) as caught:
        await broker.submit(intent)
    assert caught.value.client_order_id == intent.client_order_id
    assert_one_order(server, intent.client_order_id)


async def test_unknown_outcomes_to_the_last_attempt_look_up_before_every_resend(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.add_fault(Fault.error(500, times=50))  # never processed, never answered
    intent = make_intent()
    with pytest.raises(OrderOutcomeUnknown) as caught:
        await broker.submit(intent)
    assert caught.value.client_order_id == intent.client_order_id
    assert server.orders() == []
    calls = [r for r in server.requests if r in (POST, LOOKUP)]
    # max_attempts submissions, each one after the first preceded by a lookup that found none
    assert calls == [POST] + [LOOKUP, POST] * 4


async def test_rate_limit_without_end_is_reported_after_the_attempts(
    server: AlpacaServer, broker: AlpacaBroker
) -> None:
    server.add_fault(Fault.rate_limited("0", times=50))
    with pytest.raises(RateLimited):
        await broker.submit(make_intent())
    assert server.orders() == []
    assert server.requests.count(POST) == 5  # max_attempts, no hidden SDK retries on top


async def test_reads_retry_on_5xx_then_succeed(server: AlpacaServer, broker: AlpacaBroker) -> None:
    server.add_fault(Fault.error(503, method="GET", path="/v2/account", times=2))
    account = await broker.account()
    assert account.cash == Decimal(100000)
    assert server.requests.count(("GET", "/v2/account")) >= 4  # enter + 2 failures + success


async def test_reads_give_up_as_unavailable(server: AlpacaServer, broker: AlpacaBroker) -> None:
    server.add_fault(Fault.error(504, method="GET", path="/v2/clock", times=50))
    with pytest.raises(BrokerUnavailable):
        await broker.clock()


async def test_fault_during_partial_fills_keeps_one_order(server: AlpacaServer) -> None:
    from pydantic import SecretStr

    from tradebot.config.model import Mode

    server.script_fills(FillScript(delay=0.02, parts=3))
    server.add_fault(Fault.drop())
    from .conftest import KEY_ID, SECRET_KEY

    async with AlpacaBroker(
        fast_config(server), Mode.PAPER, key_id=SecretStr(KEY_ID), secret_key=SecretStr(SECRET_KEY)
    ) as broker:
        intent = make_intent(qty="9")
        snap = await broker.submit(intent)
        assert snap.status in (
            OrderStatus.PENDING,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
        )
        events = await take_events(broker, 4)
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert [f.qty for f in fills] == [Decimal(3)] * 3
    assert [f.partial for f in fills] == [True, True, False]
    assert_one_order(server, intent.client_order_id)
