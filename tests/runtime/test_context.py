from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from tests.execution.fakes import ScriptedBroker
from tradebot.core.account import AccountSnapshot
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.context import PlanningContext


class CountingBroker(ScriptedBroker):
    def __init__(self) -> None:
        super().__init__()
        self.account_reads = 0
        self.read = asyncio.Event()

    async def account(self) -> AccountSnapshot:
        self.account_reads += 1
        self.read.set()
        return await super().account()


def now() -> datetime:
    return datetime.now(UTC)


async def test_a_burst_of_stale_marks_costs_one_account_read(tmp_path: Path) -> None:
    broker = CountingBroker()
    with open_journal(tmp_path / "j.sqlite") as journal:
        ctx = PlanningContext(
            broker, journal, kill_switch=None, track_pnl=False, account_min_interval=0.05
        )
        assert (await ctx.account_for(now())).account_id == "ACCT"  # the first signal waits
        assert broker.account_reads == 1
        assert await ctx.account_for(now()) is ctx.account  # later ones never do
        assert broker.account_reads == 1
        refresher = asyncio.create_task(ctx.keep_account_fresh(now))
        try:
            broker.read.clear()
            for _ in range(20):  # orders and fills in a burst
                ctx.account_stale()
            async with asyncio.timeout(5):
                await broker.read.wait()
            # a slow machine can only lower this count, never raise it
            assert broker.account_reads == 2
        finally:
            refresher.cancel()
