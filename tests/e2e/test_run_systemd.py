"""``tradebot run`` under systemd's notify protocol, with a socket of the test's own: a real
``AF_UNIX`` datagram socket, the bot a real process against the simulators.

READY arrives once the bot trades, WATCHDOG every half ``WATCHDOG_USEC``, and WATCHDOG stops
while the journal is stalled: the test holds SQLite's write lock on the journal file (as another
process, a backup tool say, could), so the bot's next write waits on it, and resumes when the
lock is released. Every wait is for a datagram, with a deadline.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.harness import (
    DEADLINE,
    last_id,
    leg,
    move_market_to,
    planned_after,
    running_bot,
    until,
)

WATCHDOG_USEC = 1_000_000  # one second: WATCHDOG every half second


@contextmanager
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket bound in a short temporary folder (a Unix socket path has ~107
    bytes), as systemd's own."""
    folder = tempfile.mkdtemp(prefix="tb-sd-")
    path = f"{folder}/notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


class Messages:
    """The datagrams the bot sends, read as they arrive."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.seen: list[dict[str, str]] = []

    async def next(self) -> dict[str, str]:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(DEADLINE):
            data = await loop.sock_recv(self._sock, 4096)
        message = dict(line.split("=", 1) for line in data.decode().split("\n"))
        self.seen.append(message)
        return message

    async def until(self, key: str, contains: str = "") -> list[dict[str, str]]:
        """Messages up to and including the first with ``key`` (its value containing
        ``contains``)."""
        got = []
        while True:
            message = await self.next()
            got.append(message)
            if key in message and contains in message[key]:
                return got


async def test_ready_then_watchdog_and_stopping(tmp_path: Path) -> None:
    with notify_socket() as (sock, path):
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
        async with running_bot(tmp_path, env=env) as running:
            messages = Messages(sock)
            first = await messages.next()  # listening before the broker has answered: not ready
            assert "READY" not in first and "recovering" in first["STATUS"], first
            ready = (await messages.until("READY"))[-1]
            assert "trading paper on alpaca" in ready["STATUS"]
            # joined while recovering: READY's line counts them already
            assert "subscriptions joined" in ready["STATUS"]
            await messages.until("WATCHDOG")
            assert await running.bot.stop(signal.SIGTERM) == 0
            await messages.until("STOPPING")


async def test_watchdog_stops_while_the_journal_is_stalled(tmp_path: Path) -> None:
    with notify_socket() as (sock, path):
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
        async with running_bot(tmp_path, env=env) as running:
            messages = Messages(sock)
            await messages.until("READY")
            await messages.until("WATCHDOG")
            assert isinstance(running.journal, Path)
            blocker = sqlite3.connect(running.journal, isolation_level=None)
            try:
                blocker.execute("BEGIN IMMEDIATE")  # SQLite's write lock, held by the test
                mark = last_id(running.journal)
                payload = {"open": [leg("AAPL", "buy", "100.00", running.at)]}
                move_market_to(running.server, payload)
                await running.hub.push(14, payload)  # its record waits on the lock
                await messages.until("STATUS", "watchdog withheld: the journal")
                # the lock is held all along: from here on, withheld after withheld
                await messages.until("STATUS", "watchdog withheld: the journal")
                between = await messages.until("STATUS", "watchdog withheld: the journal")
                assert not [m for m in between if "WATCHDOG" in m], between
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            await messages.until("WATCHDOG")  # the journal answers again: alive
            assert running.bot.running
            # and the signal that waited on the lock is on record and planned
            await until(lambda: planned_after(running.journal, 14, mark), "the AAPL plan")
