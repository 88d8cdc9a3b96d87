"""A broker whose state lives in a SQLite file, so it outlives a process killed with SIGKILL.

Implements the Broker protocol idempotently by client order id, like Alpaca: a second submit
with the same id returns the existing order. A market order fills at once at the intent's
reference price plus a cent of slippage; the submit answer still says "pending" (as a real
broker's first answer does) and the fill arrives as an event, so the crash tests can stop the
process between receiving the fill and recording it. ``submits`` counts every submit call.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Self

from tradebot.broker.base import OrderSnapshot, OrderStatus
from tradebot.core.account import AccountSnapshot, AssetInfo, MarketClock
from tradebot.core.events import OrderAccepted, OrderEvent, OrderFilled
from tradebot.core.market import MarketPrices
from tradebot.core.orders import OrderIntent
from tradebot.core.signal import Side

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    coid TEXT PRIMARY KEY, broker_id TEXT, symbol TEXT, side TEXT, qty TEXT,
    filled TEXT, price TEXT, status TEXT
);
CREATE TABLE IF NOT EXISTS submits (coid TEXT, n INTEGER);
"""


class FileBroker:
    name = "file"

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection, used from worker threads
        self._events: asyncio.Queue[OrderEvent | None] = asyncio.Queue()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._db.close()

    def _snapshot(self, row: tuple[str, ...]) -> OrderSnapshot:
        coid, broker_id, symbol, side, qty, filled, price, status = row
        return OrderSnapshot(
            coid,
            broker_id,
            symbol,
            Side(side),
            Decimal(qty),
            Decimal(filled),
            Decimal(price) if price else None,
            OrderStatus(status),
        )

    def _submit(self, intent: OrderIntent) -> tuple[OrderSnapshot, bool]:
        with self._lock:
            return self._submit_locked(intent)

    def _submit_locked(self, intent: OrderIntent) -> tuple[OrderSnapshot, bool]:
        coid = intent.client_order_id
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT INTO submits VALUES (?, 1)", (coid,))
            row = self._db.execute("SELECT * FROM orders WHERE coid = ?", (coid,)).fetchone()
            if row is not None:
                self._db.execute("COMMIT")
                return self._snapshot(row), False
            broker_id = f"f-{coid[-8:]}"
            price = intent.reference_price + Decimal("0.01") * intent.side.sign
            self._db.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    coid,
                    broker_id,
                    intent.symbol,
                    str(intent.side),
                    str(intent.qty),
                    str(intent.qty),
                    str(price),
                    "filled",
                ),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        pending = OrderSnapshot(
            coid,
            broker_id,
            intent.symbol,
            intent.side,
            intent.qty,
            Decimal(0),
            None,
            OrderStatus.PENDING,
        )
        return pending, True

    async def submit(self, intent: OrderIntent) -> OrderSnapshot:
        snap, created = await asyncio.to_thread(self._submit, intent)
        if created:
            now = datetime.now(UTC)
            coid, bid = snap.client_order_id, snap.broker_order_id
            price = intent.reference_price + Decimal("0.01") * intent.side.sign
            self._events.put_nowait(
                OrderAccepted(client_order_id=coid, broker_order_id=bid, at=now)
            )
            self._events.put_nowait(
                OrderFilled(
                    client_order_id=coid,
                    broker_order_id=bid,
                    at=now,
                    symbol=snap.symbol,
                    side=snap.side,
                    qty=snap.qty,
                    price=price,
                    cum_qty=snap.qty,
                    order_qty=snap.qty,
                    partial=False,
                )
            )
        return snap

    async def get_order(self, client_order_id: str) -> OrderSnapshot | None:
        sql = "SELECT * FROM orders WHERE coid = ?"
        with self._lock:
            row = self._db.execute(sql, (client_order_id,)).fetchone()
        return None if row is None else self._snapshot(row)

    async def cancel(self, client_order_id: str) -> None:
        return None

    async def positions(self) -> Mapping[str, Decimal]:
        net: dict[str, Decimal] = {}
        with self._lock:
            rows = self._db.execute("SELECT symbol, side, filled FROM orders").fetchall()
        for symbol, side, filled in rows:
            net[symbol] = net.get(symbol, Decimal(0)) + Decimal(filled) * Side(side).sign
        return {s: q for s, q in net.items() if q}

    async def account(self) -> AccountSnapshot:
        return AccountSnapshot("ACCT", Decimal(100000), Decimal(100000), Decimal(100000))

    async def clock(self) -> MarketClock:
        now = datetime.now(UTC)
        return MarketClock(now, True, now, now)

    async def asset(self, symbol: str) -> AssetInfo:
        return AssetInfo(symbol, shortable=True, fractionable=True)

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        """No price table: like the sim broker, it is its own market and lets the signal's
        price stand in (the crash tests plan with their own fixed-size planner anyway)."""
        return MarketPrices(signal_stands_in=True)

    def end_stream(self) -> None:
        self._events.put_nowait(None)

    async def events(self) -> AsyncIterator[OrderEvent]:
        while (event := await self._events.get()) is not None:
            yield event


def broker_orders(path: Path) -> dict[str, tuple[str, str, str]]:
    """coid -> (symbol, side, qty) of every order the broker holds (for assertions)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT coid, symbol, side, qty FROM orders").fetchall()
    return {coid: (symbol, side, qty) for coid, symbol, side, qty in rows}


def submit_calls(path: Path) -> dict[str, int]:
    """coid -> how many submit calls the broker received for it."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT coid, count(*) FROM submits GROUP BY coid").fetchall()
    return {coid: n for coid, n in rows}
