"""Leg de-duplication across a listener's connections and reconnects.

The same leg arrives once per connection (``alphahub.connections`` of them), and may be re-pushed
after a reconnect. :class:`LegDeduper` remembers every :class:`~tradebot.core.signal.LegId` it has
let through, so each leg is handed on once.

Memory is bounded two ways: an id is forgotten ``window`` seconds (monotonic) after it was first
seen, and at most ``max_ids`` ids are kept (the oldest go first). The defaults, one day and
100,000 ids, are far beyond any redundant delivery (milliseconds apart) or re-push after a
reconnect (seconds), and cost a few tens of MB at most. Pure: the caller passes ``now``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

from tradebot.core.signal import LegId, RejectedLeg, Signal

DEFAULT_WINDOW = 24 * 3600.0
DEFAULT_MAX_IDS = 100_000


class LegDeduper:
    """Filters signals down to the legs not seen before (within the window)."""

    def __init__(self, window: float = DEFAULT_WINDOW, max_ids: int = DEFAULT_MAX_IDS) -> None:
        if window <= 0 or max_ids <= 0:
            raise ValueError("window and max_ids must be positive")
        self._window = window
        self._max_ids = max_ids
        self._seen: OrderedDict[LegId | tuple[int, str, int | None, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def _evict(self, now: float) -> None:
        while self._seen:
            key, first_seen = next(iter(self._seen.items()))
            if now - first_seen < self._window and len(self._seen) <= self._max_ids:
                break
            del self._seen[key]

    def _fresh(self, key: LegId | tuple[int, str, int | None, str], now: float) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

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

    def filter(self, signal: Signal, now: float) -> Signal | None:
        """``signal`` with only its unseen legs (and unseen rejections), or None if none are left.

        A rejected leg is identified by its algorithm, group, position and raw text, so the same
        bad leg from two connections is reported once.
        """
        self._evict(now)
        closes = tuple(leg for leg in signal.close_legs if self._fresh(leg.id, now))
        opens = tuple(leg for leg in signal.open_legs if self._fresh(leg.id, now))
        rejected: tuple[RejectedLeg, ...] = tuple(
            r for r in signal.rejected if self._fresh(_rejection_key(r), now)
        )
        self._evict(now)
        if not closes and not opens and not rejected:
            return None
        if (
            len(closes) == len(signal.close_legs)
            and len(opens) == len(signal.open_legs)
            and len(rejected) == len(signal.rejected)
        ):
            return signal
        return replace(signal, close_legs=closes, open_legs=opens, rejected=rejected)


def _rejection_key(rejected: RejectedLeg) -> tuple[int, str, int | None, str]:
    return (rejected.algo_id, str(rejected.kind), rejected.index, rejected.raw)
