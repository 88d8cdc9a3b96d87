"""Turn what a broker says about orders into order events, each exactly once. Pure, no I/O.

Two sources describe the same orders: the live stream (one update per change) and REST
snapshots taken after a (re)connect, when the stream may have missed changes. Both go through
:class:`OrderTracker`, which remembers per client order id how much fill it has already reported
(``cum_qty`` and its value) and whether the order's acceptance and end were reported. A fill is
emitted only for quantity beyond what was reported, so a stream update that arrives after a
reconcile covered it, or twice, produces nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradebot.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejectedEvent,
)
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus

_PRICE_STEP = Decimal("0.000001")


@dataclass(slots=True)
class _Reported:
    accepted: bool = False
    cum_qty: Decimal = Decimal(0)
    cum_value: Decimal = Decimal(0)
    final: bool = False


class OrderTracker:
    """Per-order memory of what has been reported. One per broker connection, one loop."""

    def __init__(self) -> None:
        self._orders: dict[str, _Reported] = {}

    def watch(self, client_order_id: str) -> None:
        """Remember an order (submitted or looked up) so reconciliation checks it."""
        self._orders.setdefault(client_order_id, _Reported())

    def forget(self, client_order_id: str) -> None:
        """Drop an order the broker never created (refused before acceptance)."""
        self._orders.pop(client_order_id, None)

    def open_orders(self) -> list[str]:
        """Client order ids whose end has not been reported yet."""
        return [cid for cid, rep in self._orders.items() if not rep.final]

    def observe(
        self,
        snap: OrderSnapshot,
        at: datetime,
        *,
        fill_qty: Decimal | None = None,
        fill_price: Decimal | None = None,
        reason: str = "",
    ) -> list[OrderEvent]:
        """Events for what ``snap`` shows beyond what was reported, in lifecycle order.

        ``fill_qty``/``fill_price`` are the last fill's, when the source knows them (a stream
        fill); otherwise the unreported quantity is priced from the average fill price.
        """
        rep = self._orders.setdefault(snap.client_order_id, _Reported())
        events: list[OrderEvent] = []
        cid, bid = snap.client_order_id, snap.broker_order_id
        if not rep.accepted and snap.status is not OrderStatus.REJECTED:
            rep.accepted = True
            events.append(OrderAccepted(client_order_id=cid, broker_order_id=bid, at=at))
        new_qty = snap.filled_qty - rep.cum_qty
        if new_qty > 0:
            if fill_qty == new_qty and fill_price is not None:
                price = fill_price
            elif snap.filled_avg_price is not None:
                value = snap.filled_avg_price * snap.filled_qty - rep.cum_value
                price = _plain((value / new_qty).quantize(_PRICE_STEP))
            else:
                price = fill_price if fill_price is not None else Decimal(0)
            rep.cum_qty = snap.filled_qty
            rep.cum_value += price * new_qty
            partial = snap.filled_qty < snap.qty and snap.status is not OrderStatus.FILLED
            events.append(
                OrderFilled(
                    client_order_id=cid,
                    broker_order_id=bid,
                    at=at,
                    symbol=snap.symbol,
                    side=snap.side,
                    qty=new_qty,
                    price=price,
                    cum_qty=snap.filled_qty,
                    order_qty=snap.qty,
                    partial=partial,
                )
            )
            if not partial:
                rep.final = True
        if not rep.final and snap.status.is_final and snap.status is not OrderStatus.FILLED:
            rep.final = True
            why = reason or snap.reason
            if snap.status is OrderStatus.CANCELED:
                events.append(
                    OrderCanceled(client_order_id=cid, broker_order_id=bid, at=at, reason=why)
                )
            elif snap.status is OrderStatus.EXPIRED:
                events.append(
                    OrderExpired(client_order_id=cid, broker_order_id=bid, at=at, reason=why)
                )
            else:
                events.append(
                    OrderRejectedEvent(
                        client_order_id=cid, broker_order_id=bid, at=at, reason=why or "rejected"
                    )
                )
        return events


def _plain(number: Decimal) -> Decimal:
    """Without trailing zeros, and never in exponent form (``1E+2``)."""
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()
