"""Where the dashboard reads from: the journal, the status file, the kill switch, the config,
and each account's broker's last snapshot (:mod:`.snapshot`: refreshed in the background, never
asked by a page; a mapping account -> snapshot, one entry with one account).

The same :class:`Sources` serves the running bot and ``tradebot dashboard``; nothing in it
holds the journal's writer lock (the journal is opened read-only, as the review commands do),
so the dashboard can never stop the bot from journaling.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tradebot.config.model import Config
from tradebot.exceptions import JournalError
from tradebot.journal.interface import Journal
from tradebot.journal.opener import open_journal
from tradebot.web.accounts import AccountHealth
from tradebot.web.health import Health
from tradebot.web.snapshot import BrokerSnapshots, BrokerState, not_asked

T = TypeVar("T")

#: threads reading for the dashboard; one journal connection serialises them anyway
READERS = 2


class LiveFeed:
    """A nudge from the running bot: "the journal has new rows". Server-sent events wait on it
    instead of their polling interval, so a fill reaches the page at once. Optional: without
    it the events poll the journal (which is what ``tradebot dashboard`` does)."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        """Wake every open stream; call from the bot's event loop."""
        for event in self._waiters:
            event.set()

    async def wait(self, at_most: float) -> None:
        """Until :meth:`notify` or ``at_most`` seconds, whichever is first."""
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            async with asyncio.timeout(at_most):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(event)


@dataclass
class Sources:
    """What the pages read. Paths are absolute; ``config`` is the effective config (or None
    when ``tradebot dashboard --journal`` is given no config)."""

    journal_path: Path
    config: Config | None = None
    status_path: Path | None = None
    kill_switch_path: Path | None = None
    #: each account's broker's last snapshot, by account name, each refreshed by its own task
    #: (an account missing: its broker is not asked, and ``broker_not_asked`` says why)
    brokers: Mapping[str, BrokerSnapshots] = field(default_factory=dict)
    broker_not_asked: str = "broker not queried"
    feed: LiveFeed | None = None
    #: opens the journal read-only; default: the SQLite file at ``journal_path`` (a server
    #: journal passes its own opener, e.g. ``lambda: open_journal(url, readonly=True)``)
    opener: Callable[[], Journal] | None = None
    #: the running bot's own health checks and metrics (None: ``tradebot dashboard`` alone,
    #: where /healthz reads the status file and /metrics has nothing to show)
    health: Callable[[], Health] | None = None
    metrics: Callable[[], bytes] | None = None
    #: what the running bot knows of each account's broker (None: ``tradebot dashboard``
    #: alone, which knows only the snapshots)
    account_health: Callable[[], Mapping[str, AccountHealth]] | None = None
    _journal: Journal | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    @property
    def token(self) -> str | None:
        if self.config is None or self.config.dashboard.token is None:
            return None
        return self.config.dashboard.token.get_secret_value()

    def broker_state(self, account: str | None = None) -> BrokerState:
        """``account``'s broker as of its last snapshot (None: the only account's); no I/O,
        never waits. With several accounts and none named, no broker: the pages' broker side
        is one account's."""
        if account is None:
            if len(self.brokers) > 1:
                return not_asked("several accounts: pick one to see its broker")
            snapshots = next(iter(self.brokers.values()), None)
        else:
            snapshots = self.brokers.get(account)
        if snapshots is None:
            return not_asked(self.broker_not_asked)
        return snapshots.state()

    def broker_states(self) -> dict[str, BrokerState]:
        """Every account's broker as of its last snapshot, by account."""
        return {name: snapshots.state() for name, snapshots in self.brokers.items()}

    def prices_state(self, account: str | None = None) -> BrokerState:
        """Where the pages take last prices from: ``account``'s snapshot, else the first
        account's that has prices (a price is the market's, whichever account read it)."""
        if account is not None or len(self.brokers) <= 1:
            return self.broker_state(account)
        states = self.broker_states().values()
        return next((s for s in states if s.prices), next(iter(states)))

    def watch(self, symbols: list[str]) -> None:
        """Every snapshot prices these symbols from its next refresh."""
        for snapshots in self.brokers.values():
            snapshots.watch(symbols)

    def journal(self) -> Journal:
        """The read-only journal, opened on first use (the bot may not have created it yet).

        Raises :class:`JournalError` while there is none. Call from a worker thread."""
        with self._lock:
            if self._journal is None:
                opener = self.opener or (lambda: open_journal(self.journal_path, readonly=True))
                self._journal = opener()
            return self._journal

    async def read(self, func: Callable[[Journal], T]) -> T:
        """``func(journal)`` in one of the dashboard's own threads: a slow read (a year of
        P&L) never blocks the event loop, nor takes a worker of the loop's default pool,
        where the bot's broker calls run."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads(), lambda: func(self.journal()))

    async def run(self, func: Callable[[], T]) -> T:
        """``func()`` (a small file read) in the dashboard's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._threads(), func)

    def _threads(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="dashboard")
            return self._pool

    def close(self) -> None:
        """Close the journal and let the threads go (a later read starts them again)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            if self._journal is not None:
                self._journal.close()
                self._journal = None


__all__ = ["BrokerSnapshots", "JournalError", "LiveFeed", "Sources"]
