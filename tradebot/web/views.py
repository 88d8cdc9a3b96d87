"""What each page shows, computed from the journal (synchronous: run in a worker thread).

Every figure comes from the same place the CLI takes it: counts from
:meth:`Journal.count_entries`, rows from :meth:`Journal.iter_entries`, P&L and slippage from
:func:`tradebot.journal.review.review` (execution quality per algorithm and style too), read
from the journal's summaries (:mod:`tradebot.journal.summary`), as are the positions (with each
algorithm's average cost: :func:`~tradebot.journal.review.valuations` values them at the
broker's last prices), P&L per day and per symbol, and the
equity chart (one point per algorithm and day),
stories from :func:`~tradebot.journal.review.story`,
positions from :func:`tradebot.journal.review.position_rows`. The dashboard adds no second rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradebot.core.book import PositionBook
from tradebot.journal import counts
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.last_signals import last_signals
from tradebot.journal.records import SHARED_ACCOUNT, Entry, Status, dec_text
from tradebot.journal.review import (
    Valuation,
    daily_points,
    describe,
    live_exits,
    money_text,
    per_algorithm,
    per_day,
    position_rows,
    review,
    story,
    symbol_pnl,
    total,
    unrealised_by,
    valuations,
)
from tradebot.runtime.context import start_of_trading_day
from tradebot.web.snapshot import BrokerState, ago

#: rows on one page of the journal
PAGE_SIZE = 50
#: the newest rows of today on the Now page
RECENT = 30
#: points drawn per series on the equity chart (a year of fills is thinned to this)
CHART_POINTS = 1500
#: the newest days in the Performance page's P&L per day
DAYS_SHOWN = 60

#: colour of a row, by what it records
TONES: Mapping[Status, str] = {
    Status.SIGNAL: "info",
    Status.INTENT: "info",
    Status.FILLED: "good",
    Status.PARTIAL: "good",
    Status.ACCEPTED: "plain",
    Status.SUBMITTED: "plain",
    Status.SKIPPED: "warn",
    Status.GAP: "warn",
    Status.DRIFT: "warn",
    Status.CANCELED: "warn",
    Status.EXPIRED: "warn",
    Status.REJECTED: "bad",
    Status.LEG_REJECTED: "bad",
    Status.FAILED: "bad",
    Status.ERROR: "bad",
}


def story_key(entry: Entry) -> str:
    """What ``explain`` is given for this row: its order, else its leg, else the row itself
    (a SIGNAL row's id tells its whole signal)."""
    return entry.client_order_id or entry.leg or str(entry.id)


def row(entry: Entry) -> dict[str, Any]:
    """One journal row as the tables show it."""
    return {
        "id": entry.id,
        "at": entry.at.strftime("%Y-%m-%d %H:%M:%S"),
        "status": str(entry.status),
        "tone": TONES.get(entry.status, "plain"),
        "algo_id": entry.algo_id,
        "symbol": entry.symbol or "",
        "side": entry.side or "",
        "qty": dec_text(entry.qty) or "",
        "price": dec_text(entry.price) or "",
        "client_order_id": entry.client_order_id or "",
        "detail": entry.detail,
        "story": story_key(entry),
        "not_ours": counts.row_not_ours(entry),
    }


def now_view(journal: Journal, now: datetime, account: str | None = None) -> dict[str, Any]:
    """Today's counts (since midnight New York, as ``tradebot status`` counts; each as
    :mod:`tradebot.journal.counts` defines it; every account's, or ``account``'s:
    :func:`own_counts`), the newest rows (in id order: the order they were written, as the live
    feed adds them; ``account``'s and the shared ones when given) and the last signal, overall
    and per algorithm (from the journal: a restart forgets none)."""
    since = start_of_trading_day(now)
    by_algo = counts.per_algo(journal, since=since, accounts=account_rows(account))
    today = counts.totals(by_algo if account is None else own_counts(by_algo))
    where = EntryFilter(since=since, limit=RECENT, accounts=account_rows(account))
    recent = list(journal.iter_entries(where, page=RECENT))
    last = last_signals(journal)
    newest = max(last.values(), key=lambda e: e.id, default=None)
    return {
        "today": today,
        "since": since,
        "recent": [row(e) for e in recent],
        "last_signal": row(newest) if newest else None,
        "last_signals": {a: row(e) for a, e in last.items()},
        "last_id": journal.last_id(),
    }


def account_rows(account: str | None) -> tuple[str, ...]:
    """The ``accounts`` filter of ``account``'s rows: its own and those every account shares
    (signals, legs, gaps: what its decisions answer); () for every account."""
    return () if account is None else (account, SHARED_ACCOUNT)


#: the counts of the rows every account shares (a signal, its refused legs, a lapse)
SHARED_COUNTS = frozenset({"signals", "refused legs", counts.LAPSES})


def own_counts(by_algo: Mapping[int | None, Counter[str]]) -> dict[int | None, Counter[str]]:
    """One account's counts (its rows and the shared ones, :func:`account_rows`): the shared
    counts only for the algorithms it has rows of, as the review counts them
    (:func:`tradebot.journal.review.review`): an algorithm it does not follow is not its."""
    return {
        algo: found
        for algo, found in by_algo.items()
        if any(n for name, n in found.items() if name not in SHARED_COUNTS)
    }


@dataclass(frozen=True, slots=True)
class JournalPage:
    rows: list[dict[str, Any]]
    next_before: int | None  # the cursor of the next (older) page; None on the last page


def journal_page(
    journal: Journal, where: EntryFilter, *, before: int | None = None, size: int = PAGE_SIZE
) -> JournalPage:
    """One page of rows matching ``where``, newest first in id order (the order they were
    written, as the live feed shows them: a reload never reorders), starting after row
    ``before``.

    Paged by the last row's id, never by offset: the 500th page costs what the first does, and
    rows written meanwhile neither repeat nor vanish from the pages already seen.
    """
    where = replace(where, newest_first=True, limit=size + 1, after_id=None, before_id=before)
    taken = list(journal.iter_entries(where, page=size + 1))
    shown = taken[:size]
    more = len(taken) > size
    return JournalPage([row(e) for e in shown], shown[-1].id if more else None)


def story_view(journal: Journal, ident: str) -> list[dict[str, Any]]:
    """The rows of ``tradebot explain IDENT``, each with its readable lines."""
    return [{**row(e), "lines": describe(e)[1:]} for e in story(journal, ident)]


def positions_view(
    journal: Journal, broker: BrokerState, account: str | None = None
) -> dict[str, Any]:
    """``tradebot positions``'s rows: per algorithm, then NET beside the broker's with drift,
    each with its average cost (from the algorithm's own fills), the last price (the broker's
    last snapshot), its market value and unrealised P&L; and the totals per algorithm and in
    all (unknown while any price is). ``held``: the symbols the snapshot should price.
    ``account``: that account's positions (beside its own broker's: ``broker`` is its
    snapshot), or every account's (None: a journal of one account)."""
    held = journal.summary_positions(account=account)
    book = PositionBook({k: p.qty for k, p in held.items() if p.qty})
    own, net = valuations(held, broker.prices)
    exits = live_exits(journal, account=account)
    rows = position_rows(book, broker.positions, exits, (own, net))
    grouped = per_algorithm(own)
    totals = [{"algo": str(algo), **_sums(grouped[algo])} for algo in sorted(grouped)]
    if own:
        totals.append({"algo": "ALL", **_sums(list(own.values()))})
    return {
        "rows": rows,
        "totals": totals,
        "prices_note": broker.prices_note,
        "held": sorted(net),
    }


def positions_apart(
    found: Mapping[str | None, dict[str, Any]], brokers: Mapping[str | None, BrokerState]
) -> dict[str, Any]:
    """Several accounts' :func:`positions_view`, each apart, never added together: one table
    whose rows name their account (two accounts holding one symbol hold two positions, each
    NET beside its own broker's), the totals per account, and each broker's line."""
    rows, totals, notes = [], [], []
    for name, view in found.items():
        rows += [{"account": name, **r} for r in view["rows"]]
        totals += [{"account": name, **t} for t in view["totals"]]
        state = brokers[name]
        notes.append({"account": name, "note": state.note, **state.as_dict()})
    prices = list(dict.fromkeys(v["prices_note"] for v in found.values() if v["prices_note"]))
    return {
        "rows": rows,
        "totals": totals,
        "prices_note": "; ".join(prices),
        "held": sorted({s for v in found.values() for s in v["held"]}),
        "brokers": notes,
        "with_broker": any(brokers[n].positions is not None for n in found),
    }


def _sums(values: list[Valuation]) -> dict[str, str | None]:
    worth = total([v.market_value for v in values])
    unrealised = total([v.unrealised for v in values])
    return {
        "market_value": None if worth is None else money_text(worth),
        "unrealised": None if unrealised is None else money_text(unrealised, signed=True),
    }


def money_view(broker: BrokerState) -> dict[str, Any]:
    """The Now page's money: the broker's account as of its last snapshot (equity, cash,
    buying power, the day's P&L: equity against the previous close), with the snapshot's time
    and age, and why it is not newer (``note``, the Positions page's line)."""
    account = broker.account
    out: dict[str, Any] = {
        "known": account is not None,
        "note": broker.note,
        "error": broker.error,
        "hanging": broker.hanging,
    }
    if account is None or broker.as_of is None:
        return out
    day = account.day_pnl
    pct = None
    if day is not None and account.last_equity:
        pct = money_text(day / account.last_equity * 100, signed=True)
    return out | {
        "currency": account.currency,
        "equity": money_text(account.equity),
        "cash": money_text(account.cash),
        "buying_power": money_text(account.buying_power),
        "last_equity": None if account.last_equity is None else money_text(account.last_equity),
        "day_pnl": None if day is None else money_text(day, signed=True),
        "day_pnl_pct": pct,
        "as_of": broker.as_of.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "age": ago(broker.age_seconds or 0),
    }


def performance_view(
    journal: Journal, broker: BrokerState, account: str | None = None
) -> dict[str, Any]:
    """``tradebot report``'s rows (both tables) with each algorithm's unrealised P&L (its open
    positions at the broker's last prices) and total, P&L per day (realised, newest first) and
    per symbol (realised plus unrealised), each algorithm's realised P&L at the end of
    each day for the chart (uPlot's columns: one x axis of seconds, one series per algorithm,
    the sum last), and
    the slippage of each execution row for the bar chart, and the latency per algorithm
    (:mod:`tradebot.journal.latency`). ``account``: that account's figures, all from the
    summaries (its orders and fills; the signals, refused legs and lapses every account shares
    counted for the algorithms it follows, as ``tradebot report --account`` counts them), or
    every account's (None: a journal of one account)."""
    algos_report, execution = review(journal, account=account)
    held = journal.summary_positions(account=account)
    per_algo, per_symbol = unrealised_by(held, broker.prices)
    figures = []
    extended = counts.with_extras([r.as_dict() for r in algos_report], journal)
    for r, figure in zip(algos_report, extended, strict=True):
        mine = per_algo.get(r.algo_id, Decimal(0))
        whole = None if mine is None else r.realised_pnl + mine
        figures.append(
            figure
            | {
                "unrealised_pnl": None if mine is None else money_text(mine, signed=True),
                "total_pnl": None if whole is None else money_text(whole, signed=True),
            }
        )
    by_symbol = symbol_pnl(held, per_symbol)
    days = per_day(journal, account=account)
    running, daily = Decimal(0), []
    for day, realised in days:
        running += realised
        daily.append(
            {
                "day": day.strftime("%Y-%m-%d"),
                "realised": money_text(realised, signed=True),
                "cumulative": money_text(running, signed=True),
            }
        )
    styles = [r.as_dict() for r in execution.rows]
    head = {
        "report": figures,
        "days": daily[::-1][:DAYS_SHOWN],
        "days_total": len(daily),
        "symbols": [
            {
                "symbol": p.symbol,
                "realised": money_text(p.realised, signed=True),
                "unrealised": (
                    None if p.unrealised is None else money_text(p.unrealised, signed=True)
                ),
                "total": None if p.total is None else money_text(p.total, signed=True),
            }
            for p in by_symbol
        ],
        "held": sorted(per_symbol),
        "prices_note": broker.prices_note,
        "execution": styles,
        "execution_skipped": dict(sorted(execution.skipped.items())),
        "latency": journal.latency(account=account).table(),
        "execution_chart": {
            "labels": [f"{r['algo_id']} {r['style']}" for r in styles],
            # floats only for drawing, never for money; None leaves a gap (nothing measured)
            "slippage_bps": [
                None if r["slippage_bps"] is None else float(r["slippage_bps"]) for r in styles
            ],
        }
        if styles
        else None,
    }
    points = daily_points(journal, account=account)
    algos = sorted({p.algo_id for p in points})
    if not points:
        return {**head, "chart": None}
    step = max(1, len(points) // CHART_POINTS)
    totals = dict.fromkeys(algos, Decimal(0))
    xs: list[float] = []
    series: dict[int, list[float]] = {a: [] for a in algos}
    net: list[float] = []
    for index, point in enumerate(points):
        totals[point.algo_id] = point.total
        if index % step and index != len(points) - 1:
            continue  # thinned: the chart keeps every step-th point and the last
        xs.append(point.at.timestamp())
        for a in algos:
            series[a].append(float(totals[a]))  # floats only for drawing, never for money
        net.append(float(sum(totals.values())))
    return {
        **head,
        "chart": {
            "labels": [f"algo {a}" for a in algos] + ["all"],
            "data": [xs, *(series[a] for a in algos), net],
        },
    }
