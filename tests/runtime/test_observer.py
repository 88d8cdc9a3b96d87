"""An observer registered with the bot is told of each kind of event from a real run: the
AlphaHub simulator, the in-process sim broker (fills through its event stream), the journal."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from tests.execution.fixed_planner import make_signal, simple_plan
from tradebot.broker.sim import SimBroker
from tradebot.config.loader import load_config
from tradebot.config.model import Mode, SimBrokerConfig
from tradebot.exceptions import BrokerError
from tradebot.execution.executor import Executor
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.bot import Bot
from tradebot.runtime.killswitch import HaltMode, write_kill_switch
from tradebot.runtime.observer import (
    BotEvent,
    ConfigReloaded,
    ConnectionChanged,
    DriftFound,
    ErrorRecorded,
    FillsRecorded,
    KillSwitchChanged,
    LapseReported,
    SignalHandled,
    Started,
    Stopped,
)
from tradebot.simulators.alphahub.server import AlphaHubSimulator, topic

CONFIG = """\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 1}}
broker:
  name: sim
  sim: {{prices: {{AAPL: 189.50, NVDA: 131.20, ILMN: 100}}, fill_delay: 0.05}}
journal: {{path: journal/tradebot.sqlite}}
risk: {{kill_switch_file: tradebot.halt{extra}}}
algorithms:
  17: {{strategy: fixed_notional, params: {{notional: 5000}}}}
"""


DEADLINE = 10  # generous: each wait ends as soon as the event arrives


class Recorder:
    """Keeps every event; tests wait for the first one matching a condition."""

    def __init__(self) -> None:
        self.events: list[BotEvent] = []
        self._moved = asyncio.Event()

    def notice(self, event: BotEvent) -> None:
        self.events.append(event)
        self._moved.set()

    async def first(self, match: Callable[[BotEvent], bool]) -> BotEvent:
        while True:
            found = [e for e in self.events if match(e)]
            if found:
                return found[0]
            self._moved.clear()
            await self._moved.wait()


async def journal_a_position_the_broker_does_not_have(journal_path: Path) -> None:
    """ILMN held by algorithm 14 per the journal (filled at another broker): drift."""
    journal_path.parent.mkdir()
    elsewhere = SimBroker(SimBrokerConfig(prices={"ILMN": 100}))
    with open_journal(journal_path) as journal:
        executor = Executor(journal, elsewhere, journal.rebuild_book())
        signal = make_signal(14, opens=(("ILMN", "buy", "100"),))
        assert (await executor.handle(signal, simple_plan)).sent


async def test_an_observer_hears_of_each_kind_of_event(tmp_path: Path) -> None:
    await journal_a_position_the_broker_does_not_have(tmp_path / "journal" / "tradebot.sqlite")
    recorder = Recorder()
    async with AlphaHubSimulator(port=0) as hub:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(CONFIG.format(hub=hub.url, extra=""))
        config = load_config(config_path)
        bot = Bot(
            config,
            config_path,
            Mode.PAPER,
            load=load_config,
            out=io.StringIO(),
            watch_interval=0.05,
            broker=SimBroker(config.broker.sim),
        )
        bot.observe(recorder)
        running = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(DEADLINE):
                await bot.ready.wait()
                started = await recorder.first(lambda e: isinstance(e, Started))
                assert isinstance(started, Started) and started.mode is Mode.PAPER
                drift = await recorder.first(lambda e: isinstance(e, DriftFound))
                assert isinstance(drift, DriftFound)
                assert [d.symbol for d in drift.drifts] == ["ILMN"]  # found by recovery
                await hub.wait_joined(17)
                await recorder.first(lambda e: isinstance(e, ConnectionChanged))

                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
                leg = {"symbol": "AAPL", "side": "buy", "price": 189.4, "timestamp": stamp}
                await hub.push(17, {"open": [leg]})
                handled = await recorder.first(lambda e: isinstance(e, SignalHandled))
                assert isinstance(handled, SignalHandled)
                assert handled.signal.algo_id == 17
                (sent,) = handled.result.sent
                fills = await recorder.first(lambda e: isinstance(e, FillsRecorded))
                assert isinstance(fills, FillsRecorded)
                assert [(f.client_order_id, f.symbol) for f in fills.fills] == [
                    (sent.intent.client_order_id, "AAPL")
                ]

                assert hub.send_raw(f'[null, null, "{topic(17)}", "new_signals", [1]]') == 1
                error = await recorder.first(lambda e: isinstance(e, ErrorRecorded))
                assert isinstance(error, ErrorRecorded) and error.algo_id == 17

                config_path.write_text(CONFIG.format(hub=hub.url, extra=", max_orders_per_day: 9"))
                reloaded = await recorder.first(lambda e: isinstance(e, ConfigReloaded))
                assert isinstance(reloaded, ConfigReloaded)
                assert "risk" in reloaded.change.changed

                write_kill_switch(
                    tmp_path / "tradebot.halt",
                    reduce_only=True,
                    reason="test",
                    now=datetime.now(UTC),
                )
                leg = {"symbol": "NVDA", "side": "buy", "price": 131.2, "timestamp": stamp}
                await hub.push(17, {"open": [leg]})
                switched = await recorder.first(lambda e: isinstance(e, KillSwitchChanged))
                assert isinstance(switched, KillSwitchChanged)
                assert switched.state.mode is HaltMode.REDUCE_ONLY

                hub.drop()  # the only connection: a lapse in coverage for algorithm 17
                lapse = await recorder.first(lambda e: isinstance(e, LapseReported))
                assert isinstance(lapse, LapseReported) and lapse.algo_id == 17
                assert lapse.holdings == {"AAPL": sent.intent.qty}
                after = await recorder.first(lambda e: isinstance(e, DriftFound) and e is not drift)
                assert isinstance(after, DriftFound)  # the position check after the lapse
                assert [d.symbol for d in after.drifts] == ["ILMN"]
        finally:
            bot.request_stop()
            await running
    assert recorder.events[-1] == Stopped(None)  # a clean stop, told once, last
    assert sum(isinstance(e, Stopped) for e in recorder.events) == 1


Scenario = Callable[[AlphaHubSimulator, Recorder], Awaitable[None]]


async def run_with_tasks(
    tmp_path: Path, tasks: dict[str, Callable[[], Awaitable[None]]], scenario: Scenario
) -> tuple[Recorder, BaseException | None]:
    """Run the bot with ``tasks`` added, play ``scenario``, stop; the error it raised, if any."""
    recorder = Recorder()
    error: BaseException | None = None
    async with AlphaHubSimulator(port=0) as hub:
        config_path = tmp_path / "config.yaml"
        config_path.write_text(CONFIG.format(hub=hub.url, extra=""))
        config = load_config(config_path)
        bot = Bot(config, config_path, Mode.PAPER, load=load_config, out=io.StringIO())
        bot.observe(recorder)
        for name, factory in tasks.items():
            bot.add_task(name, factory)
        running = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(DEADLINE):
                await bot.ready.wait()
                played = asyncio.create_task(scenario(hub, recorder))
                await asyncio.wait([running, played], return_when=asyncio.FIRST_COMPLETED)
                played.cancel()
        finally:
            bot.request_stop()
            try:
                await running
            except Exception as exc:
                error = exc
    return recorder, error


async def test_an_added_task_runs_with_the_bot_and_is_cancelled_at_its_stop(
    tmp_path: Path,
) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def serve() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    async def scenario(hub: AlphaHubSimulator, recorder: Recorder) -> None:
        await started.wait()

    _, error = await run_with_tasks(tmp_path, {"dashboard": serve}, scenario)
    assert error is None and cancelled.is_set()


async def test_an_added_task_that_fails_is_reported_and_trading_goes_on(tmp_path: Path) -> None:
    async def broken() -> None:
        raise ValueError("a bug in a plug-in")

    async def scenario(hub: AlphaHubSimulator, recorder: Recorder) -> None:
        await recorder.first(lambda e: isinstance(e, ErrorRecorded))
        await hub.wait_joined(17)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        leg = {"symbol": "AAPL", "side": "buy", "price": 189.4, "timestamp": stamp}
        await hub.push(17, {"open": [leg]})
        await recorder.first(lambda e: isinstance(e, SignalHandled))

    recorder, error = await run_with_tasks(tmp_path, {"metrics": broken}, scenario)
    assert error is None
    (reported,) = [e for e in recorder.events if isinstance(e, ErrorRecorded)]
    assert "task metrics failed" in reported.detail and "a bug in a plug-in" in reported.detail
    (handled,) = [e for e in recorder.events if isinstance(e, SignalHandled)]
    assert handled.result.sent  # traded after the plug-in failed


async def test_a_fatal_error_in_an_added_task_stops_the_bot_with_that_error(
    tmp_path: Path,
) -> None:
    async def lease() -> None:
        raise BrokerError("another process holds the lease")

    async def scenario(hub: AlphaHubSimulator, recorder: Recorder) -> None:
        await asyncio.Event().wait()  # the bot stops on its own

    recorder, error = await run_with_tasks(tmp_path, {"leader": lease}, scenario)
    assert isinstance(error, BrokerError) and "lease" in str(error)
    assert recorder.events[-1] == Stopped(error)
