"""``broker.account_id`` tags client order ids with Alpaca too: two configs following the same
signals into one Alpaca account get different ids, the ids are stable across restarts, and an
order journaled under one tag keeps its id when the tag changes before recovery sends it."""

from __future__ import annotations

import signal
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
    unresolved,
    until,
    wait_subscribed,
)
from tradebot.core.ids import client_order_id
from tradebot.core.signal import LegId, LegKind, Side
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

#: the legs' time: now, to the second, as AlphaHub stamps them
WHEN = datetime.now(UTC).replace(microsecond=0)
AT = WHEN.strftime("%Y-%m-%dT%H:%M:%S")


def tagged_config(folder: Path, hub: AlphaHubSimulator, server: AlpacaServer, tag: str) -> Path:
    folder.mkdir(exist_ok=True)
    text = bot_config(hub.url, server).replace(
        "broker:\n  name: alpaca\n", f"broker:\n  name: alpaca\n  account_id: {tag}\n"
    )
    assert f"account_id: {tag}" in text
    path = folder / "config.yaml"
    path.write_text(text)
    return path


def expected_id(tag: str, algo_id: int, symbol: str) -> str:
    leg_id = LegId(algo_id, LegKind.OPEN, symbol, Side.BUY, WHEN)
    return client_order_id(tag, [leg_id], "open")


def ids_for(server: AlpacaServer, symbol: str) -> list[str]:
    return [o.client_order_id for o in broker_orders(server) if o.symbol == symbol]


async def started(config: Path, hub: AlphaHubSimulator) -> BotProcess:
    bot = BotProcess(config)
    await bot.start()
    try:
        await wait_subscribed(hub, ALGOS)
    except BaseException:
        await bot.stop(signal.SIGKILL)
        raise
    return bot


def quote_legs(server: AlpacaServer) -> None:
    """The market at the legs' prices, so no leg is skipped as off-market."""
    server.set_price("VRTX", Decimal("216.08"))
    server.set_price("JBHT", Decimal("168.56"))


async def test_two_tags_on_one_alpaca_account_get_their_own_stable_ids(tmp_path: Path) -> None:
    vrtx = {"open": [leg("VRTX", "buy", "216.08", AT)]}
    with alpaca_server() as server:
        quote_legs(server)
        async with AlphaHubSimulator(port=0) as hub:
            config_a = tagged_config(tmp_path / "a", hub, server, "acct-A")
            bot = await started(config_a, hub)
            try:
                await hub.push(14, vrtx)
                await until(lambda: len(ids_for(server, "VRTX")) == 1, "bot A's order")
                assert "(order ids tagged acct-A)" in bot.output()
                assert await bot.stop() == 0
                # a restart: the next signal's id carries the same tag
                bot = await started(config_a, hub)
                await hub.push(16, {"open": [leg("JBHT", "buy", "168.56", AT)]})
                await until(lambda: len(ids_for(server, "JBHT")) == 1, "bot A's second order")
                assert await bot.stop() == 0

                # another config, its own journal, the same signal, the same Alpaca account
                bot = await started(tagged_config(tmp_path / "b", hub, server, "acct-B"), hub)
                await hub.push(14, vrtx)
                await until(lambda: len(ids_for(server, "VRTX")) == 2, "bot B's order")
                assert await bot.stop() == 0
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)
    assert ids_for(server, "VRTX") == [
        expected_id("acct-A", 14, "VRTX"),
        expected_id("acct-B", 14, "VRTX"),
    ]
    assert ids_for(server, "JBHT") == [expected_id("acct-A", 16, "JBHT")]
    number = server.account.account_number  # what main used, ignoring broker.account_id
    assert expected_id(number, 14, "VRTX") not in ids_for(server, "VRTX")
    assert {o.status for o in broker_orders(server)} == {"filled"}


async def test_a_journaled_order_keeps_its_id_when_the_tag_changes(tmp_path: Path) -> None:
    with alpaca_server() as server:
        quote_legs(server)
        async with AlphaHubSimulator(port=0) as hub:
            config = tagged_config(tmp_path, hub, server, "acct-A")
            # no re-check while it runs: the restart's recovery is what sends the order
            config.write_text(
                config.read_text().replace("recheck_interval: 1", "recheck_interval: 600")
            )
            journal = tmp_path / "journal" / "tradebot.sqlite"
            bot = await started(config, hub)
            try:
                server.add_fault(Fault.error(503, times=8))  # every attempt the adapter makes
                await hub.push(14, {"open": [leg("VRTX", "buy", "216.08", AT)]})

                def outcome_unknown() -> bool:
                    errors = entries(journal, statuses=(Status.ERROR,))
                    return any("outcome unknown" in e.detail for e in errors)

                await until(outcome_unknown, "the adapter giving up")
                await bot.kill9()
                assert ids_for(server, "VRTX") == []
                config.write_text(config.read_text().replace("acct-A", "acct-B"))
                bot = await started(config, hub)
                await until(lambda: unresolved(journal) == 0, "recovery sending the order")
                assert await bot.stop() == 0
            finally:
                if bot.running:
                    await bot.stop(signal.SIGKILL)
    assert ids_for(server, "VRTX") == [expected_id("acct-A", 14, "VRTX")]
    (intent,) = entries(journal, statuses=(Status.INTENT,))
    assert intent.client_order_id == expected_id("acct-A", 14, "VRTX")
