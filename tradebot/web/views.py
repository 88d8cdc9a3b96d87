"""What each page shows, computed from the journal (synchronous: run in a worker thread).

Every figure comes from the same place the CLI takes it: counts from
:meth:`Journal.count_entries`, rows from :meth:`Journal.iter_entries`, P&L and slippage from
:func:`tradebot.journal.review.review` (execution quality per algorithm and style too), read
from the journal's summaries (:mod:`tradebot.journal.summary`), as are the positions and the
equity chart (one point per algorithm and day),
stories from :func:`~tradebot.journal.review.story`,
positions from :func:`tradebot.journal.review.position_rows`. The dashboard adds no second rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradebot.journal import counts
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.last_signals import last_signals
from tradebot.journal.records import Entry, Status, dec_text
from tradebot.journal.review import (
    daily_points,
    describe,
    live_exits,
    position_rows,
    review,
    story,
)
from tradebot.runtime.context import start_of_trading_day
from tradebot.web.book import LiveBook

#: rows on one page of the journal
PAGE_SIZE = 50
#: the newest rows of today on the Now page
RECENT = 30
#: points drawn per series on the equity chart (a year of fills is thinned to this)
CHART_POINTS = 1500

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


def now_view(journal: Journal, now: datetime) -> dict[str, Any]:
    """Today's counts (since midnight New York, as ``tradebot status`` counts; each as
    :mod:`tradebot.journal.counts` defines it), the newest rows (in id order: the order they
    were written, as the live feed adds them) and the last signal, overall and per algorithm
    (from the journal: a restart forgets none)."""
    since = start_of_trading_day(now)
    today = counts.totals(counts.per_algo(journal, since=since))
    recent = list(journal.iter_entries(EntryFilter(since=since, limit=RECENT), page=RECENT))
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
    journal: Journal, broker: Mapping[str, Decimal] | None, book: LiveBook
) -> list[dict[str, Any]]:
    """``tradebot positions``'s rows: per algorithm, then NET beside the broker's with drift."""
    return position_rows(book.current(journal), broker, live_exits(journal))


def performance_view(journal: Journal) -> dict[str, Any]:
    """``tradebot report``'s rows (both tables), each algorithm's realised P&L at the end of
    each day for the chart (uPlot's columns: one x axis of seconds, one series per algorithm,
    the sum last), and
    the slippage of each execution row for the bar chart."""
    algos_report, execution = review(journal)
    figures = counts.with_extras([r.as_dict() for r in algos_report], journal)
    styles = [r.as_dict() for r in execution.rows]
    head = {
        "report": figures,
        "execution": styles,
        "execution_skipped": dict(sorted(execution.skipped.items())),
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
    points = daily_points(journal)
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
