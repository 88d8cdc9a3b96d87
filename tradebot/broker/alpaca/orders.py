"""Build the Alpaca order request for an intent: round, then check against the asset. Pure.

Rules (Alpaca Trading API docs, "Orders" and "Fractional trading"):

* quantities of fractionable assets may have up to 9 decimals; other assets trade whole shares.
  Rounding is always down: the bot never trades more than it was asked to;
* fractional orders must be ``day`` orders;
* limit prices: 2 decimals at or above $1, 4 below (sub-penny rule); a buy limit rounds down and a
  sell limit up, so rounding never makes a worse price;
* extended-hours orders must be ``limit`` + ``day``;
* an asset that is not tradable is refused, and so is a sell beyond the long position (a short)
  of an asset that is not shortable.

Refusals are :class:`~tradebot.exceptions.OrderRejected` raised before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from tradebot.core.account import AssetInfo
from tradebot.core.orders import OrderIntent, OrderType, TimeInForce
from tradebot.core.signal import Side
from tradebot.exceptions import OrderRejected

_FRACTION = Decimal("0.000000001")
_WHOLE = Decimal(1)
_CENT = Decimal("0.01")
_SUB_PENNY = Decimal("0.0001")


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


def round_qty(qty: Decimal, fractionable: bool) -> Decimal:
    return qty.quantize(_FRACTION if fractionable else _WHOLE, ROUND_DOWN)


def round_limit(price: Decimal, side: Side) -> Decimal:
    step = _CENT if price >= 1 else _SUB_PENNY
    return price.quantize(step, ROUND_DOWN if side is Side.BUY else ROUND_UP)


def prepare(
    intent: OrderIntent, asset: AssetInfo, *, long_qty: Decimal | None = None
) -> OrderRequestFields:
    """The request for ``intent``, or OrderRejected.

    ``long_qty`` is the account's position in the symbol; pass it for a sell of an asset that is
    not shortable (None means unknown, treated as no position).
    """
    cid = intent.client_order_id

    def refuse(message: str, code: str) -> OrderRejected:
        return OrderRejected(f"{intent.symbol}: {message}", client_order_id=cid, code=code)

    if not asset.tradable:
        raise refuse("the asset is not tradable", "not_tradable")
    qty = round_qty(intent.qty, asset.fractionable)
    if qty <= 0:
        raise refuse(f"quantity {intent.qty} rounds to zero (whole shares only)", "qty_zero")
    if qty != qty.to_integral_value() and intent.time_in_force is not TimeInForce.DAY:
        raise refuse("fractional orders must be day orders", "fractional_tif")
    limit = None
    if intent.order_type is OrderType.LIMIT:
        assert intent.limit_price is not None  # OrderIntent guarantees it
        limit = round_limit(intent.limit_price, intent.side)
        if limit <= 0:
            raise refuse(f"limit price {intent.limit_price} rounds to zero", "price_zero")
    if intent.extended_hours and (limit is None or intent.time_in_force is not TimeInForce.DAY):
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
        limit_price=limit,
        extended_hours=intent.extended_hours,
    )
