"""Execution quality per algorithm and execution style, from the journal's order rows.

A *leg* here is one order the planner decided (one INTENT), with everything that executed it:
for a chased ``limit_then_market`` limit, its market remainder (``<limit id>-m``) too. Each leg
gets one style:

* ``market``, ``limit``, ``limit_then_market`` (a limit that carries chase terms): entries and
  the algorithm's closes, measured against the **signal's price** (the price on the leg AlphaHub
  sent), signed so that positive is worse for us (a buy above it, a sell below it);
* ``exit limit`` (take-profit), ``exit stop`` (stop-loss), ``exit trailing_stop``: exits are not
  entries and are kept out of the entries' rows. Their slippage is measured against their own
  order price (a stop's stop price: the gap through it; a take-profit's limit), where they have
  one (a trailing stop has none).

Per (algorithm, style): legs, how many filled completely, the fill rate (filled / planned
quantity, the legs still working included: what they have not filled is not filled yet), the
time to fill (from the intent's journal time, i.e. the moment the order was decided and made
durable, to the fill that completed it; median and 90th percentile, of completely filled legs
only) and the quantity-weighted slippage in basis points.

Streamed in time order with flat memory: a leg is dropped from memory as soon as it is complete
(filled, or ended with no remainder to come); only legs still open are held, and one integer
per filled leg for the percentiles. Rows that cannot be read (damaged by hand, a bug) are
skipped one by one and counted by reason: the report says what it left out, and never fails.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradebot.core.ids import remainder_id
from tradebot.journal.interface import Journal
from tradebot.journal.records import OrderRow, dec_text
from tradebot.journal.summary import (
    exit_reference,
    nearest_rank,
    strictly_positive,
    style_of,
)

_ZERO = Decimal(0)
_FINAL = frozenset({"canceled", "expired", "rejected", "failed"})
_FILLS = frozenset({"partial", "filled"})
#: the entries' styles, in the order they are shown; exits follow, then anything else
STYLES = ("market", "limit", "limit_then_market")


@dataclass(slots=True)
class _Leg:
    key: tuple[int, str]  # (algo, style)
    limit_id: str  # the intent's client order id (a chased leg's remainder is derived from it)
    sign: int  # +1 buy, -1 sell: positive slippage is worse for us either way
    planned: Decimal
    started: int  # the intent's journal time, microseconds
    reference: Decimal | None  # what slippage is measured against (None: not measured)
    chased: bool  # a remainder may follow this limit's end
    filled: Decimal = _ZERO
    cost: Decimal = _ZERO  # sum of fill qty x price
    completed_at: int | None = None
    ended: bool = False  # the broker ended it (canceled, expired, rejected, failed)


@dataclass
class StyleStats:
    """One row of the execution report: one algorithm's legs of one style."""

    algo_id: int
    style: str
    legs: int = 0
    filled_legs: int = 0  # filled completely
    partial_legs: int = 0  # ended with part of the quantity filled
    unfilled_legs: int = 0  # ended with nothing filled
    working: int = 0  # no final outcome yet, not completely filled
    planned_qty: Decimal = _ZERO
    filled_qty: Decimal = _ZERO
    slippage: Decimal = _ZERO  # money, against the reference, positive = worse for us
    slipped_notional: Decimal = _ZERO  # reference notional of the measured fills
    unmeasured_legs: int = 0  # filled something, but no reference price to measure against
    seconds: array[int] = field(default_factory=lambda: array("q"))  # time to fill, microseconds
    #: instead of ``seconds``: the time to fill at each quantile, already picked by nearest
    #: rank (from the journal's summaries), in microseconds
    ranked: dict[float, int | None] | None = None

    @property
    def fill_rate(self) -> Decimal | None:
        if not self.planned_qty:
            return None
        return (self.filled_qty / self.planned_qty * 100).quantize(Decimal("0.1"))

    @property
    def slippage_bps(self) -> Decimal | None:
        if not self.slipped_notional:
            return None
        return (self.slippage / self.slipped_notional * 10_000).quantize(Decimal("0.01"))

    def time_to_fill(self, fraction: float) -> Decimal | None:
        """Seconds to fill at this quantile (nearest rank: a time some leg really took)."""
        if self.ranked is not None:
            picked = self.ranked.get(fraction)
        elif self.seconds:
            picked = sorted(self.seconds)[nearest_rank(fraction, len(self.seconds))]
        else:
            picked = None
        return None if picked is None else (Decimal(picked) / 1_000_000).quantize(Decimal("0.001"))

    def as_dict(self) -> dict[str, Any]:
        rate, bps = self.fill_rate, self.slippage_bps
        return {
            "algo_id": self.algo_id,
            "style": self.style,
            "legs": self.legs,
            "filled": self.filled_legs,
            "partial": self.partial_legs,
            "unfilled": self.unfilled_legs,
            "working": self.working,
            "planned_qty": dec_text(self.planned_qty),
            "filled_qty": dec_text(self.filled_qty),
            "fill_rate_pct": None if rate is None else dec_text(rate),
            "median_fill_s": dec_text(self.time_to_fill(0.5)),
            "p90_fill_s": dec_text(self.time_to_fill(0.9)),
            "slippage_bps": None if bps is None else dec_text(bps),
            "unmeasured_legs": self.unmeasured_legs,
        }


@dataclass
class ExecutionReport:
    rows: list[StyleStats]
    skipped: Counter[str]  # journal rows left out, by reason

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [r.as_dict() for r in self.rows],
            "skipped_rows": dict(sorted(self.skipped.items())),
        }


def style_order(style: str) -> tuple[int, str]:
    """Where an execution row is shown among its algorithm's: entries, exits, the rest."""
    if style in STYLES:
        return (STYLES.index(style), style)
    return (len(STYLES) + (0 if style.startswith("exit ") else 1), style)


class ExecutionTally:
    """The streaming state: legs still open, and the figures of those already complete."""

    def __init__(self) -> None:
        self.open: dict[str, _Leg] = {}  # by client order id (a remainder: its limit's leg)
        self.stats: dict[tuple[int, str], StyleStats] = {}
        self.skipped: Counter[str] = Counter()

    def feed(self, row: OrderRow) -> None:
        """One more row, in time order."""
        if not isinstance(row.client_order_id, str):
            self.skipped["row without an order id"] += 1
        elif row.status == "intent":
            self.intent(row)
        elif row.status in _FILLS:
            self.fill(row)
        elif row.status in _FINAL:
            self.final(row)

    def intent(self, row: OrderRow) -> None:
        coid = str(row.client_order_id)
        known = self.open.get(coid)
        if known is not None:
            if known.chased and coid != known.limit_id:
                known.ended = False  # the limit's market remainder: now working, same leg
                return
            self.skipped["intent journaled twice"] += 1
            return
        try:
            data = json.loads(row.data)
            style = style_of(data)  # data that is no object: a TypeError, caught below
            algo = row.algo_id
            if not isinstance(algo, int) or isinstance(algo, bool):
                raise ValueError("no algorithm")
            side = {"buy": 1, "sell": -1}[row.side]
            planned = strictly_positive(row.qty)
            if style.startswith("exit "):
                reference = exit_reference(data)
            else:
                reference = (
                    None if row.signal_price is None else strictly_positive(row.signal_price)
                )
        except (ValueError, KeyError, TypeError):
            self.skipped["intent that cannot be read"] += 1
            return
        chased = style == "limit_then_market"
        leg = _Leg((algo, style), coid, side, planned, row.ts, reference, chased)
        self.open[coid] = leg
        if chased:
            self.open[remainder_id(coid)] = leg

    def fill(self, row: OrderRow) -> None:
        leg = self.open.get(str(row.client_order_id))
        if leg is None:
            return  # an order decided before the window, or not ours
        try:
            qty, price = strictly_positive(row.qty), strictly_positive(row.price)
        except ValueError:
            self.skipped["fill that cannot be read"] += 1
            return
        leg.filled += qty
        leg.cost += qty * price
        if leg.completed_at is None and leg.filled >= leg.planned:
            leg.completed_at = row.ts
            self._close(leg)

    def final(self, row: OrderRow) -> None:
        coid = str(row.client_order_id)
        leg = self.open.get(coid)
        if leg is None:
            return
        leg.ended = True
        # a chased limit that ended unfilled is followed by its market remainder (or by
        # nothing, when the chase was superseded): it stays open until the journal ends
        if not (leg.chased and coid == leg.limit_id):
            self._close(leg)

    def _close(self, leg: _Leg) -> None:
        for name in (leg.limit_id, remainder_id(leg.limit_id)) if leg.chased else (leg.limit_id,):
            if self.open.get(name) is leg:
                del self.open[name]
        self._count(leg)

    def _count(self, leg: _Leg) -> None:
        algo, style = leg.key
        stats = self.stats.get(leg.key)
        if stats is None:
            stats = self.stats[leg.key] = StyleStats(algo, style)
        stats.legs += 1
        stats.planned_qty += leg.planned
        stats.filled_qty += leg.filled
        if leg.completed_at is not None:
            stats.filled_legs += 1
            stats.seconds.append(max(0, leg.completed_at - leg.started))
        elif not leg.ended:
            stats.working += 1
        elif leg.filled:
            stats.partial_legs += 1
        else:
            stats.unfilled_legs += 1
        if leg.filled:
            if leg.reference is None:
                stats.unmeasured_legs += 1
            else:
                stats.slippage += (leg.cost - leg.reference * leg.filled) * leg.sign
                stats.slipped_notional += leg.reference * leg.filled

    def finish(self) -> ExecutionReport:
        seen: set[int] = set()
        for leg in self.open.values():
            if id(leg) not in seen:  # a chased leg is held under two names
                seen.add(id(leg))
                self._count(leg)
        self.open.clear()
        rows = sorted(self.stats.values(), key=lambda s: (s.algo_id, style_order(s.style)))
        return ExecutionReport(rows, self.skipped)


def tally(rows: Iterable[OrderRow]) -> ExecutionReport:
    """The execution report of these order rows (oldest first)."""
    state = ExecutionTally()
    for row in rows:
        state.feed(row)
    return state.finish()


def execution_report(
    journal: Journal, *, since: datetime | None = None, until: datetime | None = None
) -> ExecutionReport:
    """Per algorithm and execution style, for the legs decided in ``[since, until)`` and what
    filled them before ``until``."""
    return tally(journal.order_history(since=since, until=until))
