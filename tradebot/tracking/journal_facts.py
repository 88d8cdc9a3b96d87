"""The algorithms' :class:`~tradebot.tracking.facts.Period`, read from a journal (any store).

Reads, for the chosen algorithms only and one status at a time
(:meth:`Journal.tracking_rows <tradebot.journal.interface.Journal.tracking_rows>`: narrow rows,
only the columns used, no subquery per row): the LEG and SKIPPED rows, the intents (their
data: style, role, legs) and the fills. The marks are read per symbol the period holds: its
latest price (an intent's reference or a fill's) among every algorithm's order rows
(:meth:`Journal.order_prices`), never a scan of all of them.

What a row means is the row-by-row reading's (the first readable LEG and skip row of a leg, by
id; a damaged row left out and counted); ``tests/tracking/test_fast_read.py`` holds the two
equal on generated journals. A fill whose order is not the algorithm's intent is placed on its
own row's symbol (as the review places it). The history of AlphaHub is not read: these are the
journal's legs only.
"""

from __future__ import annotations

import gc
import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from tradebot.journal.interface import Journal
from tradebot.journal.queries import positive
from tradebot.journal.records import Status, to_micros
from tradebot.journal.track_summary import (
    Summary,
    decimal,
    fills,
    head_of,
    intent_data,
    intent_of,
    skip_of,
)
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


def _decimal(text: Any) -> Decimal | None:
    return decimal(text)


#: distinct texts remembered per read, at most (past it, each is parsed again)
_REMEMBERED = 50_000


class _Texts:
    """Stored texts read once each: an amount that repeats is one Decimal, a symbol one string
    (a million rows name a few hundred symbols, and far fewer amounts than rows), which keeps
    a large period's memory down. The rules are :func:`_decimal`'s and :func:`positive`'s."""

    def __init__(self) -> None:
        self._decimals: dict[str, Decimal | None] = {}
        self._positives: dict[str, Decimal | None] = {}
        self._symbols: dict[str, str] = {}

    def decimal(self, text: Any) -> Decimal | None:
        if type(text) is not str:
            return _decimal(text)
        if text in self._decimals:
            return self._decimals[text]
        value = _decimal(text)
        if len(self._decimals) < _REMEMBERED:
            self._decimals[text] = value
        return value

    def positive(self, text: Any) -> Decimal | None:
        if type(text) is not str:
            return positive(text)
        if text in self._positives:
            return self._positives[text]
        value = positive(text)
        if len(self._positives) < _REMEMBERED:
            self._positives[text] = value
        return value

    def symbol(self, text: Any) -> Any:
        if type(text) is not str:
            return text
        return self._symbols.setdefault(text, text)


class _Intent:
    __slots__ = ("exit", "legs", "planned", "style", "symbol")

    def __init__(
        self,
        coid: str,
        symbol: Any,
        side: Any,
        amount: Decimal | None,
        data: dict[str, Any],
        heads: dict[str, tuple[int, _Head]],
    ) -> None:
        self.symbol: str = symbol
        found = intent_of(coid, side, amount, data)
        self.planned, self.exit, self.style = found.planned, found.exit, Style(found.style)
        legs = []
        for key in found.legs:
            head = heads.get(key)  # its LEG row's key: one string for both, not two
            legs.append(key if head is None else head[1].key)
        self.legs = tuple(legs)


class _Orders:
    """One algorithm's intents and fills; a fill of no intent of its own, with its row's
    symbol."""

    def __init__(self) -> None:
        self.intents: dict[str, _Intent] = {}
        self.fills: dict[str, list[Fill]] = defaultdict(list)
        self.strays: dict[str, list[tuple[Fill, str]]] = defaultdict(list)


@dataclass(frozen=True, slots=True)
class _Head:
    """A LEG row, as the chain needs it."""

    id: int
    ts: int
    symbol: str
    buy: bool
    is_open: bool
    price: Decimal
    key: str


class _First:
    """Per (algorithm, leg key): the readable row with the lowest id, and the ids of the
    unreadable ones (those below it are what the row-by-row reading counts as damaged), from
    rows seen in any order."""

    def __init__(self) -> None:
        self.found: dict[int, dict[str, tuple[int, Any]]] = defaultdict(dict)
        self.bad: dict[tuple[int, str], list[int]] = defaultdict(list)

    def see(self, algo: int, key: str, ident: int, value: Any) -> None:
        if value is None:
            self.bad[algo, key].append(ident)
            return
        mine = self.found[algo]
        known = mine.get(key)
        if known is None or ident < known[0]:
            mine[key] = (ident, value)

    def damaged(self, into: dict[int, int]) -> None:
        for (algo, key), ids in self.bad.items():
            first = self.found[algo].get(key)
            into[algo] += sum(1 for i in ids if first is None or i < first[0])

    def in_id_order(self, algo: int) -> dict[str, Any]:
        """The algorithm's rows by key, in the order of their ids (then forgotten here)."""
        mine = self.found.pop(algo, {})
        return {k: v for k, (_, v) in sorted(mine.items(), key=lambda kv: kv[1][0])}


def _head(
    ident: int, ts: Any, symbol: Any, leg: str, side: Any, value: Decimal | None
) -> _Head | None:
    """A stored LEG row (``value``: its price, by :func:`decimal`), or None when damaged."""
    found = head_of(ts, symbol, leg, side, value)
    if found is None:
        return None
    return _Head(ident, found.ts, found.symbol, found.buy, found.is_open, found.price, leg)


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


def read_periods(
    journal: Journal,
    algo_ids: Sequence[int],
    *,
    since: datetime | None,
    until: datetime | None,
    account: str | None = None,
) -> dict[int, Period]:
    """Each algorithm's legs (all before ``until``: P&L needs what was held at ``since``), its
    orders and fills, and the marks of the symbols they name (one dict, shared): from the
    tracking summary when the period runs to the journal's end (``until`` None), else from
    the rows (:func:`read_periods_from_rows`). ``account``: the legs (every account receives
    them) with that account's skips, orders and fills; None: every account's as one. The
    marks are the market's: any account's order rows."""
    if until is not None:
        return read_periods_from_rows(journal, algo_ids, since=since, until=until, account=account)
    with collector_paused():
        return _summary_periods(journal, algo_ids, since=since, account=account)


def read_periods_from_rows(
    journal: Journal,
    algo_ids: Sequence[int],
    *,
    since: datetime | None,
    until: datetime | None,
    account: str | None = None,
) -> dict[int, Period]:
    """:func:`read_periods`, from the rows whatever the period (what the summary holds)."""
    with collector_paused():
        return _read_periods(journal, algo_ids, since=since, until=until, account=account)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cycle collector paused while a large period is read and decomposed (a decorator
    too): the rows make hundreds of thousands of objects that live until the chain is done,
    none in a cycle, and each full collection walked them all again (a third of the read's
    time on a million rows). Reference counting still frees everything as before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_periods(
    journal: Journal,
    algo_ids: Sequence[int],
    *,
    since: datetime | None,
    until: datetime | None,
    account: str | None,
) -> dict[int, Period]:
    wanted = sorted(set(algo_ids))
    orders = {a: _Orders() for a in wanted}
    symbols: set[str] = set()
    texts = _Texts()
    heads, skips, damaged = _leg_rows(journal, wanted, until, texts, account)
    _read_orders(journal, wanted, until, account, orders, symbols, texts, heads)
    for by_key in heads.found.values():
        symbols.update(h.symbol for _, h in by_key.values())
    marks = _marks(journal, symbols, until)
    start = None if since is None else to_micros(since)
    out = {}
    for a in wanted:  # each algorithm's rows let go of as its period is made
        mine, its_heads, its_skips = orders.pop(a), heads.in_id_order(a), skips.in_id_order(a)
        out[a] = _period(a, mine, its_heads, its_skips, marks, start, damaged[a])
    return out


def _read_orders(
    journal: Journal,
    wanted: Sequence[int],
    until: datetime | None,
    account: str | None,
    orders: dict[int, _Orders],
    symbols: set[str],
    texts: _Texts,
    heads: _First,
) -> None:
    """The intents (oldest first, so each algorithm's in the order they were written) and the
    fills (per order, oldest first)."""
    for _id, _ts, algo, symbol, coid, side, qty, data in journal.tracking_rows(
        Status.INTENT, algo_ids=wanted, until=until, account=account
    ):
        mine = orders.get(algo) if isinstance(algo, int) else None
        if mine is None:
            continue
        found = intent_data(data)
        if found is not None:
            symbol = texts.symbol(symbol)
            known = heads.found.get(algo, {})
            mine.intents[coid] = _Intent(coid, symbol, side, texts.decimal(qty), found, known)
            if isinstance(symbol, str):
                symbols.add(symbol)
    fills = [
        journal.tracking_rows(status, algo_ids=wanted, until=until, account=account)
        for status in (Status.PARTIAL, Status.FILLED)
    ]
    for ident, ts, algo, symbol, coid, side, qty, price in _merged(fills):
        mine = orders.get(algo) if isinstance(algo, int) else None
        if mine is None or side not in ("buy", "sell") or not isinstance(symbol, str):
            continue
        amount, paid = texts.positive(qty), texts.positive(price)
        if amount is None or paid is None:
            continue
        fill = Fill(ts, ident, amount if side == "buy" else -amount, paid)
        if coid in mine.intents:
            mine.fills[coid].append(fill)
        else:  # every intent is read by now
            symbol = texts.symbol(symbol)
            mine.strays[coid].append((fill, symbol))
            symbols.add(symbol)


def _merged(streams: Sequence[Iterable[tuple[Any, ...]]]) -> Iterator[tuple[Any, ...]]:
    """Rows of several statuses in ``(ts, id)`` order (each stream is in it already)."""
    return heapq.merge(*streams, key=lambda r: (r[1], r[0]))


def mark_more(
    journal: Journal, periods: Mapping[int, Period], symbols: Iterable[str], until: datetime | None
) -> None:
    """Mark ``symbols`` too, in the marks every period of one :func:`read_periods` shares (legs
    added to the periods after the read, AlphaHub's history's, may name symbols the journal's
    legs and orders do not)."""
    shared = next(iter(periods.values())).marks if periods else None
    if shared is not None:
        shared.update(_marks(journal, {s for s in symbols if s not in shared}, until))


def _marks(journal: Journal, symbols: Iterable[str], until: datetime | None) -> dict[str, Decimal]:
    """Per symbol, the latest price on any algorithm's order rows before ``until`` (a symbol
    with none: no mark)."""
    out = {}
    for symbol in sorted(symbols):
        for _ts, _id, price in journal.order_prices(symbol, until=until):
            value = _decimal(price)
            if value is not None and value > 0:
                out[symbol] = value
                break
    return out


def _leg_rows(
    journal: Journal,
    algo_ids: Sequence[int],
    until: datetime | None,
    texts: _Texts,
    account: str | None,
) -> tuple[_First, _First, dict[int, int]]:
    """Per algorithm, its LEG rows by leg key (the first readable, by id: :class:`_Head`), its
    skips (``account``'s; None: any account's): (reason, closed by an exit); and how many of
    its rows were damaged (left out)."""
    heads, skips = _First(), _First()
    for ident, ts, algo, symbol, leg, side, price in journal.tracking_rows(
        Status.LEG, algo_ids=algo_ids, until=until
    ):
        if isinstance(leg, str) and isinstance(algo, int):
            head = _head(ident, ts, texts.symbol(symbol), leg, side, texts.decimal(price))
            heads.see(algo, leg, ident, head)
    for ident, _ts, algo, leg, data in journal.tracking_rows(
        Status.SKIPPED, algo_ids=algo_ids, until=until, account=account
    ):
        if isinstance(leg, str) and isinstance(algo, int):  # else a leg that never parsed
            skips.see(algo, leg, ident, skip_of(data))
    damaged: dict[int, int] = defaultdict(int)
    heads.damaged(damaged)
    skips.damaged(damaged)
    return heads, skips, damaged


def _period(
    algo_id: int,
    mine: _Orders,
    heads: dict[str, _Head],
    skips: dict[str, tuple[str, bool]],
    marks: dict[str, Decimal],
    start: int | None,
    damaged: int,
) -> Period:
    """One algorithm's period from its rows."""
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
    for stray in mine.strays.values():
        unattributed.extend(ExitFill(symbol, f) for f, symbol in stray)
    return Period(algo_id, tuple(legs), tuple(exits), tuple(unattributed), marks, start, damaged)


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
            LegFact(key, e.ts, e.id, e.symbol, e.is_open, e.buy, e.price, fate, reason, orders)
        )
    return out


# -- from the tracking summary ------------------------------------------------------------------
def _summary_periods(
    journal: Journal, algo_ids: Sequence[int], *, since: datetime | None, account: str | None
) -> dict[int, Period]:
    """Each algorithm's period from the tracking summary (:mod:`tradebot.journal.track_summary`):
    a row per leg and per order, every value already read; what it means is the row read's."""
    texts = _Texts()
    symbols: set[str] = set()
    marks: dict[str, Decimal] = {}
    start = None if since is None else to_micros(since)
    out: dict[int, Period] = {}
    unreadable = []
    for algo_id in sorted(set(algo_ids)):
        try:
            found = journal.tracking_summary(algo_id, account=account)
            out[algo_id] = _summary_period(algo_id, found, texts, symbols, marks, start)
        except _UNREADABLE:
            # a summary edited by hand (``journal verify`` says so): never fatal, and never
            # guessed; this algorithm is read from its rows
            unreadable.append(algo_id)
    marks.update(_marks(journal, symbols, None))
    if unreadable:
        rows = _read_periods(journal, unreadable, since=since, until=None, account=account)
        for algo_id, period in rows.items():
            marks.update(period.marks)
            out[algo_id] = replace(period, marks=marks)  # one dict, shared (:func:`mark_more`)
    return {a: out[a] for a in sorted(out)}


#: what a stored summary value that no write of ours makes raises as it is read
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError)


class _Damaged(ValueError):
    """A summary value no write of ours makes (a hand's edit)."""


def _fills(text: str, texts: _Texts) -> list[tuple[Fill, str]]:
    """An order's fills (``fills`` column), oldest first by ``(ts, id)``, each with its own
    row's symbol; one fill, the common case, split here without a sort."""
    number = texts.decimal
    if ";" not in text:
        ts, ident, qty, price, symbol = text.split(" ")
        if "%" in symbol:
            symbol = unquote(symbol)
        return [(_fill(int(ts), int(ident), number(qty), number(price)), texts.symbol(symbol))]
    return [
        (_fill(ts, ident, number(qty), number(price)), texts.symbol(symbol))
        for ts, ident, qty, price, symbol in sorted(fills(text))
    ]


def _fill(ts: int, ident: int, qty: Decimal | None, price: Decimal | None) -> Fill:
    if qty is None or price is None:
        raise _Damaged(ident)  # written as the text of a Decimal
    return Fill(ts, ident, qty, price)


#: the execution styles by their stored value
_STYLES = {s.value: s for s in Style}


def _order_fills(text: Any, number: Callable[[Any], Decimal | None]) -> tuple[Fill, ...]:
    """:func:`_fills` without the symbols (an intent's order is on the intent's); one fill,
    the common case, split here without a sort."""
    if not text:
        return ()
    if ";" not in text:
        ts, ident, qty, price, _symbol = text.split(" ")
        return (_fill(int(ts), int(ident), number(qty), number(price)),)
    return tuple(
        _fill(ts, ident, number(qty), number(price))
        for ts, ident, qty, price, _symbol in sorted(fills(text))
    )


def _fate(served: Any, skip_id: Any, reason: Any, by_exit: Any) -> tuple[Fate, str]:
    if served:
        return Fate.TRADED, ""
    if skip_id is None:
        return Fate.SKIPPED, "undecided"  # no plan on record (yet)
    if reason in MISSED_REASONS:
        return Fate.MISSED, reason
    if reason == "not_held" and by_exit:
        return Fate.CLOSED_BY_EXIT, reason
    return Fate.SKIPPED, reason


def _summary_period(
    algo_id: int,
    found: Summary,
    texts: _Texts,
    symbols: set[str],
    marks: dict[str, Decimal],
    start: int | None,
) -> Period:
    number, symbol_of = texts.decimal, texts.symbol
    keys = {r[0] for r in found.heads}
    by_leg: dict[str, list[Order]] = defaultdict(list)
    exits: list[ExitFill] = []
    unattributed: list[ExitFill] = []
    seen, styles = symbols.add, _STYLES
    for coid, symbol, style, planned, is_exit, lead, text in found.intents:
        if type(symbol) is str:
            symbol = symbol_of(symbol)
            seen(symbol)
        got = _order_fills(text, number)
        if is_exit:
            exits.extend(ExitFill(symbol, f) for f in got)
        elif lead is not None and lead in keys:
            amount = number(planned)
            if amount is None:
                raise _Damaged(planned)  # written as the text of a Decimal
            by_leg[lead].append(Order(coid, styles[style], amount, got))
        elif got:
            unattributed.extend(ExitFill(symbol, f) for f in got)
    # a stray's fills in the order of its first fill, as the rows were met
    strays = [_fills(text, texts) for text in found.strays]
    strays.sort(key=lambda s: (s[0][0].at, s[0][0].seq))
    for stray in strays:
        for f, symbol in stray:
            seen(symbol)
            unattributed.append(ExitFill(symbol, f))
    legs = []
    for (
        key,
        head_id,
        ts,
        symbol,
        buy,
        is_open,
        price,
        skip_id,
        reason,
        by_exit,
        served,
    ) in found.heads:
        value = number(price)
        if value is None or value <= 0 or type(symbol) is not str or type(ts) is not int:
            raise _Damaged(key)  # a readable LEG row's, as written
        if type(head_id) is not int or (skip_id is not None and type(reason) is not str):
            raise _Damaged(key)
        symbol = symbol_of(symbol)
        seen(symbol)
        fate, why = _fate(served, skip_id, reason, by_exit)
        orders = tuple(by_leg.get(key, ()))
        legs.append(
            LegFact(key, ts, head_id, symbol, bool(is_open), bool(buy), value, fate, why, orders)
        )
    return Period(
        algo_id, tuple(legs), tuple(exits), tuple(unattributed), marks, start, found.damaged
    )
