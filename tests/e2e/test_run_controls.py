"""What a person does to a running bot: halt it, edit its config, stop it; and what it does on
its own: honour market hours, record lapses in coverage, refuse unsafe or wrong settings."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.harness import (
    ALGOS,
    BotProcess,
    Env,
    alpaca_server,
    bot_config,
    broker_orders,
    entries,
    leg,
    running_bot,
    until,
    wait_subscribed,
)
from tradebot.cli.main import main
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import Fault, FillScript
from tradebot.simulators.alphahub.server import AlphaHubSimulator


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with running_bot(tmp_path) as running:
        yield running


async def test_halt_reduce_only_and_resume_take_effect_without_a_restart(env: Env) -> None:
    config = str(env.config)
    assert main(["halt", "--config", config, "--reason", "checking a fill"]) == 0
    await env.push_and_wait(17, {"open": [leg("AAPL", "buy", "189.50", env.at)]})
    assert env.skips("AAPL") == ["kill_switch"]
    assert env.orders("AAPL") == []

    assert main(["resume", "--config", config]) == 0
    await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
    # planned is journaled before it is sent: wait for the order to reach the broker
    await until(lambda: env.orders("JBHT") == ["buy 10"], "the JBHT order")
    await until(lambda: bool(entries(env.journal, statuses=(Status.FILLED,))), "the JBHT fill")

    assert main(["halt", "--reduce-only", "--config", config]) == 0
    payload = {
        "close": [leg("JBHT", "sell", "170.00", env.at)],
        "open": [leg("ILMN", "buy", "414.60", env.at)],
    }
    await env.push_and_wait(16, payload)
    assert env.orders("JBHT") == ["buy 10", "sell 10"]  # the close went out
    assert env.orders("ILMN") == []  # the open did not
    assert env.skips("ILMN") == ["kill_switch"]
    changes = [e.detail for e in entries(env.journal, statuses=(Status.CONFIG,))]
    assert any("kill switch: halt" in d and "checking a fill" in d for d in changes)
    assert any("kill switch: reduce_only" in d for d in changes)
    assert any("kill switch: running" in d for d in changes)


async def test_a_valid_config_edit_applies_and_an_invalid_one_keeps_the_old(env: Env) -> None:
    text = env.config.read_text()
    env.config.write_text(text.replace("params: {notional: 5000}", "params: {notional: 2000}", 1))
    await until(lambda: "config reloaded: algorithms.17" in env.bot.output(), "the reload")
    await env.push_and_wait(17, {"open": [leg("AAPL", "buy", "100.00", env.at)]})
    assert env.orders("AAPL") == ["buy 20"]  # $2,000 at $100

    broken = env.config.read_text().replace("notional: 2000", "notional: 2000, typo: 1", 1)
    env.config.write_text(broken)
    await until(lambda: "config edit rejected" in env.bot.output(), "the rejection")
    assert "typo" in env.bot.output()  # the loader's message names the key
    await env.push_and_wait(17, {"close": [leg("AAPL", "sell", "100.00", env.at)]})
    await env.push_and_wait(17, {"open": [leg("NVDA", "buy", "100.00", env.at)]})
    assert env.orders("NVDA") == ["buy 20"]  # still the last valid config
    errors = [e.detail for e in entries(env.journal, statuses=(Status.ERROR,))]
    assert any("config edit rejected" in d for d in errors)
    assert any("algorithms.17" in e.detail for e in entries(env.journal, statuses=(Status.CONFIG,)))


async def test_sigterm_stops_cleanly_and_leaves_a_complete_record(env: Env) -> None:
    await env.push_and_wait(14, {"open": [leg("VRTX", "buy", "216.08", env.at)]})
    assert await env.bot.stop(signal.SIGTERM) == 0
    statuses = [e.status for e in entries(env.journal, statuses=(Status.START, Status.STOP))]
    assert statuses == [Status.START, Status.STOP]
    assert "stopping cleanly" in env.bot.output()
    assert main(["status", "--config", str(env.config), "--json"]) == 0


async def test_status_counts_todays_orders_and_fills_per_algorithm(env: Env) -> None:
    import json

    from tradebot.runtime.status import status_path

    env.server.script_fills(FillScript(hold=True))  # an order, no fill: the two counts differ
    await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
    assert isinstance(env.journal, Path)
    path = status_path(env.journal)

    def line() -> dict[str, object]:
        algos = json.loads(path.read_text())["algorithms"] if path.exists() else []
        return next((a for a in algos if a["algo_id"] == 16), {})

    await until(lambda: line().get("orders_today") == 1, "the order counted in the status")
    assert line()["fills_today"] == 0
    (order,) = broker_orders(env.server)
    env.server.fill(order.client_order_id)
    await until(lambda: line().get("fills_today") == 1, "the fill counted in the status")
    assert line()["orders_today"] == 1


async def test_a_closed_market_follows_each_algorithms_policy(env: Env) -> None:
    assert await env.bot.stop(signal.SIGTERM) == 0
    with env.server.lock:  # the bot reads the clock at start and again at each boundary
        env.server.account.market_open = False
    text = env.config.read_text().replace(
        "    name: Minotaur Optimus 1\n", "    name: Minotaur Optimus 1\n    market_closed: skip\n"
    )
    env.config.write_text(text)
    await env.bot.start()
    await wait_subscribed(env.hub, ALGOS)
    await env.push_and_wait(17, {"open": [leg("AAPL", "buy", "189.50", env.at)]})
    assert env.skips("AAPL") == ["market_closed"]
    # the default policy queues a day order for the open
    await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
    # planned is journaled before it is sent: wait for the order to reach the broker
    await until(lambda: env.orders("JBHT") == ["buy 10"], "the JBHT order")


async def test_a_lapse_on_every_connection_is_recorded_with_a_position_check(env: Env) -> None:
    env.hub.drop()  # both connections at once: nobody is subscribed for a moment
    await wait_subscribed(env.hub, ALGOS)

    def lapses() -> set[int | None]:
        gaps = entries(env.journal, statuses=(Status.GAP,))
        return {e.algo_id for e in gaps if "not subscribed on any connection" in e.detail}

    await until(lambda: lapses() == set(ALGOS), "a lapse on record for every algorithm")
    # and the bot still trades afterwards, once
    await env.push_and_wait(18, {"open": [leg("NVDA", "buy", "131.20", env.at)]})
    assert env.orders("NVDA") == ["buy 38"]


async def test_live_without_the_acknowledgement_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "mode: live\nalgorithms:\n  14: {strategy: fixed_shares, params: {shares: 1}}\n"
    )
    assert main(["run", "--live", "--config", str(config)]) == 2
    assert not (tmp_path / "journal").exists()


async def test_wrong_alphahub_credentials_stop_the_bot_with_a_clear_error(tmp_path: Path) -> None:
    with alpaca_server() as server:
        async with AlphaHubSimulator(port=0, password="right") as hub:
            config = tmp_path / "config.yaml"
            config.write_text(bot_config(hub.url, server).replace("password: demo", "password: x"))
            bot = BotProcess(config)
            await bot.start()
            code = await bot.stop(signal.SIGCONT)  # no signal that stops it: it must exit itself
    assert code == 3
    assert "error:" in bot.output()
    assert "password: x" not in bot.output() and " x " not in bot.output()


async def test_a_second_ctrl_c_stops_at_once_and_the_next_start_settles(env: Env) -> None:
    env.server.script_fills(FillScript(hold=True))  # the order stays open: the clean stop waits
    await env.push_and_wait(14, {"open": [leg("VRTX", "buy", "216.08", env.at)]})
    await until(lambda: env.orders("VRTX") == ["buy 10"], "the order at the broker")
    assert env.bot.proc is not None
    env.bot.proc.send_signal(signal.SIGINT)
    await until(lambda: "stopping: no new signals" in env.bot.output(), "the clean stop begins")
    assert await env.bot.stop(signal.SIGINT) == 130
    assert "stopping now" in env.bot.output()
    statuses = [e.status for e in entries(env.journal, statuses=(Status.START, Status.STOP))]
    assert statuses == [Status.START, Status.STOP]
    # the order filled while the bot was down; the next start finds it by its client order id
    (order,) = broker_orders(env.server)
    env.server.fill(order.client_order_id)
    await env.bot.start()
    await until(lambda: bool(entries(env.journal, statuses=(Status.FILLED,))), "the fill")
    assert len(broker_orders(env.server)) == 1


async def test_a_canceled_order_can_be_sent_again_once_by_hand(env: Env) -> None:
    env.server.script_fills(FillScript(hold=True))
    await env.push_and_wait(14, {"open": [leg("VRTX", "buy", "216.08", env.at)]})
    await until(lambda: env.orders("VRTX") == ["buy 10"], "the order at the broker")
    (order,) = broker_orders(env.server)
    cid = order.client_order_id
    config = str(env.config)
    # the bot holds the journal while it runs: resend says so and changes nothing
    assert await asyncio.to_thread(main, ["resend", cid, "--config", config, "--yes"]) == 4

    env.server.cancel(cid)
    await until(
        lambda: bool(entries(env.journal, client_order_ids=(cid,), statuses=(Status.CANCELED,))),
        "the cancel on record",
    )
    assert await env.bot.stop(signal.SIGTERM) == 0
    env.server.script_fills(FillScript())  # fills again

    args = ["resend", cid, "--config", config, "--yes", "--wait", "5"]
    assert await asyncio.to_thread(main, args) == 0
    again = [o for o in broker_orders(env.server) if o.client_order_id == f"{cid}-a1"]
    assert [(o.side, o.qty, o.status) for o in again] == [("buy", Decimal(10), "filled")]
    (intent,) = entries(env.journal, client_order_ids=(f"{cid}-a1",), statuses=(Status.INTENT,))
    assert intent.data["attempt"] == 1
    assert any(f"re-send of {cid}" in note for note in intent.data["notes"])
    assert entries(env.journal, client_order_ids=(f"{cid}-a1",), statuses=(Status.FILLED,))
    # a second resend of the same order is refused: it was sent again already
    assert await asyncio.to_thread(main, args) == 1
    assert len(broker_orders(env.server)) == 2


async def test_a_resend_whose_outcome_is_unknown_says_so_and_is_settled_by_lookup(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env.server.script_fills(FillScript(hold=True))
    await env.push_and_wait(14, {"open": [leg("VRTX", "buy", "216.08", env.at)]})
    await until(lambda: env.orders("VRTX") == ["buy 10"], "the order at the broker")
    (order,) = broker_orders(env.server)
    cid = order.client_order_id
    env.server.cancel(cid)
    await until(
        lambda: bool(entries(env.journal, client_order_ids=(cid,), statuses=(Status.CANCELED,))),
        "the cancel on record",
    )
    assert await env.bot.stop(signal.SIGTERM) == 0
    # the broker takes the order, then every answer (and every lookup) is a gateway timeout
    env.server.add_fault(Fault.error(504, process=True, times=100))
    lookup = "/v2/orders:by_client_order_id"
    env.server.add_fault(Fault.error(504, times=100, method="GET", path=lookup))
    args = ["resend", cid, "--config", str(env.config), "--yes", "--wait", "1"]
    await asyncio.to_thread(main, args)
    out = capsys.readouterr().out
    assert "not sent" not in out  # it may well exist: the broker took it
    assert f"{cid}-a1: no answer from the broker, outcome unknown" in out
    assert [o.client_order_id for o in broker_orders(env.server)] == [cid, f"{cid}-a1"]


async def test_a_signal_pushed_again_after_a_restart_does_not_use_up_the_days_orders(
    env: Env,
) -> None:
    opening = {"open": [leg("VRTX", "buy", "216.08", env.at)]}
    await env.push_and_wait(14, opening)
    await until(lambda: bool(entries(env.journal, statuses=(Status.FILLED,))), "the VRTX fill")
    await env.push_and_wait(14, {"close": [leg("VRTX", "sell", "217.00", env.at)]})
    await until(lambda: env.orders("VRTX") == ["buy 10", "sell 10"], "the close")
    assert await env.bot.stop(signal.SIGTERM) == 0
    text = env.config.read_text()
    env.config.write_text(
        text.replace("  max_signal_age: 600\n", "  max_signal_age: 600\n  max_orders_per_day: 3\n")
    )
    await env.bot.start()
    await wait_subscribed(env.hub, ALGOS)

    # the same open again: flat now, so it is planned, and the journal refuses its order id
    await env.push_and_wait(14, opening)
    assert env.skips("VRTX") == ["duplicate"]
    # two orders today so far: a third is still allowed
    await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
    # planned is journaled before it is sent: wait for the order to reach the broker
    await until(lambda: env.orders("JBHT") == ["buy 10"], "the JBHT order")
    await env.push_and_wait(17, {"open": [leg("AAPL", "buy", "100.00", env.at)]})
    (skip,) = entries(env.journal, symbols=("AAPL",), statuses=(Status.SKIPPED,))
    assert skip.detail == "risk_limit: max_orders_per_day: the account sent 3 of its 3 orders today"
    assert env.orders("VRTX") == ["buy 10", "sell 10"]
