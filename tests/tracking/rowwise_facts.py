"""The row-by-row reading of a period: :mod:`tradebot.tracking.journal_facts` as it was
before its fast read (every order row of every algorithm through ``Journal.order_history``,
the legs and skips through ``Journal.iter_stored`` in id order, a fill of no intent placed on
its order's newest row's symbol), kept as the meaning the fast read is held to
(``test_fast_read.py``)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tradebot.core.ids import exit_parts, remainder_id
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
        elif self.coid == remainder_id(self.coid[:-2]):
            self.style = Style.CHASED_REMAINDER
            # the rest of its limit's quantity, which the limit's intent already planned
            self.planned = Decimal(0)
        else:
            self.style = Style.MARKET


def read_period(
    journal: Journal,
    algo_id: int,
    *,
    since: datetime | None,
    until: datetime | None,
    account: str | None = None,
) -> Period:
    """:func:`read_periods` of one algorithm."""
    return read_periods(journal, (algo_id,), since=since, until=until, account=account)[algo_id]


class _Orders:
    """One algorithm's intents and fills, as the order rows give them."""

    def __init__(self) -> None:
        self.intents: dict[str, _Intent] = {}
        self.fills: dict[str, list[Fill]] = defaultdict(list)


def read_periods(
    journal: Journal,
    algo_ids: Sequence[int],
    *,
    since: datetime | None,
    until: datetime | None,
    account: str | None = None,
) -> dict[int, Period]:
    """Each algorithm's legs (all before ``until``: P&L needs what was held at ``since``), its
    orders and fills, and the marks, in one pass over the order rows and one over the legs.
    ``account``: every LEG row (each account receives every leg), that account's SKIPPED and
    order rows (None: every account's); the marks of every account's order rows."""
    wanted = set(algo_ids)
    orders: dict[int, _Orders] = {a: _Orders() for a in wanted}
    marks: dict[str, tuple[int, int, Decimal]] = {}
    for row in journal.order_history(until=until, all_fills=True):
        price = _decimal(row.price)
        if isinstance(row.symbol, str) and price is not None and price > 0:
            known = marks.get(row.symbol)
            if known is None or (row.ts, row.id) > known[:2]:
                marks[row.symbol] = (row.ts, row.id, price)
        mine = orders.get(row.algo_id) if isinstance(row.algo_id, int) else None
        if mine is None or (account is not None and row.account != account):
            continue
        if row.status == "intent":
            try:
                data = json.loads(row.data) if isinstance(row.data, str) else {}
            except ValueError:
                continue
            if isinstance(data, dict):
                mine.intents[row.client_order_id] = _Intent(row, data)
        elif row.status in _FILLS:
            fact = fill_of(row)
            if fact is not None:
                signed = fact.qty if fact.side == "buy" else -fact.qty
                mine.fills[row.client_order_id].append(Fill(row.ts, row.id, signed, fact.price))
    heads, skips, damaged = _leg_rows(journal, sorted(wanted), until, account)
    prices = {s: p for s, (_, _, p) in marks.items()}
    start = None if since is None else to_micros(since)
    return {
        a: _period(
            journal, a, orders[a], heads.get(a, {}), skips.get(a, {}), prices, start, damaged[a]
        )
        for a in wanted
    }


def _period(
    journal: Journal,
    algo_id: int,
    mine: _Orders,
    heads: dict[str, _Head],
    skips: dict[str, tuple[str, bool]],
    marks: dict[str, Decimal],
    start: int | None,
    damaged: int,
) -> Period:
    by_leg: dict[str, list[Order]] = defaultdict(list)
    served: set[str] = set()
    exits: list[ExitFill] = []
    unattributed: list[ExitFill] = []
    for coid, intent in mine.intents.items():
        got = tuple(mine.fills.get(coid, ()))
        if intent.exit:
            exits.extend(ExitFill(intent.symbol, f) for f in got)
            continue
        served.update(intent.legs)
        if intent.legs:
            by_leg[intent.legs[0]].append(Order(coid, intent.style, intent.planned, got))
    legs = _legs(heads, skips, by_leg, served)
    for coid, intent in mine.intents.items():
        if not intent.exit and (not intent.legs or intent.legs[0] not in heads):
            unattributed.extend(ExitFill(intent.symbol, f) for f in mine.fills.get(coid, ()))
    for coid, stray in mine.fills.items():
        if coid not in mine.intents:
            unattributed.extend(ExitFill(_fill_symbol(journal, coid), f) for f in stray)
    return Period(algo_id, tuple(legs), tuple(exits), tuple(unattributed), marks, start, damaged)


def _fill_symbol(journal: Journal, coid: str) -> str:
    rows = journal.entries(EntryFilter(client_order_ids=(coid,), limit=1))
    return rows[0].symbol or "?" if rows else "?"


@dataclass(frozen=True, slots=True)
class _Head:
    """A LEG row, as the chain needs it."""

    id: int
    ts: int
    symbol: str
    buy: bool
    is_open: bool
    price: Decimal


def _head(row: Sequence[Any]) -> _Head | None:
    """A stored LEG row (:data:`tradebot.journal.queries.COLUMNS`), or None when damaged; its
    kind is in its key (``16:open:JBHT:buy:...``), so its data is never decoded."""
    ident, ts, _status, _algo, symbol, _coid, _signal, leg, side, _qty, price = row[:11]
    kind = leg.split(":")[1] if isinstance(leg, str) and leg.count(":") >= 4 else None
    value = _decimal(price)
    if kind not in ("open", "close") or side not in ("buy", "sell") or not isinstance(ts, int):
        return None
    if not isinstance(symbol, str) or not symbol or value is None or value <= 0:
        return None
    return _Head(ident, ts, symbol, side == "buy", kind == "open", value)


def _skip(data: Any) -> tuple[str, bool] | None:
    """A stored SKIPPED row's (reason, closed by an exit), or None when damaged."""
    try:
        found = json.loads(data) if isinstance(data, str) else None
    except ValueError:
        return None
    if not isinstance(found, dict) or not isinstance(found.get("reason"), str):
        return None
    return found["reason"], isinstance(found.get("exit"), dict)


def _leg_rows(
    journal: Journal, algo_ids: Sequence[int], until: datetime | None, account: str | None
) -> tuple[dict[int, dict[str, _Head]], dict[int, dict[str, tuple[str, bool]]], dict[int, int]]:
    """Per algorithm, its LEG rows by leg key (the first), its skips: (reason, closed by an
    exit); and how many of its rows were damaged (left out)."""
    where = EntryFilter(
        algo_ids=tuple(algo_ids),
        statuses=(Status.LEG, Status.SKIPPED),
        until=until,
        newest_first=False,
    )
    heads: dict[int, dict[str, _Head]] = defaultdict(dict)
    skips: dict[int, dict[str, tuple[str, bool]]] = defaultdict(dict)
    damaged: dict[int, int] = defaultdict(int)
    for row in journal.iter_stored(where):
        algo, leg, status = row[3], row[7], row[2]
        if not isinstance(leg, str) or not isinstance(algo, int):
            continue  # a skip of a leg that never parsed: nothing to price
        if status == Status.SKIPPED and account is not None and row[13] != account:
            continue  # another account's decision
        if status == Status.LEG:
            if leg not in heads[algo]:
                head = _head(row)
                if head is None:
                    damaged[algo] += 1
                else:
                    heads[algo][leg] = head
        elif leg not in skips[algo]:
            skip = _skip(row[12])
            if skip is None:
                damaged[algo] += 1
            else:
                skips[algo][leg] = skip
    return heads, skips, damaged


def _legs(
    heads: dict[str, _Head],
    skips: dict[str, tuple[str, bool]],
    by_leg: dict[str, list[Order]],
    served: set[str],
) -> list[LegFact]:
    out = []
    for key, e in heads.items():
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
                e.ts,
                e.id,
                e.symbol,
                e.is_open,
                e.buy,
                e.price,
                fate,
                reason,
                orders,
            )
        )
    return out
