"""What the alerts watch over time, rather than hear as events: coverage outages and the
daily summary. Pure: the clock and the listener's gaps are passed in.

**Outage.** An algorithm is out while no connection is subscribed to it (the intersection of
every connection's open gaps, :mod:`.subscription_coverage`). Each entry under ``notify:`` that
wants ``outage`` is told once the outage has lasted its ``outage_after`` seconds, *while it
lasts*, and told again when it ends, with how long it lasted. An outage that ends sooner (a
blip) tells nothing here; the lapse it leaves is the ``lapse`` event's business.

**Daily summary.** What the journal's summaries say changed since the previous summary (or since
the alerts started): signals, orders, fills, realised P&L, rejections, failures, skips by
reason; with the lapses reported and each algorithm's coverage over the same period.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from tradebot.alphahub.gaps import Gap
from tradebot.journal.summary_sql import Summaries
from tradebot.runtime.subscription_coverage import Interval, uncovered


def open_outages(
    gaps: Sequence[Gap], algorithms: Sequence[int], connections: int, now: datetime
) -> dict[int, datetime]:
    """Each algorithm subscribed on no connection right now, with when that began."""
    out: dict[int, datetime] = {}
    for algo_id in algorithms:
        lost = {g.connection for g in gaps if g.algo_id == algo_id and g.rejoined_at is None}
        if not all(c in lost for c in range(connections)):
            continue  # some connection holds it
        windows = uncovered(gaps, algo_id, connections, now=now)
        if windows:
            out[algo_id] = windows[-1][0]
    return out


def outage_end(
    gaps: Sequence[Gap], algo_id: int, connections: int, since: datetime, now: datetime
) -> datetime:
    """When the outage of ``algo_id`` that began at ``since`` ended (``now`` if not found)."""
    for start, end in uncovered(gaps, algo_id, connections, now=now):
        if start == since:
            return min(end, now)
    return now


def duration_text(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{span.total_seconds():.1f} s"


@dataclass(frozen=True, slots=True)
class OutageNews:
    """``targets`` (entries under notify:) are to be told: started (``ended`` None) or ended."""

    algo_id: int
    since: datetime
    ended: datetime | None
    targets: frozenset[int]

    def text(self) -> str:
        if self.ended is None:
            return (
                f"outage: algorithm {self.algo_id} is subscribed on no connection since "
                f"{self.since:%H:%M:%S} UTC: signals sent now are lost"
            )
        return (
            f"outage over: algorithm {self.algo_id} is subscribed again after "
            f"{duration_text(self.ended - self.since)} "
            f"({self.since:%H:%M:%S} to {self.ended:%H:%M:%S} UTC)"
        )


@dataclass
class OutageWatch:
    """``thresholds``: each entry's ``outage_after`` (seconds), for the entries wanting it."""

    thresholds: Mapping[int, float]
    _open: dict[int, tuple[datetime, set[int]]] = field(default_factory=dict)

    def step(
        self, gaps: Sequence[Gap], algorithms: Sequence[int], connections: int, now: datetime
    ) -> list[OutageNews]:
        """One look at the listener's gaps: what to tell, and to whom."""
        outages = open_outages(gaps, algorithms, connections, now)
        news: list[OutageNews] = []
        for algo_id, (since, told) in list(self._open.items()):
            if outages.get(algo_id) != since:  # over (or a new one began)
                del self._open[algo_id]
                if told:
                    ended = outage_end(gaps, algo_id, connections, since, now)
                    news.append(OutageNews(algo_id, since, ended, frozenset(told)))
        for algo_id, since in outages.items():
            _, told = self._open.setdefault(algo_id, (since, set()))
            due = {
                i
                for i, after in self.thresholds.items()
                if i not in told and now - since >= timedelta(seconds=after)
            }
            if due:
                told |= due
                news.append(OutageNews(algo_id, since, None, frozenset(due)))
        return news


def covered_share(
    gaps: Sequence[Gap], algo_id: int, connections: int, start: datetime, now: datetime
) -> float:
    """The share of ``start``..``now`` in which some connection was subscribed to ``algo_id``."""
    total = (now - start).total_seconds()
    if total <= 0:
        return 1.0
    out = sum(
        (_clip(w, start, now)).total_seconds()
        for w in uncovered(gaps, algo_id, connections, now=now)
    )
    return max(0.0, 1.0 - out / total)


def _clip(window: Interval, start: datetime, end: datetime) -> timedelta:
    return max(timedelta(0), min(window[1], end) - max(window[0], start))


def summary_text(
    before: Summaries,
    after: Summaries,
    *,
    since: datetime,
    lapses: Counter[int],
    coverage: Mapping[int, float],
    history: str | None = None,
) -> str:
    """The daily summary: what changed in the journal's summaries between two reads;
    ``history``, the coverage audit's line (:func:`tradebot.tracking.coverage.summary_line`)."""

    def counted(status: str) -> int:
        return sum(n for (_, s), n in after.counts.items() if s == status) - sum(
            n for (_, s), n in before.counts.items() if s == status
        )

    fills = sum(p.fills for p in after.pnl.values()) - sum(p.fills for p in before.pnl.values())
    realised = sum((p.realised for p in after.pnl.values()), Decimal(0)) - sum(
        (p.realised for p in before.pnl.values()), Decimal(0)
    )
    skips = Counter(after.skipped)
    skips.subtract(before.skipped)
    by_reason = ", ".join(f"{r} {n}" for r, n in sorted(skips.items()) if n) or "none"
    lines = [
        f"daily summary since {since:%Y-%m-%d %H:%M} UTC:",
        f"signals {counted('signal')}, orders {counted('intent')}, fills {fills}, "
        f"rejections {counted('rejected')}, failed {counted('failed')}",
        f"realised P&L {realised.quantize(Decimal('0.01'))}",
        f"skips: {by_reason}",
        f"lapses: {sum(lapses.values())}"
        + (
            " (" + ", ".join(f"algorithm {a}: {n}" for a, n in sorted(lapses.items())) + ")"
            if lapses
            else ""
        ),
        "coverage: "
        + (
            ", ".join(f"algorithm {a} {share:.2%}" for a, share in sorted(coverage.items()))
            or "no algorithm"
        ),
    ]
    if history is not None:
        lines.append(history)
    return "\n".join(lines)


def summary_due(at: str, last: datetime, now: datetime) -> bool:
    """Whether the time of day ``at`` (HH:MM, UTC) passed after ``last`` and by ``now``."""
    hour, minute = (int(x) for x in at.split(":"))
    moment = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment > now:
        moment -= timedelta(days=1)
    return last < moment <= now
