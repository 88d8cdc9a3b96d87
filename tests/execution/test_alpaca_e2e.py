"""Journal + executor + recovery through the real Alpaca adapter (alpaca-py) to the local
Alpaca-compatible server on 127.0.0.1: partial fills over the trade-updates stream, then a
restart's recovery finds nothing to fix, and ``tradebot positions`` shows the broker beside us."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.execution.alpaca_rig import fast_adapter
from tests.execution.fixed_planner import make_signal, simple_plan
from tradebot.broker.alpaca import AlpacaBroker
from tradebot.cli.main import cli
from tradebot.core.book import PositionBook
from tradebot.execution import Executor, Step, recover
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer

KEY, SECRET = "PKJOURNALTEST00001", "journal-test-secret"
SIGNAL = make_signal(12, opens=(("AAPL", "buy", "100"), ("MSFT", "sell", "100")))


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer(key=KEY, secret=SECRET) as running:
        running.script_fills(FillScript(parts=2))  # every order fills in two partial fills
        yield running


def adapter(server: AlpacaServer) -> AlpacaBroker:
    return fast_adapter(server, KEY, SECRET)


async def trade(server: AlpacaServer, journal: SqliteJournal) -> PositionBook:
    """Execute SIGNAL and return the book once every order is settled in the journal."""
    settled = asyncio.Event()

    def on_step(step: str) -> None:
        if step == Step.FILL_RECORDED and not journal.unresolved_intents():
            settled.set()

    async with adapter(server) as broker:
        executor = Executor(journal, broker, PositionBook(), on_step=on_step)
        async with asyncio.TaskGroup() as tg:
            consumer = tg.create_task(executor.consume_events())
            await executor.handle(SIGNAL, simple_plan)
            async with asyncio.timeout(20):
                await settled.wait()
            consumer.cancel()
        return executor.book


async def test_fills_arrive_over_the_stream_and_recovery_agrees(
    server: AlpacaServer, tmp_path: Path
) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        book = await trade(server, journal)
        assert book == PositionBook({(12, "AAPL"): Decimal(10), (12, "MSFT"): Decimal(-10)})
        fills = journal.entries(EntryFilter(statuses=(Status.PARTIAL, Status.FILLED)))
        assert sum(f.qty or 0 for f in fills if f.symbol == "AAPL") == Decimal(10)
        async with adapter(server) as broker:  # a restart
            report = await recover(
                journal,
                broker,
                now=SIGNAL.received_at + timedelta(seconds=5),
                max_age=timedelta(minutes=5),
            )
        assert report.drifts == () and report.resent == () and report.failed == ()
        assert report.book == book
    assert len(server.orders()) == 2  # one order per leg


def test_positions_show_the_broker_beside_the_journal(
    server: AlpacaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        asyncio.run(trade(server, journal))
    (tmp_path / "config.yaml").write_text(
        f"broker:\n  name: alpaca\n  alpaca:\n    url: {server.url}\n"
        f"    stream: false\n    timeout: 2\njournal:\n  path: j.sqlite\n"
    )
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    result = CliRunner().invoke(cli, ["positions", "--config", str(tmp_path / "config.yaml")])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["ALGO", "SYMBOL", "QTY", "BROKER", "DRIFT"]
    assert ["NET", "AAPL", "10", "10"] in lines and ["NET", "MSFT", "-10", "-10"] in lines
    assert "broker: alpaca" in result.stderr
