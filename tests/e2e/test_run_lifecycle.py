"""Guards of the running bot that only show while it runs: a daily loss reached through fills,
the position check after a lapse, and signals still queued when it is told to stop.

Each test here fails when the code it protects is removed (checked by hand): the fill hook
that refreshes today's P&L, the drift comparison after a lapse, the journaling of the queue at
shutdown.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.harness import (
    ALGOS,
    Env,
    broker_orders,
    entries,
    leg,
    running_bot,
    until,
    wait_subscribed,
)
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import Fault


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with running_bot(tmp_path) as running:
        for symbol in ("VRTX", "AAPL", "JBHT", "ILMN", "NVDA"):
            running.server.set_price(symbol, Decimal(100))
        yield running


def filled(env: Env, symbol: str) -> int:
    return len(entries(env.journal, symbols=(symbol,), statuses=(Status.FILLED,)))


async def test_a_daily_loss_reached_through_fills_while_running_stops_new_opens(env: Env) -> None:
    # the limit is there from the start, and today's P&L is 0 when the bot reads it at start:
    # only fills recorded while it runs can bring the loss over the limit
    text = env.config.read_text()
    limited = text.replace(
        "  max_signal_age: 600\n", "  max_signal_age: 600\n  max_daily_loss: 50\n"
    )
    env.config.write_text(limited)
    await until(lambda: "config reloaded: risk" in env.bot.output(), "the reload")

    await env.push_and_wait(14, {"open": [leg("VRTX", "buy", "100.00", env.at)]})
    await until(lambda: filled(env, "VRTX") == 1, "the VRTX buy fill")
    env.server.set_price("VRTX", Decimal(90))
    await env.push_and_wait(14, {"close": [leg("VRTX", "sell", "90.00", env.at)]})
    await until(lambda: filled(env, "VRTX") == 2, "the VRTX sell fill: $100 lost today")

    await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "100.00", env.at)]})
    assert env.orders("JBHT") == []
    (skip,) = entries(env.journal, symbols=("JBHT",), statuses=(Status.SKIPPED,))
    assert "max_daily_loss" in skip.detail


async def test_a_lapse_compares_positions_with_the_broker_and_records_drift(env: Env) -> None:
    # a position at the broker that no fill in the journal explains: someone traded by hand
    with env.server.lock:
        order = env.server.account.submit(
            {"symbol": "ILMN", "qty": "7", "side": "buy", "type": "market", "time_in_force": "day"}
        )
        env.server.account.fill(order, Decimal(7))
    env.hub.drop()  # every connection at once: a lapse for every algorithm
    await wait_subscribed(env.hub, ALGOS)

    def drift() -> list[str]:
        return [e.detail for e in entries(env.journal, symbols=("ILMN",), statuses=(Status.DRIFT,))]

    await until(lambda: bool(drift()), "the drift found by the position check after the lapse")
    assert "7" in drift()[0]
    # printed after the journal has the row
    await until(lambda: "never traded away" in env.bot.output(), "the drift warning")
    assert env.orders("ILMN") == ["buy 7"]  # the bot sent nothing to undo it


async def test_signals_queued_at_a_stop_are_journaled_and_traded_once_by_the_next_start(
    env: Env,
) -> None:
    # the first signal's order is answered slowly, so the next two wait in the queue
    env.server.add_fault(Fault.slow(1.5))
    await env.hub.push(14, {"open": [leg("VRTX", "buy", "100.00", env.at)]})
    await until(lambda: env.server.in_flight > 0, "the slow VRTX order at the broker")
    await env.hub.push(16, {"open": [leg("JBHT", "buy", "100.00", env.at)]})
    await env.hub.push(17, {"open": [leg("AAPL", "buy", "100.00", env.at)]})
    await asyncio.sleep(0.3)  # delivery over loopback; the stop below is what is under test
    assert await env.bot.stop(signal.SIGTERM) == 0
    out = env.bot.output()
    first = out.index("signal for algorithm 16 journaled for the next start")
    assert first < out.index("signal for algorithm 17 journaled for the next start")  # in order
    assert env.orders("JBHT") == env.orders("AAPL") == []

    await env.bot.start()
    await wait_subscribed(env.hub, ALGOS)
    await until(lambda: env.orders("JBHT") == ["buy 10"], "the queued JBHT signal traded")
    await until(lambda: env.orders("AAPL") == ["buy 50"], "the queued AAPL signal traded")
    assert env.orders("VRTX") == ["buy 10"]
    assert len(broker_orders(env.server)) == 3
