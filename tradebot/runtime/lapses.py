"""What the bot does when an algorithm was not subscribed on any connection for a while.

AlphaHub does not replay (docs/alphahub.md#delivery-is-at-most-once): a signal published during such
a lapse is lost. The bot cannot know whether one was, so it says so: every connection's gap is
journaled, every lapse in coverage (no connection subscribed; :mod:`.subscription_coverage`) is
journaled and printed once, with the algorithm's holdings to compare with AlphaHub's, and the net
positions are compared with the broker's once the lapses that ended together are reported (any
drift is recorded, never traded away, and told in one message).

The watcher reads closed gaps from a queue of its own (a subscription to the bot's gap
:class:`~tradebot.runtime.channel.Channel`, which the listener publishes to) and the listener's
gap history through ``history``: information flows from the listener to the watcher, never back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tradebot.alphahub.gaps import Gap
from tradebot.broker.base import Broker
from tradebot.core.book import PositionBook
from tradebot.exceptions import TransientError
from tradebot.execution.recovery import compare_positions
from tradebot.journal.counts import LAPSE_OPENING
from tradebot.journal.interface import Journal
from tradebot.runtime.observer import BotEvent, DriftFound, LapseReported
from tradebot.runtime.subscription_coverage import Interval, lapses_ended

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Compared:
    """One account whose positions a lapse compares with its broker's: its name, its view of
    the journal (where its drift rows go), its broker and its book."""

    name: str
    journal: Journal
    broker: Broker
    book: PositionBook


class LapseWatcher:
    def __init__(
        self,
        journal: Journal,
        accounts: Sequence[Compared],
        *,
        gaps: asyncio.Queue[Gap],
        history: Callable[[], Sequence[Gap]],
        connections: int,
        say: Callable[[str], None],
        now: Callable[[], datetime],
        notify: Callable[[BotEvent], None] = lambda event: None,
    ) -> None:
        """``gaps``: closed gaps, as they close; ``history``: every gap so far, open or closed
        (a lapse is the intersection of every connection's gaps, :mod:`.subscription_coverage`).
        ``accounts``: every account traded, each compared with its own broker after a lapse.
        """
        self._journal = journal
        self._accounts = tuple(accounts)
        self._history = history
        self._connections = connections
        self._say = say
        self._now = now
        self._notify = notify
        self.gaps = gaps
        self._reported: dict[int, datetime] = {}  # algo -> end of the last lapse reported
        self._compare_due = False  # a lapse was reported: compare positions with the broker

    async def run(self) -> None:
        while True:
            gap = await self.gaps.get()
            await self.closed(gap)
            if self._compare_due and self.gaps.empty():
                # once for every lapse reported together (a connection back ends several
                # algorithms' lapses at once): one comparison, one drift message
                self._compare_due = False
                await self.compare()

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
        windows = lapses_ended(self._history(), gap, self._connections, seen, now=self._now())
        if windows:
            self._reported[gap.algo_id] = max(end for _, end in windows)
            await self._lapse(gap.algo_id, windows)

    async def _lapse(self, algo_id: int, windows: list[Interval]) -> None:
        spans = ", ".join(f"{s.isoformat()} to {e.isoformat()}" for s, e in windows)
        held = dict(self._accounts[0].book.holdings(algo_id))
        if len(self._accounts) == 1:
            holdings = str({s: str(q) for s, q in held.items()} or "{}")
        else:  # each account's (sized by its own rules)
            holdings = ", ".join(
                f"{a.name} {({s: str(q) for s, q in a.book.holdings(algo_id).items()}) or '{}'}"
                for a in self._accounts
            )
        detail = (
            f"{LAPSE_OPENING.format(algo_id=algo_id)} ({spans}): a signal "
            f"sent then may have been missed; compare its holdings {holdings} "
            "with AlphaHub's"
        )
        self._say(f"warning: {detail}")
        await asyncio.to_thread(self._journal.record_gap, detail, algo_id=algo_id)
        self._notify(LapseReported(algo_id, tuple(windows), held))
        self._compare_due = True

    async def compare(self) -> None:
        """Compare each account's net positions with its broker's; any drift is recorded for
        that account, never traded. One account's broker not answering skips that account."""
        for account in self._accounts:
            await self._compare(account)

    async def _compare(self, account: Compared) -> None:
        several = len(self._accounts) > 1
        whose = f"account {account.name}: " if several else ""
        try:
            drifts, _ = await compare_positions(
                account.journal, account.broker, account.book, account=account.name
            )
        except TransientError as exc:
            log.warning("after a lapse, %sbroker positions unavailable: %s", whose, exc)
            return
        for drift in drifts:
            self._say(f"warning: {whose}{drift} (recorded; never traded away)")
        if drifts:
            self._notify(DriftFound(drifts, account=account.name))
