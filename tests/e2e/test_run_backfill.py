"""Backfill end to end: `tradebot run` as a process between the simulators, signals pushed while
no connection of the bot is subscribed, recovered from AlphaHub's signal history.

(a) killed with -9, a signal pushed while it is dead, restarted: traded exactly once when
    fresh, journaled ``missed_stale`` when not;
(b) one connection, a push during a drop: traded once after the rejoin, and once only when
    AlphaHub pushes the same leg live afterwards;
(c) two connections, one of which saw the push: nothing extra;
(d) the history endpoint missing: warned and journaled once, live trading unaffected.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.e2e.harness import (
    BotProcess,
    Env,
    alpaca_server,
    bot_config,
    entries,
    leg,
    until,
)
from tradebot.journal.records import Status
from tradebot.simulators.alphahub.server import AlphaHubSimulator

ALGOS = (14, 16)


@asynccontextmanager
async def bot_with(
    folder: Path, *, connections: int = 2, max_signal_age: int = 600
) -> AsyncIterator[Env]:
    """`tradebot run` subscribed to algorithms 14 and 16 only, with ``connections``."""
    with alpaca_server() as server:
        async with AlphaHubSimulator(port=0) as hub:
            text = bot_config(hub.url, server)
            text = text.replace("  connections: 2\n", f"  connections: {connections}\n")
            text = text.replace("  email:", f"  algorithms: {list(ALGOS)}\n  email:")
            text = text.replace("max_signal_age: 600", f"max_signal_age: {max_signal_age}")
            config = folder / "config.yaml"
            config.write_text(text)
            bot = BotProcess(config)
            await bot.start()
            env = Env(hub, server, bot, config, folder / "journal" / "tradebot.sqlite")
            try:
                await joined(env, connections)
                yield env
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)


async def joined(env: Env, connections: int) -> None:
    await until(
        lambda: all(len(env.hub.joined(a)) >= connections for a in ALGOS), "every channel joined"
    )


def stamp(ago: float = 0.0) -> str:
    return (datetime.now(UTC) - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%S")


def backfill_rows(env: Env) -> list[str]:
    return [
        e.detail for e in entries(env.journal, statuses=(Status.GAP,)) if "backfill" in e.detail
    ]


def sources(env: Env, symbol: str) -> list[str]:
    legs = entries(env.journal, symbols=(symbol,), statuses=(Status.LEG,))
    return [str(e.data.get("source")) for e in legs]


def quote(env: Env, **prices: str) -> None:
    """The broker's market at these prices: legs pushed past the harness must pass the collar."""
    for symbol, price in prices.items():
        env.server.set_price(symbol, Decimal(price))


async def test_a_signal_pushed_while_the_bot_is_dead_is_traded_once_when_fresh(
    tmp_path: Path,
) -> None:
    async with bot_with(tmp_path, max_signal_age=30) as env:
        await env.push_and_wait(14, {"open": [leg("VRTX", "buy", "216.08", stamp())]})
        await env.bot.kill9()
        # while it is dead: one fresh signal, and one stamped 45 s ago (older than the 30 s
        # max_signal_age, but within the backfill margin of the last frame journaled)
        quote(env, JBHT="168.56", ILMN="414.60")  # the market at the legs' prices
        assert await env.hub.push(16, {"open": [leg("JBHT", "buy", "168.56", stamp())]}) == 0
        stale = {"open": [leg("ILMN", "buy", "414.60", stamp(45))]}
        assert await env.hub.push(16, stale) == 0
        await env.bot.start()
        await until(lambda: env.orders("JBHT") == ["buy 10"], "the recovered open traded")
        await until(lambda: "missed_stale" in env.skips("ILMN"), "the stale one journaled")
        assert sources(env, "JBHT") == ["backfill"]
        # killed and started again: the start-up backfill finds both in the journal
        await env.bot.kill9()
        mark = len(backfill_rows(env))
        await env.bot.start()
        await until(lambda: len(backfill_rows(env)) >= mark + 2, "both algorithms backfilled")
        assert all(", 0 missed" in d for d in backfill_rows(env)[mark:])
        assert await env.bot.stop(signal.SIGTERM) == 0
    assert env.orders("JBHT") == ["buy 10"]
    assert env.orders("ILMN") == []
    assert env.orders("VRTX") == ["buy 10"]
    assert env.skips("ILMN") == ["missed_stale"]


async def test_one_connection_a_push_during_a_drop_is_traded_once_after_the_rejoin(
    tmp_path: Path,
) -> None:
    async with bot_with(tmp_path, connections=1) as env:
        payload = {"open": [leg("CDNS", "sell", "142.94", stamp())]}
        quote(env, CDNS="142.94", MU="87.10")
        env.hub.drop()
        assert await env.hub.push(16, payload) == 0  # nobody subscribed: only the history has it
        await until(lambda: env.orders("CDNS") == ["sell 10"], "the recovered open traded")
        assert sources(env, "CDNS") == ["backfill"]
        # AlphaHub pushes the same leg again, live, even as a close (the history could not
        # say which it was): not traded again, neither as a second open nor as a cover
        await joined(env, 1)
        again = {"close": payload["open"], "open": [leg("MU", "buy", "87.10", stamp())]}
        await env.push_and_wait(16, again)
        assert await env.bot.stop(signal.SIGTERM) == 0
    assert env.orders("CDNS") == ["sell 10"]
    assert env.orders("MU") == ["buy 10"]
    assert sources(env, "CDNS") == ["backfill"]  # the live copy was dropped as a duplicate
    assert any("1 missed, 1 sent to the planner" in d for d in backfill_rows(env))
    # the session and renewal tokens, sent with every history read, reach no log or row
    written = env.bot.output() + env.journal.read_bytes().decode("latin-1")
    assert env.hub.tokens_issued and not any(t in written for t in env.hub.tokens_issued)


async def test_two_connections_one_saw_the_push_nothing_extra(tmp_path: Path) -> None:
    async with bot_with(tmp_path, connections=2) as env:
        env.hub.drop(env.hub.connections[0])
        await env.push_and_wait(16, {"open": [leg("ILMN", "buy", "414.60", stamp())]})
        await joined(env, 2)
        # then a real lapse on both: the backfill that follows must not bring ILMN back
        env.hub.drop()
        await until(lambda: len(backfill_rows(env)) >= 2, "backfill after the lapse")
        await joined(env, 2)
        await env.push_and_wait(16, {"open": [leg("MU", "buy", "87.10", stamp())]})
        assert await env.bot.stop(signal.SIGTERM) == 0
    assert env.orders("ILMN") == ["buy 10"]
    assert sources(env, "ILMN") == ["live"]
    assert all(", 0 missed" in d for d in backfill_rows(env))


async def test_history_endpoint_missing_live_trading_unaffected(tmp_path: Path) -> None:
    async with bot_with(tmp_path, connections=1) as env:
        env.hub.history_fault("404")
        for symbol in ("JBHT", "ILMN"):  # two lapses, each with a signal lost for good
            env.hub.drop()
            assert await env.hub.push(16, {"open": [leg(symbol, "buy", "100", stamp())]}) == 0
            await joined(env, 1)
            await env.push_and_wait(14, {"open": [leg(f"{symbol[:2]}X", "buy", "10", stamp())]})

        def unavailable() -> list[str]:
            rows = entries(env.journal, statuses=(Status.ERROR,))
            return [e.detail for e in rows if "backfill unavailable" in e.detail]

        await until(lambda: env.hub.history.requests >= 2 * len(ALGOS), "history asked")
        await until(lambda: bool(unavailable()), "the unavailability journaled")
        assert env.bot.running
        assert await env.bot.stop(signal.SIGTERM) == 0
    assert env.orders("JBX") == ["buy 10"] and env.orders("ILX") == ["buy 10"]
    assert env.orders("JBHT") == [] and env.orders("ILMN") == []
    (detail,) = unavailable()  # once per run, however many lapses
    assert "HTTP 404" in detail
    assert env.bot.output().count("backfill unavailable") == 1
    # never a hot loop: at most a start-up read and one per lapse, per algorithm, and the
    # coverage audit's first read (the listener has logged in by the time the bot is ready)
    assert env.hub.history.requests <= 4 * len(ALGOS)
