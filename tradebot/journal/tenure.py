"""How this process holds the journal it writes: alone, or under a lease it shares with standbys.

The supervisor (:class:`tradebot.runtime.bot.Bot`) asks a :class:`Tenure` the same few questions
whatever the backend, and the journal opener picks the tenure from where the journal is
(:func:`tradebot.journal.opener.tenure_for`):

* :class:`SoleTenure`, a SQLite file: one process, held by the file's lock. It may write at
  once, every plan plans every leg, nothing keeps it, nobody else journals signals there.
* :class:`~tradebot.journal.lease.LeasedTenure`, a PostgreSQL server several processes share:
  the process stands by (listens and journals, sends nothing) until it holds the leadership
  lease, writes fenced with the lease's epoch, renews the lease while it runs (losing it stops
  the bot with :class:`~tradebot.exceptions.NotLeader`), claims the legs each plan takes, and
  picks up the signals the standbys journaled.

The order of the calls, for either::

    if await tenure.acquire(stopping, stand_by):   # False: stopped while standing by
        journal = tenure.open()
        ...  # run, with tenure.keep() as a task
    await tenure.release()
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from tradebot.journal.interface import Journal
from tradebot.journal.sqlite import open_journal as open_sqlite

#: what a process does while another one holds the journal: entered once standing by begins
#: (the runtime listens to AlphaHub and journals every signal it hears in ``journal``, an
#: unfenced connection), left once this process may write
StandBy = Callable[[Journal], AbstractAsyncContextManager[object]]

#: which of these leg identities a plan has already claimed (several processes, one journal)
Claimed = Callable[[Sequence[str]], set[str]]


class Tenure(Protocol):
    """This process's hold on the journal it writes (see the module docstring)."""

    @property
    def pick_up_every(self) -> float | None:
        """Seconds between looks for signals other processes journaled and nobody planned;
        None: no other process journals signals here."""
        ...

    @property
    def planned(self) -> Claimed | None:
        """With other writers (once :meth:`open`): which legs a plan already claimed, so each
        leg is planned once; None: this process plans every leg it is given."""
        ...

    def role(self) -> str | None:
        """The banner's ``role`` line; None: nothing to say (the only process)."""
        ...

    def standing(self) -> tuple[str, int | None]:
        """What the status names this process: ``sole``, ``leader`` or ``standby``, and the
        leadership epoch it holds (None: none)."""
        ...

    async def acquire(self, stopping: asyncio.Event, stand_by: StandBy) -> bool:
        """Wait until this process may write, running ``stand_by`` meanwhile; False when
        ``stopping`` came first."""
        ...

    def open(self) -> Journal:
        """The journal to write (a leader's is fenced with its epoch). Blocking: run it in a
        worker thread. The caller closes it."""
        ...

    async def keep(self) -> None:
        """Hold on while the bot runs (a task); raises a FatalError the moment the hold is
        lost. Returns when there is nothing to keep."""
        ...

    async def release(self) -> None:
        """At the stop: let another process take over now (idempotent)."""
        ...


class SoleTenure:
    """A SQLite file: this process alone writes it (the file's lock refuses a second one)."""

    pick_up_every: float | None = None
    planned: Claimed | None = None

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def role(self) -> str | None:
        return None

    def standing(self) -> tuple[str, int | None]:
        return "sole", None

    async def acquire(self, stopping: asyncio.Event, stand_by: StandBy) -> bool:
        return True  # nobody to wait for: never stands by

    def open(self) -> Journal:
        return open_sqlite(self.path)

    async def keep(self) -> None:
        return None  # the file's lock holds as long as the journal is open

    async def release(self) -> None:
        return None
