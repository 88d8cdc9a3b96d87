"""The paper account behind the local Alpaca server: assets, orders, positions, cash.

Plain, synchronous and clock-injected: the server serialises access with a lock and does the
timing (delayed and partial fills). Semantics follow Alpaca's Trading API v2: a client order id is
unique per account forever (even after a cancel); buys need buying power; a sell beyond the long
position is a short, allowed only for shortable assets on a shorting-enabled account, and shares
that open sells hold (a long's exits) are not available to another sell. Error answers carry
Alpaca's status codes and ``{"code", "message"}`` bodies.

Exits: a bracket/oto order's legs wait (``held``) for the entry and go live for the whole shares
it filled; an oco's stop leg is live at once. The first execution of one exit of a bracket or an
oco cancels the other (one-cancels-other; a partly filled exit keeps its rest). When the price
makes an order fill is :mod:`~tradebot.simulators.alpaca.triggers`' part.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
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
from tradebot.simulators.alpaca.order_request import OrderRequest, parse_order, refuse
from tradebot.simulators.alpaca.triggers import fill_price, place

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
    #: the equity at the previous close (Alpaca's ``last_equity``); default: the starting cash
    last_equity: Decimal | None = None

    def __post_init__(self) -> None:
        if self.last_equity is None:
            self.last_equity = self.cash

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
                o.remaining * (o.limit_price or self.asset(o.symbol).price)
                for o in self.orders.values()
                if o.is_working and o.side == "buy"
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
            "last_equity": str(self.last_equity),
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
            "qty_available": str(
                max(pos.qty - self.held_for_orders(symbol), Decimal(0)) if pos.qty > 0 else pos.qty
            ),
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
        """Validate and accept an order request (``POST /v2/orders``) or raise :class:`ApiError`.

        A bracket/oto/oco order comes back with its legs (``order.legs``), already in the book.
        """
        req = parse_order(body)
        if req.client_order_id in self.by_client_id:
            # Alpaca keeps client order ids unique forever, even after a cancel.
            raise ApiError(422, DUPLICATE_CLIENT_ORDER_ID, "client_order_id must be unique")
        symbol = req.symbol
        try:
            asset = self.asset(symbol)
        except ApiError:
            raise ApiError(422, UNPROCESSABLE, f'asset "{symbol}" not found') from None
        if not asset.tradable:
            raise ApiError(422, UNPROCESSABLE, f"asset {symbol} is not tradable")
        qty = req.qty
        if qty != qty.to_integral_value():
            if not asset.fractionable:
                raise ApiError(422, UNPROCESSABLE, f"asset {symbol} is not fractionable")
            if qty != qty.quantize(_FRACTION, ROUND_DOWN):
                raise ApiError(422, UNPROCESSABLE, "qty must have at most 9 decimal places")
            if req.time_in_force != "day":
                raise ApiError(422, UNPROCESSABLE, "fractional orders must be day orders")
        _check_exit_prices(req, asset.price)
        price = req.limit_price if req.limit_price is not None else asset.price
        if req.side == "buy" and qty * price > self.buying_power():
            raise ApiError(403, FORBIDDEN, "insufficient buying power")
        if req.side == "sell":
            self._check_sell(symbol, qty, shortable=asset.shortable and self.shorting_enabled)
        order = self._add(req, asset, req.side, req.type, qty)
        order.limit_price, order.stop_price = req.limit_price, req.stop_price
        order.trail_percent, order.trail_price = req.trail_percent, req.trail_price
        order.order_class = req.order_class
        if req.type == "trailing_stop":
            place(order, asset.price)
        # a bracket/oto's legs close what the entry opens and wait for it; an oco's stop leg
        # sells beside its take-profit (the oco itself), live at once
        leg_side = req.side if req.order_class == "oco" else req.exit_side
        status = "new" if req.order_class == "oco" else "held"
        if req.take_profit is not None and req.order_class != "oco":
            leg = self._add(req, asset, leg_side, "limit", qty, parent=order, status=status)
            leg.limit_price = req.take_profit
        if req.stop_loss is not None:
            kind = req.stop_loss.type
            leg = self._add(req, asset, leg_side, kind, qty, parent=order, status=status)
            leg.stop_price, leg.limit_price = req.stop_loss.stop_price, req.stop_loss.limit_price
        return order

    def _add(
        self,
        req: OrderRequest,
        asset: SimAsset,
        side: str,
        order_type: str,
        qty: Decimal,
        *,
        parent: SimOrder | None = None,
        status: str = "new",
    ) -> SimOrder:
        """Put a new order (or a leg of ``parent``) in the book. Alpaca names legs itself."""
        now = self.now()
        order = SimOrder(
            id=str(uuid.uuid4()),
            client_order_id=req.client_order_id if parent is None else str(uuid.uuid4()),
            symbol=req.symbol,
            asset_id=asset.id,
            side=side,
            qty=qty,
            type=order_type,
            time_in_force=req.time_in_force,
            limit_price=None,
            extended_hours=req.extended_hours,
            created_at=now,
            updated_at=now,
            status=status,
        )
        if parent is not None:
            order.order_class, order.parent = parent.order_class, parent
            parent.legs.append(order)
        self.orders[order.id] = order
        self.by_client_id[order.client_order_id] = order.id
        return order

    def held_for_orders(self, symbol: str) -> Decimal:
        """Shares of ``symbol`` that open sell orders hold. The two exits of a bracket or an oco
        hold the same shares once: only one of them can fill."""
        groups: dict[str, Decimal] = {}
        for o in self.orders.values():
            if o.symbol == symbol and o.side == "sell" and o.is_working:
                key = o.id if o.parent is None and not o.legs else "legs:" + (o.parent or o).id
                groups[key] = max(groups.get(key, Decimal(0)), o.remaining)
        return sum(groups.values(), Decimal(0))

    def _check_sell(self, symbol: str, qty: Decimal, *, shortable: bool) -> None:
        """Alpaca's two refusals of a sell: shares the exits hold are not available to another
        sell of a long position, and a sell beyond the long position is a short."""
        held = self.positions.get(symbol, Position()).qty
        reserved = self.held_for_orders(symbol)
        available = max(held - reserved, Decimal(0))
        if held > 0 and reserved > 0 and qty > available:
            raise ApiError(
                403,
                FORBIDDEN,
                f"insufficient qty available for order (requested: {qty}, available: {available})",
            )
        if qty > available and not shortable:
            raise ApiError(403, FORBIDDEN, f"asset {symbol} cannot be sold short")

    def fill(
        self, order: SimOrder, qty: Decimal, price: Decimal | None = None
    ) -> list[dict[str, Any]]:
        """Fill up to ``qty`` of an open order; returns the trade-update ``data`` for the fill,
        then for what it set off: a filled entry's legs going live, a filled exit's other leg
        canceled."""
        if not order.is_working:
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
        updates = [
            self.update(order, event, price=str(price), qty=str(qty), position_qty=str(new_qty))
        ]
        if order.status == "filled" and order.order_class in ("bracket", "oto") and order.legs:
            updates += self._release_legs(order)
        # one cancels the other: the first execution of an exit cancels its other exit
        updates += [self._end(other, "canceled") for other in _other_exits(order) if other.is_open]
        return updates

    def cancel(self, order: SimOrder) -> list[dict[str, Any]]:
        """Cancel an open order (a leg by itself, too); a parent's legs go with it, except that
        the legs of an entry that filled in part go live for what filled."""
        if not order.is_open:
            raise ApiError(422, UNPROCESSABLE, f"order is already {order.status}")
        updates = [self._end(order, "canceled")]
        if order.order_class in ("bracket", "oto") and order.legs:
            updates += self._release_legs(order)
        elif order.order_class == "oco":
            updates += [self._end(leg, "canceled") for leg in order.legs if leg.is_open]
        return updates

    def _release_legs(self, entry: SimOrder) -> list[dict[str, Any]]:
        """An entry has ended: its held legs go live for the whole shares it filled (the legs
        cover what filled), or are canceled when nothing did."""
        covered = entry.filled_qty.to_integral_value(ROUND_DOWN)
        updates = []
        for leg in entry.legs:
            if leg.status != "held":
                continue
            if covered > 0:
                leg.qty, leg.status, leg.updated_at = covered, "new", self.now()
                updates.append(self.update(leg, "new"))
            else:
                updates.append(self._end(leg, "canceled"))
        return updates

    def _end(self, order: SimOrder, status: str) -> dict[str, Any]:
        order.status = status
        order.canceled_at = order.updated_at = self.now()
        return self.update(order, status)

    def update(self, order: SimOrder, event: str, **extra: str) -> dict[str, Any]:
        """The ``data`` of a ``trade_updates`` message about ``order``: its own object (a leg's
        with the uuid Alpaca named it by; a parent's without its legs, the least a client may
        count on)."""
        data: dict[str, Any] = {
            "event": event,
            "execution_id": str(uuid.uuid4()),
            "order": order.to_json(nested=False),
            "timestamp": iso(self.now()),
        }
        data.update(extra)
        return data

    def _price_of(self, order: SimOrder) -> Decimal:
        """What ``order`` fills at now (the market model's rule): market and stop orders at the
        current price, so a stop the price gapped through fills worse than its stop; a limit (a
        triggered stop-limit too) at the better of its limit and the price."""
        return fill_price(order, self.asset(order.symbol).price)


def _other_exits(order: SimOrder) -> list[SimOrder]:
    """The exits linked to ``order`` one-cancels-other: a bracket leg's sibling, an oco's stop
    leg, an oco stop leg's take-profit parent. An oto's one leg has none."""
    parent = order.parent
    if parent is None:
        return list(order.legs) if order.order_class == "oco" else []
    if parent.order_class == "oco":
        return [parent]
    if parent.order_class == "bracket":
        return [leg for leg in parent.legs if leg is not order]
    return []


def _check_exit_prices(req: OrderRequest, price: Decimal) -> None:
    """Alpaca's check of a bracket's exits against its base price (the entry's limit or stop
    price, else the current price; an oco's: the current price): a take-profit beyond it, a
    stop-loss short of it, at least a cent either way, on the side the exits close."""
    if req.order_class not in ("bracket", "oto", "oco"):
        return
    base = price
    if req.order_class != "oco":
        base = req.limit_price or req.stop_price or price
    selling = (req.side if req.order_class == "oco" else req.exit_side) == "sell"
    tp, sl = req.take_profit, req.stop_loss
    cent = Decimal("0.01")
    if tp is not None:
        if selling and tp < base + cent:
            raise refuse(f"take_profit.limit_price must be >= base_price + 0.01 ({base})")
        if not selling and tp > base - cent:
            raise refuse(f"take_profit.limit_price must be <= base_price - 0.01 ({base})")
    if sl is not None:
        if selling and sl.stop_price > base - cent:
            raise refuse(f"stop_loss.stop_price must be <= base_price - 0.01 ({base})")
        if not selling and sl.stop_price < base + cent:
            raise refuse(f"stop_loss.stop_price must be >= base_price + 0.01 ({base})")
