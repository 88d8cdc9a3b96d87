"""Keeps the :class:`~tradebot.runtime.status.StatusBoard` current while the bot runs.

Counts come from the journal (the source of truth), connection states from the listener. The
board is written beside the journal every ``every`` seconds (the heartbeat, 5 s by default:
:mod:`tradebot.runtime.liveness` judges a bot by its age), for ``tradebot status`` and the
dashboard, and printed on the bot's output when the connections change and every ``interval``
seconds. The board names this process's role (sole, or the leader and its epoch) and carries
the health checks ``/healthz`` computes (``checks``, set by the dashboard's plug-in).

A standby (several processes on one PostgreSQL journal) writes a status of its own
(:class:`StandbyStatus`: role ``standby``, its connections, no counts), unless the file is
another live process's: the leader's status is never overwritten by a standby on its host.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import datetime
from pathlib import Path
from typing import TextIO

from tradebot.alphahub.listener import Listener
from tradebot.clock import utcnow
from tradebot.config.model import Config, Mode
from tradebot.core.signal import Signal
from tradebot.exceptions import StatusUnreadable
from tradebot.journal import counts
from tradebot.journal.interface import Journal
from tradebot.journal.last_signals import last_signals
from tradebot.runtime.context import start_of_trading_day
from tradebot.runtime.killswitch import KillSwitchState
from tradebot.runtime.liveness import HEARTBEAT_EVERY
from tradebot.runtime.status import (
    SOLE,
    STANDBY,
    AlgoLine,
    StatusBoard,
    StatusWriter,
    liveness_of,
    read_status,
    render,
    status_path,
)

#: what the status names of this process: its role and, for a leader, its epoch
Standing = Callable[[], tuple[str, int | None]]
#: seconds after start-up before missing subscriptions are shown
SETTLE = 10.0


class StatusFeed:
    def __init__(
        self,
        journal: Journal,
        listener: Listener,
        config: Config,
        *,
        mode: Mode,
        broker: str,
        account: str,
        journal_path: Path,
        kill_switch: Callable[[], KillSwitchState],
        out: TextIO,
        interval: float,
        every: float = HEARTBEAT_EVERY,
        standing: Standing = lambda: (SOLE, None),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``every``: seconds between two writes (the heartbeat)."""
        self._journal = journal
        self._every = every
        self._standing = standing
        #: the health checks to publish (the dashboard's plug-in sets it; None: none)
        self.checks: Callable[[], dict[str, str | None]] | None = None
        self._listener = listener
        self._kill_switch = kill_switch
        self._out = out
        self._interval = interval
        self._clock = clock
        self._seeded = False
        #: what the heartbeat says the bot does (the bot sets it: recovering, then running)
        self.state = "running"
        self.path = status_path(journal_path)
        self._writer = StatusWriter(self.path)
        self.board = StatusBoard(
            mode=str(mode),
            broker=broker,
            account=account,
            connections=config.alphahub.connections,
            journal=str(journal_path),
            started_at=clock(),
            heartbeat_every=every,
        )
        names = algorithm_names(config)
        for algo_id in listener.algorithms:
            self.board.algos[algo_id] = AlgoLine(algo_id, names.get(algo_id, ""))

    def note_signal(self, signal: Signal) -> None:
        line = self.board.algos.get(signal.algo_id)
        if line is not None:
            line.last_signal_at = signal.received_at
            line.last_signal = f"{len(signal.close_legs)} close, {len(signal.open_legs)} open" + (
                f", {len(signal.rejected)} bad" if signal.rejected else ""
            )

    def _counts(self, since: datetime) -> tuple[Counter[int], Counter[int]]:
        return today_orders_and_fills(self._journal, since)

    def _seed(self) -> None:
        """Each algorithm's last signal from the journal: a restart does not forget it."""
        for algo_id, entry in last_signals(self._journal, self.board.algos).items():
            line = self.board.algos[algo_id]
            if line.last_signal_at is None or line.last_signal_at < entry.at:
                line.last_signal_at, line.last_signal = entry.at, entry.detail
        self._seeded = True

    async def refresh(self, state: str = "running") -> None:
        now = self._clock()
        if not self._seeded:
            await asyncio.to_thread(self._seed)
        counts = await asyncio.to_thread(self._counts, start_of_trading_day(now))
        self._update(state, now, *counts)
        await asyncio.to_thread(self._writer.write, self.board.as_dict())

    def _update(self, state: str, now: datetime, orders: Counter[int], fills: Counter[int]) -> None:
        joined: Counter[int] = Counter()
        for connection in range(self.board.connections):
            joined.update(self._listener.joined(connection))
        for algo_id, line in self.board.algos.items():
            line.joined = joined[algo_id]
            line.orders_today = orders[algo_id]
            line.fills_today = fills[algo_id]
        switch = self._kill_switch()
        self.board.kill_switch = "off" if switch.mode == "running" else str(switch.mode)
        self.board.state = state
        self.board.updated_at = now
        self.board.role, self.board.epoch = self._standing()
        if self.checks is not None:
            self.board.checks = self.checks()

    def _links(self) -> tuple[int, ...]:
        return tuple(line.joined for _, line in sorted(self.board.algos.items()))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        started = printed_at = loop.time()
        printed_links: tuple[int, ...] | None = None
        while True:
            await self.refresh(self.state)
            links = self._links()
            settling = loop.time() - started < SETTLE and not self._listener.all_joined
            if settling:
                pass  # the first joins take a moment: no "not subscribed" alarm at start-up
            elif links != printed_links or loop.time() - printed_at >= self._interval:
                print(render(self.board.as_dict()), file=self._out, flush=True)
                printed_links, printed_at = links, loop.time()
            await asyncio.sleep(self._every)

    def final(self, state: str) -> None:
        """Write the last status synchronously (the loop is shutting down)."""
        now = self._clock()
        self._update(state, now, *self._counts(start_of_trading_day(now)))
        self._writer.write(self.board.as_dict())


def today_orders_and_fills(journal: Journal, since: datetime) -> tuple[Counter[int], Counter[int]]:
    """Per algorithm, "orders" and "fills" since ``since`` as :mod:`tradebot.journal.counts`
    defines them (counted by the store: no row of the day is read or decoded)."""
    found = counts.per_algo(journal, since=since, names=("orders", "fills"))
    orders: Counter[int] = Counter()
    fills: Counter[int] = Counter()
    for algo_id, c in found.items():
        if algo_id is not None:
            orders[algo_id], fills[algo_id] = c["orders"], c["fills"]
    return orders, fills


class StandbyStatus:
    """A standby's status: its role, its AlphaHub connections per algorithm, rewritten every
    ``every`` seconds while it stands by; never over the status of another live process."""

    def __init__(
        self,
        config: Config,
        *,
        mode: Mode,
        journal_path: Path,
        joined: Callable[[int], AbstractSet[int]],
        every: float = HEARTBEAT_EVERY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``joined(connection)``: the algorithms subscribed on that connection now."""
        self._joined = joined
        self._every = every
        self._clock = clock
        self.path = status_path(journal_path)
        self._writer = StatusWriter(self.path)
        self.board = StatusBoard(
            mode=str(mode),
            broker=", ".join(dict.fromkeys(a.broker.name for a in config.accounts.values())),
            account="",
            connections=config.alphahub.connections,
            journal=str(journal_path),
            started_at=clock(),
            state=STANDBY,
            role=STANDBY,
            heartbeat_every=every,
        )
        names = algorithm_names(config)
        for algo_id in config.subscribed_algorithms:
            self.board.algos[algo_id] = AlgoLine(algo_id, names.get(algo_id, ""))

    def _another_lives(self) -> bool:
        """Is the file another process's, and is that process alive?"""
        try:
            _raw, document = read_status(self.path)
        except StatusUnreadable:
            return False
        if document.writer is None or document.writer == self.board.process:
            return False
        return liveness_of(document, self._clock()).alive

    def write(self, state: str = STANDBY) -> bool:
        """Write the standby's status now (False: not written, another process's is live)."""
        if self._another_lives():
            return False
        self.board.state = state
        joined: Counter[int] = Counter()
        for connection in range(self.board.connections):
            joined.update(self._joined(connection))
        for algo_id, line in self.board.algos.items():
            line.joined = joined[algo_id]
        self.board.updated_at = self._clock()
        return self._writer.write(self.board.as_dict())

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.write)
            await asyncio.sleep(self._every)


def algorithm_names(config: Config) -> dict[int, str]:
    """Each algorithm's name, whichever account follows it (the first account's naming it)."""
    names: dict[int, str] = {}
    for account in config.accounts.values():
        for algo_id, algo in account.algorithms.items():
            names.setdefault(algo_id, algo.name)
    return names
