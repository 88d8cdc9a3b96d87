"""Build the Alpaca order request for an intent: round, then check against the asset. Pure.

Rules (Alpaca Trading API docs, "Orders" and "Fractional trading"):

* quantities of fractionable assets may have up to 9 decimals; other assets trade whole shares.
  Rounding is always down: the bot never trades more than it was asked to;
* fractional orders must be ``day`` orders;
* limit prices: 2 decimals at or above $1, 4 below (sub-penny rule); a buy limit rounds down and a
  sell limit up, so rounding never makes a worse price;
* extended-hours orders must be ``limit`` + ``day``;
* an asset that is not tradable is refused, and so is a sell beyond the long position (a short)
  of an asset that is not shortable;
* exit prices (stops, take-profits) round toward the entry: a nearer exit, never a further one;
* bracket, oto, oco and trailing-stop orders are whole-share ``day``/``gtc`` orders outside
  extended hours; a bracket/oto entry is a market or limit order, an oco a limit order.

Refusals are :class:`~tradebot.exceptions.OrderRejected` raised before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from tradebot.core.account import AssetInfo
from tradebot.core.exits import on_tick_toward_entry
from tradebot.core.market import price_tick
from tradebot.core.orders import (
    ExitKind,
    IntentRole,
    OrderClass,
    OrderIntent,
    OrderType,
    TimeInForce,
)
from tradebot.core.quantity import is_whole
from tradebot.core.signal import Side
from tradebot.exceptions import OrderRejected

_FRACTION = Decimal("0.000000001")
_WHOLE = Decimal(1)


@dataclass(frozen=True, slots=True)
class OrderRequestFields:
    """What goes into ``POST /v2/orders``, exact."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    time_in_force: TimeInForce
    limit_price: Decimal | None = None
    extended_hours: bool = False
    order_type: OrderType = OrderType.MARKET
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    take_profit_price: Decimal | None = None  # bracket/oto/oco: ``take_profit.limit_price``
    stop_loss_price: Decimal | None = None  # ``stop_loss.stop_price``


def round_qty(qty: Decimal, fractionable: bool) -> Decimal:
    return qty.quantize(_FRACTION if fractionable else _WHOLE, ROUND_DOWN)


def round_limit(price: Decimal, side: Side) -> Decimal:
    return price.quantize(price_tick(price), ROUND_DOWN if side is Side.BUY else ROUND_UP)


def prepare(
    intent: OrderIntent, asset: AssetInfo, *, long_qty: Decimal | None = None
) -> OrderRequestFields:
    """The request for ``intent``, or OrderRejected.

    ``long_qty`` is the account's position in the symbol; pass it for a sell of an asset that is
    not shortable (None means unknown, treated as no position).
    Raises ``ValueError`` for an exit that travels as a leg of another order (``parent`` set):
    Alpaca creates legs with their parent, so sending one alone is a bug, never a decision.
    """
    cid = intent.client_order_id
    if intent.parent is not None:
        raise ValueError(f"{cid} is a leg of {intent.parent}: it is never sent by itself")

    def refuse(message: str, code: str) -> OrderRejected:
        return OrderRejected(f"{intent.symbol}: {message}", client_order_id=cid, code=code)

    if not asset.tradable:
        raise refuse("the asset is not tradable", "not_tradable")
    qty = round_qty(intent.qty, asset.fractionable)
    if qty <= 0:
        raise refuse(f"quantity {intent.qty} rounds to zero (whole shares only)", "qty_zero")
    if not is_whole(qty) and intent.time_in_force is not TimeInForce.DAY:
        raise refuse("fractional orders must be day orders", "fractional_tif")
    advanced = (
        intent.order_class is not OrderClass.SIMPLE or intent.order_type is OrderType.TRAILING_STOP
    )
    if advanced:
        _check_advanced(intent, qty, refuse)
    exit_side = intent.side if intent.order_class is OrderClass.OCO else intent.side.opposite()
    limit = None
    if intent.order_type is OrderType.LIMIT:
        assert intent.limit_price is not None  # OrderIntent guarantees it
        if intent.role is IntentRole.EXIT or intent.order_class is OrderClass.OCO:
            limit = on_tick_toward_entry(intent.limit_price, intent.side, ExitKind.TAKE_PROFIT)
        else:
            limit = round_limit(intent.limit_price, intent.side)
        if limit <= 0:
            raise refuse(f"limit price {intent.limit_price} rounds to zero", "price_zero")
    if intent.extended_hours and (limit is None or intent.time_in_force is not TimeInForce.DAY):
        raise refuse("extended-hours orders must be limit day orders", "extended_hours")
    if intent.side is Side.SELL and not asset.shortable:
        held = max(long_qty or Decimal(0), Decimal(0))
        if qty > held:
            raise refuse(f"selling {qty} with {held} held would short it", "not_shortable")
    stop = take_profit = stop_loss = None
    if intent.stop_price is not None and intent.order_type is OrderType.STOP:
        stop_on_tick = on_tick_toward_entry(intent.stop_price, intent.side, ExitKind.STOP_LOSS)
        stop = _positive(stop_on_tick, refuse)
    if intent.order_class is not OrderClass.SIMPLE:
        if intent.take_profit_price is not None:
            tp = on_tick_toward_entry(intent.take_profit_price, exit_side, ExitKind.TAKE_PROFIT)
            take_profit = _positive(tp, refuse)
        if intent.stop_loss_price is not None:
            sl = on_tick_toward_entry(intent.stop_loss_price, exit_side, ExitKind.STOP_LOSS)
            stop_loss = _positive(sl, refuse)
    if intent.order_class is OrderClass.OCO:
        limit = take_profit  # an oco is its take-profit limit
    return OrderRequestFields(
        client_order_id=cid,
        symbol=intent.symbol,
        side=intent.side,
        qty=qty,
        time_in_force=intent.time_in_force,
        limit_price=limit,
        extended_hours=intent.extended_hours,
        order_type=intent.order_type,
        stop_price=stop,
        trail_percent=intent.trail_pct if intent.order_type is OrderType.TRAILING_STOP else None,
        order_class=intent.order_class,
        take_profit_price=take_profit,
        stop_loss_price=stop_loss,
    )


def _check_advanced(
    intent: OrderIntent, qty: Decimal, refuse: Callable[[str, str], OrderRejected]
) -> None:
    """Alpaca's limits on bracket, oto, oco and trailing-stop orders, checked before sending."""
    what = (
        intent.order_class.value
        if intent.order_class is not OrderClass.SIMPLE
        else intent.order_type.value
    )
    if not is_whole(qty):
        raise refuse(f"{what} orders trade whole shares, not {qty}", "fractional_advanced")
    if intent.time_in_force not in (TimeInForce.DAY, TimeInForce.GTC):
        raise refuse(f"{what} orders must be day or gtc orders", "advanced_tif")
    if intent.extended_hours:
        raise refuse(f"{what} orders cannot trade in extended hours", "extended_hours")
    if intent.order_class in (OrderClass.BRACKET, OrderClass.OTO) and intent.order_type not in (
        OrderType.MARKET,
        OrderType.LIMIT,
    ):
        raise refuse(f"a {what} entry is a market or limit order", "advanced_entry")
    if intent.order_class is OrderClass.OCO and intent.order_type is not OrderType.LIMIT:
        raise refuse("an oco order is a limit order", "advanced_entry")
    if intent.order_type is OrderType.TRAILING_STOP:
        assert intent.trail_pct is not None  # OrderIntent guarantees it
        if not Decimal(0) < intent.trail_pct < Decimal(100):
            raise refuse(f"trail percent {intent.trail_pct} is not in (0, 100)", "trail_pct")


def _positive(price: Decimal, refuse: Callable[[str, str], OrderRejected]) -> Decimal:
    if price <= 0:
        raise refuse(f"an exit price {price} rounds to zero", "price_zero")
    return price
