"""Each order event exactly once, whether it comes from the stream or a REST reconcile."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tradebot.broker.tracker import OrderTracker
from tradebot.core.events import OrderAccepted, OrderCanceled, OrderFilled, OrderRejectedEvent
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.signal import Side

from .conftest import T0


def snap(
    filled: str = "0", status: OrderStatus = OrderStatus.PENDING, avg: str | None = None
) -> OrderSnapshot:
    return OrderSnapshot(
        client_order_id="c1",
        broker_order_id="b1",
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal(10),
        filled_qty=Decimal(filled),
        filled_avg_price=Decimal(avg) if avg else None,
        status=status,
    )


def test_a_reconcile_prices_what_the_stream_missed_from_the_average() -> None:
    tracker = OrderTracker()
    first = tracker.observe(
        snap("4", OrderStatus.PARTIALLY_FILLED, "10"),
        T0,
        fill_qty=Decimal(4),
        fill_price=Decimal(10),
    )
    assert [type(e) for e in first] == [OrderAccepted, OrderFilled]
    rest = tracker.observe(snap("10", OrderStatus.FILLED, "11.2"), T0)  # 6 more @ 12
    (fill,) = rest
    assert isinstance(fill, OrderFilled)
    assert (fill.qty, fill.price, fill.cum_qty, fill.partial) == (
        Decimal(6),
        Decimal(12),
        Decimal(10),
        False,
    )
    assert tracker.observe(snap("10", OrderStatus.FILLED, "11.2"), T0) == []
    assert tracker.open_orders() == []


def test_cancel_after_a_partial_fill_and_rejections() -> None:
    tracker = OrderTracker()
    tracker.observe(snap("3", OrderStatus.PARTIALLY_FILLED, "10"), T0)
    (canceled,) = tracker.observe(snap("3", OrderStatus.CANCELED, "10"), T0)
    assert isinstance(canceled, OrderCanceled)
    assert tracker.observe(snap("3", OrderStatus.CANCELED, "10"), T0) == []
    other = OrderTracker()
    (rejected,) = other.observe(snap("0", OrderStatus.REJECTED), T0)
    assert isinstance(rejected, OrderRejectedEvent)


@given(st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=30))
def test_any_order_of_observations_reports_each_share_once(cums: list[int]) -> None:
    """Stream and REST views interleave and repeat; reported fills add up to the maximum seen."""
    tracker = OrderTracker()
    total = Decimal(0)
    for cum in cums:
        status = OrderStatus.FILLED if cum == 10 else OrderStatus.PARTIALLY_FILLED
        for event in tracker.observe(snap(str(cum), status, "10"), T0):
            if isinstance(event, OrderFilled):
                assert event.qty > 0
                total += event.qty
                assert event.cum_qty == total
    assert total == max(cums)
