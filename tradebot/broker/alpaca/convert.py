"""Alpaca JSON (the SDK's ``raw_data`` answers) to tradebot's domain values. Pure, no SDK import.

The adapter asks alpaca-py for raw dicts so that quantities and prices go from the wire's decimal
strings straight to ``Decimal``, never through the float fields of the SDK's models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tradebot.core.account import AccountSnapshot, AssetInfo, MarketClock
from tradebot.core.ids import leg_exit_id
from tradebot.core.market import MarketPrices, implausible_price
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.signal import Side
from tradebot.exceptions import BrokerError

#: Alpaca order statuses -> ours (anything not listed may still fill: PENDING).
_STATUS = {
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
    "expired": OrderStatus.EXPIRED,
    # tradebot never replaces an order, so one that is "replaced" will not fill any more: a
    # replacement made by hand is another order; and Alpaca ends a bracket's take-profit leg
    # "replaced" when its stop-loss fills (reported in alpaca-py issue 198): canceled for us
    "replaced": OrderStatus.CANCELED,
}


def decimal(value: object, name: str) -> Decimal:
    """A decimal string (or number) from Alpaca as ``Decimal``; BrokerError if unreadable."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise BrokerError(f"Alpaca sent an unreadable {name}: {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise BrokerError(f"Alpaca sent a non-finite {name}")
    return number


def timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BrokerError(f"Alpaca sent an unreadable time: {value[:40]!r}") from None


def _mapping(raw: object, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise BrokerError(f"Alpaca sent {type(raw).__name__} where {what} was expected")
    return raw


def order_snapshot(raw: object) -> OrderSnapshot:
    """One Alpaca order; a bracket/oto/oco order's ``legs`` (when Alpaca nests them) come as
    :attr:`OrderSnapshot.legs`, each named by *our* id for it (:func:`leg_exit_id`: Alpaca
    names legs itself, with uuids) and carrying its own broker id, status and fills."""
    order = _mapping(raw, "an order")
    snap = _single_order(order)
    legs = order.get("legs")
    if legs is None:
        return snap
    if not isinstance(legs, list):
        raise BrokerError(f"Alpaca sent legs that are {type(legs).__name__}, not a list")
    return replace(snap, legs=tuple(_leg(snap.client_order_id, item) for item in legs))


def _leg(parent_id: str, raw: object) -> OrderSnapshot:
    leg = _mapping(raw, "an order's leg")
    leg_type = leg.get("type")
    try:
        ours = leg_exit_id(parent_id, str(leg_type))
    except ValueError:
        raise BrokerError(
            f"Alpaca sent a leg of type {str(leg_type)[:20]!r}, not an exit"
        ) from None
    return replace(_single_order(leg), client_order_id=ours)


def _single_order(order: Mapping[str, Any]) -> OrderSnapshot:
    try:
        side = Side(str(order["side"]))
        avg = order.get("filled_avg_price")
        return OrderSnapshot(
            client_order_id=str(order["client_order_id"]),
            broker_order_id=str(order["id"]),
            symbol=str(order["symbol"]),
            side=side,
            qty=decimal(order.get("qty") or "0", "qty"),
            filled_qty=decimal(order.get("filled_qty") or "0", "filled_qty"),
            filled_avg_price=None if avg in (None, "") else decimal(avg, "filled_avg_price"),
            status=_STATUS.get(str(order["status"]), OrderStatus.PENDING),
            submitted_at=timestamp(order.get("submitted_at")),
            updated_at=timestamp(order.get("updated_at")),
            reason=str(order["status"]) if order.get("status") in ("rejected", "replaced") else "",
        )
    except (KeyError, ValueError) as exc:
        raise BrokerError(f"Alpaca sent an order without a usable {exc}") from None


def account_snapshot(raw: object) -> AccountSnapshot:
    acct = _mapping(raw, "an account")
    return AccountSnapshot(
        account_id=str(acct.get("account_number") or acct.get("id") or ""),
        equity=decimal(acct.get("equity"), "equity"),
        buying_power=decimal(acct.get("buying_power"), "buying_power"),
        cash=decimal(acct.get("cash"), "cash"),
        currency=str(acct.get("currency") or "USD"),
        shorting_enabled=bool(acct.get("shorting_enabled", False)),
        trading_blocked=bool(acct.get("trading_blocked", False))
        or bool(acct.get("account_blocked", False)),
        last_equity=(
            None
            if acct.get("last_equity") in (None, "")
            else decimal(acct.get("last_equity"), "last_equity")
        ),
    )


def asset_info(raw: object) -> AssetInfo:
    asset = _mapping(raw, "an asset")
    return AssetInfo(
        symbol=str(asset.get("symbol")),
        tradable=bool(asset.get("tradable")) and asset.get("status", "active") == "active",
        shortable=bool(asset.get("shortable")),
        easy_to_borrow=bool(asset.get("easy_to_borrow")),
        fractionable=bool(asset.get("fractionable")),
    )


def market_clock(raw: object) -> MarketClock:
    clock = _mapping(raw, "a clock")
    at, next_open, next_close = (
        timestamp(clock.get(k)) for k in ("timestamp", "next_open", "next_close")
    )
    if at is None or next_open is None or next_close is None:
        raise BrokerError("Alpaca sent a clock without its times")
    return MarketClock(at, bool(clock.get("is_open")), next_open, next_close)


def positions(raw: object) -> dict[str, Decimal]:
    if not isinstance(raw, list):
        raise BrokerError("Alpaca sent positions that are not a list")
    out: dict[str, Decimal] = {}
    for item in raw:
        pos = _mapping(item, "a position")
        qty = decimal(pos.get("qty"), "position qty")
        if pos.get("side") == "short" and qty > 0:
            qty = -qty  # Alpaca signs short quantities already; this guards older answers
        if qty:
            out[str(pos.get("symbol"))] = qty
    return out


def reference_prices(raw: object, symbols: list[str]) -> MarketPrices:
    """The prices of a multi-symbol snapshot: per symbol the latest trade, else the quote
    midpoint, with the time Alpaca stamped on that trade (or quote).

    A symbol Alpaca sent nothing usable for (absent, ``null``, no trade and a one-sided quote, an
    unreadable or implausible number) is left out: it has no reference, and the planner says so.
    A price whose time is missing or unreadable keeps no time: the planner refuses it.
    """
    answer = _mapping(raw, "snapshots")
    prices: dict[str, Decimal] = {}
    as_of: dict[str, datetime] = {}
    for symbol in symbols:
        snapshot = answer.get(symbol)
        if not isinstance(snapshot, Mapping):
            continue
        trade, quote = snapshot.get("latestTrade"), snapshot.get("latestQuote")
        price, stamped = _trade_price(trade), trade
        if price is None:
            price, stamped = _midpoint(quote), quote
        if price is None:
            continue
        prices[symbol] = price
        at = _stamp(stamped)
        if at is not None:
            as_of[symbol] = at
    return MarketPrices(prices, as_of=as_of)


def _stamp(item: object) -> datetime | None:
    """The time of a trade or quote (``t``, RFC 3339), or None when missing or unreadable."""
    if not isinstance(item, Mapping):
        return None
    try:
        at = timestamp(item.get("t"))
    except BrokerError:
        return None
    return at if at is not None and at.tzinfo is not None else None


def _usable(value: object) -> Decimal | None:
    try:
        number = decimal(value, "price")
    except BrokerError:
        return None
    return None if implausible_price(number) is not None else number


def _trade_price(trade: object) -> Decimal | None:
    return _usable(trade.get("p")) if isinstance(trade, Mapping) else None


def _midpoint(quote: object) -> Decimal | None:
    if not isinstance(quote, Mapping):
        return None
    ask, bid = _usable(quote.get("ap")), _usable(quote.get("bp"))
    if ask is None or bid is None or bid > ask:  # one-sided or crossed: no midpoint to trust
        return None
    return (ask + bid) / 2
