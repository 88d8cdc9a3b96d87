"""Gaps: the spans during which a connection was not subscribed to an algorithm.

AlphaHub does not replay (docs/alphahub.md#delivery-is-at-most-once): a signal published during a
gap is lost for that connection. Each gap is recorded per algorithm and connection, from the moment
the channel was lost (socket closed or went silent, ``phx_close``/``phx_error``) to the moment it
was joined again, so the bot can journal it and compare positions with the broker afterwards.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Gap:
    """One connection's lapse in one algorithm's subscription. Times are UTC.

    ``rejoined_at`` is None while the gap is still open.
    """

    algo_id: int
    connection: int
    lost_at: datetime
    rejoined_at: datetime | None
    reason: str


class GapRecorder:
    """Opens a gap when a channel is lost, closes it when the channel is joined again.

    Keeps the last ``keep`` closed gaps in memory (the journal keeps them all, via ``on_gap``).
    """

    def __init__(self, keep: int = 10_000) -> None:
        self._open: dict[tuple[int, int], Gap] = {}
        self._closed: deque[Gap] = deque(maxlen=keep)

    def lost(self, algo_id: int, connection: int, at: datetime, reason: str) -> Gap | None:
        """Record a loss; a second loss before the rejoin extends the same gap (returns None)."""
        key = (algo_id, connection)
        if key in self._open:
            return None
        gap = Gap(algo_id, connection, at, None, reason)
        self._open[key] = gap
        return gap

    def rejoined(self, algo_id: int, connection: int, at: datetime) -> Gap | None:
        """Close the open gap for this channel, if any, and return it."""
        gap = self._open.pop((algo_id, connection), None)
        if gap is None:
            return None
        closed = replace(gap, rejoined_at=at)
        self._closed.append(closed)
        return closed

    @property
    def gaps(self) -> tuple[Gap, ...]:
        """Every closed gap in order of closing, then the ones still open."""
        return (*self._closed, *self._open.values())
