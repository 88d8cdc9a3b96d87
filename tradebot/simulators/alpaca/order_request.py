"""``POST /v2/orders`` bodies, read and checked as Alpaca checks them before the account is asked.

Pure: a body becomes an :class:`OrderRequest` or an :class:`~.models.ApiError` (422 with Alpaca's
``{"code", "message"}``). What needs the account (buying power, shares available, the asset, the
current price a bracket's exits are checked against) is :class:`~.state.PaperAccount`'s part.

The rules (Alpaca's Orders docs): order types ``market``, ``limit``, ``stop`` (``stop_price``),
``stop_limit`` and ``trailing_stop`` (``trail_percent`` or ``trail_price``); order classes
``simple`` (or ``""``), ``bracket`` (an entry with ``take_profit.limit_price`` and
``stop_loss.stop_price[, limit_price]``), ``oto`` (exactly one of them), ``oco`` (``type: limit``
with both, for a position already held). Advanced orders (bracket, oto, oco, trailing stops) are
``day`` or ``gtc``, whole shares, and never ``extended_hours``; extended-hours orders are limit
day orders. Prices follow the sub-penny rule (2 decimals at or above $1, 4 below).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tradebot.simulators.alpaca.models import ADVANCED_CLASSES, UNPROCESSABLE, ApiError, plain

ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})
TIMES_IN_FORCE = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})
_CENT, _SUB_PENNY = Decimal("0.01"), Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class StopLoss:
    stop_price: Decimal
    limit_price: Decimal | None = None  # a stop-limit leg

    @property
    def type(self) -> str:
        return "stop" if self.limit_price is None else "stop_limit"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    type: str
    time_in_force: str
    order_class: str = "simple"
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None
    extended_hours: bool = False
    take_profit: Decimal | None = None  # the take-profit leg's limit price
    stop_loss: StopLoss | None = None

    @property
    def advanced(self) -> bool:
        return self.order_class in ADVANCED_CLASSES or self.type == "trailing_stop"

    @property
    def exit_side(self) -> str:
        """The side of a bracket/oto's legs: they close what the entry opens."""
        return "sell" if self.side == "buy" else "buy"


def refuse(message: str) -> ApiError:
    return ApiError(422, UNPROCESSABLE, message)


def parse_order(body: object) -> OrderRequest:
    """The order a ``POST /v2/orders`` body asks for, or :class:`ApiError` (422)."""
    if not isinstance(body, dict):
        raise refuse("request body must be a JSON object")
    cid = str(body.get("client_order_id") or uuid.uuid4())
    if len(cid) > 48:
        raise refuse("client_order_id must be at most 48 characters")
    side, order_type, tif = body.get("side"), body.get("type", "market"), body.get("time_in_force")
    if side not in ("buy", "sell"):
        raise refuse("invalid side")
    if order_type not in ORDER_TYPES:
        raise refuse(f"invalid order type {order_type}")
    if tif not in TIMES_IN_FORCE:
        raise refuse("invalid time_in_force")
    order_class = body.get("order_class") or "simple"
    if order_class not in ("simple", *ADVANCED_CLASSES):
        raise refuse(f"order_class {order_class} is not supported for equities")
    qty = number(body.get("qty"), "qty")
    if qty <= 0:
        raise refuse("qty must be > 0")
    take_profit, stop_loss = _exit_legs(body, order_class)
    limit = _price(body, "limit_price") if order_type in ("limit", "stop_limit") else None
    if order_class == "oco":
        if order_type != "limit":
            raise refuse("oco orders must be limit orders")
        if limit is not None and limit != take_profit:
            raise refuse("limit_price must equal take_profit.limit_price for oco orders")
        limit = take_profit  # an oco is its take-profit limit
    elif order_type in ("limit", "stop_limit") and limit is None:
        raise refuse("limit_price is required")
    stop = _price(body, "stop_price") if order_type in ("stop", "stop_limit") else None
    if order_type in ("stop", "stop_limit") and stop is None:
        raise refuse("stop_price is required")
    trail_percent = trail_price = None
    if order_type == "trailing_stop":
        trail_percent = _optional(body, "trail_percent")
        trail_price = _optional(body, "trail_price")
        if (trail_percent is None) == (trail_price is None):
            raise refuse("trailing_stop orders need exactly one of trail_percent and trail_price")
        if trail_percent is not None and not Decimal(0) < trail_percent < Decimal(100):
            raise refuse("trail_percent must be > 0 and < 100")
        if trail_price is not None and trail_price <= 0:
            raise refuse("trail_price must be > 0")
    extended = body.get("extended_hours") is True
    request = OrderRequest(
        client_order_id=cid,
        symbol=str(body.get("symbol") or "").upper(),
        side=side,
        qty=qty,
        type=order_type,
        time_in_force=tif,
        order_class=order_class,
        limit_price=limit,
        stop_price=stop,
        trail_percent=trail_percent,
        trail_price=trail_price,
        extended_hours=extended,
        take_profit=take_profit,
        stop_loss=stop_loss,
    )
    _check_advanced(request)
    return request


def _exit_legs(body: Mapping[str, Any], order_class: str) -> tuple[Decimal | None, StopLoss | None]:
    raw_tp, raw_sl = body.get("take_profit"), body.get("stop_loss")
    if order_class == "simple":
        if raw_tp is not None or raw_sl is not None:
            raise refuse("take_profit and stop_loss need order_class bracket, oto or oco")
        return None, None
    take_profit = stop_loss = None
    if raw_tp is not None:
        if not isinstance(raw_tp, dict):
            raise refuse("take_profit must be an object")
        take_profit = _price(raw_tp, "limit_price", "take_profit.limit_price")
        if take_profit is None:
            raise refuse("take_profit.limit_price is required")
    if raw_sl is not None:
        if not isinstance(raw_sl, dict):
            raise refuse("stop_loss must be an object")
        stop = _price(raw_sl, "stop_price", "stop_loss.stop_price")
        if stop is None:
            raise refuse("stop_loss.stop_price is required")
        stop_loss = StopLoss(stop, _price(raw_sl, "limit_price", "stop_loss.limit_price"))
    if order_class in ("bracket", "oco") and (take_profit is None or stop_loss is None):
        raise refuse(f"{order_class} orders require both take_profit and stop_loss")
    if order_class == "oto" and (take_profit is None) == (stop_loss is None):
        raise refuse("oto orders require exactly one of take_profit and stop_loss")
    return take_profit, stop_loss


def _check_advanced(request: OrderRequest) -> None:
    if request.extended_hours:
        if request.advanced:
            raise refuse("extended_hours is not supported for advanced orders")
        if request.type != "limit" or request.time_in_force != "day":
            raise refuse("extended hours orders must be DAY limit orders")
    if not request.advanced:
        return
    what = request.order_class if request.order_class != "simple" else request.type
    if request.order_class in ("bracket", "oto") and request.type == "trailing_stop":
        raise refuse(f"a trailing_stop cannot be the entry of an {request.order_class} order")
    if request.time_in_force not in ("day", "gtc"):
        raise refuse(f"{what} orders must be day or gtc orders")
    if request.qty != request.qty.to_integral_value():
        raise refuse(f"fractional qty is not supported for {what} orders")


def number(value: object, name: str) -> Decimal:
    if isinstance(value, bool):
        raise refuse(f"invalid {name}")
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise refuse(f"invalid {name}") from None
    if not result.is_finite():
        raise refuse(f"invalid {name}")
    return plain(result)


def _optional(body: Mapping[str, Any], key: str, name: str | None = None) -> Decimal | None:
    value = body.get(key)
    return None if value is None else number(value, name or key)


def _price(body: Mapping[str, Any], key: str, name: str | None = None) -> Decimal | None:
    """A price field (None when absent): positive, and on Alpaca's tick."""
    price = _optional(body, key, name)
    if price is None:
        return None
    if price <= 0:
        raise refuse(f"{name or key} must be > 0")
    try:
        on_tick = price == price.quantize(_CENT if price >= 1 else _SUB_PENNY)
    except InvalidOperation:  # more digits than Decimal's context: no price at all
        raise refuse(f"invalid {name or key}") from None
    if not on_tick:
        raise refuse(
            f"invalid {name or key} {price}. sub-penny increment does not fulfill minimum"
            " pricing criteria"
        )
    return price
