"""The summaries the review reads, folded from journal rows one at a time (pure: no I/O).

``tradebot report``, the dashboard's Performance and Positions pages read these instead of
every row of the journal. They are kept by :func:`apply`, called for each row in the
transaction that writes it (:mod:`tradebot.journal.summary_sql`), and recomputed by the same
:func:`apply` over every row, oldest first, by the migration that builds them and by
``tradebot journal verify``. One rule, three callers.

Every summary is kept per account (issue 22: the row's ``account`` column,
:func:`~tradebot.journal.records.row_account`), the account first in every key: a signal is
counted once under the shared account ``""`` (it is every account's), an account's orders,
skips and fills under its name, its positions and legs are its own. A read for every account
adds the accounts' rows together (:mod:`tradebot.journal.summary_sql`); a journal of one account
reads exactly what it did before accounts.

* per (account, algorithm, UTC day, symbol): rows counted by status (:data:`COUNTED`; a skip also by
  its reason), and
  the fills with the P&L they realised (average cost, :class:`Position`) and their slippage
  against the price their order was sized at;
* per account and algorithm, all days together: the same counts and fills (what the whole journal's
  report reads: a row per algorithm, however many days and symbols it traded), and the
  fills per account, algorithm and day (the equity chart);
* per (account, algorithm, symbol): the position (net quantity, average cost, realised P&L);
* per leg (one INTENT, with a chased limit's market remainder): what the execution review
  measures (style, planned and filled quantity, fill cost, first, last and completing fill
  times, how it ended; the leg is its intent's account's), and per (account, algorithm,
  style) the sum of its legs' figures;
* rows the review cannot read, counted by reason (they are left out, never fatal).

The execution rules are :class:`tradebot.journal.execution_review.ExecutionTally`'s, for the
whole journal: a leg is *closed* (nothing later changes it) when it fills completely or ends
(a chased limit's end waits for its remainder).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from tradebot.core.ids import DEFAULT_ACCOUNT, remainder_id
from tradebot.journal.queries import positive

_ZERO = Decimal(0)
DAY = 86_400_000_000  # microseconds
FILLS = frozenset({"partial", "filled"})
FINAL = frozenset({"canceled", "expired", "rejected", "failed"})
ORDER_STATUSES = frozenset({"intent", *FILLS, *FINAL})
#: the statuses counted per (algorithm, day, symbol): what the review shows (signals, orders,
#: skips by reason, fills, outcomes), not every row (legs, plans, broker answers are not)
COUNTED = frozenset({"signal", "skipped", *ORDER_STATUSES})


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One journal row as stored (text decimals, JSON text, microseconds)."""

    id: int
    ts: int
    status: str
    algo_id: Any
    symbol: Any
    client_order_id: Any
    leg: Any
    side: Any
    qty: Any
    price: Any
    data: Any
    account: Any = DEFAULT_ACCOUNT  # as stored: "" for the rows every account shares


def account_of_row(row: SummaryRow) -> str:
    """The account a row counts toward: its ``account`` column as text (a hand-edited value
    that is no text is its text form: the fold and ``journal verify`` agree on it)."""
    return row.account if isinstance(row.account, str) else str(row.account)


@dataclass(slots=True)
class Position:
    """Average-cost position in one symbol for one algorithm."""

    qty: Decimal = _ZERO
    cost: Decimal = _ZERO  # average price of the open quantity
    realised: Decimal = _ZERO

    def copy(self) -> Position:
        return Position(self.qty, self.cost, self.realised)

    def fill(self, signed: Decimal, price: Decimal) -> Decimal:
        """Apply a signed fill; return the P&L it realised."""
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            total = self.qty + signed
            self.cost = (self.qty * self.cost + signed * price) / total
            self.qty = total
            return _ZERO
        closing = min(abs(signed), abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        realised = closing * (price - self.cost) * direction
        self.qty += signed
        if self.qty == 0:
            self.cost = _ZERO
        elif (self.qty > 0) != (direction > 0):  # crossed zero: the rest opens at this price
            self.cost = price
        self.realised += realised
        return realised


@dataclass(frozen=True, slots=True)
class Pnl:
    """The fills of one (algorithm, day, symbol)."""

    fills: int = 0
    realised: Decimal = _ZERO
    slippage: Decimal = _ZERO  # money: (fill - intent price) x qty, signed against us
    notional: Decimal = _ZERO  # intent-price notional of the fills measured

    def __add__(self, other: Pnl) -> Pnl:
        return Pnl(
            self.fills + other.fills,
            self.realised + other.realised,
            self.slippage + other.slippage,
            self.notional + other.notional,
        )


@dataclass(slots=True)
class Leg:
    """One order the planner decided, and what executed it (see the module docstring)."""

    coid: str
    algo_id: int
    style: str
    sign: int  # +1 buy, -1 sell
    planned: Decimal
    started: int  # the intent's journal time
    reference: Decimal | None  # what slippage is measured against (None: not measured)
    chased: bool
    filled: Decimal = _ZERO
    cost: Decimal = _ZERO  # sum of fill qty x price
    first_fill: int | None = None
    last_fill: int | None = None
    completed_at: int | None = None
    ended: bool = False
    closed: bool = False
    received: int | None = None  # its signal's receipt (its first LEG row's time)
    account: str = DEFAULT_ACCOUNT  # its intent's

    @property
    def fill_us(self) -> int | None:
        """Time to fill (intent to the completing fill), for the percentiles."""
        return None if self.completed_at is None else max(0, self.completed_at - self.started)

    @property
    def latency_us(self) -> tuple[int | None, int | None, int | None]:
        """Signal to order, order to first fill, order to last fill (:func:`latency_us`)."""
        if self.style.startswith("exit "):
            return (None, None, None)
        return latency_us(
            self.received, self.started, self.first_fill, self.last_fill, closed=self.closed
        )

    def figures(self) -> Figures:
        """What this leg adds to its (algorithm, style) row."""
        filled = self.completed_at is not None
        measured = bool(self.filled) and self.reference is not None
        slip = notional = _ZERO
        if measured:
            assert self.reference is not None
            slip = (self.cost - self.reference * self.filled) * self.sign
            notional = self.reference * self.filled
        return Figures(
            legs=1,
            filled_legs=int(filled),
            partial_legs=int(not filled and self.ended and bool(self.filled)),
            unfilled_legs=int(not filled and self.ended and not self.filled),
            working=int(not filled and not self.ended),
            unmeasured_legs=int(bool(self.filled) and self.reference is None),
            planned_qty=self.planned,
            filled_qty=self.filled,
            slippage=slip,
            slipped_notional=notional,
            latencies=tuple(int(v is not None) for v in self.latency_us),
        )


@dataclass(frozen=True, slots=True)
class Figures:
    """The sums of one (algorithm, style) row of the execution report."""

    legs: int = 0
    filled_legs: int = 0
    partial_legs: int = 0
    unfilled_legs: int = 0
    working: int = 0
    unmeasured_legs: int = 0
    planned_qty: Decimal = _ZERO
    filled_qty: Decimal = _ZERO
    slippage: Decimal = _ZERO
    slipped_notional: Decimal = _ZERO
    #: legs with each latency measured (signal to order, to first fill, to last fill): how
    #: many samples each percentile is taken among (:mod:`tradebot.journal.latency`)
    latencies: tuple[int, ...] = (0, 0, 0)

    def plus(self, other: Figures, sign: int = 1) -> Figures:
        return Figures(
            self.legs + sign * other.legs,
            self.filled_legs + sign * other.filled_legs,
            self.partial_legs + sign * other.partial_legs,
            self.unfilled_legs + sign * other.unfilled_legs,
            self.working + sign * other.working,
            self.unmeasured_legs + sign * other.unmeasured_legs,
            self.planned_qty + sign * other.planned_qty,
            self.filled_qty + sign * other.filled_qty,
            self.slippage + sign * other.slippage,
            self.slipped_notional + sign * other.slipped_notional,
            tuple(a + sign * b for a, b in zip(self.latencies, other.latencies, strict=True)),
        )


ZERO_FIGURES = Figures(legs=0)


class Lookups(Protocol):
    """What a fold reads from the rows themselves."""

    def intent_price(self, coid: str) -> Any:
        """The price on the order's INTENT row, as stored."""
        ...

    def signal_leg(self, leg_key: Any) -> tuple[Any, Any] | None:
        """The price (as stored) and time of the first LEG row with this key (None: none)."""
        ...


class Store(Lookups, Protocol):
    """Where the summaries live while rows are folded (the database, or memory)."""

    def count(
        self, account: str, algo_id: int, day: int, symbol: str, status: str, reason: str
    ) -> None:
        """One more row; counted for the day and symbol, and for the algorithm in all."""
        ...

    def position(self, account: str, algo_id: int, symbol: str) -> Position: ...
    def set_position(self, account: str, algo_id: int, symbol: str, position: Position) -> None: ...
    def add_pnl(self, account: str, algo_id: int, day: int, symbol: str, pnl: Pnl) -> None:
        """One more fill; added to the day and symbol's, and the algorithm's running total."""
        ...

    def leg(self, coid: str) -> Leg | None:
        """The leg ``coid``'s rows count toward (its own, or its chased limit's), if open."""
        ...

    def intent_leg(self, coid: str) -> Leg | None:
        """The open leg an INTENT with this id joins (a chased limit's market remainder)."""
        ...

    def new_leg(self, leg: Leg, aliases: tuple[str, ...]) -> None: ...
    def set_leg(self, leg: Leg) -> None: ...
    def add_figures(self, account: str, algo_id: int, style: str, delta: Figures) -> None: ...
    def skip(self, reason: str) -> None: ...
    def note_intent(self, coid: str, price: Any) -> None:
        """An INTENT row was folded: its price, for its fills' :meth:`intent_price`."""
        ...


def latency_us(
    received: int | None,
    sent: int,
    first_fill: int | None,
    last_fill: int | None,
    *,
    closed: bool,
    until: int | None = None,
) -> tuple[int | None, int | None, int | None]:
    """A leg's latencies in microseconds (None: not measured; :mod:`tradebot.journal.latency`):
    its signal's receipt to its send (the INTENT's time), its send to its first fill, and to
    its last fill once no other can come (``closed``). Fills at or after ``until`` are not
    seen (a leg whose last fill came later had not finished by then)."""
    if until is not None:
        first_fill = None if first_fill is None or first_fill >= until else first_fill
        last_fill = None if last_fill is None or last_fill >= until else last_fill
    last = last_fill if closed else None
    return (
        None if received is None else max(0, sent - received),
        None if first_fill is None else max(0, first_fill - sent),
        None if last is None else max(0, last - sent),
    )


def nearest_rank(fraction: float, n: int) -> int:
    """The index (from 0, ascending) of the nearest-rank quantile among ``n`` values: the
    execution review's time to fill is a time some leg really took."""
    return max(0, math.ceil(fraction * n) - 1)


def _is_algo(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _data(row: SummaryRow) -> Any:
    return json.loads(row.data) if isinstance(row.data, str) else row.data


def apply(store: Store, row: SummaryRow) -> None:
    """Fold one row, the next in write order, into the summaries."""
    if _is_algo(row.algo_id) and row.status in COUNTED:
        reason = ""
        if row.status == "skipped":
            try:
                found = _data(row).get("reason", "")
                reason = found if isinstance(found, str) else ""
            except (ValueError, AttributeError):
                reason = ""
        symbol = row.symbol if isinstance(row.symbol, str) else ""
        store.count(account_of_row(row), row.algo_id, row.ts // DAY, symbol, row.status, reason)
    if row.status not in ORDER_STATUSES or row.client_order_id is None:
        return
    if row.status in FILLS:
        _pnl(store, row)
    if not isinstance(row.client_order_id, str):
        store.skip("row without an order id")
    elif row.status == "intent":
        store.note_intent(row.client_order_id, row.price)
        _intent(store, row)
    elif row.status in FILLS:
        _fill(store, row)
    else:
        _final(store, row)


def _pnl(store: Store, row: SummaryRow) -> None:
    """A fill's realised P&L and slippage (the review's rule, :func:`queries.fill_of`)."""
    qty, price = positive(row.qty), positive(row.price)
    if qty is None or price is None or not _is_algo(row.algo_id):
        return
    if row.side not in ("buy", "sell") or not isinstance(row.symbol, str):
        return
    sign = 1 if row.side == "buy" else -1
    account = account_of_row(row)
    position = store.position(account, row.algo_id, row.symbol)
    realised = position.fill(qty * sign, price)
    store.set_position(account, row.algo_id, row.symbol, position)
    ref = positive(store.intent_price(str(row.client_order_id)))
    slip = notional = _ZERO
    if ref:
        slip = (price - ref) * qty * sign
        notional = ref * qty
    store.add_pnl(account, row.algo_id, row.ts // DAY, row.symbol, Pnl(1, realised, slip, notional))


def style_of(data: Mapping[str, Any]) -> str:
    """The execution style an INTENT's data shows: an exit's kind, a chased limit, or the order
    type (the execution review's rows and the summaries' per-order figures)."""
    order_type = str(data["order_type"])
    if data.get("role") == "exit":
        return f"exit {order_type}"
    if order_type == "limit" and data.get("chase") is not None:
        return "limit_then_market"
    return order_type


def strictly_positive(value: Any) -> Decimal:
    """A finite decimal > 0 from stored text; ValueError for anything else."""
    number = positive(value)
    if number is None:
        raise ValueError(f"not a positive number: {value!r}")
    return number


def exit_reference(data: Mapping[str, Any]) -> Decimal | None:
    """The price an exit is measured against: a stop's stop price, else its limit price."""
    for name in ("stop_price", "limit_price"):
        if data.get(name) is not None:
            return strictly_positive(data[name])
    return None


def _change(store: Store, before: Figures | None, leg: Leg) -> None:
    after = leg.figures()
    delta = after if before is None else after.plus(before, -1)
    store.add_figures(leg.account, leg.algo_id, leg.style, delta)


def _intent(store: Store, row: SummaryRow) -> None:
    coid = str(row.client_order_id)
    known = store.intent_leg(coid)
    if known is not None:
        if known.chased and coid != known.coid:
            before = known.figures()
            known.ended = False  # the limit's market remainder: now working, same leg
            store.set_leg(known)
            _change(store, before, known)
            return
        store.skip("intent journaled twice")
        return
    received = None
    try:
        data = _data(row)
        style = style_of(data)
        if not _is_algo(row.algo_id):
            raise ValueError("no algorithm")
        sign = {"buy": 1, "sell": -1}[row.side]
        planned = strictly_positive(row.qty)
        if style.startswith("exit "):
            reference = exit_reference(data)
        else:
            found = store.signal_leg(row.leg)
            signal = None if found is None else found[0]
            reference = None if signal is None else strictly_positive(signal)
            if found is not None and isinstance(found[1], int):
                received = found[1]
    except (ValueError, KeyError, TypeError, AttributeError):
        store.skip("intent that cannot be read")
        return
    chased = style == "limit_then_market"
    leg = Leg(
        coid,
        row.algo_id,
        style,
        sign,
        planned,
        row.ts,
        reference,
        chased,
        received=received,
        account=account_of_row(row),
    )
    store.new_leg(leg, (remainder_id(coid),) if chased else ())
    _change(store, None, leg)


def _fill(store: Store, row: SummaryRow) -> None:
    leg = store.leg(str(row.client_order_id))
    if leg is None:
        return  # an order whose intent is not on record (not ours), or a closed leg
    try:
        qty, price = strictly_positive(row.qty), strictly_positive(row.price)
    except ValueError:
        store.skip("fill that cannot be read")
        return
    before = leg.figures()
    leg.filled += qty
    leg.cost += qty * price
    if leg.first_fill is None:
        leg.first_fill = row.ts
    leg.last_fill = row.ts
    if leg.completed_at is None and leg.filled >= leg.planned:
        leg.completed_at = row.ts
        leg.closed = True
    store.set_leg(leg)
    _change(store, before, leg)


def _final(store: Store, row: SummaryRow) -> None:
    coid = str(row.client_order_id)
    leg = store.leg(coid)
    if leg is None:
        return
    before = leg.figures()
    leg.ended = True
    # a chased limit that ended unfilled is followed by its market remainder (or by nothing,
    # when the chase was superseded): it stays open
    if not (leg.chased and coid == leg.coid):
        leg.closed = True
    store.set_leg(leg)
    _change(store, before, leg)


class MemoryStore:
    """The summaries in memory: what a recomputation from the rows builds.

    ``keep_closed=False`` drops a leg once it is closed (nothing changes it any more), after
    handing it to ``on_closed``: a recomputation then holds only the legs still open.
    """

    def __init__(self, lookups: Lookups | None = None, *, keep_closed: bool = True) -> None:
        # every key starts with the account
        self.counts: dict[tuple[str, int, int, str, str, str], int] = {}
        self.algo_counts: dict[tuple[str, int, str], int] = {}  # (algorithm, status), all days
        self.algo_pnl: dict[tuple[str, int], Pnl] = {}  # per algorithm, all days, in write order
        self.algo_day: dict[tuple[str, int, int], Pnl] = {}  # per algorithm and day (the chart)
        self.positions: dict[tuple[str, int, str], Position] = {}
        self.pnl: dict[tuple[str, int, int, str], Pnl] = {}
        self.legs: dict[str, Leg] = {}  # by every name a leg's rows may carry
        self.heads: dict[str, Leg] = {}  # every leg, by its own id (kept or still open)
        self.figures: dict[tuple[str, int, str], Figures] = {}
        self.skipped: dict[str, int] = {}
        self._lookups = lookups
        self._keep_closed = keep_closed
        self.closed: list[Leg] = []  # legs closed since the caller last emptied this

    def count(
        self, account: str, algo_id: int, day: int, symbol: str, status: str, reason: str
    ) -> None:
        key = (account, algo_id, day, symbol, status, reason)
        self.counts[key] = self.counts.get(key, 0) + 1
        total = (account, algo_id, status)
        self.algo_counts[total] = self.algo_counts.get(total, 0) + 1

    def position(self, account: str, algo_id: int, symbol: str) -> Position:
        found = self.positions.get((account, algo_id, symbol))
        return Position() if found is None else found.copy()

    def set_position(self, account: str, algo_id: int, symbol: str, position: Position) -> None:
        self.positions[account, algo_id, symbol] = position

    def add_pnl(self, account: str, algo_id: int, day: int, symbol: str, pnl: Pnl) -> None:
        key = (account, algo_id, day, symbol)
        self.pnl[key] = self.pnl.get(key, Pnl()) + pnl
        algo = (account, algo_id)
        self.algo_pnl[algo] = self.algo_pnl.get(algo, Pnl()) + pnl
        daily = (account, algo_id, day)
        self.algo_day[daily] = self.algo_day.get(daily, Pnl()) + pnl

    def leg(self, coid: str) -> Leg | None:
        found = self.legs.get(coid)
        return None if found is None or found.closed else found

    def intent_leg(self, coid: str) -> Leg | None:
        return self.leg(coid)

    def new_leg(self, leg: Leg, aliases: tuple[str, ...]) -> None:
        for name in (leg.coid, *aliases):
            self.legs[name] = leg
        self.heads[leg.coid] = leg

    def set_leg(self, leg: Leg) -> None:
        if leg.closed and not self._keep_closed:
            self.closed.append(leg)
            for name in (leg.coid, remainder_id(leg.coid)):
                if self.legs.get(name) is leg:
                    del self.legs[name]
            if self.heads.get(leg.coid) is leg:
                del self.heads[leg.coid]

    def add_figures(self, account: str, algo_id: int, style: str, delta: Figures) -> None:
        key = (account, algo_id, style)
        self.figures[key] = self.figures.get(key, ZERO_FIGURES).plus(delta)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def note_intent(self, coid: str, price: Any) -> None:
        pass  # its fills ask the rows (:class:`Lookups`)

    def intent_price(self, coid: str) -> Any:
        return None if self._lookups is None else self._lookups.intent_price(coid)

    def signal_leg(self, leg_key: Any) -> tuple[Any, Any] | None:
        return None if self._lookups is None else self._lookups.signal_leg(leg_key)
