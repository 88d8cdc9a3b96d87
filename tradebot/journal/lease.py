"""The leased tenure: several ``tradebot run`` processes on one PostgreSQL journal, one writes.

**Leadership is a lease row**, ``tradebot_leadership`` (name ``bot``): ``epoch`` counts
take-overs, ``lease_until`` is on the *server's* clock (``now()``), never a process's. A lease
lasts 60% of ``journal.failover_timeout`` and the leader renews it four times per lease;
standbys look every tenth of the timeout, and take over once it has expired, with one
``UPDATE ... WHERE lease_until < now()`` that exactly one standby wins
(:meth:`~tradebot.journal.postgres.PostgresJournal.take_lead`); the epoch goes up by one.

Why a lease and not an advisory lock: a leader paused with SIGSTOP (or frozen in a VM) keeps its
connection open, so a session lock would stay held for as long as the pause lasts and nobody
would trade; a lease expires on the server's clock whatever the holder does.

**Fencing** is what makes a lapsed lease safe: the leader's journal is opened with its epoch
(:meth:`LeasedTenure.open`), and every transaction that makes an intent durable checks, in that
very transaction, that the epoch is still current
(:meth:`~tradebot.journal.postgres.PostgresJournal._fence`). A leader that wakes after a standby
took over gets :class:`~tradebot.exceptions.NotLeader` at its next intent: nothing new is
written, so nothing new is sent. An intent it made durable *before* it was deposed may still
leave once it wakes; the new leader's recovery has looked that order up by its client order id
and sent it with the same id, and the broker accepts one order per client order id, so it is
still sent once.

**On losing the lease** (a renewal finds another epoch, or no renewal succeeded for a whole
lease), :meth:`LeasedTenure.keep` raises :class:`NotLeader` and the process stops (exit 4): it
never trades again with the old epoch; a supervisor (systemd ``Restart=always``) starts it
again, as a standby.

While standing by, the process listens and journals (the runtime's part:
:func:`tradebot.runtime.leadership.standing_by`); once leading, it picks up what the standbys
journaled (:class:`tradebot.runtime.leadership.ForeignSignals`). Each process beats a heartbeat
row at least every ``beat_every`` seconds (``journal.heartbeat_every``), leader and standby
alike (``tradebot status``, ``status --json`` and the dashboard list them, judged by the row's
age: :mod:`tradebot.runtime.liveness`). This module is loaded only with a PostgreSQL journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable

from tradebot import __version__
from tradebot.exceptions import JournalError, NotLeader
from tradebot.journal.interface import Journal
from tradebot.journal.postgres import PostgresJournal, ProcessBeat, open_postgres, shown
from tradebot.journal.tenure import Claimed, StandBy

log = logging.getLogger(__name__)

LEADER = "leader"
STANDBY = "standby"
STOPPED = "stopped"

#: at most this many seconds between two heartbeats (the row ``tradebot status`` and the
#: dashboard judge a process by, :mod:`tradebot.runtime.liveness`), however long the lease
BEAT_EVERY = 5.0


def holder_name() -> str:
    """This process, uniquely: host, pid and start time (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"


class LeasedTenure:
    """This process's side of the lease, on a connection of its own (a renewal never waits
    behind the executor's writes). See the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        say: Callable[[str], None],
        connections: Callable[[], str] = lambda: "",
        beat_every: float = BEAT_EVERY,
    ) -> None:
        """``timeout``: ``journal.failover_timeout``; ``connections()``: this process's
        AlphaHub connections, as its heartbeat reports them (e.g. ``2/2 joined``);
        ``beat_every``: the longest time between two heartbeats, whatever the timeout."""
        self._url = url
        self.where = shown(url)  # the URL as it may be shown (password masked)
        self.timeout = timeout
        self.beat_every = beat_every
        self._say = say
        self._connections = connections
        self.holder = holder_name()
        self.standing_as = STANDBY  # what the heartbeat says this process does
        self.epoch: int | None = None
        self._store: PostgresJournal | None = None  # the lease's own connection
        self._opened: PostgresJournal | None = None  # the fenced journal (open)

    # Take-over within ``timeout`` of the leader's loss: the lease it last renewed runs out
    # at most ``lease`` later, a standby looks within ``look_every`` of that, and a little is
    # left for the new leader's start (recovery, the broker's streams). The leader renews
    # several times per lease, so one slow renewal does not cost it the lead.
    @property
    def lease(self) -> float:
        return self.timeout * 0.6

    @property
    def renew_every(self) -> float:
        return self.lease / 4

    @property
    def look_every(self) -> float:
        return self.timeout / 10

    @property
    def pick_up_every(self) -> float | None:
        return min(0.5, self.timeout / 10)

    @property
    def planned(self) -> Claimed | None:
        return None if self._opened is None else self._opened.planned_legs

    def standing(self) -> tuple[str, int | None]:
        return self.standing_as, self.epoch

    def role(self) -> str | None:
        return (
            f"leader (epoch {self.epoch}) of the processes sharing this journal; a standby "
            f"takes over within {self.timeout:g} s of its loss"
        )

    async def _db(self) -> PostgresJournal:
        if self._store is None:
            self._store = await asyncio.to_thread(open_postgres, self._url)
        return self._store

    async def beat(self) -> None:
        store = await self._db()
        host, pid = socket.gethostname(), os.getpid()
        beat = ProcessBeat(self.holder, host, pid, self.standing_as, self._connections())
        await asyncio.to_thread(store.beat, beat)

    async def try_lead(self) -> int | None:
        store = await self._db()
        epoch = await asyncio.to_thread(store.take_lead, self.holder, self.lease)
        if epoch is not None:
            self.epoch, self.standing_as = epoch, LEADER
        return epoch

    async def acquire(self, stopping: asyncio.Event, stand_by: StandBy) -> bool:
        """Lead at once if the lease is free; else stand by (``stand_by`` listens and journals)
        until it is, looking every tenth of the timeout. Nothing is planned or sent here."""
        if await self.try_lead() is not None:
            return True
        self._say(
            f"tradebot {__version__}: STANDBY ({self.holder}) on the journal {self.where}\n"
            f"standby: listening and journaling; the leader executes (takes over within "
            f"{self.timeout:g} s of the leader's loss)"
        )
        journal = await asyncio.to_thread(open_postgres, self._url)
        try:
            async with stand_by(journal):
                return await self._wait_for_lease(stopping)
        finally:
            journal.close()

    async def _wait_for_lease(self, stopping: asyncio.Event) -> bool:
        while not stopping.is_set():
            try:
                await self.beat()
                won = await self.try_lead()
            except JournalError as exc:  # the server away, or the row locked: look again
                log.warning("standby: could not look at the lease: %s", exc)
                won = None
            if won is not None:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), min(self.look_every, self.beat_every))
        return False

    def open(self) -> Journal:
        assert self.epoch is not None, "acquire() first"
        self._opened = open_postgres(self._url, epoch=self.epoch)
        return self._opened

    async def keep(self) -> None:
        """Renew the lease and beat; raise NotLeader the moment it is lost.

        A renewal that fails (the server unreachable) is tried again; once no renewal has
        succeeded for a whole lease a standby may have taken over, so this process stops.
        """
        assert self.epoch is not None
        store = await self._db()
        renewed = time.monotonic()
        with contextlib.suppress(JournalError):  # `tradebot status` shows the leader at once
            await self.beat()
        while True:
            # renewed at each heartbeat too: a renewal is one small UPDATE
            await asyncio.sleep(min(self.renew_every, self.beat_every))
            try:
                kept = await asyncio.to_thread(store.renew_lead, self.epoch, self.lease)
                await self.beat()
            except JournalError as exc:
                if time.monotonic() - renewed < self.lease:
                    log.warning("lease renewal failed, trying again: %s", exc)
                    continue
                raise NotLeader(
                    f"could not renew the leadership lease for {self.lease:g} s ({exc}): "
                    "another process may lead now; stopping so this one never sends again"
                ) from None
            if not kept:
                raise NotLeader(
                    f"leadership epoch {self.epoch} was taken over by another process (this "
                    "one was paused or cut off past journal.failover_timeout): stopping; "
                    "start it again to stand by"
                )
            renewed = time.monotonic()

    async def release(self) -> None:
        """At a clean stop: the lease ends now, so a standby takes over at its next look."""
        if self._store is None:
            return
        store = self._store
        try:
            if self.epoch is not None:
                await asyncio.to_thread(store.release_lead, self.epoch)
            self.standing_as = STOPPED
            await self.beat()
        except JournalError as exc:
            log.warning("could not release the leadership lease: %s", exc)
        finally:
            store.close()
            self._store = None
