"""The ``sim`` broker: an in-process paper account, the embedded default for demos and dry runs.

It implements the same :class:`~tradebot.broker.base.Broker` protocol as Alpaca and emits the same
events, but nothing leaves the process. It is its own market: its price table
(``broker.sim.prices``, and :meth:`SimBroker.set_price` for simulators and the demo) gives the
reference prices the planner checks signals against. When an order fills, and at what price, is
the market model's rule (:mod:`tradebot.market_model.rules`, shared with the local Alpaca
server), applied to the table's price for the symbol (the intent's reference price when the
table has none) moved against the order by ``slippage_bps``: a market order fills at that price;
a limit fills there if that price is better than its limit, or rests (at exactly its limit too)
and fills at its limit when a later price goes through it. Fills are immediate, or
``fill_delay`` seconds later, in one execution or in parts (:meth:`SimBroker.fill_in_parts`,
for simulators and tests). Submission is idempotent by client order id; buying power,
shortability and fractional quantities are checked like a broker would, and refused orders
raise ``OrderRejected``.

Exits work like Alpaca's, moved by :meth:`SimBroker.set_price`: a stop fills at the market price
once the table's price reaches it (a gap through the stop fills worse than the stop), a trailing
stop follows the best price since it was placed (its stop on the price tick), an exit limit
fills once the price goes through it. A ``bracket``/``oto`` entry's legs are held until the
entry fills; an ``oco`` is its take-profit with a stop-loss leg. Legs are named by *our* ids
(:func:`~tradebot.core.ids.leg_exit_id`) and shown in their parent's snapshot; one leg filling
cancels its sibling, canceling a parent cancels its live legs. Shares held for live exits
cannot be sold by another order (Alpaca: "insufficient qty available").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Self, assert_never

from tradebot.broker.tracker import OrderTracker
from tradebot.clock import utcnow
from tradebot.config.model import SimBrokerConfig
from tradebot.core.account import AccountSnapshot, AssetInfo, MarketClock
from tradebot.core.events import OrderEvent
from tradebot.core.ids import leg_exit_id
from tradebot.core.market import MarketPrices, implausible_price
from tradebot.core.order_shape import Bracket, Limit, Market, Oco, Oto, Stop, TrailingStop
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.orders import IntentRole, OrderIntent
from tradebot.core.quantity import is_whole
from tradebot.core.signal import Side
from tradebot.exceptions import BrokerError, OrderRejected
from tradebot.market_model import rules

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
        start = now()
        self._market_at = dict.fromkeys(self._market, start)  # when each price was set
        self._prices: dict[str, Decimal] = {}  # last reference or fill price, for equity
        self._orders: dict[str, OrderSnapshot] = {}
        self._open_buys: set[str] = set()  # buys not final: what buying power reserves
        self._limits: dict[str, tuple[Decimal | None, Decimal]] = {}  # cid -> (limit, reference)
        self._book: dict[str, rules.Order] = {}  # cid -> the market model's view of the order
        self._exits: set[str] = set()  # resting exits, checked against every set_price
        self._resting: set[str] = set()  # entry limits that rested, checked likewise
        self._exit_orders: set[str] = set()  # every exit order (live or not)
        self._legs: dict[str, tuple[str, ...]] = {}  # parent cid -> its legs' cids (ours)
        self._parent: dict[str, str] = {}  # leg cid -> its parent's cid
        self._held: set[str] = set()  # bracket legs waiting for their entry to fill
        self._tracker = OrderTracker()
        self._events: asyncio.Queue[OrderEvent] = asyncio.Queue()
        self._group: asyncio.TaskGroup | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._serial = 0
        self._parts = 1  # executions each fill is made of (fill_in_parts)

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
        if intent.parent is not None:
            raise BrokerError(f"{cid} is a leg of {intent.parent}: it is never sent by itself")
        self._check(intent)
        snap = self._accept(intent)
        self._add_legs(intent)
        self._emit(snap)
        for leg in self._legs.get(cid, ()):
            self._emit(self._orders[leg])
        if intent.role is IntentRole.EXIT:
            self._exits.add(cid)
            self._exit_orders.add(cid)
            for leg in self._legs.get(cid, ()):
                self._trigger(leg)
            self._trigger(cid)
            return self._view(cid)
        if self._config.fill_delay > 0:
            if self._group is None:
                raise BrokerError("SimBroker with a fill_delay must be used with 'async with'")
            task = self._group.create_task(self._fill_later(cid))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        else:
            self._try_fill(cid)
        return self._view(cid)

    def _accept(self, intent: OrderIntent, cid: str | None = None) -> OrderSnapshot:
        self._serial += 1
        snap = OrderSnapshot.accepted(intent, f"sim-{self._serial}", self._now())
        if cid is not None:
            snap = replace(snap, client_order_id=cid)
        self._store(snap)
        self._limits[snap.client_order_id] = (intent.limit_price, intent.reference_price)
        self._prices.setdefault(intent.symbol, intent.reference_price)
        market = self._market.get(intent.symbol, intent.reference_price)
        self._book[snap.client_order_id] = rules.place(market_order(intent), market)
        return snap

    def _add_legs(self, intent: OrderIntent) -> None:
        """A bracket/oto entry's legs (held until it fills), or an oco's stop leg (live)."""
        shapes: list[tuple[str, Limit | Stop]] = []
        match intent.attached:
            case None:
                return
            case Bracket(take_profit=tp, stop_loss=sl) | Oto(take_profit=tp, stop_loss=sl):
                exit_side, live = intent.side.opposite(), False
                if tp is not None:
                    shapes.append(("limit", Limit(tp)))
                if sl is not None:
                    shapes.append(("stop", Stop(sl)))
            case Oco(stop_loss=sl):  # the oco itself is its take-profit
                exit_side, live = intent.side, True
                shapes.append(("stop", Stop(sl)))
            case _:
                assert_never(intent.attached)
        parent = intent.client_order_id
        legs = []
        for leg_type, price in shapes:
            leg = replace(
                intent,
                client_order_id=leg_exit_id(parent, leg_type),
                side=exit_side,
                price=price,
                attached=None,
                exits=None,
                role=IntentRole.EXIT,
                parent=parent,
            )
            self._accept(leg)
            self._exit_orders.add(leg.client_order_id)
            legs.append(leg.client_order_id)
            self._parent[leg.client_order_id] = parent
            if live:
                self._exits.add(leg.client_order_id)
            else:
                self._held.add(leg.client_order_id)
        self._legs[parent] = tuple(legs)

    def _view(self, cid: str) -> OrderSnapshot:
        """The order as the broker shows it: a parent with its legs."""
        legs = tuple(self._orders[leg] for leg in self._legs.get(cid, ()))
        return replace(self._orders[cid], legs=legs) if legs else self._orders[cid]

    def _group_of(self, cid: str) -> str:
        """The exits that exclude each other share a group: a bracket's legs (their entry's
        id), an oco and its stop leg (the oco's id). A plain exit is a group of its own."""
        return self._parent.get(cid, cid)

    def _reserved(self, symbol: str, side: Side) -> Decimal:
        """Shares held for live exits on ``side``: once per group, as Alpaca holds them."""
        groups: dict[str, Decimal] = {}
        for cid in self._exits:
            snap = self._orders[cid]
            if snap.symbol == symbol and snap.side is side and not snap.status.is_final:
                groups[self._group_of(cid)] = snap.qty - snap.filled_qty
        return sum(groups.values(), Decimal(0))

    def _check(self, intent: OrderIntent) -> None:
        cid = intent.client_order_id
        asset = self._asset(intent.symbol)
        if not is_whole(intent.qty) and not asset.fractionable:
            raise OrderRejected(
                f"{intent.symbol}: fractional quantities are off in the sim broker",
                client_order_id=cid,
                code="not_fractionable",
            )
        held = self._positions.get(intent.symbol, Decimal(0))
        position_side = Side.SELL if held > 0 else Side.BUY
        if held and intent.side is position_side:
            reserved = self._reserved(intent.symbol, intent.side)
            available = abs(held) - reserved
            if intent.qty > available and (intent.role is IntentRole.EXIT or reserved > 0):
                raise OrderRejected(
                    f"{intent.symbol}: insufficient qty available for order (requested"
                    f" {intent.qty}, available {max(available, Decimal(0))}: the rest is held"
                    " for open exit orders)",
                    client_order_id=cid,
                    code="insufficient_qty",
                )
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
        if snap.status.is_final or cid in self._held:
            return
        reference = self._market.get(snap.symbol, self._limits[cid][1])
        slip = reference * self._config.slippage_bps / _BPS
        quote = reference + slip if snap.side is Side.BUY else reference - slip
        order, fills_at = rules.match(self._book[cid], quote)
        self._book[cid] = order
        if fills_at is None:
            if cid not in self._exit_orders:
                self._resting.add(cid)  # a limit short of the price: set_price looks again
            return
        self._resting.discard(cid)
        price = fills_at.quantize(_PRICE_STEP)
        for qty in rules.split(snap.qty - snap.filled_qty, self._parts):
            self._fill(cid, qty, price)
        self._exits.discard(cid)
        self._after_fill(cid)

    def _fill(self, cid: str, qty: Decimal, price: Decimal) -> None:
        """One execution of ``qty`` at ``price`` (every piece of an order fills at one price)."""
        snap = self._orders[cid]
        signed = qty if snap.side is Side.BUY else -qty
        self.cash -= signed * price
        self._positions[snap.symbol] = self._positions.get(snap.symbol, Decimal(0)) + signed
        self._prices[snap.symbol] = price
        filled = snap.filled_qty + qty
        status = OrderStatus.FILLED if filled == snap.qty else OrderStatus.PARTIALLY_FILLED
        self._update(cid, filled_qty=filled, filled_avg_price=price, status=status)
        self._emit(self._orders[cid], fill_qty=qty, price=price)

    def _after_fill(self, cid: str) -> None:
        """An entry filled: its legs go live. An exit filled: the others of its group end."""
        for leg in self._legs.get(cid, ()):
            if leg in self._held:
                self._held.discard(leg)
                self._exits.add(leg)
                self._trigger(leg)
        if cid not in self._exit_orders:
            return
        group = self._group_of(cid)
        for other in sorted(self._exits):
            if other != cid and self._group_of(other) == group:
                self._end(other, "canceled: another exit of its group filled")

    def _trigger(self, cid: str) -> None:
        """Show a resting order the table's price: a trailing stop follows it, a stop it reaches
        triggers (and fills at the market price), a limit it reaches fills."""
        snap = self._orders[cid]
        if snap.status.is_final or cid in self._held:
            return
        market = self._market.get(snap.symbol)
        if market is not None:
            self._book[cid] = rules.on_price(self._book[cid], market)
        elif self._book[cid].waiting:
            return  # a stop needs a market price to trigger
        self._try_fill(cid)

    def _end(self, cid: str, reason: str) -> None:
        self._exits.discard(cid)
        self._resting.discard(cid)
        self._held.discard(cid)
        self._update(cid, status=OrderStatus.CANCELED, reason=reason)
        self._emit(self._orders[cid])

    async def get_order(self, client_order_id: str) -> OrderSnapshot | None:
        return self._view(client_order_id) if client_order_id in self._orders else None

    async def cancel(self, client_order_id: str) -> None:
        snap = self._orders.get(client_order_id)
        if snap is None:
            raise BrokerError(f"cannot cancel {client_order_id}: no such order")
        if not snap.status.is_final:
            self._end(client_order_id, "canceled")
        for leg in self._legs.get(client_order_id, ()):  # a parent's cancel takes its legs
            if not self._orders[leg].status.is_final:
                self._end(leg, "canceled with its parent")

    def _update(self, cid: str, **changes: object) -> None:
        self._store(replace(self._orders[cid], updated_at=self._now(), **changes))  # type: ignore[arg-type]

    def _store(self, snap: OrderSnapshot) -> None:
        """The one place an order's state is written: keeps the open buys in step, so buying
        power costs the open orders, not every order ever sent (a year's replay sends thousands)."""
        cid = snap.client_order_id
        self._orders[cid] = snap
        if snap.side is Side.BUY and not snap.status.is_final:
            self._open_buys.add(cid)
        else:
            self._open_buys.discard(cid)

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
                for c in self._open_buys
                for s in (self._orders[c],)
            ),
            Decimal(0),
        )
        return max(self.cash - reserved, Decimal(0))

    # -- market -----------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal, *, at: datetime | None = None) -> None:
        """Move the sim market: ``symbol`` now trades at ``price`` (simulators, the demo), as of
        ``at`` (default: now; a test may date a price in the past)."""
        why = implausible_price(price)
        if why is not None:
            raise ValueError(why)
        self._market[symbol.upper()] = price
        self._market_at[symbol.upper()] = self._now() if at is None else at
        resting = self._exits | self._resting
        for cid in sorted(resting, key=lambda c: self._orders[c].broker_order_id):
            if self._orders[cid].symbol == symbol.upper():
                self._trigger(cid)

    def fill_in_parts(self, parts: int) -> None:
        """From now on every fill is ``parts`` executions of equal size (whole shares for a
        whole quantity), told one by one: partial fills, for simulators and tests, as the local
        Alpaca server's ``FillScript(parts=...)`` makes them."""
        if parts < 1:
            raise ValueError("parts must be >= 1")
        self._parts = parts

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        """The price table's entries for ``symbols``, each as of when it was set (from the config:
        when the broker started). The sim broker has no market beyond its table, so for a symbol
        it has no price for (or only a stale one) the signal's price stands in (noted)."""
        found = {s: self._market[s] for s in symbols if s in self._market}
        as_of = {s: self._market_at[s] for s in found}
        return MarketPrices(found, signal_stands_in=True, as_of=as_of)

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
            # the sim keeps nothing between runs: its "previous close" is its starting cash
            last_equity=self._config.cash,
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


def market_order(intent: OrderIntent) -> rules.Order:
    """The market model's view of ``intent``: the one place the sim broker reads an order's
    price (a bracket's legs are intents of their own, made by ``_add_legs``)."""
    side: rules.Side = "buy" if intent.side is Side.BUY else "sell"
    match intent.price:
        case Market():
            return rules.Order(side)
        case Limit(limit=limit):
            return rules.Order(side, limit=limit)
        case Stop(stop=stop):
            return rules.Order(side, stop=stop)
        case TrailingStop(trail_pct=pct):
            return rules.Order(side, trail_percent=pct)
        case _:
            assert_never(intent.price)
