"""What the review commands show, from the journal's summaries or its entries (no SQL: any
store serves it).

* :func:`report` — per algorithm: realised P&L from fills (average cost), counts of signals,
  orders, fills, skips, rejections and failures, and the slippage of fills against the signal
  price (positive = the fill was worse for us than the signal). The whole journal from its
  summaries (:func:`review_summaries`), a window from its rows (:func:`review_rows`, also the
  reference the summaries are tested against, byte for byte). Either for one account
  (``account``: its orders, fills and skips, and the signals every account shares of the
  algorithms it has rows of, :func:`_accounts_own`) or every account together (None).
* :func:`daily_points` — the running realised P&L at the end of each day, from the summaries
  (the dashboard's chart).
* :func:`story` — every row about one signal, one leg or one order, in the order written.
* :func:`valuations`, :func:`symbol_pnl`, :func:`per_day` — money: each algorithm's open
  positions at the last price (average cost from its own fills, from the summaries), P&L per
  symbol and per day; :func:`money_text` prints an amount (Decimal, fixed decimals, a sign).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar, assert_never

from tradebot.core.book import PositionBook
from tradebot.core.exits import exit_kind
from tradebot.core.ids import exit_id, exit_parts, remainder_id
from tradebot.core.order_shape import Limit, Market, Stop, TrailingStop
from tradebot.core.orders import ExitKind, IntentRole
from tradebot.journal.execution_review import (
    ExecutionReport,
    ExecutionTally,
    StyleStats,
    style_order,
)
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.queries import fill_of
from tradebot.journal.records import (
    SHARED_ACCOUNT,
    Entry,
    Status,
    dec_text,
    from_micros,
    leg_id_from,
    to_micros,
)
from tradebot.journal.summary import DAY, Position

_ZERO = Decimal(0)


@dataclass
class AlgoReport:
    algo_id: int
    counts: Counter[str] = field(default_factory=Counter)
    realised_pnl: Decimal = _ZERO
    slippage: Decimal = _ZERO  # money: (fill - signal price) x qty, signed against us
    slipped_notional: Decimal = _ZERO  # signal-price notional of the fills measured

    @property
    def slippage_bps(self) -> Decimal | None:
        if not self.slipped_notional:
            return None
        return (self.slippage / self.slipped_notional * 10_000).quantize(Decimal("0.01"))

    def as_dict(self) -> dict[str, Any]:
        bps = self.slippage_bps
        return {
            "algo_id": self.algo_id,
            "signals": self.counts[Status.SIGNAL],
            "orders": self.counts[Status.INTENT],
            "fills": self.counts["fills"],
            "skips": self.counts[Status.SKIPPED],
            "rejections": self.counts[Status.REJECTED],
            "failed": self.counts[Status.FAILED],
            "realised_pnl": dec_text(self.realised_pnl.quantize(Decimal("0.01"))),
            "slippage": dec_text(self.slippage.quantize(Decimal("0.01"))),
            "slippage_bps": None if bps is None else dec_text(bps),
        }


_FILL_STATUSES = frozenset({"partial", "filled"})
_COUNTED = (Status.SIGNAL, Status.INTENT, Status.SKIPPED, Status.REJECTED, Status.FAILED)


def report(
    journal: Journal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    account: str | None = None,
) -> list[AlgoReport]:
    """Per-algorithm figures for fills and records in ``[since, until)``."""
    return review(journal, since=since, until=until, account=account)[0]


def _accounts_own(reports: dict[int, AlgoReport], account: str | None) -> list[AlgoReport]:
    """The reports by algorithm; for one account, only the algorithms it has rows of (its
    orders, skips, ...): the signals every account shares are counted for the algorithms it
    follows, never listed alone for those it does not."""
    return [
        reports[a]
        for a in sorted(reports)
        if account is None or any(n for s, n in reports[a].counts.items() if s != Status.SIGNAL)
    ]


def review(
    journal: Journal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    account: str | None = None,
) -> tuple[list[AlgoReport], ExecutionReport]:
    """Per-algorithm figures for fills and records in ``[since, until)``, and the execution
    report (per algorithm and style) of the orders decided in it.

    The whole journal is read from its summaries (:func:`review_summaries`: a few rows per
    algorithm, symbol and day, whatever the journal's size); a window, from the rows
    (:func:`review_rows`).
    """
    if since is None and until is None:
        return review_summaries(journal, account=account)
    return review_rows(journal, since=since, until=until, account=account)


def review_summaries(
    journal: Journal, *, account: str | None = None
) -> tuple[list[AlgoReport], ExecutionReport]:
    """:func:`review_rows` of the whole journal, from the summaries the writes keep."""
    found = journal.summaries(account=account)
    reports: dict[int, AlgoReport] = {}

    def of(algo_id: int) -> AlgoReport:
        return reports.setdefault(algo_id, AlgoReport(algo_id))

    for (algo_id, status), n in found.counts.items():
        of(algo_id).counts[Status(status)] += n
    for algo_id, pnl in found.pnl.items():
        algo = of(algo_id)
        algo.counts["fills"] += pnl.fills
        algo.realised_pnl += pnl.realised
        algo.slippage += pnl.slippage
        algo.slipped_notional += pnl.notional
    rows = []
    for (algo_id, style), f in found.styles.items():
        stats = StyleStats(algo_id, style)
        for name in (
            "legs",
            "filled_legs",
            "partial_legs",
            "unfilled_legs",
            "working",
            "unmeasured_legs",
            "planned_qty",
            "filled_qty",
            "slippage",
            "slipped_notional",
        ):
            setattr(stats, name, getattr(f, name))
        stats.ranked = found.fill_times.get((algo_id, style), {})
        rows.append(stats)
    rows.sort(key=lambda s: (s.algo_id, style_order(s.style)))
    execution = ExecutionReport(rows, Counter(found.skipped))
    return _accounts_own(reports, account), execution


def review_rows(
    journal: Journal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    account: str | None = None,
) -> tuple[list[AlgoReport], ExecutionReport]:
    """:func:`review`, computed from the rows in one pass (a window; the reference the
    summaries are tested against).

    P&L needs the cost of what was bought before ``since``, so every fill is replayed; only the
    P&L realised inside the window is counted.
    """
    reports: dict[int, AlgoReport] = {}

    def of(algo_id: int) -> AlgoReport:
        return reports.setdefault(algo_id, AlgoReport(algo_id))

    # counted by the store, and order rows streamed in time order: a year of trading is
    # reviewed in flat memory, never loaded whole, and each fill is read once for both reports
    mine = () if account is None else (account, SHARED_ACCOUNT)
    window = EntryFilter(statuses=_COUNTED, since=since, until=until, accounts=mine)
    for (algo_id, status), n in journal.count_entries(window).items():
        if isinstance(algo_id, int):  # not None, nor a damaged row's text
            of(algo_id).counts[status] += n
    # each account's position is its own: an account's fills realise against its own cost
    positions: dict[tuple[Any, int, str], Position] = defaultdict(Position)
    start = to_micros(since) if since is not None else None
    execution = ExecutionTally()
    for row in journal.order_history(since=since, until=until, all_fills=True):
        if account is not None and row.account != account:
            continue
        inside = start is None or row.ts >= start
        if inside:
            execution.feed(row)
        fill = fill_of(row) if row.status in _FILL_STATUSES else None
        if fill is None:
            continue
        sign = 1 if fill.side == "buy" else -1
        realised = positions[row.account, fill.algo_id, fill.symbol].fill(
            fill.qty * sign, fill.price
        )
        if not inside:
            continue
        algo = of(fill.algo_id)
        algo.counts["fills"] += 1
        algo.realised_pnl += realised
        ref = fill.intent_price
        if ref:
            algo.slippage += (fill.price - ref) * fill.qty * sign
            algo.slipped_notional += ref * fill.qty
    return _accounts_own(reports, account), execution.finish()


@dataclass(frozen=True, slots=True)
class PnlPoint:
    """One fill's effect on an algorithm's running realised P&L (for the equity curve)."""

    at: datetime
    algo_id: int
    realised: Decimal  # what this fill realised
    total: Decimal  # the algorithm's realised P&L after it, since the first fill


def daily_points(journal: Journal, *, account: str | None = None) -> list[PnlPoint]:
    """Each algorithm's running realised P&L at the end of every day it had fills, oldest
    first, from the summaries: the equity chart of a journal of any size."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    out = []
    for day, algo_id, realised in journal.daily_pnl(account=account):
        totals[algo_id] += realised
        out.append(PnlPoint(from_micros((day + 1) * DAY), algo_id, realised, totals[algo_id]))
    return out


def _leg_keys(intent: Entry) -> set[str]:
    return {leg_id_from(d).key for d in intent.data.get("legs", ())}


def _orders(journal: Journal, coids: set[str]) -> dict[int, Entry]:
    if not coids:
        return {}
    return {e.id: e for e in journal.entries(EntryFilter(client_order_ids=tuple(sorted(coids))))}


def _heads(journal: Journal, signal_ids: set[int], legs: set[str] | None) -> dict[int, Entry]:
    """The SIGNAL and PLAN rows of these signals and, if ``legs`` is None, everything else of
    theirs; otherwise only the rows about those legs."""
    if not signal_ids:
        return {}
    rows = journal.entries(EntryFilter(signal_ids=tuple(sorted(signal_ids))))
    return {
        e.id: e
        for e in rows
        if legs is None or e.status in (Status.SIGNAL, Status.PLAN) or (e.leg in legs)
    }


def story(journal: Journal, ident: str) -> list[Entry]:
    """Every row about ``ident``, oldest first: a row id (``42`` or ``#42``; a SIGNAL row gives
    the whole signal), a client order id, or a leg key
    (``16:open:JBHT:buy:2021-04-26T14:30:01Z``). Empty when nothing matches."""
    text = ident.strip().lstrip("#")
    rows: dict[int, Entry] = {}
    if text.isdigit():
        found = journal.entries(EntryFilter(ids=(int(text),)))
        if not found:
            return []
        (row,) = found
        if row.status is Status.SIGNAL or (row.client_order_id is None and row.signal_id):
            signal_id = row.id if row.status is Status.SIGNAL else row.signal_id
            assert signal_id is not None
            rows = _heads(journal, {signal_id}, None)
            rows |= _orders(
                journal, {e.client_order_id for e in rows.values() if e.client_order_id}
            )
            return [rows[i] for i in sorted(rows)]
        if row.client_order_id is None:
            return [row]
        text = row.client_order_id
    coids: set[str] = set()
    legs: set[str] = set()
    signals: set[int] = set()
    by_order = journal.entries(EntryFilter(client_order_ids=(text,)))
    if by_order:
        # a chased limit's story goes on with its market remainder (limit_then_market), an
        # entry's with its exits; an exit's story starts with its entry's
        coids |= {text, remainder_id(text), *_exit_family(text)}
    else:
        legs.add(text)
        for e in journal.entries(EntryFilter(legs=(text,))):
            rows[e.id] = e
            if e.signal_id is not None:
                signals.add(e.signal_id)
        # an intent serving several legs names only its first in ``leg``: look in its data
        for e in journal.entries(
            EntryFilter(signal_ids=tuple(sorted(signals)), statuses=(Status.INTENT,))
        ):
            if text in _leg_keys(e) and e.client_order_id:
                coids.add(e.client_order_id)
    rows |= _orders(journal, coids)
    for e in list(rows.values()):
        if e.status is Status.INTENT:
            legs |= _leg_keys(e)
        if e.signal_id is not None:
            signals.add(e.signal_id)
    rows |= _heads(journal, signals, legs)
    rows |= _exit_chain(journal, rows, legs)
    return [rows[i] for i in sorted(rows)]


def _exit_family(coid: str) -> set[str]:
    """An order's exits' ids; for an exit, its entry and its siblings too."""
    parts = exit_parts(coid)
    entry = coid if parts is None else parts[0]
    return {entry, *(exit_id(entry, kind) for kind in ExitKind)}


def _exit_chain(journal: Journal, rows: Mapping[int, Entry], legs: set[str]) -> dict[int, Entry]:
    """The exit rows a story about a close needs: the exit that closed the position (named by
    a ``not_held`` skip), the exits canceled for one of its legs, and their orders' rows."""
    coids: set[str] = set()
    for e in rows.values():
        closed_by = (e.data or {}).get("exit") if e.status is Status.SKIPPED else None
        if isinstance(closed_by, dict) and closed_by.get("client_order_id"):
            coids |= _exit_family(str(closed_by["client_order_id"]))
    symbols = {e.symbol for e in rows.values() if e.symbol and e.status is Status.LEG}
    if legs and symbols:
        for e in journal.entries(EntryFilter(statuses=(Status.EXIT,), symbols=tuple(symbols))):
            if (e.data or {}).get("close_leg") in legs and e.client_order_id:
                coids.add(e.client_order_id)
    found = _orders(journal, coids) if coids else {}
    return {i: e for i, e in found.items() if i not in rows}


def describe(entry: Entry, *, named: bool = False) -> list[str]:
    """One entry as a few readable lines (``tradebot explain``, the dashboard's story);
    ``named``: an account's row says whose it is (a journal of several accounts)."""
    who = " ".join(
        part
        for part in (
            f"account {entry.account}" if named and entry.account != SHARED_ACCOUNT else "",
            f"algo {entry.algo_id}" if entry.algo_id is not None else "",
            entry.symbol or "",
            entry.client_order_id or "",
        )
        if part
    )
    head = f"#{entry.id}  {entry.as_dict()['at']}  {entry.status.upper():<12} {who}".rstrip()
    lines = [head, f"      {entry.detail}"] if entry.detail else [head]
    if entry.status is Status.SIGNAL:
        if entry.data.get("source") == "backfill":
            lines.append("      source: backfill (missed live, read back from AlphaHub's history)")
            lines.append(f"      history legs: {entry.data.get('raw', '')}")
        else:
            lines.append("      source: live")
            lines.append(f"      raw frame: {entry.data.get('raw', '')}")
    elif entry.status is Status.LEG and entry.data.get("source") == "backfill":
        lines.append("      recovered by backfill; open/close judged from the algorithm's ledger")
    elif entry.status is Status.LEG_REJECTED:
        lines.append(f"      raw leg: {entry.data.get('raw', '')}")
    elif entry.status is Status.INTENT:
        legs = ", ".join(
            f"{d['kind']} {d['side']} {d['symbol']} @ {d['timestamp']}" for d in entry.data["legs"]
        )
        # the intent's price: the broker's reference it was sized at (an exit: its own price)
        priced = "exit price" if entry.data.get("role") == "exit" else "reference price"
        lines.append(f"      serves: {legs}; {priced} {entry.price}")
        lines += _exit_lines(entry.data)
    elif entry.status is Status.SKIPPED and isinstance(entry.data.get("exit"), dict):
        closed = entry.data["exit"]
        lines.append(
            f"      the position was closed by exit {closed['client_order_id']}"
            f" ({closed['kind']}): {closed['qty']} @ {closed['price']} at {closed['at']}"
        )
    return lines


def _exit_lines(data: Mapping[str, Any]) -> list[str]:
    """What an intent's exits are: an entry's terms and bracket, or the exit itself."""
    out = []
    if "exits" in data:
        terms = ", ".join(f"{k} {v}" for k, v in data["exits"].items())
        shape = data.get("order_class", "after the fill")
        out.append(f"      exits: {terms} ({shape})")
    if data.get("role") == "exit":
        price = data.get("limit_price") or data.get("stop_price") or data.get("trail_pct")
        parent = f"; leg of {data['parent']} (never sent alone)" if data.get("parent") else ""
        out.append(f"      exit: {data.get('order_type')} at {price}{parent}")
    return out


def live_exits(journal: Journal, *, account: str | None = None) -> dict[tuple[int, str], str]:
    """(algorithm, symbol) -> the exits live at the broker for it, as a person reads them:
    ``sell 76: take-profit 139.07, stop-loss 127.27`` (an exit with no outcome yet; a bracket's
    legs count from when the entry is sent); ``account``'s, or every account's (None)."""
    found: dict[tuple[int, str], list[tuple[Decimal, str, str]]] = {}
    open_ids = journal.open_exit_ids(account=account)
    for stored in journal.unresolved_intents(client_order_ids=open_ids, account=account):
        intent = stored.intent
        if intent.role is not IntentRole.EXIT:
            continue
        kind = exit_kind(intent)
        match intent.price:
            case TrailingStop(trail_pct=pct):
                level = f"{dec_text(pct)}%"
            case Stop(stop=stop):
                level = str(dec_text(stop))
            case Limit(limit=limit):
                level = str(dec_text(limit))
            case Market():
                level = "at market"  # never an exit's
            case _:
                assert_never(intent.price)
        found.setdefault((intent.algo_id, intent.symbol), []).append(
            (intent.qty, f"{intent.side} {dec_text(intent.qty)}", f"{kind.label} {level}")
        )
    out: dict[tuple[int, str], str] = {}
    for key, items in found.items():
        by_size: dict[str, list[str]] = {}
        for _, size, what in sorted(items):
            by_size.setdefault(size, []).append(what)
        out[key] = "; ".join(f"{size}: {', '.join(whats)}" for size, whats in by_size.items())
    return out


def position_rows(
    book: PositionBook,
    broker: Mapping[str, Decimal] | None,
    exits: Mapping[tuple[int, str], str] | None = None,
    money: tuple[Mapping[tuple[int, str], Valuation], Mapping[str, Valuation]] | None = None,
) -> list[dict[str, Any]]:
    """One row per (algorithm, symbol), then one NET row per symbol with the broker's figure
    (``tradebot positions``, the dashboard's Positions page). ``exits``
    (:func:`live_exits`): each algorithm's row says what protects it ("" for nothing).
    ``money`` (:func:`valuations`): each row's average cost, last price, market value and
    unrealised P&L (None where unknown), and a NET row for a symbol the algorithms hold long and
    short to a net of zero."""
    out: list[dict[str, Any]] = [
        {"algo": str(algo), "symbol": symbol, "qty": dec_text(qty)}
        | ({} if exits is None else {"exits": exits.get((algo, symbol), "")})
        | ({} if money is None else _worth(money[0].get((algo, symbol))))
        for algo, symbol, qty in book
    ]
    net = book.net_positions()
    symbols = set(net) | set(broker or {}) | (set() if money is None else set(money[1]))
    for symbol in sorted(symbols):
        ours = net.get(symbol, Decimal(0))
        row: dict[str, Any] = {"algo": "NET", "symbol": symbol, "qty": dec_text(ours)}
        if broker is not None:
            theirs = broker.get(symbol, Decimal(0))
            row["broker"] = dec_text(theirs)
            row["drift"] = "" if theirs == ours else dec_text(theirs - ours)
        if money is not None:
            row |= _worth(money[1].get(symbol))
        out.append(row)
    return out


def _worth(value: Valuation | None) -> dict[str, Any]:
    """A row's money as the pages print it (None: unknown, or nothing held; ``valued``: the
    journal holds it, so a missing figure means no price)."""
    if value is None:
        return dict.fromkeys(("avg_cost", "last", "market_value", "unrealised")) | {"valued": False}
    cost, worth, unrealised = value.cost, value.market_value, value.unrealised
    return {
        "valued": True,
        "avg_cost": None if cost is None else price_text(cost),
        "last": None if value.last is None else price_text(value.last),
        "market_value": None if worth is None else money_text(worth),
        "unrealised": None if unrealised is None else money_text(unrealised, signed=True),
    }


# -- money: what the positions are worth at the last price --------------------------------------
_CENT = Decimal("0.01")
_PRICE = Decimal("0.0001")


def money_text(value: Decimal, *, signed: bool = False, places: Decimal = _CENT) -> str:
    """An amount as the pages print it: a fixed number of decimals (cents; a price per share to
    ``places``), a minus when negative, a plus when ``signed`` and positive (P&L). Decimal
    throughout: ``money_text(Decimal("-1.005"))`` is ``-1.00`` (half to even), never a float's."""
    fixed = value.quantize(places, rounding=ROUND_HALF_EVEN)
    if not fixed:
        fixed = abs(fixed)  # never "-0.00"
    text = f"{fixed:f}"
    return f"+{text}" if signed and fixed > 0 else text


def price_text(value: Decimal) -> str:
    """A price per share (a last price, an average cost): four decimals, never a sign."""
    return money_text(value, places=_PRICE)


@dataclass(frozen=True, slots=True)
class Valuation:
    """A position at the last price: ``basis`` is what its open quantity cost (quantity x
    average cost, summed over the algorithms of a NET row), ``cost`` that per share (None:
    flat); ``last`` is None when no price is known, and then so are its worth and its
    unrealised P&L (never a made-up number). Built by :func:`valued`."""

    qty: Decimal
    basis: Decimal
    cost: Decimal | None
    last: Decimal | None
    market_value: Decimal | None  # qty x last
    unrealised: Decimal | None  # what closing it at the last price would realise


def valued(
    qty: Decimal, basis: Decimal, last: Decimal | None, cost: Decimal | None = None
) -> Valuation:
    """A position of ``qty`` that cost ``basis`` (``cost`` per share, computed when not given),
    at ``last``: its worth less its basis is unrealised."""
    if cost is None and qty:
        cost = basis / qty
    if last is None:
        return Valuation(qty, basis, cost, None, None, None)
    worth = qty * last
    return Valuation(qty, basis, cost, last, worth, worth - basis)


def valuations(
    held: Mapping[tuple[int, str], Position], prices: Mapping[str, Decimal]
) -> tuple[dict[tuple[int, str], Valuation], dict[str, Valuation]]:
    """Each algorithm's open positions (from its own fills: average cost) and each symbol's NET
    (the sum of the algorithms') valued at ``prices``, the last price per symbol."""
    own: dict[tuple[int, str], Valuation] = {}
    qty: dict[str, Decimal] = defaultdict(Decimal)
    basis: dict[str, Decimal] = defaultdict(Decimal)
    for (algo, symbol), p in held.items():
        if not p.qty:
            continue
        cost = p.qty * p.cost
        own[algo, symbol] = valued(p.qty, cost, prices.get(symbol), p.cost)
        qty[symbol] += p.qty
        basis[symbol] += cost
    net = {s: valued(qty[s], basis[s], prices.get(s)) for s in sorted(qty)}
    return own, net


def unrealised_by(
    held: Mapping[tuple[int, str], Position], prices: Mapping[str, Decimal]
) -> tuple[dict[int, Decimal | None], dict[str, Decimal | None]]:
    """Unrealised P&L per algorithm and per symbol (None: something held has no price), in
    one pass: what :func:`valuations` sums to, without a row per position (Performance)."""
    per_algo: dict[int, Decimal | None] = {}
    per_symbol: dict[str, Decimal | None] = {}
    for (algo, symbol), p in held.items():
        if not p.qty:
            continue
        last = prices.get(symbol)
        gain = None if last is None else p.qty * (last - p.cost)
        _add(per_algo, algo, gain)
        _add(per_symbol, symbol, gain)
    return per_algo, per_symbol


_K = TypeVar("_K")


def _add(sums: dict[_K, Decimal | None], key: _K, part: Decimal | None) -> None:
    known = sums.get(key, _ZERO)
    sums[key] = None if known is None or part is None else known + part


def per_algorithm(
    own: Mapping[tuple[int, str], Valuation],
) -> dict[int, list[Valuation]]:
    """:func:`valuations`' own positions grouped by algorithm."""
    out: dict[int, list[Valuation]] = defaultdict(list)
    for (algo, _symbol), value in own.items():
        out[algo].append(value)
    return out


def total(values: Sequence[Decimal | None]) -> Decimal | None:
    """The sum, or None when any part is unknown: a total without a part is not the total."""
    if any(v is None for v in values):
        return None
    return sum((v for v in values if v is not None), _ZERO)


@dataclass(frozen=True, slots=True)
class SymbolPnl:
    """One symbol's P&L over every algorithm: realised (all fills) plus unrealised (now)."""

    symbol: str
    realised: Decimal
    unrealised: Decimal | None  # None: held without a known price

    @property
    def total(self) -> Decimal | None:
        return None if self.unrealised is None else self.realised + self.unrealised


def symbol_pnl(
    held: Mapping[tuple[int, str], Position], unrealised: Mapping[str, Decimal | None]
) -> list[SymbolPnl]:
    """P&L per symbol, from the summaries' positions (realised per algorithm and symbol, flat
    ones too) and each symbol's unrealised P&L (:func:`unrealised_by`; nothing held: 0)."""
    realised: dict[str, Decimal] = defaultdict(Decimal)
    for (_algo, symbol), p in held.items():
        realised[symbol] += p.realised
    return [SymbolPnl(s, realised[s], unrealised.get(s, _ZERO)) for s in sorted(realised)]


def per_day(journal: Journal, *, account: str | None = None) -> list[tuple[datetime, Decimal]]:
    """Realised P&L per UTC day with fills (every algorithm), oldest first, from the summaries;
    ``account``'s, or every account's (None)."""
    days: dict[int, Decimal] = defaultdict(Decimal)
    for day, _algo, realised in journal.daily_pnl(account=account):
        days[day] += realised
    return [(from_micros(day * DAY), days[day]) for day in sorted(days)]
