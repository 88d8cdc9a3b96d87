"""What the bot does when an algorithm was not subscribed on any connection for a while.

AlphaHub does not replay (ALPHAHUB.md §6): a signal published during such a lapse is lost. The
bot cannot know whether one was, so it says so: every connection's gap is journaled, every lapse
in coverage (no connection subscribed; :mod:`.coverage`) is journaled and printed once, with the
algorithm's holdings to compare with AlphaHub's, and the net positions are compared with the
broker's (any drift is recorded, never traded away).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from tradebot.alphahub.gaps import Gap
from tradebot.alphahub.listener import Listener
from tradebot.broker.base import Broker
from tradebot.core.book import PositionBook
from tradebot.exceptions import TransientError
from tradebot.execution.recovery import compare_positions
from tradebot.journal.interface import Journal
from tradebot.runtime.coverage import Interval, lapses_ended

log = logging.getLogger(__name__)


class LapseWatcher:
    def __init__(
        self,
        journal: Journal,
        broker: Broker,
        book: PositionBook,
        listener: Listener,
        *,
        connections: int,
        say: Callable[[str], None],
        now: Callable[[], datetime],
    ) -> None:
        self._journal = journal
        self._broker = broker
        self._book = book
        self._listener = listener
        self._connections = connections
        self._say = say
        self._now = now
        self.gaps: asyncio.Queue[Gap] = asyncio.Queue()  # the listener's on_gap puts them here
        self._reported: dict[int, datetime] = {}  # algo -> end of the last lapse reported

    async def run(self) -> None:
        while True:
            gap = await self.gaps.get()
            await self.closed(gap)

    async def closed(self, gap: Gap) -> None:
        """Journal one connection's closed gap; report the lapse it ends, if it ends one."""
        assert gap.rejoined_at is not None
        await asyncio.to_thread(
            self._journal.record_gap,
            f"connection {gap.connection} lost algorithm {gap.algo_id} from "
            f"{gap.lost_at.isoformat()} to {gap.rejoined_at.isoformat()}: {gap.reason}",
            algo_id=gap.algo_id,
        )
        seen = self._reported.get(gap.algo_id)
        windows = lapses_ended(self._listener.gaps, gap, self._connections, seen, now=self._now())
        if windows:
            self._reported[gap.algo_id] = max(end for _, end in windows)
            await self._lapse(gap.algo_id, windows)

    async def _lapse(self, algo_id: int, windows: list[Interval]) -> None:
        spans = ", ".join(f"{s.isoformat()} to {e.isoformat()}" for s, e in windows)
        holdings = {s: str(q) for s, q in self._book.holdings(algo_id).items()}
        detail = (
            f"algorithm {algo_id} was not subscribed on any connection ({spans}): a signal "
            f"sent then may have been missed; compare its holdings {holdings or '{}'} "
            "with AlphaHub's"
        )
        self._say(f"warning: {detail}")
        await asyncio.to_thread(self._journal.record_gap, detail, algo_id=algo_id)
        try:
            drifts, _ = await compare_positions(self._journal, self._broker, self._book)
        except TransientError as exc:
            log.warning("after a lapse, broker positions unavailable: %s", exc)
            return
        for drift in drifts:
            self._say(f"warning: {drift} (recorded; never traded away)")
