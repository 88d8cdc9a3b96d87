"""A signal journaled without its own fsync (``record_signal(signal, sync=False)``, the signal
loop's open that causes nothing before its plan): committed in order and kept by a process kill,
made durable by the next synced commit (the plan's, before any order leaves) or by
``make_durable``, on both backends. Real SQLite files, a real PostgreSQL server, a real kill -9.
"""

from __future__ import annotations

import os
import signal as os_signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.core.helpers import make_signal
from tests.pgserver import PgServer
from tradebot.core.orders import Plan
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.postgres import open_postgres

OPEN = make_signal(opens=[("MSFT", "buy", "100")])


def test_an_unsynced_signal_is_made_durable_by_the_next_synced_commit(
    journal_at: str | Path,
) -> None:
    with open_journal(journal_at) as journal:
        assert not journal.unsynced
        signal_id = journal.record_signal(OPEN, sync=False)
        assert journal.unsynced
        journal.record_plan(signal_id, Plan())  # the plan's commit: synced, a PLAN row
        assert not journal.unsynced
        journal.record_signal(OPEN, sync=False)
        journal.make_durable()
        assert not journal.unsynced
        journal.make_durable()  # nothing to do: no error, no write
        assert len(journal.entries(EntryFilter(statuses=(Status.SIGNAL,)))) == 2


def test_sqlite_goes_back_to_fsyncing_every_commit_after_an_unsynced_one(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        journal.record_signal(OPEN, sync=False)
        with journal._read() as conn:
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_sqlite_make_durable_fsyncs_the_write_ahead_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:  # the OS's call, watched: which file reaches the disk
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    with open_journal(tmp_path / "j.sqlite") as journal:
        journal.record_signal(OPEN, sync=False)
        monkeypatch.setattr(os, "fsync", fsync)
        journal.make_durable()
        journal.make_durable()  # once is enough
    assert synced == [str((tmp_path / "j.sqlite-wal").resolve())]


KILLED = """
import os, signal, sys
from pathlib import Path
from tests.core.helpers import make_signal
from tradebot.journal import open_journal
journal = open_journal(Path(sys.argv[1]))
journal.record_signal(make_signal(opens=[("MSFT", "buy", "100")]), sync=False)
os.kill(os.getpid(), signal.SIGKILL)  # before the plan's commit, before anything is sent
"""


def test_a_kill_9_after_an_unsynced_signal_keeps_it_for_the_next_start(tmp_path: Path) -> None:
    where = tmp_path / "j.sqlite"
    open_journal(where).close()
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", KILLED, str(where)], cwd=root, env={**os.environ}, check=False
    )
    assert done.returncode == -os_signal.SIGKILL
    with open_journal(where) as journal:
        (stored,) = journal.unplanned_signals()  # the next start's recovery plans it
        assert stored.signal.legs == OPEN.legs


# -- PostgreSQL: what the server has flushed, read from the server ----------------------------


@contextmanager
def lazy_wal_writer(server: PgServer, url: str) -> Iterator[psycopg.Connection[object]]:
    """An admin session, with the WAL writer flushing asynchronous commits only every 10 s
    (its longest): a commit that did not wait for its flush stays unflushed for the test."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET wal_writer_delay = '10s'")
        admin.execute("SELECT pg_reload_conf()")
        try:
            yield admin
        finally:
            admin.execute("ALTER SYSTEM RESET wal_writer_delay")
            admin.execute("SELECT pg_reload_conf()")


def _lsn(admin: psycopg.Connection[object], what: str) -> int:
    row = admin.execute(f"SELECT {what} - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return int(str(row[0]))


def test_postgres_flushes_an_unsynced_signal_before_the_plan_commit_returns(
    pg_server: PgServer, pg_url: str
) -> None:
    with lazy_wal_writer(pg_server, pg_url) as admin, open_postgres(pg_url) as journal:
        journal.record_signal(OPEN)  # the schema's first writes, flushed
        signal_id = journal.record_signal(OPEN, sync=False)
        written = _lsn(admin, "pg_current_wal_insert_lsn()")
        assert _lsn(admin, "pg_current_wal_flush_lsn()") < written  # it did not wait
        journal.record_plan(signal_id, Plan())
        assert _lsn(admin, "pg_current_wal_flush_lsn()") >= written


def test_postgres_make_durable_flushes_an_unsynced_signal(pg_server: PgServer, pg_url: str) -> None:
    with lazy_wal_writer(pg_server, pg_url) as admin, open_postgres(pg_url) as journal:
        journal.record_signal(OPEN)
        journal.record_signal(OPEN, sync=False)
        written = _lsn(admin, "pg_current_wal_insert_lsn()")
        assert _lsn(admin, "pg_current_wal_flush_lsn()") < written
        journal.make_durable()  # writes no row: a transaction id makes its commit flush
        assert _lsn(admin, "pg_current_wal_flush_lsn()") >= written
        assert not journal.unsynced
