"""One algorithm's :class:`~tradebot.tracking.facts.Period`, read from a journal (any store).

Reads the algorithm's LEG and SKIPPED rows (by its indexed ``algo_id``), and the order rows
every review reads (:meth:`Journal.order_history`: intents with their data, fills undecoded),
which also give the marks: the latest reference price (an intent's) or fill price per symbol.
The history of AlphaHub is not read: these are the journal's legs only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tradebot.core.ids import exit_parts
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.queries import fill_of
from tradebot.journal.records import Status, leg_id_from, to_micros
from tradebot.tracking.facts import (
    MISSED_REASONS,
    ExitFill,
    Fate,
    Fill,
    LegFact,
    Order,
    Period,
    Style,
)

_FILLS = frozenset({"partial", "filled"})


def _decimal(text: Any) -> Decimal | None:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


class _Intent:
    __slots__ = ("algo_id", "coid", "exit", "legs", "planned", "style", "symbol")

    def __init__(self, row: Any, data: dict[str, Any]) -> None:
        self.coid: str = row.client_order_id
        self.algo_id = row.algo_id
        self.symbol: str = row.symbol
        qty = _decimal(row.qty) or Decimal(0)
        self.planned = qty if row.side == "buy" else -qty
        self.exit = data.get("role") == "exit" or exit_parts(self.coid) is not None
        self.legs = []
        for d in data.get("legs", ()):
            try:
                self.legs.append(leg_id_from(d).key)
            except (KeyError, TypeError, ValueError):
                continue
        if data.get("order_type") == "limit":
            self.style = Style.LIMIT
        elif self.coid.endswith("-m"):
            self.style = Style.CHASED_REMAINDER
            # the rest of its limit's quantity, which the limit's intent already planned
            self.planned = Decimal(0)
        else:
            self.style = Style.MARKET


def read_period(
    journal: Journal, algo_id: int, *, since: datetime | None, until: datetime | None
) -> Period:
    """The algorithm's legs (all before ``until``: P&L needs what was held at ``since``), its
    orders and fills, and the marks."""
    intents: dict[str, _Intent] = {}
    fills: dict[str, list[Fill]] = defaultdict(list)
    marks: dict[str, tuple[int, int, Decimal]] = {}
    for row in journal.order_history(until=until, all_fills=True):
        price = _decimal(row.price)
        if isinstance(row.symbol, str) and price is not None and price > 0:
            known = marks.get(row.symbol)
            if known is None or (row.ts, row.id) > known[:2]:
                marks[row.symbol] = (row.ts, row.id, price)
        if row.algo_id != algo_id:
            continue
        if row.status == "intent":
            try:
                data = json.loads(row.data) if isinstance(row.data, str) else {}
            except ValueError:
                continue
            if isinstance(data, dict):
                intents[row.client_order_id] = _Intent(row, data)
        elif row.status in _FILLS:
            fact = fill_of(row)
            if fact is not None:
                signed = fact.qty if fact.side == "buy" else -fact.qty
                fills[row.client_order_id].append(Fill(row.ts, row.id, signed, fact.price))
    by_leg: dict[str, list[Order]] = defaultdict(list)
    served: set[str] = set()
    exits: list[ExitFill] = []
    unattributed: list[ExitFill] = []
    for coid, intent in intents.items():
        got = tuple(fills.get(coid, ()))
        if intent.exit:
            exits.extend(ExitFill(intent.symbol, f) for f in got)
            continue
        served.update(intent.legs)
        if intent.legs:
            by_leg[intent.legs[0]].append(Order(coid, intent.style, intent.planned, got))
    legs = _legs(journal, algo_id, until, by_leg, served)
    known_legs = {leg.key for leg in legs}
    for coid, intent in intents.items():
        if not intent.exit and (not intent.legs or intent.legs[0] not in known_legs):
            unattributed.extend(ExitFill(intent.symbol, f) for f in fills.get(coid, ()))
    for coid, stray in fills.items():
        if coid not in intents:
            unattributed.extend(ExitFill(_fill_symbol(journal, coid), f) for f in stray)
    return Period(
        algo_id,
        tuple(legs),
        tuple(exits),
        tuple(unattributed),
        {s: p for s, (_, _, p) in marks.items()},
        None if since is None else to_micros(since),
    )


def _fill_symbol(journal: Journal, coid: str) -> str:
    rows = journal.entries(EntryFilter(client_order_ids=(coid,), limit=1))
    return rows[0].symbol or "?" if rows else "?"


def _legs(
    journal: Journal,
    algo_id: int,
    until: datetime | None,
    by_leg: dict[str, list[Order]],
    served: set[str],
) -> list[LegFact]:
    where = EntryFilter(
        algo_ids=(algo_id,),
        statuses=(Status.LEG, Status.SKIPPED),
        until=until,
        newest_first=False,
    )
    heads: dict[str, Any] = {}
    skips: dict[str, tuple[str, bool]] = {}
    for e in journal.iter_entries(where):
        if not e.leg:
            continue
        if e.status is Status.LEG:
            if e.leg not in heads and e.price is not None and e.symbol and e.side:
                heads[e.leg] = e
        elif e.leg not in skips:
            reason = str(e.data.get("reason", "unknown"))
            skips[e.leg] = (reason, isinstance(e.data.get("exit"), dict))
    out = []
    for key, e in heads.items():
        kind = e.data.get("kind", "")
        orders = tuple(by_leg.get(key, ()))
        reason = ""
        if orders or key in served:
            fate = Fate.TRADED
        elif key in skips:
            reason, by_exit = skips[key]
            if reason in MISSED_REASONS:
                fate = Fate.MISSED
            elif reason == "not_held" and by_exit:
                fate = Fate.CLOSED_BY_EXIT
            else:
                fate = Fate.SKIPPED
        else:
            fate, reason = Fate.SKIPPED, "undecided"  # no plan on record (yet)
        out.append(
            LegFact(
                key,
                to_micros(e.at),
                e.id,
                e.symbol,
                kind == "open",
                e.side == "buy",
                e.price,
                fate,
                reason,
                orders,
            )
        )
    return out
