"""A small, fully known journal made by the real executor, for the review command tests.

Algorithm 1 buys 10 AAPL at a signal price of 100 (filled 100.01), later sells them at a signal
price of 110 (filled 109.99): realised P&L 99.80, slippage 0.10 + 0.10 = 0.20 on a notional of
2,100, i.e. 0.95 bp. Algorithm 2's open TSLA is rejected and its close MSFT is skipped (not
held). There is also a start, a config change, a listener gap, an error and a stop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.scripted_broker import ScriptedBroker
from tradebot.core.book import PositionBook
from tradebot.exceptions import OrderRejected
from tradebot.execution import ExecutionResult, Executor
from tradebot.journal import open_journal

START = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


@dataclass
class Clock:
    """Every reading is one second after the last: rows get distinct, increasing times."""

    at: datetime = START

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


@dataclass
class Generated:
    path: Path | str  # a SQLite file or a PostgreSQL URL
    results: list[ExecutionResult] = field(default_factory=list)
    signal_ids: list[int] = field(default_factory=list)

    def coid(self, n: int) -> str:
        """The client order id of the n-th order made (0: buy AAPL, 1: sell AAPL, 2: TSLA)."""
        outcomes = [o for r in self.results for o in r.outcomes]
        return outcomes[n].intent.client_order_id


async def _generate(path: Path | str) -> Generated:
    clock = Clock()
    out = Generated(path)
    with open_journal(path, clock=clock) as journal:
        journal.record_start("tradebot starting", {"version": "0.1.0"})
        journal.record_config("config loaded", {"algorithms": [1, 2], "password": "**********"})
        broker = ScriptedBroker(slippage=Decimal("0.01"), clock=clock)
        executor = Executor(journal, broker, PositionBook())
        signals = [
            make_signal(1, opens=(("AAPL", "buy", "100"),), received_at=clock(), leg_time=clock.at),
            make_signal(
                1,
                closes=(("AAPL", "sell", "110"),),
                received_at=clock() + timedelta(hours=1),
                leg_time=clock.at + timedelta(hours=1),
            ),
        ]
        for signal in signals:
            clock.at = signal.received_at
            result = await executor.handle(signal, simple_plan)
            out.results.append(result)
            out.signal_ids.append(result.signal_id or 0)
            broker.end_stream()
            await executor.consume_events()
        journal.record_gap("listener reconnected after 12s; frames may be missing", algo_id=2)
        broker.script.append(OrderRejected("insufficient buying power"))
        third = make_signal(
            2,
            closes=(("MSFT", "sell", "400"),),
            opens=(("TSLA", "buy", "250"),),
            received_at=clock(),
            leg_time=clock.at,
        )
        out.results.append(await executor.handle(third, simple_plan))
        out.signal_ids.append(out.results[-1].signal_id or 0)
        journal.record_error("could not parse frame", algo_id=2)
        journal.record_stop("stopped by the user")
    return out


def generate(path: Path | str) -> Generated:
    return asyncio.run(_generate(path))
