"""The dashboard served for real on 127.0.0.1 (a free port), in a thread with its own loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.journal.generate import Generated, generate
from tests.scripted_broker import ScriptedBroker
from tradebot.config.model import DashboardConfig
from tradebot.execution import Executor
from tradebot.journal import open_journal
from tradebot.web.serve import DashboardHandle, serve_dashboard
from tradebot.web.sources import Sources


@contextmanager
def served(sources: Sources, settings: DashboardConfig | None = None) -> Iterator[DashboardHandle]:
    """Serve ``sources`` until the block ends; the handle says where (or why not)."""
    settings = settings or DashboardConfig(port=0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    handle = asyncio.run_coroutine_threadsafe(serve_dashboard(settings, sources), loop).result(30)
    try:
        yield handle
    finally:
        asyncio.run_coroutine_threadsafe(handle.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


async def round_trip(path: Path, algo_id: int, symbol: str, buy: str, sell: str, day: int) -> None:
    """Algorithm ``algo_id`` buys 10 ``symbol`` at ``buy`` and sells them at ``sell`` (the
    scripted broker fills 0.01 worse each time), journaled by the real executor."""
    with open_journal(path) as writer:
        broker = ScriptedBroker()
        executor = Executor(writer, broker, writer.rebuild_book())
        at = datetime(2026, 2, day, 15, tzinfo=UTC)
        for kind, price in (("opens", buy), ("closes", sell)):
            at += timedelta(hours=1)
            legs = ((symbol, "buy" if kind == "opens" else "sell", price),)
            signal = make_signal(algo_id, received_at=at, leg_time=at, **{kind: legs})
            await executor.handle(signal, simple_plan)
            broker.end_stream()
            await executor.consume_events()


@pytest.fixture
def known(tmp_path: Path) -> Generated:
    """The review tests' small journal with known figures (tests/journal/generate.py)."""
    return generate(tmp_path / "journal" / "tradebot.sqlite")
