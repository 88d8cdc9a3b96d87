"""The gap between the algorithm's result and the account's, as a chain of ledgers (pure).

The chain starts at the **algorithm's result**: every leg, at its signal price, open legs sized
by the config's rules in fractional shares (the sizer), closes flattening what the ideal holds.
Each step changes one thing, in this order:

1. ``missed``: the legs never received in time (backfill ``missed_stale``, ambiguous, journal
   only) are removed;
2. ``skipped:<reason>``: the legs skipped for that reason are removed, one reason per step;
3. ``sizing``: each traded leg takes its orders' planned quantity (whole-share rounding, and
   the account's sizing at the reference price) instead of the ideal's, still at the signal
   price;
4. ``execution:<style>``: the orders of that style (market, limit, chased remainder) trade
   their fills at the fill prices instead of the planned quantity at the signal price;
5. ``exits``: the stops' and take-profits' fills are added, and the algorithm's closes they had
   already done are removed;
6. ``unattributed``: the algorithm's fills of orders whose leg the journal does not hold;
7. ``fees``: the fees the journal records (none for Alpaca equities).

The last ledger holds exactly the account's fills for the algorithm: its P&L is the
**account's result**. Each part is the P&L of one ledger minus the next's, each ledger's P&L
rounded to the cent first, so the parts add up to the gap exactly, to the cent.

A ledger's P&L is what the review computes (:class:`tradebot.journal.summary.Position`, average
cost): realised at or after ``since``, plus the open quantity at the mark. A symbol held with
no mark is not valued (its realised P&L only), and is named, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import pairwise
from operator import attrgetter, itemgetter
from typing import Any

from tradebot.journal.summary import Position
from tradebot.tracking.facts import Fate, LegFact, Period, Style

_ZERO = Decimal(0)
_CENT = Decimal("0.01")

#: (leg, the ideal's holdings: symbol -> signed qty) -> the raw, fractional quantity of an open
#: leg by the config's rules (None: cannot be sized)
Sizer = Callable[[LegFact, Mapping[str, Decimal]], Decimal | None]


@dataclass(frozen=True, slots=True)
class Stage:
    """Which steps a ledger has taken."""

    missed: bool = True  # the missed legs are still in
    dropped: frozenset[str] = frozenset()  # skip reasons removed
    sized: bool = False
    executed: frozenset[Style] = frozenset()
    exits: bool = False
    unattributed: bool = False
    fees: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """One ledger's P&L: realised (in the period) plus unrealised at the marks."""

    realised: Decimal
    unrealised: Decimal
    unmarked: frozenset[str]  # held without a mark: not valued

    @property
    def pnl(self) -> Decimal:
        return cents(self.realised + self.unrealised)


def cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    money: Decimal


@dataclass(frozen=True, slots=True)
class Decomposition:
    algo_id: int
    algorithm: Outcome
    account: Outcome
    parts: tuple[Part, ...]
    unsized: int  # open legs the sizer could not size (left out of the ideal)
    steps: tuple[tuple[str, Outcome], ...] = field(default=())

    @property
    def gap(self) -> Decimal:
        return self.algorithm.pnl - self.account.pnl


def _actions(
    period: Period, stage: Stage, ideal: dict[str, Decimal | None]
) -> Iterator[tuple[int, int, str, Decimal | None, Decimal]]:
    """The ledger's trades: (at, seq, symbol, signed qty or None = flatten, price)."""
    # the stage's flags as locals: this loop runs once per leg and ledger
    missed, dropped, exits, sized = stage.missed, stage.dropped, stage.exits, stage.sized
    executed = stage.executed
    chased_in = Style.CHASED_REMAINDER in executed
    for leg in period.legs:
        fate = leg.fate
        if fate is Fate.MISSED and not missed:
            continue
        if fate is Fate.SKIPPED and leg.reason in dropped:
            continue
        if fate is Fate.CLOSED_BY_EXIT and exits:
            continue
        if fate is Fate.TRADED and sized:
            # a chased limit's unfilled rest is its remainder's to fill: until the remainder's
            # step, it stays planned at the signal's price
            chased = not chased_in and any(o.style is Style.CHASED_REMAINDER for o in leg.orders)
            for order in leg.orders:
                if order.style in executed:
                    for f in order.fills:
                        yield f.at, f.seq, leg.symbol, f.qty, f.price
                    rest = order.planned - sum((f.qty for f in order.fills), _ZERO)
                    if chased and order.style is Style.LIMIT and rest:
                        yield leg.at, leg.seq, leg.symbol, rest, leg.price
                elif order.planned:
                    yield leg.at, leg.seq, leg.symbol, order.planned, leg.price
            continue
        if not leg.is_open:
            yield leg.at, leg.seq, leg.symbol, None, leg.price
            continue
        qty = ideal.get(leg.key)
        if qty:
            yield leg.at, leg.seq, leg.symbol, qty if leg.buy else -qty, leg.price
    if exits:
        for e in period.exits:
            yield e.fill.at, e.fill.seq, e.symbol, e.fill.qty, e.fill.price
    if stage.unattributed:
        for e in period.unattributed:
            yield e.fill.at, e.fill.seq, e.symbol, e.fill.qty, e.fill.price


def _fees(period: Period) -> Decimal:
    total = _ZERO
    for leg in period.legs:
        for order in leg.orders:
            total += sum((f.fee for f in order.fills), _ZERO)
    for e in (*period.exits, *period.unattributed):
        total += e.fill.fee
    return total


#: an action's place in the replay: (time, row id); the sort is stable, so equal places keep
#: the order :func:`_actions` yields them in
_WHEN = itemgetter(0, 1)
#: a leg's place: (time, row id)
_LEG_WHEN = attrgetter("at", "seq")


def ledger_outcome(
    period: Period,
    stage: Stage,
    ideal: dict[str, Decimal | None],
    curve: list[tuple[int, Decimal]] | None = None,
) -> Outcome:
    """Replay one ledger (oldest first, as the journal wrote) and value it at the marks;
    ``curve``, when given, gets (time, realised P&L so far) after each trade in the period."""
    held: dict[str, Position] = {}
    realised = _ZERO
    start = period.since
    for at, _seq, symbol, qty, price in sorted(_actions(period, stage, ideal), key=_WHEN):
        p = held.get(symbol)
        if p is None:
            p = held[symbol] = Position()
        signed = -p.qty if qty is None else qty
        if not signed:
            continue
        gained = p.fill(signed, price)
        if start is None or at >= start:
            realised += gained
            if curve is not None:
                curve.append((at, realised))
    if stage.fees:
        realised -= _fees(period)
    unrealised = _ZERO
    unmarked = set()
    for symbol, p in held.items():
        if not p.qty:
            continue
        mark = period.marks.get(symbol)
        if mark is None:
            unmarked.add(symbol)
        else:
            unrealised += p.qty * (mark - p.cost)
    return Outcome(realised, unrealised, frozenset(unmarked))


def ideal_sizes(period: Period, sizer: Sizer) -> dict[str, Decimal | None]:
    """Each open leg's quantity in the algorithm's own ledger, sized with the ideal's holdings
    at the time (every leg traded, nothing missed)."""
    holdings: dict[str, Decimal] = {}
    sizes: dict[str, Decimal | None] = {}
    for leg in sorted(period.legs, key=_LEG_WHEN):
        if not leg.is_open:
            holdings.pop(leg.symbol, None)
            continue
        qty = sizer(leg, dict(holdings))
        sizes[leg.key] = qty
        if qty:
            signed = qty if leg.buy else -qty
            holdings[leg.symbol] = holdings.get(leg.symbol, _ZERO) + signed
    return sizes


def stages(period: Period) -> list[tuple[str, Stage]]:
    """The chain's ledgers, named by the step that made each (the first is the ideal)."""
    stage = Stage()
    out = [("algorithm", stage)]

    def step(name: str, **changes: Any) -> None:
        nonlocal stage
        stage = replace(stage, **changes)
        out.append((name, stage))

    step("missed", missed=False)
    for reason in sorted({leg.reason for leg in period.legs if leg.fate is Fate.SKIPPED}):
        step(f"skipped:{reason}", dropped=stage.dropped | {reason})
    step("sizing", sized=True)
    for style in Style:
        step(f"execution:{style}", executed=stage.executed | {style})
    step("exits", exits=True)
    step("unattributed", unattributed=True)
    step("fees", fees=True)
    return out


def idle(period: Period, name: str) -> bool:
    """Whether the step ``name`` changes nothing in this period (its ledger is the previous
    one: not replayed again)."""
    if name == "missed":
        return not any(leg.fate is Fate.MISSED for leg in period.legs)
    if name.startswith("execution:"):
        style = Style(name.partition(":")[2])
        used = {o.style for leg in period.legs if leg.fate is Fate.TRADED for o in leg.orders}
        return style not in used
    if name == "exits":
        closed = any(leg.fate is Fate.CLOSED_BY_EXIT for leg in period.legs)
        return not (period.exits or closed)
    if name == "unattributed":
        return not period.unattributed
    if name == "fees":
        return not _fees(period)
    return False


def decompose(period: Period, sizer: Sizer) -> Decomposition:
    """The algorithm's result, the account's, and the gap between them in parts that add up to
    it exactly (each part: one ledger's P&L minus the next's, in cents)."""
    ideal = ideal_sizes(period, sizer)
    unsized = sum(1 for v in ideal.values() if v is None)
    results: list[tuple[str, Outcome]] = []
    for name, stage in stages(period):
        if results and idle(period, name):
            results.append((name, results[-1][1]))
        else:
            results.append((name, ledger_outcome(period, stage, ideal)))
    parts = tuple(
        Part(name, before.pnl - after.pnl) for (_, before), (name, after) in pairwise(results)
    )
    return Decomposition(
        period.algo_id, results[0][1], results[-1][1], parts, unsized, tuple(results)
    )


def curves(period: Period, sizer: Sizer) -> tuple[list[tuple[int, Decimal]], ...]:
    """The realised P&L over time of the algorithm's ledger and of the account's (the chain's
    first and last): (time, realised so far) after each trade in the period."""
    ideal = ideal_sizes(period, sizer)
    chain = stages(period)
    out = []
    for _, stage in (chain[0], chain[-1]):
        points: list[tuple[int, Decimal]] = []
        ledger_outcome(period, stage, ideal, points)
        out.append(points)
    return tuple(out)
