"""The broker's view of an order: its status and a snapshot, as pure values.

The broker returns them (:class:`~tradebot.broker.base.Broker`) and the journal records them, so
they live in the core, which both may import (the journal does not import the broker).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradebot.core.orders import OrderIntent
from tradebot.core.signal import Side


class OrderStatus(StrEnum):
    """An order's state at the broker, reduced to what tradebot acts on."""

    PENDING = "pending"  # accepted / new / pending_new / held: may still fill
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES


_FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """The broker's view of one order, as returned by submit and lookup."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    status: OrderStatus
    submitted_at: datetime | None = None
    updated_at: datetime | None = None
    reason: str = ""  # rejection / cancel reason where the broker gives one
    #: a bracket/oto/oco order's exit legs, each named by *our* client order id
    #: (:func:`~tradebot.core.ids.leg_exit_id`; an adapter translates the broker's own names)
    legs: tuple[OrderSnapshot, ...] = ()

    @classmethod
    def accepted(cls, intent: OrderIntent, broker_order_id: str, at: datetime) -> OrderSnapshot:
        """A broker's first answer to ``intent``: accepted, nothing filled yet."""
        return cls(
            client_order_id=intent.client_order_id,
            broker_order_id=broker_order_id,
            symbol=intent.symbol,
            side=intent.side,
            qty=intent.qty,
            filled_qty=Decimal(0),
            filled_avg_price=None,
            status=OrderStatus.PENDING,
            submitted_at=at,
            updated_at=at,
        )
