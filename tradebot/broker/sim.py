"""The ``sim`` broker: an in-process paper account, the embedded default for demos and dry runs.

It implements the same :class:`~tradebot.broker.base.Broker` protocol as Alpaca and emits the same
events, but nothing leaves the process. It is its own market: its price table
(``broker.sim.prices``, and :meth:`SimBroker.set_price` for simulators and the demo) gives the
reference prices the planner checks signals against. Market orders fill at the table's price for
the symbol (the intent's reference price when the table has none) moved against the order by
``slippage_bps``; a limit order fills at the better of that price and its limit, or rests until
canceled. Fills are immediate, or ``fill_delay`` seconds
later. Submission is idempotent by client order id; buying power, shortability and fractional
quantities are checked like a broker would, and refused orders raise ``OrderRejected``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Self

from tradebot.broker.base import OrderSnapshot, OrderStatus
from tradebot.broker.tracker import OrderTracker
from tradebot.clock import utcnow
from tradebot.config.model import SimBrokerConfig
from tradebot.core.account import AccountSnapshot, AssetInfo, MarketClock
from tradebot.core.events import OrderEvent
from tradebot.core.market import MarketPrices, implausible_price
from tradebot.core.orders import OrderIntent
from tradebot.core.signal import Side
from tradebot.exceptions import BrokerError, OrderRejected

_BPS = Decimal(10000)
_PRICE_STEP = Decimal("0.0001")


class SimBroker:
    """See the module docstring. ``async with SimBroker(config) as broker:``."""

    name = "sim"

    def __init__(
        self,
        config: SimBrokerConfig,
        *,
        account_id: str = "SIM",
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._config = config
        self._account_id = account_id
        self._now = now
        self.cash = config.cash
        self._positions: dict[str, Decimal] = {}
        self._market: dict[str, Decimal] = dict(config.prices)  # the price table (references)
        self._prices: dict[str, Decimal] = {}  # last reference or fill price, for equity
        self._orders: dict[str, OrderSnapshot] = {}
        self._limits: dict[str, tuple[Decimal | None, Decimal]] = {}  # cid -> (limit, reference)
        self._tracker = OrderTracker()
        self._events: asyncio.Queue[OrderEvent] = asyncio.Queue()
        self._group: asyncio.TaskGroup | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._serial = 0

    def __repr__(self) -> str:
        return f"SimBroker(account_id={self._account_id!r})"

    async def __aenter__(self) -> Self:
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._group is not None:
            for task in self._pending:
                task.cancel()  # delayed fills not yet due: the orders stay open
            await self._group.__aexit__(None, None, None)
            self._group = None

    # -- orders -----------------------------------------------------------------------------

    async def submit(self, intent: OrderIntent) -> OrderSnapshot:
        cid = intent.client_order_id
        if cid in self._orders:  # idempotent: the same id never makes a second order
            return self._orders[cid]
        self._check(intent)
        self._serial += 1
        now = self._now()
        snap = OrderSnapshot.accepted(intent, f"sim-{self._serial}", now)
        self._orders[cid] = snap
        self._limits[cid] = (intent.limit_price, intent.reference_price)
        self._prices.setdefault(intent.symbol, intent.reference_price)
        self._emit(snap)
        if self._config.fill_delay > 0:
            if self._group is None:
                raise BrokerError("SimBroker with a fill_delay must be used with 'async with'")
            task = self._group.create_task(self._fill_later(cid))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        else:
            self._try_fill(cid)
        return self._orders[cid]

    def _check(self, intent: OrderIntent) -> None:
        cid = intent.client_order_id
        asset = self._asset(intent.symbol)
        if intent.qty != intent.qty.to_integral_value() and not asset.fractionable:
            raise OrderRejected(
                f"{intent.symbol}: fractional quantities are off in the sim broker",
                client_order_id=cid,
                code="not_fractionable",
            )
        held = self._positions.get(intent.symbol, Decimal(0))
        if intent.side is Side.SELL and intent.qty > max(held, Decimal(0)) and not asset.shortable:
            raise OrderRejected(
                f"{intent.symbol}: cannot be sold short", client_order_id=cid, code="not_shortable"
            )
        market = self._market.get(intent.symbol, intent.reference_price)
        if intent.side is Side.BUY and intent.qty * (intent.limit_price or market) > (
            self._buying_power()
        ):
            raise OrderRejected(
                "insufficient buying power", client_order_id=cid, code="buying_power"
            )

    async def _fill_later(self, cid: str) -> None:
        await asyncio.sleep(self._config.fill_delay)  # simulated latency, not synchronisation
        self._try_fill(cid)

    def _try_fill(self, cid: str) -> None:
        snap = self._orders[cid]
        if snap.status.is_final:
            return
        limit, reference = self._limits[cid]
        reference = self._market.get(snap.symbol, reference)
        slip = reference * self._config.slippage_bps / _BPS
        price = reference + slip if snap.side is Side.BUY else reference - slip
        if limit is not None and (price > limit if snap.side is Side.BUY else price < limit):
            return  # not marketable: rests until canceled
        price = price.quantize(_PRICE_STEP)
        qty = snap.qty - snap.filled_qty
        signed = qty if snap.side is Side.BUY else -qty
        self.cash -= signed * price
        self._positions[snap.symbol] = self._positions.get(snap.symbol, Decimal(0)) + signed
        self._prices[snap.symbol] = price
        self._update(cid, filled_qty=snap.qty, filled_avg_price=price, status=OrderStatus.FILLED)
        self._emit(self._orders[cid], fill_qty=qty, price=price)

    async def get_order(self, client_order_id: str) -> OrderSnapshot | None:
        return self._orders.get(client_order_id)

    async def cancel(self, client_order_id: str) -> None:
        snap = self._orders.get(client_order_id)
        if snap is None:
            raise BrokerError(f"cannot cancel {client_order_id}: no such order")
        if snap.status.is_final:
            return
        self._update(client_order_id, status=OrderStatus.CANCELED, reason="canceled")
        self._emit(self._orders[client_order_id])

    def _update(self, cid: str, **changes: object) -> None:
        self._orders[cid] = replace(self._orders[cid], updated_at=self._now(), **changes)  # type: ignore[arg-type]

    def _emit(
        self, snap: OrderSnapshot, fill_qty: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        for event in self._tracker.observe(snap, self._now(), fill_qty=fill_qty, fill_price=price):
            self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[OrderEvent]:
        while True:
            yield await self._events.get()

    # -- account ----------------------------------------------------------------------------

    def _buying_power(self) -> Decimal:
        reserved = sum(
            (
                (s.qty - s.filled_qty) * (self._limits[c][0] or self._limits[c][1])
                for c, s in self._orders.items()
                if s.side is Side.BUY and not s.status.is_final
            ),
            Decimal(0),
        )
        return max(self.cash - reserved, Decimal(0))

    # -- market -----------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move the sim market: ``symbol`` now trades at ``price`` (simulators, the demo)."""
        why = implausible_price(price)
        if why is not None:
            raise ValueError(why)
        self._market[symbol.upper()] = price

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        """The price table's entries for ``symbols``. The sim broker has no market beyond its
        table, so for a symbol it has no price for the signal's price stands in (noted)."""
        found = {s: self._market[s] for s in symbols if s in self._market}
        return MarketPrices(found, signal_stands_in=True)

    async def positions(self) -> Mapping[str, Decimal]:
        return {s: q for s, q in self._positions.items() if q}

    async def account(self) -> AccountSnapshot:
        value = sum(
            (q * self._market.get(s, self._prices[s]) for s, q in self._positions.items()),
            Decimal(0),
        )
        return AccountSnapshot(
            account_id=self._account_id,
            equity=self.cash + value,
            buying_power=self._buying_power(),
            cash=self.cash,
            shorting_enabled=self._config.shortable,
        )

    async def clock(self) -> MarketClock:
        """Always open: the sim broker trades whenever a signal arrives."""
        now = self._now()
        return MarketClock(now, True, now + timedelta(days=1), now + timedelta(hours=6))

    async def asset(self, symbol: str) -> AssetInfo:
        return self._asset(symbol)

    def _asset(self, symbol: str) -> AssetInfo:
        shortable = self._config.shortable
        return AssetInfo(
            symbol=symbol,
            tradable=True,
            shortable=shortable,
            easy_to_borrow=shortable,
            fractionable=self._config.fractionable,
        )
