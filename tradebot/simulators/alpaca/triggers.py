"""When the local Alpaca server's price makes an order fill: the shared market model's rules
(:mod:`tradebot.market_model.rules`: limits at or through their price, stops reached, trailing
stops following the high-water mark) applied to the server's own orders.

What is the server's alone is its fill script: plain limits follow the price only under the
script's ``limits_cross``; otherwise they fill at once (the server's simple mode). The limits of
bracket/oto/oco orders and of triggered stop-limits always follow the price: an exit that fills
at a price the market never reached would make every test's position vanish the moment it opens.
"""

from __future__ import annotations

from decimal import Decimal

from tradebot.market_model import rules
from tradebot.simulators.alpaca.models import SimOrder


def model(order: SimOrder) -> rules.Order:
    """The market model's view of one of the server's orders."""
    side: rules.Side = "buy" if order.side == "buy" else "sell"
    return rules.Order(
        side=side,
        limit=order.limit_price,
        stop=order.stop_price,
        trail_percent=order.trail_percent,
        trail_price=order.trail_price,
        hwm=order.hwm,
        triggered=order.triggered,
        rested=order.rested,
    )


def place(order: SimOrder, market: Decimal) -> None:
    """A new trailing stop's high-water mark starts at the market price, its stop from it."""
    _store(order, rules.place(model(order), market))


def follow(order: SimOrder, price: Decimal) -> None:
    """The price traded at ``price``: move a live trailing stop's mark, trigger a reached stop."""
    if order.is_working:
        _store(order, rules.on_price(model(order), price))


def marketable(order: SimOrder, price: Decimal, *, limits_cross: bool) -> bool:
    """Whether ``order`` fills at ``price`` now (call :func:`follow` first)."""
    if not order.is_working:
        return False  # a held leg waits for its entry; an ended order never fills
    if not limits_cross and order.order_class == "simple" and order.type == "limit":
        return True
    seen, fills_at = rules.match(model(order), price)
    order.rested = seen.rested
    return fills_at is not None


def fill_price(order: SimOrder, price: Decimal) -> Decimal:
    """What ``order`` fills at with the market at ``price``."""
    return rules.fill_price(model(order), price)


def _store(order: SimOrder, seen: rules.Order) -> None:
    order.hwm, order.stop_price, order.triggered = seen.hwm, seen.stop, seen.triggered
