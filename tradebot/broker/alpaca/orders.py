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
  extended hours (that a bracket/oto entry is a market or limit order, an oco its take-profit
  limit, and a trail percent in (0, 100) the intent's shape types guarantee).

Every price of a request is put on Alpaca's tick once, by :func:`on_tick`.

Refusals are :class:`~tradebot.exceptions.OrderRejected` raised before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import assert_never

from tradebot.core.account import AssetInfo
from tradebot.core.exits import on_tick_toward_entry
from tradebot.core.market import price_tick
from tradebot.core.order_shape import (
    MARKET,
    Attached,
    Bracket,
    Limit,
    Market,
    Oco,
    OrderPrice,
    Oto,
    Stop,
    TrailingStop,
)
from tradebot.core.orders import ExitKind, IntentRole, OrderIntent, TimeInForce
from tradebot.core.quantity import is_whole
from tradebot.core.signal import Side
from tradebot.exceptions import OrderRejected

_FRACTION = Decimal("0.000000001")
_WHOLE = Decimal(1)

Refuse = Callable[[str, str], OrderRejected]


@dataclass(frozen=True, slots=True)
class OrderRequestFields:
    """What goes into ``POST /v2/orders``, exact: every price on Alpaca's tick, no chase terms
    (the chase is ours, never the broker's)."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    time_in_force: TimeInForce
    price: OrderPrice = MARKET
    attached: Attached | None = None
    extended_hours: bool = False


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
    if intent.attached is not None or isinstance(intent.price, TrailingStop):
        _check_advanced(intent, qty, refuse)
    price, attached = on_tick(intent, refuse)
    limit_day = isinstance(price, Limit) and intent.time_in_force is TimeInForce.DAY
    if intent.extended_hours and not limit_day:
        raise refuse("extended-hours orders must be limit day orders", "extended_hours")
    if intent.side is Side.SELL and not asset.shortable:
        held = max(long_qty or Decimal(0), Decimal(0))
        if qty > held:
            raise refuse(f"selling {qty} with {held} held would short it", "not_shortable")
    return OrderRequestFields(
        client_order_id=cid,
        symbol=intent.symbol,
        side=intent.side,
        qty=qty,
        time_in_force=intent.time_in_force,
        price=price,
        attached=attached,
        extended_hours=intent.extended_hours,
    )


def on_tick(intent: OrderIntent, refuse: Refuse) -> tuple[OrderPrice, Attached | None]:
    """Every price of ``intent``'s request on Alpaca's tick (the one place they are rounded),
    or OrderRejected for one that rounds to zero.

    An entry's limit rounds to the better price (:func:`round_limit`); an exit's prices round
    toward the position's entry (:func:`~tradebot.core.exits.on_tick_toward_entry`): an exit
    order's own (an oco is its take-profit), and the legs of an entry, which are on its other
    side. A trailing stop's percent is sent as it is.
    """
    side = intent.side
    exit_order = intent.role is IntentRole.EXIT or isinstance(intent.attached, Oco)

    def toward(price: Decimal, exit_side: Side, kind: ExitKind) -> Decimal:
        on_tick = on_tick_toward_entry(price, exit_side, kind)
        return _positive(on_tick, f"an exit price {on_tick} rounds to zero", refuse)

    price: OrderPrice
    match intent.price:
        case Market() | TrailingStop():
            price = intent.price
        case Limit(limit=limit):
            if exit_order:
                tick = on_tick_toward_entry(limit, side, ExitKind.TAKE_PROFIT)
            else:
                tick = round_limit(limit, side)
            price = Limit(_positive(tick, f"limit price {limit} rounds to zero", refuse))
        case Stop(stop=stop):
            price = Stop(toward(stop, side, ExitKind.STOP_LOSS))
        case _:
            assert_never(intent.price)
    attached: Attached | None
    match intent.attached:
        case None:
            attached = None
        case Bracket(take_profit=tp, stop_loss=sl):
            other = side.opposite()
            attached = Bracket(
                toward(tp, other, ExitKind.TAKE_PROFIT), toward(sl, other, ExitKind.STOP_LOSS)
            )
        case Oto(take_profit=tp, stop_loss=sl):
            other = side.opposite()
            attached = Oto(
                None if tp is None else toward(tp, other, ExitKind.TAKE_PROFIT),
                None if sl is None else toward(sl, other, ExitKind.STOP_LOSS),
            )
        case Oco(take_profit=tp, stop_loss=sl):  # the exit itself: its legs are on its side
            attached = Oco(
                toward(tp, side, ExitKind.TAKE_PROFIT), toward(sl, side, ExitKind.STOP_LOSS)
            )
        case _:
            assert_never(intent.attached)
    return price, attached


def _check_advanced(intent: OrderIntent, qty: Decimal, refuse: Refuse) -> None:
    """Alpaca's limits on bracket, oto, oco and trailing-stop orders, checked before sending."""
    what = intent.order_class.value if intent.attached is not None else intent.order_type.value
    if not is_whole(qty):
        raise refuse(f"{what} orders trade whole shares, not {qty}", "fractional_advanced")
    if intent.time_in_force not in (TimeInForce.DAY, TimeInForce.GTC):
        raise refuse(f"{what} orders must be day or gtc orders", "advanced_tif")
    if intent.extended_hours:
        raise refuse(f"{what} orders cannot trade in extended hours", "extended_hours")


def _positive(price: Decimal, message: str, refuse: Refuse) -> Decimal:
    if price <= 0:
        raise refuse(message, "price_zero")
    return price
