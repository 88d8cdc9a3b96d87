"""When an order fills, and at what price: the one set of market rules both simulated brokers use.

The market is one price per symbol (the last trade, standing in for both sides of the quote).
An order is seen through :class:`Order`: its side, its limit, its stop (a trailing stop's current
level) and, for a trailing stop, its high-water mark. Each rule below says what Alpaca documents
and what is assumed where the documentation is silent.

* **Market orders fill at the market price.** Documented: "In paper trading all market orders are
  filled at the current quote. Buy orders are filled at the ask price while sell orders fill at
  the bid" (Alpaca's forum, answered by Alpaca); with one price for both sides, that price.
  (The ``sim`` broker may move it against the order by its ``slippage_bps``, its own setting.)
* **A limit fills when the price goes through it** (:func:`crosses`): a buy limit when the price
  is below it, a sell limit above; at exactly its limit it rests. Documented: a limit order "will
  only be filled at the limit price or better", and a paper order fills when it is marketable
  against the quote (a buy when the ask is at or below its limit). Assumed: the one price is a
  trade, not the quote; a trade at exactly the limit does not show that the far side of the quote
  came to it (a buyer's ask is at or above the last trade) nor that the order's place in the
  queue was reached, so the limit rests; a trade through it does show it. (The ``sim`` broker's
  quote is its price moved against the order by ``slippage_bps``: the same rule, applied to it.)
* **A limit marketable on arrival fills at the market; a limit that rested, at its limit**
  (:func:`match`, :func:`fill_price`). Documented: a limit order "will only be filled at the
  limit price or better", and paper orders fill at the quote, so a limit that is marketable when
  it reaches the market fills at the market price (price improvement). Assumed, from how an
  exchange executes a resting order: once a limit has rested (the market was seen short of it),
  it is in the book at its own price, so the price that reaches or gaps through it fills it at
  its limit, not at the better price beyond.
* **A stop triggers when the price reaches or passes its stop** (:func:`reaches`: a sell stop at
  or below, a buy stop at or above), then fills as a market order (a stop-limit: as a limit at
  its limit price). Documented (Alpaca, "Orders at Alpaca": a stop "becomes a market order" once
  the stop price is reached). So a price that gaps through the stop fills worse than the stop. A
  triggered stop stays triggered.
* **A trailing stop follows the high-water mark** (:func:`on_price`): the best price since it
  went live (a sell's highest, a buy's lowest), starting at the market price when it was placed;
  its stop is ``hwm * (1 - trail_percent / 100)`` (a buy: ``1 +``) or ``trail_price`` away.
  Documented: the API's ``hwm`` field ("the highest (lowest) market price seen since the trailing
  stop order was submitted") and the blog's "stop price is always hwm * 0.99" for 1.0 percent.
  Assumed: the level is rounded to Alpaca's tick (:func:`~tradebot.market_model.prices.
  price_tick`), half to even, as every stop price Alpaca shows is on it; the stop then triggers
  like any stop, against the rounded level. The mark moves only while the stop is untriggered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Literal

from tradebot.market_model.prices import price_tick

Side = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class Order:
    """A working order as the market sees it. Its kind follows from its prices: no limit and no
    stop is a market order; a limit alone, a limit order; a stop (with or without a limit), a
    stop (stop-limit); a trail (``trail_percent`` or ``trail_price``), a trailing stop, whose
    ``stop`` is its current level from ``hwm`` (set by :func:`place`)."""

    side: Side
    limit: Decimal | None = None
    stop: Decimal | None = None
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None
    hwm: Decimal | None = None
    triggered: bool = False
    rested: bool = False  # a limit the market was seen short of: it fills at its limit

    @property
    def trailing(self) -> bool:
        return self.trail_percent is not None or self.trail_price is not None

    @property
    def waiting(self) -> bool:
        """A stop (or trailing stop) whose price has not been reached yet: it cannot fill."""
        return (self.stop is not None or self.trailing) and not self.triggered


def crosses(side: Side, limit: Decimal, price: Decimal) -> bool:
    """Whether ``price`` goes through a limit: a buy's below it, a sell's above it (at exactly
    the limit it rests)."""
    return price < limit if side == "buy" else price > limit


def reaches(side: Side, stop: Decimal, price: Decimal) -> bool:
    """Whether ``price`` triggers a stop: a sell stop at or below it, a buy stop at or above."""
    return price <= stop if side == "sell" else price >= stop


def trail_level(
    side: Side, hwm: Decimal, *, percent: Decimal | None = None, amount: Decimal | None = None
) -> Decimal:
    """A trailing stop's stop price: ``percent`` percent (or ``amount`` dollars) behind the
    high-water mark (a sell: below it), on Alpaca's tick, half to even."""
    if percent is not None:
        distance = hwm * percent / 100
    elif amount is not None:
        distance = amount
    else:
        raise ValueError("a trailing stop needs a trail percent or a trail price")
    level = max(hwm - distance if side == "sell" else hwm + distance, Decimal(0))
    return _plain(level.quantize(price_tick(level), ROUND_HALF_EVEN))


def place(order: Order, market: Decimal) -> Order:
    """``order`` as it goes live with the market at ``market``: a trailing stop's high-water
    mark starts there. Other orders are unchanged."""
    if not order.trailing:
        return order
    return replace(order, hwm=market, stop=_level(order, market))


def on_price(order: Order, price: Decimal) -> Order:
    """``order`` after the market traded at ``price``: an untriggered trailing stop's mark (and
    stop) follow a better price; a stop the price reaches is triggered (and stays so)."""
    if order.triggered:
        return order
    if order.trailing:
        hwm = order.hwm if order.hwm is not None else price
        better = max(hwm, price) if order.side == "sell" else min(hwm, price)
        if better != order.hwm or order.stop is None:
            order = replace(order, hwm=better, stop=_level(order, better))
    if order.stop is not None and reaches(order.side, order.stop, price):
        order = replace(order, triggered=True)
    return order


def match(order: Order, price: Decimal) -> tuple[Order, Decimal | None]:
    """``order`` offered the market at ``price`` (after :func:`on_price` saw it): the order as
    it is then, and the price it fills at, or None while it rests (a limit short of the price
    is marked rested; a stop not reached waits)."""
    if order.waiting:
        return order, None
    if order.limit is not None and not crosses(order.side, order.limit, price):
        return (order if order.rested else replace(order, rested=True)), None
    return order, fill_price(order, price)


def marketable(order: Order, price: Decimal) -> bool:
    """Whether ``order`` fills at ``price`` now (after :func:`on_price` saw that price)."""
    return match(order, price)[1] is not None


def fill_price(order: Order, price: Decimal) -> Decimal:
    """The price ``order`` fills at with the market at ``price``: a market order (or a triggered
    stop) at the price; a limit that rested at its limit; any other limit at the better of the
    two."""
    if order.limit is None:
        return price
    if order.rested:
        return order.limit
    return min(price, order.limit) if order.side == "buy" else max(price, order.limit)


def split(qty: Decimal, parts: int) -> list[Decimal]:
    """``qty`` in up to ``parts`` positive pieces, whole shares when ``qty`` is whole (the last
    piece takes what is left): how a simulated fill comes in parts."""
    step = Decimal(1) if qty == qty.to_integral_value() else Decimal("0.000000001")
    piece = (qty / parts).quantize(step, ROUND_DOWN)
    if piece <= 0:
        return [qty]
    pieces = [piece] * (parts - 1)
    return [*pieces, qty - sum(pieces, Decimal(0))]


def _level(order: Order, hwm: Decimal) -> Decimal:
    return trail_level(order.side, hwm, percent=order.trail_percent, amount=order.trail_price)


def _plain(number: Decimal) -> Decimal:
    """``3.0`` -> ``3``, ``100.50`` -> ``100.5``: how Alpaca writes decimals (never ``1E+2``)."""
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()
