"""Values the local Alpaca server keeps: assets, orders, positions, and their Alpaca JSON."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

#: Alpaca error codes (the ``code`` field of an error body).
FORBIDDEN = 40310000  # 403: insufficient buying power, cannot short, ...
UNPROCESSABLE = 42210000  # 422: a request the account cannot accept
DUPLICATE_CLIENT_ORDER_ID = 40010001  # 422: "client_order_id must be unique"
NOT_FOUND = 40410000  # 404
INVALID_REQUEST = 40010000  # 400: a malformed request
UNAUTHORIZED = 40110000  # 401

NAMESPACE = uuid.UUID("6f1c2a4e-3b5d-4c8e-9a7f-0d1e2f3a4b5c")
#: an order in one of these may still fill; ``held`` is a bracket/oto leg waiting for its entry
OPEN_STATUSES = frozenset({"new", "accepted", "pending_new", "partially_filled", "held"})
#: order classes with legs (Alpaca's "advanced" orders)
ADVANCED_CLASSES = frozenset({"bracket", "oto", "oco"})


class ApiError(Exception):
    """An answer the server sends instead of a result: HTTP status and Alpaca's error body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message}


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat().replace("+00:00", "Z")


@dataclass
class SimAsset:
    symbol: str
    price: Decimal
    tradable: bool = True
    shortable: bool = True
    easy_to_borrow: bool = True
    fractionable: bool = True
    quoted: bool = True  # False: the data feed has no trades or quotes for it (no snapshot)
    # when it last traded at ``price`` (the snapshot's times); None: it trades all the time,
    # so every snapshot is stamped with the moment it is asked for
    traded_at: datetime | None = None

    @property
    def id(self) -> str:
        return str(uuid.uuid5(NAMESPACE, self.symbol))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "class": "us_equity",
            "exchange": "NASDAQ",
            "symbol": self.symbol,
            "name": f"{self.symbol} (simulated)",
            "status": "active",
            "tradable": self.tradable,
            "marginable": True,
            "shortable": self.shortable,
            "easy_to_borrow": self.easy_to_borrow,
            "fractionable": self.fractionable,
        }


@dataclass(eq=False)
class SimOrder:
    """One order. A bracket/oto/oco order's legs are orders too (``legs``; each names its
    ``parent``), with Alpaca-made uuid client order ids."""

    id: str
    client_order_id: str
    symbol: str
    asset_id: str
    side: str
    qty: Decimal
    type: str
    time_in_force: str
    limit_price: Decimal | None
    extended_hours: bool
    created_at: datetime
    status: str = "new"
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    order_class: str = "simple"
    stop_price: Decimal | None = None  # stop / stop_limit; a trailing stop's current level
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None
    hwm: Decimal | None = None  # trailing stop: best price since it went live
    triggered: bool = False  # a stop whose price was reached (now a market / limit order)
    rested: bool = False  # a limit the price was seen short of: it fills at its limit
    parent: SimOrder | None = field(default=None, repr=False)
    legs: list[SimOrder] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """May still fill (a ``held`` leg included): cancelable, listed as open."""
        return self.status in OPEN_STATUSES

    @property
    def is_working(self) -> bool:
        """Open and live at the market: not a leg still waiting for its entry."""
        return self.is_open and self.status != "held"

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty

    def to_json(self, *, nested: bool = True) -> dict[str, Any]:
        """Alpaca's order object; ``nested``: with the legs rolled up under ``legs``."""
        out: dict[str, Any] = {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at or self.created_at),
            "submitted_at": iso(self.created_at),
            "filled_at": iso(self.filled_at),
            "expired_at": None,
            "canceled_at": iso(self.canceled_at),
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": str(self.qty),
            "filled_qty": str(self.filled_qty),
            "filled_avg_price": None
            if self.filled_avg_price is None
            else str(self.filled_avg_price),
            "order_class": self.order_class,
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "time_in_force": self.time_in_force,
            "limit_price": _text(self.limit_price),
            "stop_price": _text(self.stop_price),
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": [leg.to_json() for leg in self.legs] if nested and self.legs else None,
        }
        if self.type == "trailing_stop":  # the spec types these as strings: only when set
            for name, value in (
                ("trail_percent", self.trail_percent),
                ("trail_price", self.trail_price),
                ("hwm", self.hwm),
            ):
                if value is not None:
                    out[name] = str(value)
        return out


def _text(number: Decimal | None) -> str | None:
    return None if number is None else str(number)


@dataclass
class Position:
    qty: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)


def snapshot_json(price: Decimal, at: datetime) -> dict[str, Any]:
    """Alpaca's market-data snapshot of a symbol trading at ``price``: a latest trade at it, a
    one-cent quote around it, and bars (numbers, as the data API sends them)."""
    value = float(price)
    half_spread = 0.005
    stamp = iso(at)
    bar = {
        "t": stamp,
        "o": value,
        "h": value,
        "l": value,
        "c": value,
        "v": 100,
        "n": 1,
        "vw": value,
    }
    return {
        "latestTrade": {"t": stamp, "x": "V", "p": value, "s": 100, "c": ["@"], "i": 1, "z": "C"},
        "latestQuote": {
            "t": stamp,
            "ax": "V",
            "ap": round(value + half_spread, 4),
            "as": 1,
            "bx": "V",
            "bp": round(max(value - half_spread, 0.0), 4),
            "bs": 1,
            "c": ["R"],
            "z": "C",
        },
        "minuteBar": bar,
        "dailyBar": bar,
        "prevDailyBar": bar,
    }


def plain(number: Decimal) -> Decimal:
    """``3.0`` -> ``3``, ``100.50`` -> ``100.5``: how Alpaca writes decimals (never ``1E+2``)."""
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()
