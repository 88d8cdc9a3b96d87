"""De-duplication across a listener's connections and reconnects.

The same push arrives once per connection (``alphahub.connections`` of them). What must come out
once is not the same for everything:

- **A leg** (and a ``hold`` leg) is traded once, ever: :class:`LegDeduper` remembers every
  :class:`~tradebot.core.signal.LegId` it has let through, and a later signal carrying the same leg
  (a re-push) does not let it through again.
- **Bad input** (a rejected leg, an undecodable frame) is not traded, so nothing is lost by
  reporting it again; it must be reported once per *delivery*, not once per connection, and a
  later signal that repeats it must be reported again. So bad input is counted per connection:
  the n-th time a connection brings the same bad input, it is new if no connection has brought
  it n times yet. Each connection delivers in order, so the same push on two connections counts
  once, and a second push of it counts again, whichever connection brings it first. A connection
  that was not subscribed for a while never receives what it missed (AlphaHub does not replay),
  so when it joins again its counts for that algorithm are brought level with the others
  (:meth:`LegDeduper.caught_up`); otherwise it would stay behind and a later push that only it
  brings would pass for a copy.

Memory is bounded two ways: an entry is forgotten ``window`` seconds (monotonic) after it was
first seen, and at most ``max_ids`` entries of each kind are kept (the oldest go first). The
defaults, one day and 100,000, are far beyond any redundant delivery (milliseconds apart) or
re-push after a reconnect (seconds), and cost a few tens of MB at most. Pure: the caller passes
``now``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tradebot.core.signal import LegId, RejectedLeg, Signal

DEFAULT_WINDOW = 24 * 3600.0
DEFAULT_MAX_IDS = 100_000

#: identifies one piece of bad input: (what, algorithm or None, ...its content)
ReportKey = tuple[Any, ...]


class LegDeduper:
    """Filters signals down to the legs not seen before and the bad input not yet reported."""

    def __init__(self, window: float = DEFAULT_WINDOW, max_ids: int = DEFAULT_MAX_IDS) -> None:
        if window <= 0 or max_ids <= 0:
            raise ValueError("window and max_ids must be positive")
        self._window = window
        self._max_ids = max_ids
        self._seen: OrderedDict[LegId | str, float] = OrderedDict()
        # bad input (its algorithm second) -> (first seen, deliveries per connection)
        self._reports: OrderedDict[ReportKey, tuple[float, dict[int, int]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def _evict(self, now: float) -> None:
        while self._seen and self._expired(next(iter(self._seen.values())), self._seen, now):
            self._seen.popitem(last=False)
        while self._reports and self._expired(
            next(iter(self._reports.values()))[0], self._reports, now
        ):
            self._reports.popitem(last=False)

    def _expired(self, first_seen: float, table: OrderedDict[Any, Any], now: float) -> bool:
        return now - first_seen >= self._window or len(table) > self._max_ids

    def _fresh(self, key: LegId | str, now: float) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def caught_up(self, connection: int, algo_id: int) -> None:
        """``connection`` (re)joined ``algo_id``: what it missed meanwhile will never come."""
        for key, (_, counts) in self._reports.items():
            if key[1] == algo_id:
                counts[connection] = max(counts.values())

    def seen(self, ids: Sequence[LegId], now: float) -> bool:
        """Whether any of ``ids`` was let through (within the window)."""
        self._evict(now)
        return any(key in self._seen for key in ids)

    def claim(self, ids: Sequence[LegId], now: float) -> None:
        """Remember ``ids`` as let through, though they came another way.

        The backfill claims each history leg it hands on under both kinds (the history has no
        open/close), so the same leg arriving live afterwards, whatever its kind, is filtered
        out: it is traded once, whichever way comes first.
        """
        self._evict(now)
        for key in ids:
            self._seen.setdefault(key, now)
        self._evict(now)

    def new_report(self, key: ReportKey, connection: int, now: float) -> bool:
        """Whether this delivery of bad input ``key`` on ``connection`` is news (see the module)."""
        self._evict(now)
        first_seen, counts = self._reports.get(key, (now, {}))
        counts[connection] = counts.get(connection, 0) + 1
        self._reports[key] = (first_seen, counts)
        self._evict(now)
        return counts[connection] > max(
            (n for conn, n in counts.items() if conn != connection), default=0
        )

    def filter(self, signal: Signal, now: float, connection: int = 0) -> Signal | None:
        """``signal`` with only its unseen legs and its new rejections, or None if none are left.

        A rejected leg is identified by its algorithm, group, position and raw text, and counted
        per delivery (:meth:`new_report`): the same bad leg from two connections is reported
        once, and again when a later signal repeats it.
        """
        self._evict(now)
        closes = tuple(leg for leg in signal.close_legs if self._fresh(leg.id, now))
        opens = tuple(leg for leg in signal.open_legs if self._fresh(leg.id, now))
        held = tuple(leg for leg in signal.held if self._fresh(leg.key, now))
        rejected: tuple[RejectedLeg, ...] = tuple(
            r for r in signal.rejected if self.new_report(_rejection_key(r), connection, now)
        )
        self._evict(now)
        if not closes and not opens and not held and not rejected:
            return None
        if (closes, opens, held, rejected) == (
            signal.close_legs,
            signal.open_legs,
            signal.held,
            signal.rejected,
        ):
            return signal
        return replace(signal, close_legs=closes, open_legs=opens, held=held, rejected=rejected)


def _rejection_key(rejected: RejectedLeg) -> ReportKey:
    return ("leg", rejected.algo_id, str(rejected.kind), rejected.index, digest(rejected.raw))


def digest(text: str) -> str:
    """A short stand-in for bad input's content: frames can be large, and up to ``max_ids``
    of them are remembered for a day."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
