"""How long our orders take, per algorithm: signal received -> order sent -> first and last fill.

Three intervals per *leg* (the execution review's unit, :mod:`tradebot.journal.summary`: one
INTENT, with a chased limit's market remainder), entries and the algorithm's closes only (an
exit's fill waits for the market, not for us):

* ``signal_to_order``: the signal's receipt (its SIGNAL row's time, the ``received_at`` the
  listener stamped) to the order's send (its INTENT row's time: the order decided and durable,
  the moment before it leaves for the broker, where the execution review's time to fill
  starts too). Only legs whose intent names its SIGNAL row;
* ``order_to_first_fill``: the send to the leg's first fill;
* ``order_to_last_fill``: the send to the leg's last fill, once no other can come (the leg
  filled completely, or the broker ended it with part filled). A leg still working has no last
  fill yet.

Per algorithm and interval: p50, p90 and p99 by **nearest rank** (a time some leg really took:
the value at rank ``ceil(q x n)`` of the ``n`` sorted samples, :func:`summary.nearest_rank`).
A quantile needs at least :func:`min_samples` samples (2 for p50, 10 for p90, 100 for p99);
with fewer it is not given, and the report says how many it has.

Read from the journal's per-leg summaries (``sum_leg``: the send and fill times the fold keeps)
joined to each leg's INTENT and SIGNAL row by their indexes: the legs, never every row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradebot.journal.dialect import Conn
from tradebot.journal.records import dec_text, to_micros
from tradebot.journal.summary import nearest_rank

#: the intervals, in the order they are shown
INTERVALS = ("signal_to_order", "order_to_first_fill", "order_to_last_fill")
#: the quantiles shown, in percent
PERCENTILES = (50, 90, 99)


def min_samples(percent: int) -> int:
    """The fewest samples a nearest-rank percentile needs to be more than the largest one:
    ``1 / (1 - q)`` (p50: 2, p90: 10, p99: 100)."""
    return math.ceil(100 / (100 - percent))


@dataclass(frozen=True, slots=True)
class LegTimes:
    """One leg's times, microseconds since the epoch (None: not known, or not yet)."""

    algo_id: int
    received: int | None  # its signal's receipt
    sent: int  # its INTENT row
    first_fill: int | None
    last_fill: int | None
    closed: bool  # no more fills can come (filled completely, or ended)


def intervals(leg: LegTimes, until: int | None = None) -> dict[str, int | None]:
    """The leg's three intervals in microseconds (None: not measured). Fills at or after
    ``until`` are not seen (a leg whose last fill came later had not finished by then)."""
    first = leg.first_fill if until is None or (leg.first_fill or 0) < until else None
    last = leg.last_fill if leg.closed else None
    if last is not None and until is not None and last >= until:
        last = None
    return {
        "signal_to_order": None if leg.received is None else max(0, leg.sent - leg.received),
        "order_to_first_fill": None if first is None else max(0, first - leg.sent),
        "order_to_last_fill": None if last is None else max(0, last - leg.sent),
    }


@dataclass
class Interval:
    """One interval of one algorithm: its samples, sorted on demand."""

    samples: list[int] = field(default_factory=list)  # microseconds

    def percentile(self, percent: int) -> int | None:
        """Nearest rank; None with fewer than :func:`min_samples` samples."""
        n = len(self.samples)
        if n < min_samples(percent):
            return None
        return sorted(self.samples)[nearest_rank(percent / 100, n)]


def _seconds(micros: int | None) -> str | None:
    return None if micros is None else dec_text(Decimal(micros) / 1_000_000)


@dataclass
class AlgoLatency:
    algo_id: int
    intervals: dict[str, Interval] = field(
        default_factory=lambda: {name: Interval() for name in INTERVALS}
    )

    def as_dict(self) -> dict[str, Any]:
        """Per interval: ``<interval>_n`` samples and ``<interval>_p50_s`` ... in seconds
        (None: fewer samples than the percentile needs)."""
        out: dict[str, Any] = {"algo_id": self.algo_id}
        for name, interval in self.intervals.items():
            out[f"{name}_n"] = len(interval.samples)
            for p in PERCENTILES:
                out[f"{name}_p{p}_s"] = _seconds(interval.percentile(p))
        return out


@dataclass
class LatencyReport:
    rows: list[AlgoLatency]

    def table(self) -> list[dict[str, Any]]:
        """One row per (algorithm, interval): ``n`` samples and each percentile in seconds,
        or ``<N samples`` where there are fewer than it needs (the report's and the
        dashboard's table)."""
        out: list[dict[str, Any]] = []
        for algo in self.rows:
            for name, interval in algo.intervals.items():
                row: dict[str, Any] = {
                    "algo_id": algo.algo_id,
                    "interval": name,
                    "n": len(interval.samples),
                }
                for p in PERCENTILES:
                    found = _seconds(interval.percentile(p))
                    row[f"p{p}_s"] = f"<{min_samples(p)} samples" if found is None else found
                out.append(row)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [r.as_dict() for r in self.rows],
            "percentiles": "nearest rank",
            "min_samples": {f"p{p}": min_samples(p) for p in PERCENTILES},
        }


def tally(legs: Iterable[LegTimes], *, until: int | None = None) -> LatencyReport:
    """The latency report of these legs."""
    by_algo: dict[int, AlgoLatency] = {}
    for leg in legs:
        algo = by_algo.get(leg.algo_id)
        if algo is None:
            algo = by_algo[leg.algo_id] = AlgoLatency(leg.algo_id)
        for name, micros in intervals(leg, until).items():
            if micros is not None:
                algo.intervals[name].samples.append(micros)
    return LatencyReport([by_algo[a] for a in sorted(by_algo)])


#: every leg head of an entry or close, with its signal's receipt (LEFT JOIN: a leg without a
#: SIGNAL row still has its fills); the INTENT by ``ux_entries_intent``, the SIGNAL by its id
_LEGS = (
    "SELECT l.algo_id, s.ts, l.started, l.first_fill, l.last_fill, l.closed "
    "FROM sum_leg l "
    "JOIN entries i ON i.client_order_id = l.coid AND i.status = 'intent' "
    "LEFT JOIN entries s ON s.id = i.signal_id AND s.status = 'signal' "
    "WHERE l.coid = l.head AND l.algo_id IS NOT NULL AND substr(l.style, 1, 5) <> 'exit '"
)


def leg_times(conn: Conn, *, since: int | None = None, until: int | None = None) -> list[LegTimes]:
    """The legs sent in ``[since, until)`` (microseconds), from the summaries."""
    sql, params = _LEGS, []
    if since is not None:
        sql += " AND l.started >= ?"
        params.append(since)
    if until is not None:
        sql += " AND l.started < ?"
        params.append(until)
    rows: Sequence[Sequence[Any]] = conn.execute(sql, params).fetchall()
    return [
        LegTimes(
            int(algo),
            None if received is None else int(received),
            int(sent),
            None if first is None else int(first),
            None if last is None else int(last),
            bool(closed),
        )
        for algo, received, sent, first, last, closed in rows
    ]


def latency_report(legs: Iterable[LegTimes], *, until: datetime | None = None) -> LatencyReport:
    """:func:`tally`, with ``until`` as a time."""
    return tally(legs, until=None if until is None else to_micros(until))
