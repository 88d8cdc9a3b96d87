"""When the local Alpaca server's price makes an order fill: limits it crosses, stops it reaches,
trailing stops that follow it. Pure functions of an order and the current price.

* A limit fills when the price trades *through* it (a buy: below; a sell: above); at the limit
  exactly it rests, its place in the queue unknown. Plain limits do so under the fill script's
  ``limits_cross`` (otherwise they fill at once, the server's simple mode); the limits of
  bracket/oto/oco orders and of triggered stop-limits always do: an exit that fills at a price
  the market never reached would make every test's position vanish the moment it opens.
* A stop triggers when the price reaches or passes its stop (a sell stop: at or below; a buy
  stop: at or above) and then fills as a market order, at the current price: a price that gaps
  through the stop fills worse than the stop. A stop-limit becomes a limit at its limit price.
* A trailing stop keeps the high-water mark (``hwm``: a sell's highest price since it went live,
  a buy's lowest) and stops at ``hwm * (1 - trail_percent/100)`` (a buy: ``1 +``), or
  ``trail_price`` away from it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from tradebot.simulators.alpaca.models import SimOrder, plain

_STOPS = frozenset({"stop", "stop_limit", "trailing_stop"})


def trail_level(order: SimOrder) -> Decimal:
    """A trailing stop's stop price from its high-water mark, on Alpaca's tick."""
    assert order.hwm is not None, "a trailing stop has a high-water mark from the start"
    if order.trail_percent is not None:
        distance = order.hwm * order.trail_percent / 100
    else:
        assert order.trail_price is not None
        distance = order.trail_price
    level = order.hwm - distance if order.side == "sell" else order.hwm + distance
    tick = Decimal("0.01") if level >= 1 else Decimal("0.0001")
    return plain(max(level, Decimal(0)).quantize(tick, ROUND_HALF_EVEN))


def follow(order: SimOrder, price: Decimal) -> None:
    """Move a live, untriggered trailing stop's high-water mark (and stop) with the price."""
    if order.type != "trailing_stop" or not order.is_working or order.triggered:
        return
    assert order.hwm is not None
    if (price > order.hwm) if order.side == "sell" else (price < order.hwm):
        order.hwm = price
        order.stop_price = trail_level(order)


def trigger(order: SimOrder, price: Decimal) -> None:
    """Mark a live stop triggered once the price reaches its stop (it stays triggered)."""
    if order.type not in _STOPS or order.triggered or not order.is_working:
        return
    stop = order.stop_price
    assert stop is not None, "every stop has a stop price"
    if (price <= stop) if order.side == "sell" else (price >= stop):
        order.triggered = True


def marketable(order: SimOrder, price: Decimal, *, limits_cross: bool) -> bool:
    """Whether ``order`` fills at ``price`` now (call :func:`trigger` first)."""
    if not order.is_working:
        return False  # a held leg waits for its entry; an ended order never fills
    if order.type in _STOPS and not order.triggered:
        return False
    limit = order.limit_price
    if limit is None:
        return True  # a market order, or a triggered stop
    if not limits_cross and order.order_class == "simple" and order.type == "limit":
        return True
    return price < limit if order.side == "buy" else price > limit
