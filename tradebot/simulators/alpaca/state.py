"""The paper account behind the local Alpaca server: assets, orders, positions, cash.

Plain, synchronous and clock-injected: the server serialises access with a lock and does the
timing (delayed and partial fills). Semantics follow Alpaca's Trading API v2: a client order id is
unique per account forever (even after a cancel); buys need buying power; a sell beyond the long
position is a short, allowed only for shortable assets on a shorting-enabled account. Error
answers carry Alpaca's status codes and ``{"code", "message"}`` bodies.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from tradebot.simulators.alpaca.models import (
    DUPLICATE_CLIENT_ORDER_ID,
    FORBIDDEN,
    NAMESPACE,
    NOT_FOUND,
    UNPROCESSABLE,
    ApiError,
    Position,
    SimAsset,
    SimOrder,
    iso,
    plain,
)

_FRACTION = Decimal("0.000000001")  # Alpaca: fractional quantities up to 9 decimals


@dataclass
class PaperAccount:
    """One paper account. Every method is called with the server's lock held."""

    now: Callable[[], datetime]
    cash: Decimal = Decimal(100000)
    default_price: Decimal = Decimal(100)
    auto_assets: bool = True  # unknown symbols become tradable assets at ``default_price``
    shorting_enabled: bool = True
    market_open: bool = True
    account_number: str = "PA0000SIM1"
    assets: dict[str, SimAsset] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)  # by broker id, in arrival order
    by_client_id: dict[str, str] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)

    # -- reading ----------------------------------------------------------------------------

    def asset(self, symbol: str) -> SimAsset:
        symbol = symbol.upper()
        if symbol not in self.assets:
            if not self.auto_assets:
                raise ApiError(404, NOT_FOUND, "asset not found")
            self.assets[symbol] = SimAsset(symbol, self.default_price)
        return self.assets[symbol]

    def order(self, key: str) -> SimOrder:
        """An order by broker id or client order id; 404 when unknown."""
        order_id = key if key in self.orders else self.by_client_id.get(key)
        if order_id is None:
            raise ApiError(404, NOT_FOUND, "order not found")
        return self.orders[order_id]

    def equity(self) -> Decimal:
        value = sum((p.qty * self.asset(s).price for s, p in self.positions.items()), Decimal(0))
        return self.cash + value

    def buying_power(self) -> Decimal:
        """Cash less what open buy orders have reserved (a cash account: no margin)."""
        reserved = sum(
            (
                o.remaining * self._price_of(o)
                for o in self.orders.values()
                if o.is_open and o.side == "buy"
            ),
            Decimal(0),
        )
        return max(self.cash - reserved, Decimal(0))

    def account_json(self) -> dict[str, Any]:
        equity = self.equity()
        long_value = sum(
            (p.qty * self.asset(s).price for s, p in self.positions.items() if p.qty > 0),
            Decimal(0),
        )
        short_value = sum(
            (p.qty * self.asset(s).price for s, p in self.positions.items() if p.qty < 0),
            Decimal(0),
        )
        bp = str(self.buying_power())
        return {
            "id": str(uuid.uuid5(NAMESPACE, self.account_number)),
            "account_number": self.account_number,
            "status": "ACTIVE",
            "crypto_status": "ACTIVE",
            "currency": "USD",
            "cash": str(self.cash),
            "portfolio_value": str(equity),
            "pattern_day_trader": False,
            "trade_suspended_by_user": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": "2024-01-02T14:30:00Z",
            "shorting_enabled": self.shorting_enabled,
            "long_market_value": str(long_value),
            "short_market_value": str(short_value),
            "equity": str(equity),
            "last_equity": str(equity),
            "multiplier": "1",
            "buying_power": bp,
            "initial_margin": "0",
            "maintenance_margin": "0",
            "sma": "0",
            "daytrade_count": 0,
            "last_maintenance_margin": "0",
            "daytrading_buying_power": bp,
            "regt_buying_power": bp,
            "non_marginable_buying_power": bp,
        }

    def clock_json(self) -> dict[str, Any]:
        now = self.now()
        day = now.replace(hour=14, minute=30, second=0, microsecond=0)
        next_open = day if now < day else day + timedelta(days=1)
        next_close = now.replace(hour=21, minute=0, second=0, microsecond=0)
        if next_close <= now:
            next_close += timedelta(days=1)
        return {
            "timestamp": iso(now),
            "is_open": self.market_open,
            "next_open": iso(next_open),
            "next_close": iso(next_close),
        }

    def position_json(self, symbol: str, pos: Position) -> dict[str, Any]:
        asset = self.asset(symbol)
        value = pos.qty * asset.price
        cost = pos.qty * pos.avg_price
        pl = value - cost
        plpc = (pl / abs(cost)).quantize(Decimal("0.0001")) if cost else Decimal(0)
        return {
            "asset_id": asset.id,
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": str(pos.avg_price),
            "qty": str(pos.qty),
            "qty_available": str(pos.qty),
            "side": "long" if pos.qty > 0 else "short",
            "market_value": str(value),
            "cost_basis": str(cost),
            "unrealized_pl": str(pl),
            "unrealized_plpc": str(plpc),
            "unrealized_intraday_pl": str(pl),
            "unrealized_intraday_plpc": str(plpc),
            "current_price": str(asset.price),
            "lastday_price": str(asset.price),
            "change_today": "0",
        }

    def open_positions(self) -> dict[str, Position]:
        return {s: p for s, p in self.positions.items() if p.qty != 0}

    # -- changing ---------------------------------------------------------------------------

    def submit(self, body: object) -> SimOrder:
        """Validate and accept an order request (``POST /v2/orders``) or raise :class:`ApiError`."""
        if not isinstance(body, dict):
            raise ApiError(422, UNPROCESSABLE, "request body must be a JSON object")
        cid = str(body.get("client_order_id") or uuid.uuid4())
        if len(cid) > 48:
            raise ApiError(422, UNPROCESSABLE, "client_order_id must be at most 48 characters")
        if cid in self.by_client_id:
            # Alpaca keeps client order ids unique forever, even after a cancel.
            raise ApiError(422, DUPLICATE_CLIENT_ORDER_ID, "client_order_id must be unique")
        side = body.get("side")
        order_type = body.get("type", "market")
        tif = body.get("time_in_force")
        if side not in ("buy", "sell"):
            raise ApiError(422, UNPROCESSABLE, "invalid side")
        if order_type not in ("market", "limit"):
            raise ApiError(422, UNPROCESSABLE, f"order type {order_type} is not supported here")
        if tif not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            raise ApiError(422, UNPROCESSABLE, "invalid time_in_force")
        qty = _decimal(body.get("qty"), "qty")
        if qty <= 0:
            raise ApiError(422, UNPROCESSABLE, "qty must be > 0")
        limit = None
        if order_type == "limit":
            limit = _decimal(body.get("limit_price"), "limit_price")
        symbol = str(body.get("symbol") or "").upper()
        try:
            asset = self.asset(symbol)
        except ApiError:
            raise ApiError(422, UNPROCESSABLE, f'asset "{symbol}" not found') from None
        if not asset.tradable:
            raise ApiError(422, UNPROCESSABLE, f"asset {symbol} is not tradable")
        if qty != qty.to_integral_value():
            if not asset.fractionable:
                raise ApiError(422, UNPROCESSABLE, f"asset {symbol} is not fractionable")
            if qty != qty.quantize(_FRACTION, ROUND_DOWN):
                raise ApiError(422, UNPROCESSABLE, "qty must have at most 9 decimal places")
            if tif != "day":
                raise ApiError(422, UNPROCESSABLE, "fractional orders must be day orders")
        price = limit if limit is not None else asset.price
        if side == "buy" and qty * price > self.buying_power():
            raise ApiError(403, FORBIDDEN, "insufficient buying power")
        if side == "sell":
            held = self.positions.get(symbol, Position()).qty
            selling = sum(
                (
                    o.remaining
                    for o in self.orders.values()
                    if o.is_open and o.side == "sell" and o.symbol == symbol
                ),
                Decimal(0),
            )
            if qty > max(held - selling, Decimal(0)) and not (
                asset.shortable and self.shorting_enabled
            ):
                raise ApiError(403, FORBIDDEN, f"asset {symbol} cannot be sold short")
        now = self.now()
        order = SimOrder(
            id=str(uuid.uuid4()),
            client_order_id=cid,
            symbol=symbol,
            asset_id=asset.id,
            side=side,
            qty=qty,
            type=order_type,
            time_in_force=tif,
            limit_price=limit,
            extended_hours=bool(body.get("extended_hours", False)),
            created_at=now,
            updated_at=now,
        )
        self.orders[order.id] = order
        self.by_client_id[cid] = order.id
        return order

    def fill(self, order: SimOrder, qty: Decimal, price: Decimal | None = None) -> dict[str, Any]:
        """Fill up to ``qty`` of an open order; returns the trade-update ``data`` for the fill."""
        if not order.is_open:
            raise ApiError(422, UNPROCESSABLE, f"order is {order.status}")
        qty = min(qty, order.remaining)
        price = price if price is not None else self._price_of(order)
        now = self.now()
        total = order.filled_qty + qty
        paid = (order.filled_avg_price or Decimal(0)) * order.filled_qty + price * qty
        order.filled_avg_price = plain((paid / total).quantize(Decimal("0.0001")))
        order.filled_qty = total
        order.status = "filled" if order.remaining == 0 else "partially_filled"
        order.updated_at = now
        if order.status == "filled":
            order.filled_at = now
        signed = qty if order.side == "buy" else -qty
        self.cash -= signed * price
        pos = self.positions.setdefault(order.symbol, Position())
        new_qty = pos.qty + signed
        if new_qty == 0:
            pos.avg_price = Decimal(0)
        elif pos.qty == 0 or (pos.qty > 0) != (new_qty > 0):
            pos.avg_price = price  # opened, or crossed zero
        elif (pos.qty > 0) == (signed > 0):  # added to the position
            pos.avg_price = (pos.avg_price * pos.qty + price * signed) / new_qty
        pos.qty = new_qty
        event = "fill" if order.status == "filled" else "partial_fill"
        return self.update(order, event, price=str(price), qty=str(qty), position_qty=str(new_qty))

    def cancel(self, order: SimOrder) -> dict[str, Any]:
        if not order.is_open:
            raise ApiError(422, UNPROCESSABLE, f"order is already {order.status}")
        order.status = "canceled"
        order.canceled_at = order.updated_at = self.now()
        return self.update(order, "canceled")

    def update(self, order: SimOrder, event: str, **extra: str) -> dict[str, Any]:
        """The ``data`` of a ``trade_updates`` message about ``order``."""
        data: dict[str, Any] = {
            "event": event,
            "execution_id": str(uuid.uuid4()),
            "order": order.to_json(),
            "timestamp": iso(self.now()),
        }
        data.update(extra)
        return data

    def _price_of(self, order: SimOrder) -> Decimal:
        if order.limit_price is not None:
            return order.limit_price
        return self.asset(order.symbol).price


def _decimal(value: object, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApiError(422, UNPROCESSABLE, f"invalid {name}") from None
    if not number.is_finite():
        raise ApiError(422, UNPROCESSABLE, f"invalid {name}")
    return plain(number)
