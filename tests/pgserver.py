"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary folder.

One server per test session, on a free port on 127.0.0.1 (its socket in the same folder), run
as the ``postgres`` user when the tests run as root (PostgreSQL refuses root), stopped and
removed at the end. Every test gets a database of its own. Fast, not durable: ``-F`` (no fsync)
is for the tests only; the journal itself still asks for ``synchronous_commit = on``.

Without the PostgreSQL binaries the tests that need them are skipped, except in CI
(``CI=true``), where they fail: CI must run them (``scripts/setup`` installs PostgreSQL there).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

PASSWORD = "tb-pg-test-secret-42"


def pg_bin() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl``: ``$TRADEBOT_PG_BIN``, else the newest
    ``/usr/lib/postgresql/<version>/bin`` (Debian's layout), else ``PATH``."""
    chosen = os.environ.get("TRADEBOT_PG_BIN")
    candidates = [Path(chosen)] if chosen else []
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


@dataclass(frozen=True)
class PgServer:
    port: int
    socket_dir: Path

    def url(self, database: str = "postgres", *, password: str = PASSWORD) -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], *, as_postgres: bool) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
    result = subprocess.run([*prefix, *cmd], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stdout}\n{result.stderr}")


@contextlib.contextmanager
def running_server(*, fsync: bool = False) -> Iterator[PgServer]:
    """A server for the duration of the block; ``fsync`` for measurements (tests go without)."""
    folder = pg_bin()
    if folder is None:
        message = (
            "PostgreSQL binaries (initdb, pg_ctl) not found: install postgresql-15 "
            "(scripts/setup does, as root) or set TRADEBOT_PG_BIN"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    as_postgres = os.getuid() == 0
    base = Path(tempfile.mkdtemp(prefix="tradebot-pg-"))
    data = base / "data"
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_postgres:
        shutil.chown(base, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    options = (
        f"{'' if fsync else '-F '}-p {port} -c listen_addresses=127.0.0.1 "
        f"-c unix_socket_directories={base} -c max_connections=200"
    )
    try:
        _run(
            [
                str(folder / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            as_postgres=as_postgres,
        )
        start = [str(folder / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w"]
        _run([*start, "-o", options, "start"], as_postgres=as_postgres)
        try:
            yield PgServer(port, base)
        finally:
            _run(
                [str(folder / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                as_postgres=as_postgres,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a fresh, empty database of this test's own."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgres"])
def journal_at(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a journal goes, once per backend: a SQLite file, or a fresh PostgreSQL database.
    Open it with :func:`tradebot.journal.open_journal` (as many times as the test needs)."""
    if request.param == "sqlite":
        return tmp_path / "journal.sqlite"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database()
