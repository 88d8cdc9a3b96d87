"""`Bot` with a PostgreSQL journal whose lease another process holds: it stands by (listens,
journals, sends nothing), takes over once the lease runs out (recovery plans what it journaled),
and a standby's own fatal error comes out as itself."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.e2e.harness import entries, until
from tradebot.broker.sim import SimBroker
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.exceptions import AuthenticationError
from tradebot.journal.postgres import open_postgres
from tradebot.journal.records import Status
from tradebot.runtime.bot import Bot
from tradebot.simulators.alphahub.server import AlphaHubSimulator

CONFIG = """\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 1}}
broker:
  name: sim
  sim: {{prices: {{VRTX: 100}}}}
journal: {{path: journal/tradebot.sqlite, url: "{url}", failover_timeout: 1}}
risk: {{kill_switch_file: null}}
algorithms:
  14: {{strategy: fixed_shares, params: {{shares: 10}}}}
"""


def _bot(tmp_path: Path, hub: AlphaHubSimulator, url: str) -> tuple[Bot, SimBroker, io.StringIO]:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(CONFIG.format(hub=hub.url, url=url))
    config = load_config(config_path)
    sim = SimBroker(config.broker.sim)
    out = io.StringIO()
    return Bot(config, config_path, Mode.PAPER, load=load_config, out=out, broker=sim), sim, out


def _hold_the_lease(url: str) -> None:
    with open_postgres(url) as store:
        assert store.take_lead("elsewhere:1:1", 3600) == 1


async def test_a_standby_journals_sends_nothing_then_takes_over(
    tmp_path: Path, pg_url: str
) -> None:
    _hold_the_lease(pg_url)
    async with AlphaHubSimulator(port=0) as hub:
        bot, sim, out = _bot(tmp_path, hub, pg_url)
        running = asyncio.create_task(bot.run())
        try:
            async with asyncio.timeout(20):
                await hub.wait_joined(14)
                at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
                leg = {"symbol": "VRTX", "side": "buy", "price": 100, "timestamp": at}
                await hub.push(14, {"open": [leg]})
                await until(lambda: bool(entries(pg_url, statuses=(Status.SIGNAL,))), "signal")
                assert hub.send_raw("not a frame {") == 1  # journaled as an error, as ever
                errors = lambda: entries(pg_url, statuses=(Status.ERROR,))  # noqa: E731
                await until(lambda: any("malformed" in e.detail for e in errors()), "an error")
                assert entries(pg_url, statuses=(Status.PLAN,)) == []
                with open_postgres(pg_url) as store:
                    assert {p.beat.role for p in store.processes()} == {"standby"}
                assert not bot.ready.is_set() and await sim.positions() == {}
                with psycopg.connect(pg_url, autocommit=True) as conn:  # the leader is gone
                    conn.execute("UPDATE tradebot_leadership SET lease_until = now()")
                await bot.ready.wait()  # recovery planned the signal it journaled as standby
                await until(lambda: bool(entries(pg_url, statuses=(Status.FILLED,))), "fill")
        finally:
            bot.request_stop()
            await running
    assert "STANDBY" in out.getvalue() and "role     leader (epoch 2)" in out.getvalue()
    assert dict(await sim.positions()) == {"VRTX": 10}
    with open_postgres(pg_url) as store:
        lead = store.leadership()
        assert lead is not None and lead[0] == 2 and not lead[2]  # released at the stop
        assert {p.beat.role for p in store.processes()} == {"stopped"}


async def test_a_standby_refused_by_alphahub_stops_with_that_error(
    tmp_path: Path, pg_url: str
) -> None:
    _hold_the_lease(pg_url)
    async with AlphaHubSimulator(port=0) as hub:
        hub.fail_logins(100, status=401)
        bot, _, _ = _bot(tmp_path, hub, pg_url)
        with pytest.raises(AuthenticationError):
            async with asyncio.timeout(20):
                await bot.run()
