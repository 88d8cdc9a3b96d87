"""The one way to open the journal: a PostgreSQL URL or a SQLite file, picked by its form.

Every command that reads or writes the journal (``run``, recovery, ``resend``, the review
commands) opens it here, so ``journal.url`` in the config moves all of them to the server.
``run`` asks for a :class:`~tradebot.journal.tenure.Tenure` instead (:func:`tenure_for`): how it
holds the journal it writes, alone or under a lease, so the supervisor never asks which backend
it has.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from tradebot.clock import utcnow
from tradebot.exceptions import JournalError
from tradebot.journal.sqlite import SqliteJournal
from tradebot.journal.sqlite import open_journal as open_sqlite
from tradebot.journal.tenure import SoleTenure, Tenure

if TYPE_CHECKING:
    from tradebot.journal.postgres import PostgresJournal

#: what :func:`open_journal` returns (a string: the PostgreSQL module loads only when used)
Store: TypeAlias = "SqliteJournal | PostgresJournal"

SCHEMES = ("postgresql://", "postgres://")


def is_url(location: object) -> bool:
    """A PostgreSQL URL (``postgresql://`` or ``postgres://``) rather than a file path."""
    return isinstance(location, str) and location.lower().startswith(SCHEMES)


def open_journal(
    location: str | os.PathLike[str],
    *,
    readonly: bool = False,
    clock: Callable[[], datetime] = utcnow,
    epoch: int | None = None,
) -> Store:
    """Open the journal at ``location``: a PostgreSQL URL, or a SQLite file path.

    ``epoch``: fence intents with this leadership epoch (PostgreSQL only; a SQLite file has
    one writer by its lock): see :class:`~tradebot.journal.postgres.PostgresJournal`.
    """
    if is_url(location):
        # imported here: the driver is only loaded by those who use the server
        from tradebot.journal.postgres import open_postgres

        return open_postgres(str(location), readonly=readonly, clock=clock, epoch=epoch)
    if epoch is not None:
        raise JournalError("a leadership epoch needs a PostgreSQL journal (journal.url)")
    return open_sqlite(location, readonly=readonly, clock=clock)


def configured(url: str | None, path: Path) -> str | Path:
    """Where the config puts the journal: ``journal.url`` when set, else the file ``path``
    (already resolved against the config file's folder)."""
    return url if url else path


def tenure_for(
    location: str | os.PathLike[str],
    *,
    failover_timeout: float,
    say: Callable[[str], None],
    connections: Callable[[], str],
    beat_every: float = 5.0,
) -> Tenure:
    """How ``tradebot run`` holds the journal at ``location``: a SQLite file alone
    (:class:`~tradebot.journal.tenure.SoleTenure`), a PostgreSQL server under the leadership
    lease it shares with standbys (:class:`~tradebot.journal.lease.LeasedTenure`, which
    uses ``failover_timeout``, ``say``, the heartbeat's ``connections()`` and ``beat_every``)."""
    if is_url(location):
        # imported here: the driver is only loaded by those who use the server
        from tradebot.journal.lease import LeasedTenure

        return LeasedTenure(
            str(location),
            timeout=failover_timeout,
            say=say,
            connections=connections,
            beat_every=beat_every,
        )
    return SoleTenure(location)
