"""Start-up recovery runs beside the listener: a broker that hangs at start keeps the bot
neither off AlphaHub nor from journaling what it hears; nothing is planned before the account is
recovered, and then every leg is decided once.

`tradebot run` as a real process, the AlphaHub simulator and the local Alpaca server on
127.0.0.1; the broker hangs by holding every account request (``Fault.hang``) until the test
releases it. What each test was seen failing on (the mutation checked by hand) is in its
docstring.
"""

from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tests.e2e.harness import (
    ALGOS,
    BotProcess,
    alpaca_server,
    bot_config,
    broker_orders,
    entries,
    leg,
    plans,
    until,
    wait_subscribed,
)
from tests.e2e.test_run_systemd import Messages, notify_socket
from tradebot.journal.records import Status
from tradebot.runtime.signals import HELD_STALE
from tradebot.runtime.status import read_status, status_path
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

SYMBOLS = ("VRTX", "JBHT", "AAPL")


def _hang_at_start(server: AlpacaServer) -> None:
    """Every account request is held unanswered (the adapter's first request at start)."""
    for symbol in SYMBOLS:
        server.set_price(symbol, Decimal(100))
    server.add_fault(Fault.hang(times=10_000, method="GET", path="/v2/account"))


def _answer(server: AlpacaServer) -> None:
    server.clear_faults()
    server.release()


def _write_config(folder: Path, hub: AlphaHubSimulator, server: AlpacaServer, extra: str) -> Path:
    config = folder / "config.yaml"
    text = bot_config(hub.url, server).replace("  recheck_interval: 1\n", extra)
    config.write_text(text)
    return config


def _journal(folder: Path) -> Path:
    return folder / "journal" / "tradebot.sqlite"


def _journaled(journal: Path, symbol: str) -> bool:
    return bool(entries(journal, symbols=(symbol,), statuses=(Status.LEG,)))


def _planned_after_recovery(journal: Path, symbol: str) -> None:
    """The signal of ``symbol``, queued while the bot recovered, was planned after the start's
    recovery was on record (the RECOVERY row is its last write), not beside it."""
    recovered = entries(journal, statuses=(Status.RECOVERY,))[-1]  # this start's
    (signal_row,) = entries(journal, symbols=(symbol,), statuses=(Status.LEG,))
    (plan,) = [p for p in plans(journal) if p.signal_id == signal_row.signal_id]
    assert plan.id > recovered.id, (plan.id, recovered.id)


def _state(journal: Path) -> str:
    _raw, document = read_status(status_path(journal))
    return document.state


def _one_decision_per_leg(journal: Path, symbols: tuple[str, ...]) -> None:
    """Each signal planned once (one PLAN row), each leg decided once: one intent or one skip
    per symbol (every signal here has one leg, each its own symbol)."""
    per_signal = Counter(e.signal_id for e in plans(journal))
    signals = {e.id for e in entries(journal, statuses=(Status.SIGNAL,))}
    assert set(per_signal) == signals and set(per_signal.values()) == {1}, per_signal
    decided = Counter(e.symbol for e in entries(journal, statuses=(Status.INTENT, Status.SKIPPED)))
    assert decided == Counter(symbols), decided


async def test_a_signal_heard_while_the_broker_hangs_is_journaled_then_traded_once(
    tmp_path: Path,
) -> None:
    """Seen failing when the listener started after recovery again (no subscription while
    the broker hangs), when the signal loop's gate was removed (the signal planned while the
    broker hung: broker_unavailable, never traded), and when systemd was told READY=1 as the
    listener started (a READY before the broker answered)."""
    journal = _journal(tmp_path)
    with alpaca_server() as server, notify_socket() as (sock, path):
        _hang_at_start(server)
        async with AlphaHubSimulator(port=0) as hub:
            config = _write_config(tmp_path, hub, server, "  recheck_interval: 1\n")
            bot = BotProcess(config, {"NOTIFY_SOCKET": path})
            await bot.start()
            messages = Messages(sock)
            try:
                # on AlphaHub while the broker has not answered once (every account request
                # is held until _answer)
                await wait_subscribed(hub, ALGOS)
                await until(lambda: server.held >= 1, "the account request held")
                await until(lambda: _state(journal) == "recovering", "status: recovering")
                await until(
                    lambda: "recovering (waiting for the broker)" in bot.output(),
                    "the bot saying what it waits for",
                )
                first = await messages.next()
                assert "READY" not in first and "recovering" in first["STATUS"], first
                await hub.push(14, {"open": [leg("VRTX", "buy", "100.00", _now())]})
                await until(lambda: _journaled(journal, "VRTX"), "the VRTX leg on record")
                assert server.held >= 1 and plans(journal) == []  # nothing planned yet
                assert broker_orders(server) == []

                _answer(server)
                before_ready = await messages.until("READY")
                assert "trading paper on alpaca" in before_ready[-1]["STATUS"]
                assert server.held >= 1  # (the broker answered only after the leg was on record)
                await until(lambda: _state(journal) == "running", "status: running")
                await until(lambda: len(broker_orders(server)) == 1, "the VRTX order")
                assert [(o.symbol, o.side, o.qty) for o in broker_orders(server)] == [
                    ("VRTX", "buy", Decimal(10))
                ]
                _one_decision_per_leg(journal, ("VRTX",))
                _planned_after_recovery(journal, "VRTX")
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)


def _now() -> str:
    """A leg timestamp for now, in AlphaHub's naive UTC format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


async def test_a_signal_held_past_the_freshness_bound_while_recovering_is_skipped_stale(
    tmp_path: Path,
) -> None:
    """Seen failing when the loop's freshness check was removed (the held signal was traded
    once the broker answered)."""
    journal = _journal(tmp_path)
    with alpaca_server() as server:
        _hang_at_start(server)
        async with AlphaHubSimulator(port=0) as hub:
            config = _write_config(
                tmp_path, hub, server, "  recheck_interval: 1\n  recovery_max_age: 1\n"
            )
            bot = BotProcess(config)
            await bot.start()
            try:
                await wait_subscribed(hub, ALGOS)
                await hub.push(14, {"open": [leg("VRTX", "buy", "100.00", _now())]})
                await until(lambda: _journaled(journal, "VRTX"), "the VRTX leg on record")
                # two account requests begun after the leg was on record: the second began
                # once the first had timed out (2 s), so the signal is older than 1 s now
                mark = server.held
                await until(lambda: server.held >= mark + 2, "two more held account requests")
                _answer(server)
                await until(lambda: _state(journal) == "running", "status: running")
                await until(lambda: bool(plans(journal)), "the VRTX signal's plan")
                (skip,) = entries(journal, symbols=("VRTX",), statuses=(Status.SKIPPED,))
                assert HELD_STALE in skip.detail or HELD_STALE in str(skip.data)
                assert broker_orders(server) == []
                _one_decision_per_leg(journal, ("VRTX",))
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)


async def test_kill_9_while_recovering_with_signals_queued_then_every_leg_once(
    tmp_path: Path,
) -> None:
    """Two runs killed (-9) while recovering, each with a signal journaled and queued; a third
    hears a third signal while recovering, then the broker answers: recovery plans the two
    earlier signals, the signal loop the third, each leg once. Seen failing when recovery
    planned every unplanned signal again (``earlier`` ignored: the third signal planned by
    recovery and again by the loop, two PLAN rows)."""
    journal = _journal(tmp_path)
    with alpaca_server() as server:
        _hang_at_start(server)
        async with AlphaHubSimulator(port=0) as hub:
            bot = BotProcess(_write_config(tmp_path, hub, server, "  recheck_interval: 1\n"))
            try:
                for algo_id, symbol in ((14, "VRTX"), (16, "JBHT")):
                    await bot.start()
                    await wait_subscribed(hub, ALGOS)
                    await hub.push(algo_id, {"open": [leg(symbol, "buy", "100.00", _now())]})
                    await until(lambda s=symbol: _journaled(journal, s), f"{symbol} on record")
                    await bot.kill9()
                    assert plans(journal) == []
                await bot.start()
                await wait_subscribed(hub, ALGOS)
                await hub.push(17, {"open": [leg("AAPL", "buy", "100.00", _now())]})
                await until(lambda: _journaled(journal, "AAPL"), "AAPL on record")
                assert plans(journal) == [] and broker_orders(server) == []

                _answer(server)
                await until(lambda: len(broker_orders(server)) == 3, "the three orders")
                await until(lambda: _state(journal) == "running", "status: running")
                assert sorted((o.symbol, o.qty) for o in broker_orders(server)) == [
                    ("AAPL", Decimal(50)),
                    ("JBHT", Decimal(10)),
                    ("VRTX", Decimal(10)),
                ]
                assert await bot.stop(signal.SIGTERM) == 0
                _one_decision_per_leg(journal, ("VRTX", "JBHT", "AAPL"))
                _planned_after_recovery(journal, "AAPL")
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)


async def test_a_stop_while_waiting_for_the_broker_is_clean_and_the_next_start_trades(
    tmp_path: Path,
) -> None:
    """SIGTERM while the broker hangs at start: a clean stop (exit 0, the stop on record, the
    signal heard left journaled for the next start), and the next start trades it once. Seen
    failing when the stop did not interrupt the wait for the broker (no exit before the
    deadline)."""
    journal = _journal(tmp_path)
    with alpaca_server() as server:
        _hang_at_start(server)
        async with AlphaHubSimulator(port=0) as hub:
            bot = BotProcess(_write_config(tmp_path, hub, server, "  recheck_interval: 1\n"))
            await bot.start()
            try:
                await wait_subscribed(hub, ALGOS)
                await hub.push(14, {"open": [leg("VRTX", "buy", "100.00", _now())]})
                await until(lambda: _journaled(journal, "VRTX"), "the VRTX leg on record")
                assert await bot.stop(signal.SIGTERM) == 0
                assert "journaled for the next start" in bot.output()
                assert entries(journal, statuses=(Status.STOP,))
                assert _state(journal) == "stopped"
                assert plans(journal) == [] and broker_orders(server) == []

                _answer(server)
                await bot.start()
                await until(lambda: len(broker_orders(server)) == 1, "the VRTX order")
                assert await bot.stop(signal.SIGTERM) == 0
                _one_decision_per_leg(journal, ("VRTX",))
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)
