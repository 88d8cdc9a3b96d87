"""The one broker the tests use below the network edge: scripted per call, recording every call.

A real implementation of the :class:`~tradebot.broker.base.Broker` protocol, in memory (or in a
file, see below), idempotent by client order id like Alpaca: a second submit with the same id
returns the order it already has. What each ``submit`` does is scripted, one step per call, in
:attr:`ScriptedBroker.script`; with the script empty, every order is accepted and filled at once
(``fill=False``: accepted and left open). A step is one of:

- an exception instance, raised before the broker has the order: ``OrderRejected(...)`` (a
  refusal), ``BrokerUnavailable(...)`` (transient), ``OrderOutcomeUnknown(...)`` (a timeout
  before the broker got it), ``AuthenticationError(...)``;
- :data:`FILL`: accept and fill at once; :data:`ACCEPT`: accept and leave it open, to fill later
  with :meth:`ScriptedBroker.fill` (all or part);
- :data:`LOSE_RESPONSE`: accept and fill, then raise ``OrderOutcomeUnknown``: the broker has the
  order but its answer was lost;
- :class:`FillPart`: accept and fill that many shares now; the rest stays open.

Fills are at :meth:`ScriptedBroker.fill_price`, the intent's reference price moved against the
order by ``slippage`` (a cent by default): the only place a test fill is priced. Events go out
through the product's :class:`~tradebot.broker.tracker.OrderTracker`, as the real brokers'.

With ``state=PATH`` the orders and the calls are kept in a SQLite file, written before a call
returns, so they survive a process killed with SIGKILL (the crash tests, ``crash_driver.py``):
a second ``ScriptedBroker(state=PATH)`` in the next process, or in the test, sees them.

Why not the ``sim`` broker with a script hook: the sim is product code (``broker.name: sim``,
the demo) that models a market (price table, buying power, shortability, delayed fills). Fault
scripting, call recording and a state file that outlives ``kill -9`` exist only for tests, and
would be hooks in a product broker that no user runs. This double keeps them out of it and
reuses what is shared (the protocol's types and the tracker).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Self

from tradebot.broker.tracker import OrderTracker
from tradebot.core.account import AccountSnapshot, AssetInfo, MarketClock
from tradebot.core.events import OrderEvent
from tradebot.core.market import MarketPrices
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.orders import OrderIntent
from tradebot.core.signal import Side
from tradebot.exceptions import OrderOutcomeUnknown

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


class Answer(Enum):
    """A scripted submit that does not raise before the broker has the order."""

    FILL = "fill"
    ACCEPT = "accept"
    LOSE_RESPONSE = "lose-response"


FILL, ACCEPT, LOSE_RESPONSE = Answer.FILL, Answer.ACCEPT, Answer.LOSE_RESPONSE


@dataclass(frozen=True)
class FillPart:
    """Accept, and fill ``qty`` shares at once; the rest stays open (``ScriptedBroker.fill``)."""

    qty: Decimal


Step = BaseException | Answer | FillPart

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    coid TEXT PRIMARY KEY, broker_id TEXT, symbol TEXT, side TEXT, qty TEXT, filled TEXT,
    price TEXT, status TEXT, reference TEXT
);
CREATE TABLE IF NOT EXISTS calls (n INTEGER PRIMARY KEY, method TEXT, coid TEXT);
"""


class ScriptedBroker:
    """See the module docstring."""

    name = "scripted"

    def __init__(
        self,
        *,
        fill: bool = True,
        slippage: Decimal = Decimal("0.01"),
        clock: Callable[[], datetime] = lambda: T0,
        state: Path | None = None,
    ) -> None:
        self.fill_by_default = fill
        self.slippage = slippage
        self._now = clock
        self.script: list[Step] = []  # what the next submit calls do, one step each
        self.orders: dict[str, OrderSnapshot] = {}
        self.calls: list[tuple[str, str]] = []  # (method, client order id)
        self.extra_positions: dict[str, Decimal] = {}  # positions not made by our orders
        self.prices: dict[str, Decimal] = {}  # the market: reference prices by symbol
        self.price_requests: list[list[str]] = []  # the symbols of each reference_prices call
        self.price_faults: list[BaseException] = []  # raised by the next reference_prices calls
        self._references: dict[str, Decimal] = {}  # client order id -> the intent's reference
        #: what a cancel call does (default: nothing, the broker just records it): a test sets
        #: it to end the order, fill it instead (a stop filling while its cancel is in flight)...
        self.on_cancel: Callable[[str], None] = lambda coid: None
        self._tracker = OrderTracker()
        self._events: asyncio.Queue[OrderEvent | None] = asyncio.Queue()
        self._db = None if state is None else _open(state)
        if self._db is not None:
            self._load(self._db)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.end_stream()
        self.close()

    def close(self) -> None:
        """Close the state file, if any (the orders and calls stay readable in memory)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- what the tests look at --------------------------------------------------------------

    def submissions(self, coid: str) -> int:
        """How many submit calls named ``coid`` (refused and repeated ones included)."""
        return sum(1 for method, c in self.calls if method == "submit" and c == coid)

    def fill_price(self, side: Side, reference: Decimal) -> Decimal:
        """Where a test order fills: its reference price moved against it by ``slippage``."""
        return reference + self.slippage * side.sign

    # -- orders ------------------------------------------------------------------------------

    async def submit(self, intent: OrderIntent) -> OrderSnapshot:
        coid = intent.client_order_id
        self._call("submit", coid)
        step = self.script.pop(0) if self.script else FILL if self.fill_by_default else ACCEPT
        if isinstance(step, BaseException):
            raise step
        if coid in self.orders:  # idempotent: the same id never makes a second order
            return self.orders[coid]
        pending = OrderSnapshot.accepted(intent, f"b-{len(self.orders) + 1}", self._now())
        self._references[coid] = intent.reference_price
        self._store(pending)
        self._emit(pending)
        if step in (FILL, LOSE_RESPONSE):
            self.fill(coid)
        elif isinstance(step, FillPart):
            self.fill(coid, step.qty)
        if step is LOSE_RESPONSE:
            raise OrderOutcomeUnknown("response lost", coid)
        return pending  # a real broker's first answer: the fill arrives as an event

    def fill(self, coid: str, qty: Decimal | None = None) -> None:
        """Fill ``qty`` more of an open order (default: all that is open) at :meth:`fill_price`."""
        snap = self.orders[coid]
        qty = snap.qty - snap.filled_qty if qty is None else qty
        if qty <= 0 or snap.filled_qty + qty > snap.qty or snap.status.is_final:
            raise ValueError(f"cannot fill {qty} of {coid}: {snap.filled_qty}/{snap.qty} filled")
        price = self.fill_price(snap.side, self._references[coid])
        filled = snap.filled_qty + qty
        average = ((snap.filled_avg_price or price) * snap.filled_qty + price * qty) / filled
        status = OrderStatus.FILLED if filled == snap.qty else OrderStatus.PARTIALLY_FILLED
        now = self._now()
        done = replace(
            snap, filled_qty=filled, filled_avg_price=average, status=status, updated_at=now
        )
        self._store(done)
        self._emit(done, fill_qty=qty, fill_price=price)

    async def get_order(self, client_order_id: str) -> OrderSnapshot | None:
        self._call("get_order", client_order_id)
        return self.orders.get(client_order_id)

    async def cancel(self, client_order_id: str) -> None:
        self._call("cancel", client_order_id)
        self.on_cancel(client_order_id)

    def end(self, coid: str, status: OrderStatus = OrderStatus.CANCELED) -> None:
        """End an open order without filling more (a confirmed cancel, an expiry)."""
        snap = self.orders[coid]
        if snap.status.is_final:
            return
        done = replace(snap, status=status, updated_at=self._now(), reason=str(status))
        self._store(done)
        self._emit(done)

    def push(self, event: OrderEvent) -> None:
        """An event as the broker's stream would deliver it (replays, unknown orders, ...)."""
        self._events.put_nowait(event)

    def end_stream(self) -> None:
        """End :meth:`events` after what is queued: the consumer drains and returns."""
        self._events.put_nowait(None)

    async def events(self) -> AsyncIterator[OrderEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    # -- account and market ------------------------------------------------------------------

    async def positions(self) -> Mapping[str, Decimal]:
        net: dict[str, Decimal] = dict(self.extra_positions)
        for snap in self.orders.values():
            net[snap.symbol] = net.get(snap.symbol, Decimal(0)) + snap.filled_qty * snap.side.sign
        return {s: q for s, q in net.items() if q}

    async def account(self) -> AccountSnapshot:
        return AccountSnapshot("ACCT", Decimal(100000), Decimal(100000), Decimal(100000))

    async def clock(self) -> MarketClock:
        now = self._now()
        return MarketClock(now, True, now, now)

    async def asset(self, symbol: str) -> AssetInfo:
        return AssetInfo(symbol, shortable=True, fractionable=True)

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        self.price_requests.append(list(symbols))
        if self.price_faults:
            raise self.price_faults.pop(0)
        found = {s: self.prices[s] for s in symbols if s in self.prices}
        return MarketPrices(found, as_of=dict.fromkeys(found, self._now()))  # trading now

    # -- the record --------------------------------------------------------------------------

    def _emit(
        self,
        snap: OrderSnapshot,
        fill_qty: Decimal | None = None,
        fill_price: Decimal | None = None,
    ) -> None:
        events = self._tracker.observe(snap, self._now(), fill_qty=fill_qty, fill_price=fill_price)
        for event in events:
            self._events.put_nowait(event)

    def _call(self, method: str, coid: str) -> None:
        self.calls.append((method, coid))
        if self._db is not None:
            with self._db:
                self._db.execute("INSERT INTO calls (method, coid) VALUES (?, ?)", (method, coid))

    def _store(self, snap: OrderSnapshot) -> None:
        self.orders[snap.client_order_id] = snap
        if self._db is not None:
            price = snap.filled_avg_price
            row = (
                *(snap.client_order_id, snap.broker_order_id, snap.symbol, str(snap.side)),
                *(str(snap.qty), str(snap.filled_qty), None if price is None else str(price)),
                *(str(snap.status), str(self._references[snap.client_order_id])),
            )
            with self._db:  # one transaction, committed before submit returns
                self._db.execute("INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?,?)", row)

    def _load(self, db: sqlite3.Connection) -> None:
        for coid, bid, symbol, side, qty, filled, price, status, reference in db.execute(
            "SELECT * FROM orders"
        ):
            self.orders[coid] = OrderSnapshot(
                *(coid, bid, symbol, Side(side), Decimal(qty), Decimal(filled)),
                *(None if price is None else Decimal(price), OrderStatus(status)),
            )
            self._references[coid] = Decimal(reference)
            self._tracker.observe(self.orders[coid], self._now())  # reported by the last process
        self.calls = [(m, c) for m, c in db.execute("SELECT method, coid FROM calls ORDER BY n")]


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")  # on disk before the call returns: kill -9 safe
    db.executescript(_SCHEMA)
    db.isolation_level = "DEFERRED"  # ``with db:`` is then one transaction per change
    return db
