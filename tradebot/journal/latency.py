"""How long our orders take, per algorithm: signal received -> order sent -> first and last fill.

Three intervals per *leg* (the execution review's unit, :mod:`tradebot.journal.summary`: one
INTENT, with a chased limit's market remainder), entries and the algorithm's closes only (an
exit's fill waits for the market, not for us):

* ``signal_to_order``: the signal's receipt (the ``received_at`` the listener stamped, the
  time of the signal's SIGNAL and LEG rows) to the order's send (its INTENT row's time: the
  order decided and durable, the moment before it leaves for the broker, where the execution
  review's time to fill starts too). Only legs with a LEG row (a signal's);
* ``order_to_first_fill``: the send to the leg's first fill;
* ``order_to_last_fill``: the send to the leg's last fill, once no other can come (the leg
  filled completely, or the broker ended it with part filled). A leg still working has no last
  fill yet.

Per algorithm and interval: p50, p90 and p99 by **nearest rank** (a time some leg really took:
the value at rank ``ceil(q x n)`` of the ``n`` sorted samples, :func:`summary.nearest_rank`).
A quantile needs at least :func:`min_samples` samples (2 for p50, 10 for p90, 100 for p99);
with fewer it is not given, and the report says how many it has.

Read from the journal's per-leg summaries (``sum_leg``): the fold keeps each leg's signal
receipt (its first LEG row's time: the listener's ``received_at``), send and fill times, and
the three intervals, each indexed with its algorithm, so the whole journal's percentiles are
index walks (:func:`read`); a window (``--since``/``--until``) reads the legs sent in it
(:func:`leg_times`) and sorts their intervals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradebot.journal.dialect import Conn
from tradebot.journal.interface import Journal
from tradebot.journal.records import dec_text, to_micros
from tradebot.journal.summary import latency_us, nearest_rank

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
    """The leg's three intervals in microseconds (None: not measured), by the rule the
    summaries keep them by (:func:`summary.latency_us`)."""
    found = latency_us(
        leg.received, leg.sent, leg.first_fill, leg.last_fill, closed=leg.closed, until=until
    )
    return dict(zip(INTERVALS, found, strict=True))


@dataclass
class Interval:
    """One interval of one algorithm: how many samples, and each percentile (microseconds;
    None with fewer than :func:`min_samples`)."""

    n: int = 0
    picked: dict[int, int | None] = field(default_factory=lambda: dict.fromkeys(PERCENTILES))

    @classmethod
    def of(cls, samples: list[int]) -> Interval:
        """Nearest rank among ``samples``."""
        ordered = sorted(samples)
        n = len(ordered)
        return cls(
            n,
            {
                p: ordered[nearest_rank(p / 100, n)] if n >= min_samples(p) else None
                for p in PERCENTILES
            },
        )

    def percentile(self, percent: int) -> int | None:
        return self.picked.get(percent)


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
            out[f"{name}_n"] = interval.n
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
                row: dict[str, Any] = {"algo_id": algo.algo_id, "interval": name, "n": interval.n}
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
    samples: dict[int, dict[str, list[int]]] = {}
    for leg in legs:
        mine = samples.setdefault(leg.algo_id, {name: [] for name in INTERVALS})
        for name, micros in intervals(leg, until).items():
            if micros is not None:
                mine[name].append(micros)
    return LatencyReport(
        [
            AlgoLatency(algo, {name: Interval.of(found[name]) for name in INTERVALS})
            for algo, found in sorted(samples.items())
        ]
    )


# -- the whole journal: index walks over the summaries ----------------------------------------
#: the stored column of each interval (``sum_leg``, indexed with its algorithm)
_COLUMNS = dict(zip(INTERVALS, ("signal_us", "first_us", "last_us"), strict=True))


def read(conn: Conn, account: str | None = None) -> LatencyReport:
    """The whole journal's latency report from the summaries: per interval, the samples
    counted by the execution rows and each percentile found by an index walk; ``account``'s
    legs, or every account's (None)."""
    found: dict[int, AlgoLatency] = {}
    own, whose = ("", ()) if account is None else (" AND account = ?", (account,))
    # how many samples: the legs' counts the execution rows keep (exits count none)
    totals = conn.execute(
        "SELECT algo_id, sum(signal_n), sum(first_n), sum(last_n) FROM sum_style "  # noqa: S608
        f"WHERE 1 = 1{own} GROUP BY algo_id",
        whose,
    ).fetchall()
    for i, (name, column) in enumerate(_COLUMNS.items()):
        counts = [(algo, int(row[i])) for algo, *row in totals if int(row[i])]
        nth = (
            f"SELECT {column} FROM sum_leg WHERE algo_id = ? AND {column} IS NOT NULL"  # noqa: S608
            f"{own} ORDER BY {column} LIMIT 1 OFFSET ?"
        )
        for algo, n in counts:
            picked: dict[int, int | None] = {}
            for p in PERCENTILES:
                row = None
                if n >= min_samples(p):
                    at = (algo, *whose, nearest_rank(p / 100, n))
                    row = conn.execute(nth, at).fetchone()
                picked[p] = None if row is None else int(row[0])
            mine = found.setdefault(int(algo), AlgoLatency(int(algo)))
            mine.intervals[name] = Interval(int(n), picked)
    return LatencyReport([found[a] for a in sorted(found)])


# -- a window: the legs sent in it ------------------------------------------------------------
_LEGS = (
    "SELECT algo_id, received, started, first_fill, last_fill, closed FROM sum_leg "
    "WHERE coid = head AND algo_id IS NOT NULL AND substr(style, 1, 5) <> 'exit '"
)


def leg_times(
    conn: Conn, *, since: int | None = None, until: int | None = None, account: str | None = None
) -> list[LegTimes]:
    """The legs (entries and closes) sent in ``[since, until)`` (microseconds); ``account``'s,
    or every account's (None)."""
    sql, params = _LEGS, list[Any]()
    if account is not None:
        sql += " AND account = ?"
        params.append(account)
    if since is not None:
        sql += " AND started >= ?"
        params.append(since)
    if until is not None:
        sql += " AND started < ?"
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


def window_report(legs: Iterable[LegTimes], *, until: datetime | None = None) -> LatencyReport:
    """:func:`tally`, with ``until`` as a time."""
    return tally(legs, until=None if until is None else to_micros(until))


def latency_report(
    journal: Journal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    account: str | None = None,
) -> LatencyReport:
    """Per algorithm, the legs sent in ``[since, until)``: the whole journal from the
    summaries' indexes, a window from the legs sent in it; ``account``'s legs, or every
    account's (None)."""
    if since is None and until is None:
        return journal.latency(account=account)
    legs = journal.leg_times(since=since, until=until, account=account)
    return window_report(legs, until=until)
