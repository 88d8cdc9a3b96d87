"""The lease's heartbeat row is written at least every ``beat_every`` seconds, by the leader and
by a standby, however long ``journal.failover_timeout`` makes the lease (the row is what the
views judge a process by: tradebot/runtime/liveness.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from tests.e2e.harness import until
from tradebot.journal.interface import Journal
from tradebot.journal.lease import BEAT_EVERY, LeasedTenure
from tradebot.journal.postgres import open_postgres


def _beats(url: str) -> dict[str, tuple[str, datetime]]:
    with open_postgres(url, readonly=True) as store:
        return {r.beat.holder: (r.beat.role, r.heartbeat_at) for r in store.processes()}


async def _beats_again(url: str, holder: str, role: str) -> None:
    """Two more heartbeats of ``holder`` as ``role`` (the row's time moves twice)."""
    seen: list[datetime] = []

    def moved() -> bool:
        row = _beats(url).get(holder)
        if row is not None and row[0] == role and (not seen or row[1] != seen[-1]):
            seen.append(row[1])
        return len(seen) >= 3

    await until(moved, f"{role} heartbeats", deadline=20)


async def test_leader_and_standby_beat_often_whatever_the_lease(pg_url: str) -> None:
    assert BEAT_EVERY == 5.0
    # an hour's timeout: the lease is renewed every 9 minutes, the standby looks every 6
    leader = LeasedTenure(pg_url, timeout=3600, say=lambda _: None, beat_every=0.2)
    standby = LeasedTenure(pg_url, timeout=3600, say=lambda _: None, beat_every=0.2)
    assert await leader.try_lead() == 1
    stopping = asyncio.Event()

    @contextlib.asynccontextmanager
    async def stand_by(journal: Journal) -> AsyncIterator[None]:
        yield None

    keeping = asyncio.create_task(leader.keep())
    waiting = asyncio.create_task(standby.acquire(stopping, stand_by))
    try:
        await _beats_again(pg_url, leader.holder, "leader")
        await _beats_again(pg_url, standby.holder, "standby")
    finally:
        stopping.set()
        keeping.cancel()
        assert await waiting is False
        with contextlib.suppress(asyncio.CancelledError):
            await keeping
        await leader.release()
        await standby.release()
