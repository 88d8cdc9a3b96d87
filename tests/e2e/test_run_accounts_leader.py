"""Several accounts on a PostgreSQL journal shared by two `tradebot run` processes: the leader
executes for every account (one lease); killed with -9, the standby takes every account over,
and each account's broker (a local Alpaca server letting in only that account's keys) receives
each leg exactly once."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

from tests.e2e.accounts_harness import (
    FAMILY,
    MAIN,
    account_servers,
    accounts_config,
    assert_every_order_is_its_accounts,
    credentials_env,
    server_orders,
    signatures,
)
from tests.e2e.harness import BotProcess, leg, move_market_to, until, wait_subscribed
from tests.pgserver import PgServer
from tradebot.journal.postgres import open_postgres
from tradebot.simulators.alphahub.server import AlphaHubSimulator

JOURNAL = "journal:\n  path: journal/tradebot.sqlite\n  recheck_interval: 1\n"


def _leader_pid(url: str) -> int | None:
    with open_postgres(url, readonly=True) as store:
        lead = store.leadership()
    if lead is None or lead[1] is None or not lead[2]:
        return None
    return int(lead[1].split(":")[1])


async def test_the_leader_trades_every_account_and_a_failover_takes_them_all(
    tmp_path: Path, pg_server: PgServer
) -> None:
    url = pg_server.create_database()
    names = [MAIN, FAMILY]
    with account_servers(names) as servers:
        async with AlphaHubSimulator(port=0) as hub:
            text = accounts_config(hub.url, servers)
            assert JOURNAL in text
            journal = f"journal:\n  url: {url}\n  recheck_interval: 1\n  failover_timeout: 2\n"
            bots = []
            for name in ("a", "b"):
                folder = tmp_path / name
                folder.mkdir()
                config = folder / "config.yaml"
                config.write_text(text.replace(JOURNAL, journal))
                bots.append(BotProcess(config, credentials_env(names)))
            first, second = bots
            try:
                await first.start()
                await until(lambda: "role     leader" in first.output(), "the first leader")
                await second.start()
                await until(lambda: "standby:" in second.output(), "the standby")
                await wait_subscribed(hub, (16,))

                def holds(count: int) -> bool:
                    return all(len(server_orders(s)) == count for s in servers.values())

                at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
                payload = {"open": [leg("JBHT", "buy", "168.56", at)]}
                for server in servers.values():
                    move_market_to(server, payload)
                await hub.push(16, payload)
                await until(lambda: holds(1), "the leader's order at every account")
                assert first.proc is not None and _leader_pid(url) == first.proc.pid

                # killed -9: the standby journals the next signal, takes the lease over and
                # plans it for every account (their recoveries), then trades on as the leader
                await first.kill9()
                payload = {"open": [leg("VRTX", "buy", "216.08", at)]}
                for server in servers.values():
                    move_market_to(server, payload)
                await hub.push(14, payload)
                await until(lambda: "role     leader" in second.output(), "the take-over")
                await until(lambda: holds(2), "the new leader's order at every account")
                payload = {"open": [leg("ILMN", "buy", "414.60", at)]}
                for server in servers.values():
                    move_market_to(server, payload)
                await hub.push(16, payload)
                await until(lambda: holds(3), "the new leader's next order at every account")
                assert await second.stop(signal.SIGTERM) == 0
            finally:
                for bot in bots:
                    if bot.running:
                        await bot.stop(signal.SIGKILL)
    assert_every_order_is_its_accounts(servers)
    for name, server in servers.items():
        assert sorted((a, s) for a, s, _side, _q, _r in signatures(server)) == [
            (14, "VRTX"),
            (16, "ILMN"),
            (16, "JBHT"),
        ], name
