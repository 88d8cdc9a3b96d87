"""An order's shape: how it trades (:data:`OrderPrice`) and the exit legs that travel with it
(:data:`Attached`), each kind a frozen dataclass that refuses in its own constructor what it
cannot be. :class:`~tradebot.core.orders.OrderIntent` carries one of each; its module docstring
lists every place a new kind must touch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, assert_never


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    #: a configuration choice, never an intent's type: the order goes out as a limit that
    #: carries :class:`ChaseTerms`, and :mod:`tradebot.execution.chaser` finishes it at market
    LIMIT_THEN_MARKET = "limit_then_market"
    #: exit orders only (never planned from a leg): a stop-loss, and a trailing stop
    STOP = "stop"
    TRAILING_STOP = "trailing_stop"


class OrderClass(StrEnum):
    """Alpaca's order classes. ``bracket``: an entry with a take-profit and a stop-loss leg;
    ``oto``: an entry with one of them; ``oco``: a take-profit limit whose stop-loss leg is
    canceled when it fills (and the other way round), for a position already held."""

    SIMPLE = "simple"
    BRACKET = "bracket"
    OTO = "oto"
    OCO = "oco"


@dataclass(frozen=True, slots=True)
class ChaseTerms:
    """When a ``limit_then_market`` limit is chased: ``chase_after`` seconds of the market being
    able to fill it, or the reference price ``chase_pct`` percent past the limit (see the
    chaser). The algorithm's keys of the same names give them; their range is the config's."""

    chase_after: float
    chase_pct: Decimal


def _positive(what: str, value: Decimal) -> None:
    if not (value.is_finite() and value > 0):
        raise ValueError(f"{what} must be > 0, got {value}")


# -- the price: how the order trades -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Market:
    """At the market's price."""

    order_type: ClassVar[OrderType] = OrderType.MARKET


#: the one market price (it has no fields)
MARKET = Market()


@dataclass(frozen=True, slots=True)
class Limit:
    """At ``limit`` or better. ``chase``: a ``limit_then_market`` limit, which the chaser
    finishes at market (:mod:`tradebot.execution.chaser`)."""

    limit: Decimal
    chase: ChaseTerms | None = None
    order_type: ClassVar[OrderType] = OrderType.LIMIT

    def __post_init__(self) -> None:
        _positive("a limit price", self.limit)


@dataclass(frozen=True, slots=True)
class Stop:
    """At market once the price reaches ``stop`` (a stop-loss exit)."""

    stop: Decimal
    order_type: ClassVar[OrderType] = OrderType.STOP

    def __post_init__(self) -> None:
        _positive("a stop price", self.stop)


@dataclass(frozen=True, slots=True)
class TrailingStop:
    """At market once the price falls back ``trail_pct`` percent from its best since the order
    was placed (a trailing-stop exit)."""

    trail_pct: Decimal
    order_type: ClassVar[OrderType] = OrderType.TRAILING_STOP

    def __post_init__(self) -> None:
        # Alpaca: trail_percent is a percentage of the high-water mark, so under 100
        if not (self.trail_pct.is_finite() and Decimal(0) < self.trail_pct < Decimal(100)):
            raise ValueError(f"a trailing stop's percent must be in (0, 100), got {self.trail_pct}")


OrderPrice = Market | Limit | Stop | TrailingStop


# -- the attached exits: what travels with the order as its legs -------------------------------


@dataclass(frozen=True, slots=True)
class Bracket:
    """An entry with a take-profit leg (a limit at ``take_profit``) and a stop-loss leg (a stop
    at ``stop_loss``), on the other side; Alpaca cancels one when the other fills."""

    take_profit: Decimal
    stop_loss: Decimal
    order_class: ClassVar[OrderClass] = OrderClass.BRACKET

    def __post_init__(self) -> None:
        _positive("a take-profit price", self.take_profit)
        _positive("a stop-loss price", self.stop_loss)


@dataclass(frozen=True, slots=True)
class Oto:
    """An entry with exactly one exit leg: a take-profit limit or a stop-loss stop."""

    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    order_class: ClassVar[OrderClass] = OrderClass.OTO

    def __post_init__(self) -> None:
        if (self.take_profit is None) == (self.stop_loss is None):
            raise ValueError("an oto order has exactly one exit: a take-profit or a stop-loss")
        for what, price in (("take-profit", self.take_profit), ("stop-loss", self.stop_loss)):
            if price is not None:
                _positive(f"a {what} price", price)


@dataclass(frozen=True, slots=True)
class Oco:
    """An exit for a position already held: the order is its take-profit limit (its price is
    ``Limit(take_profit)``), with a stop-loss leg at ``stop_loss`` on the same side; Alpaca
    cancels one when the other fills."""

    take_profit: Decimal
    stop_loss: Decimal
    order_class: ClassVar[OrderClass] = OrderClass.OCO

    def __post_init__(self) -> None:
        _positive("a take-profit price", self.take_profit)
        _positive("a stop-loss price", self.stop_loss)


Attached = Bracket | Oto | Oco


def shape_refusal(price: OrderPrice, attached: Attached | None) -> str | None:
    """Why ``attached`` cannot travel with an order priced ``price`` (None: it can)."""
    match attached:
        case None:
            return None
        case Bracket() | Oto():
            if isinstance(price, Market | Limit):
                return None
            return f"a {attached.order_class} entry is a market or limit order"
        case Oco():
            if price == Limit(attached.take_profit):
                return None
            return "an oco order is its take-profit limit (and is never chased)"
        case _:
            assert_never(attached)


def unchased(price: OrderPrice) -> OrderPrice:
    """``price`` with no chase terms (a limit stays a limit)."""
    return replace(price, chase=None) if isinstance(price, Limit) else price
