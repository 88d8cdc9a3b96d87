"""The ideal's sizing order, the chain's replay and the basis points' allocations as they were
written before they were made faster (issue 24), kept as the slow reference
``test_same_figures.py`` holds the fast code equal to: legs ordered by a key made per leg, one
ledger's trades read stage flag by stage flag, sorted by a key made per trade, a
position made for every trade; every open leg's allocation computed again."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from tradebot.core.sizing import SizingStrategy
from tradebot.journal.summary import Position
from tradebot.tracking.chain import Outcome, Sizer, Stage, _fees
from tradebot.tracking.facts import Fate, Period, Style
from tradebot.tracking.rules_in_force import InForce, Rules, Unrecorded
from tradebot.tracking.sizing import allocation

_ZERO = Decimal(0)


def _actions(
    period: Period, stage: Stage, ideal: dict[str, Decimal | None]
) -> Iterator[tuple[int, int, str, Decimal | None, Decimal]]:
    for leg in period.legs:
        if leg.fate is Fate.MISSED and not stage.missed:
            continue
        if leg.fate is Fate.SKIPPED and leg.reason in stage.dropped:
            continue
        if leg.fate is Fate.CLOSED_BY_EXIT and stage.exits:
            continue
        if leg.fate is Fate.TRADED and stage.sized:
            chased = Style.CHASED_REMAINDER not in stage.executed and any(
                o.style is Style.CHASED_REMAINDER for o in leg.orders
            )
            for order in leg.orders:
                if order.style in stage.executed:
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
    if stage.exits:
        for e in period.exits:
            yield e.fill.at, e.fill.seq, e.symbol, e.fill.qty, e.fill.price
    if stage.unattributed:
        for e in period.unattributed:
            yield e.fill.at, e.fill.seq, e.symbol, e.fill.qty, e.fill.price


def ideal_sizes(period: Period, sizer: Sizer) -> dict[str, Decimal | None]:
    holdings: dict[str, Decimal] = {}
    sizes: dict[str, Decimal | None] = {}
    for leg in sorted(period.legs, key=lambda leg: (leg.at, leg.seq)):
        if not leg.is_open:
            holdings.pop(leg.symbol, None)
            continue
        qty = sizer(leg, dict(holdings))
        sizes[leg.key] = qty
        if qty:
            signed = qty if leg.buy else -qty
            holdings[leg.symbol] = holdings.get(leg.symbol, _ZERO) + signed
    return sizes


def ledger_outcome(
    period: Period,
    stage: Stage,
    ideal: dict[str, Decimal | None],
    curve: list[tuple[int, Decimal]] | None = None,
) -> Outcome:
    held: dict[str, Position] = {}
    realised = _ZERO
    start = period.since
    for at, _seq, symbol, qty, price in sorted(
        _actions(period, stage, ideal), key=lambda a: (a[0], a[1])
    ):
        p = held.setdefault(symbol, Position())
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


def allocations_seen(
    used: Mapping[str, tuple[int, Rules]],
    current: SizingStrategy[Any] | None,
    equity: Decimal,
    since: int | None,
) -> set[Decimal | None]:
    """The allocations of the rules that sized the period's open legs, each leg's computed."""

    def strategy(rules: Rules) -> SizingStrategy[Any] | None:
        if isinstance(rules, InForce):
            return rules.strategy
        return current if isinstance(rules, Unrecorded) else None

    return {
        allocation(s, equity)
        for at, r in used.values()
        if since is None or at >= since
        if (s := strategy(r)) is not None
    }
