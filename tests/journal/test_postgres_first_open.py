"""Several processes opening one empty PostgreSQL journal at the same instant:
exactly one creates the schema, the others wait for it and open the journal it made.

Real processes (``spawn``: nothing inherited from pytest but the arguments), each holding its own
connections, released together by a :class:`multiprocessing.Barrier` once per round; a fresh
database every round. The workers live for all the rounds, so the test pays for five
interpreter start-ups, not one hundred and fifty.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import threading
import time

import psycopg

from tests.pgserver import PgServer
from tradebot.exceptions import JournalError
from tradebot.journal import pgschema
from tradebot.journal.postgres import open_postgres

PROCESSES = 5
ROUNDS = 30
#: a generous last resort: a worker that never reaches the barrier (it died) fails the test
#: instead of hanging it; the rounds themselves wait on the barrier and the result queue only
STUCK = 60.0


def _opener(
    inbox: multiprocessing.queues.Queue[str | None],
    barrier: multiprocessing.synchronize.Barrier,
    outbox: multiprocessing.queues.Queue[str],
) -> None:
    """One process: for each URL it is given, wait for the others, then open the journal."""
    while (url := inbox.get()) is not None:
        barrier.wait(STUCK)
        try:
            open_postgres(url).close()
        except JournalError as exc:
            outbox.put(str(exc))
        else:
            outbox.put("opened")


def _schema_rows(url: str) -> list[tuple[int, int]]:
    """(version, creating transaction) of every applied schema version."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT version, xmin::text::bigint FROM {pgschema.SCHEMA_TABLE} ORDER BY version"
        ).fetchall()
    return [(int(v), int(x)) for v, x in rows]


def test_processes_opening_an_empty_journal_together_create_it_once(pg_server: PgServer) -> None:
    spawn = multiprocessing.get_context("spawn")
    inboxes: list[multiprocessing.queues.Queue[str | None]] = [
        spawn.Queue() for _ in range(PROCESSES)
    ]
    outbox: multiprocessing.queues.Queue[str] = spawn.Queue()
    barrier = spawn.Barrier(PROCESSES)
    workers = [
        spawn.Process(target=_opener, args=(inbox, barrier, outbox), daemon=True)
        for inbox in inboxes
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in range(ROUNDS):
            url = pg_server.create_database()
            for inbox in inboxes:
                inbox.put(url)
            outcomes = sorted(outbox.get(timeout=STUCK) for _ in workers)
            assert outcomes == ["opened"] * PROCESSES
            versions = _schema_rows(url)
            # every version once, all made by one transaction: one process created the schema
            assert [v for v, _ in versions] == list(range(1, pgschema.LATEST + 1))
            assert len({creator for _, creator in versions}) == 1
    finally:
        for inbox in inboxes:
            inbox.put(None)
        for worker in workers:
            worker.join(STUCK)
            if worker.is_alive():
                worker.kill()


def _waiting_on_the_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
    return bool(row and row[0])


def test_an_opener_that_waited_reads_the_schema_made_meanwhile(pg_url: str) -> None:
    """How the race was lost: a session that had looked for the schema before (none yet) and
    then waited on the lock while another process created it must see it made, not answer
    from its own catalog cache that it is still missing (and fail: "already exists")."""
    waiter = psycopg.connect(pg_url, autocommit=True)
    creator = psycopg.connect(pg_url, autocommit=True)
    try:
        assert pgschema.version(waiter) is None  # looked before: the empty database
        with creator.transaction():
            creator.execute("SELECT pg_advisory_xact_lock(%s)", (pgschema.MIGRATION_LOCK,))
            outcome: list[object] = []

            def prepare() -> None:
                try:
                    outcome.append(pgschema.prepare(waiter, "here", create=True))
                except (JournalError, psycopg.Error) as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=prepare)
            thread.start()
            deadline = time.monotonic() + STUCK  # last resort: the waiter never queued
            while not _waiting_on_the_lock(pg_url):
                assert time.monotonic() < deadline, "the opener never waited on the lock"
                time.sleep(0.01)
            # the creator makes the whole schema while the waiter queues behind it
            creator.execute(
                f"CREATE TABLE {pgschema.SCHEMA_TABLE} (version INTEGER PRIMARY KEY, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            for step in range(pgschema.LATEST):
                pgschema.apply_step(creator, step)
        thread.join(STUCK)
        assert outcome == [pgschema.LATEST]  # found it made, at the latest version
    finally:
        waiter.close()
        creator.close()
