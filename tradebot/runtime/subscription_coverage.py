"""When was an algorithm not subscribed on *any* connection? Those are the windows in which a
signal may have been missed (AlphaHub does not replay, docs/alphahub.md#delivery-is-at-most-once).

With several connections, one connection's gap is harmless while another stays joined; only the
intersection of every connection's gaps is a real lapse of coverage. Pure functions over
:class:`~tradebot.alphahub.gaps.Gap` values.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tradebot.alphahub.gaps import Gap

Interval = tuple[datetime, datetime]


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def uncovered(
    gaps: Iterable[Gap], algo_id: int, connections: int, *, now: datetime
) -> list[Interval]:
    """Windows in which no connection was subscribed to ``algo_id`` (open gaps end at ``now``)."""
    per_connection: dict[int, list[Interval]] = {c: [] for c in range(connections)}
    for gap in gaps:
        if gap.algo_id == algo_id and gap.connection in per_connection:
            end = gap.rejoined_at or now
            if gap.lost_at < end:
                per_connection[gap.connection].append((gap.lost_at, end))
    windows: list[Interval] | None = None
    for intervals in per_connection.values():
        merged = _merged(intervals)
        windows = merged if windows is None else _intersect(windows, merged)
        if not windows:
            return []
    return windows or []


def lapses_ended(
    gaps: Iterable[Gap], gap: Gap, connections: int, seen: datetime | None, *, now: datetime
) -> list[Interval]:
    """The lapses of ``gap.algo_id`` that the closing of ``gap`` ends and that end after
    ``seen`` (the end of the last lapse already handled): every connection's gap that closes
    sees the same lapse, which must be handled once."""
    assert gap.rejoined_at is not None
    return [
        (start, end)
        for start, end in uncovered(gaps, gap.algo_id, connections, now=now)
        if start < gap.rejoined_at and end > gap.lost_at and (seen is None or end > seen)
    ]
