"""Events that come back from a broker about an order. Positions change only from these.

Every event names the order by ``client_order_id`` (ours, deterministic) and, where known, the
broker's own id. Quantities and prices are ``Decimal``; ``at`` is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from tradebot.core.signal import Side


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    #: a short name for journals and logs: ``accepted``, ``filled``, ...
    kind: ClassVar[str] = "event"
    #: whether this kind of event ends the order (a fill overrides it by ``partial``)
    final_kind: ClassVar[bool] = False

    client_order_id: str
    broker_order_id: str | None
    at: datetime

    @property
    def is_final(self) -> bool:
        """True when the order can change no more (filled, canceled, rejected, expired)."""
        return self.final_kind


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted(OrderEvent):
    """The broker has the order (new / accepted / pending)."""

    kind: ClassVar[str] = "accepted"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled(OrderEvent):
    """A fill. ``qty``/``price`` are this fill's; ``cum_qty`` is the order's total so far.

    ``partial`` is True while the order still has quantity open.
    """

    kind: ClassVar[str] = "filled"

    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    cum_qty: Decimal
    order_qty: Decimal
    partial: bool

    @property
    def is_final(self) -> bool:
        return not self.partial


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCanceled(OrderEvent):
    kind: ClassVar[str] = "canceled"
    final_kind: ClassVar[bool] = True
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejectedEvent(OrderEvent):
    kind: ClassVar[str] = "rejected"
    final_kind: ClassVar[bool] = True
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderExpired(OrderEvent):
    kind: ClassVar[str] = "expired"
    final_kind: ClassVar[bool] = True
    reason: str = ""
