"""A standby writes its status (role standby) and beats its process row; ``status --json`` lists
it beside the leader; the standby never overwrites the status of another live process."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.e2e.harness import until
from tests.runtime.test_standby import _bot
from tradebot.cli.main import main
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.exceptions import StatusUnreadable
from tradebot.journal.postgres import ProcessBeat, open_postgres
from tradebot.runtime.bot import Bot
from tradebot.runtime.process import start_ticks
from tradebot.runtime.status import (
    StatusBoard,
    StatusDocument,
    read_status,
    status_path,
    write_status,
)
from tradebot.runtime.status_feed import StandbyStatus
from tradebot.simulators.alphahub.server import AlphaHubSimulator


def read_or_none(path: Path) -> StatusDocument | None:
    try:
        return read_status(path)[1]
    except StatusUnreadable:
        return None


async def test_a_standing_by_bot_writes_its_status_and_is_listed_beside_the_leader(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_postgres(pg_url) as store:  # a leader on another host, beating
        assert store.take_lead("elsewhere:1:1", 3600) == 1
        store.beat(ProcessBeat("elsewhere:1:1", "elsewhere", 1, "leader", "1/1 joined"))
    async with AlphaHubSimulator(port=0) as hub:
        bot, _sim, _out = _bot(tmp_path, hub, pg_url)
        config_path = tmp_path / "config.yaml"  # the heartbeat as configured
        config_path.write_text(
            config_path.read_text().replace(
                "failover_timeout: 1}", "failover_timeout: 1, heartbeat_every: 0.5}"
            )
        )
        bot = Bot(load_config(config_path), config_path, Mode.PAPER, load=load_config, out=_out)
        path = status_path(bot.journal_path)
        running = asyncio.create_task(bot.run())
        try:
            await hub.wait_joined(14)

            def standing() -> bool:
                doc = read_or_none(path)
                return doc is not None and doc.algorithms[0].joined == 1

            await until(standing, "the standby's status, joined")
            written = read_or_none(path)
            assert written is not None
            assert written.state == "standby" and written.role == "standby"
            assert written.pid == os.getpid() and written.epoch is None
            assert written.heartbeat_every == 0.5
            with psycopg.connect(pg_url, autocommit=True) as conn:  # the leader beats now
                conn.execute("UPDATE tradebot_processes SET heartbeat_at = now()")
            assert main(["status", "--config", str(tmp_path / "config.yaml"), "--json"]) == 0
            document = json.loads(capsys.readouterr().out)
            assert document["state"] == "standby" and document["role"] == "standby"
            leader, standby = document["processes"]
            assert (leader["role"], leader["host"], leader["epoch"]) == ("leader", "elsewhere", 1)
            assert (standby["role"], standby["pid"], standby["state"]) == (
                "standby",
                os.getpid(),
                "standby",
            )
            assert standby["epoch"] is None and standby["heartbeat_age"] < 5
        finally:
            bot.request_stop()
            await running
    stopped = read_or_none(path)
    assert stopped is not None and stopped.state == "stopped"


def _another_live_process(path: Path, *, age: float) -> None:
    """A status written by this test's parent process (alive), ``age`` seconds ago."""
    parent = os.getppid()
    board = StatusBoard("paper", "sim", "ACC", 1, "j", datetime.now(UTC), state="running")
    document = board.as_dict()
    written = datetime.now(UTC) - timedelta(seconds=age)
    document.update(pid=parent, process_start=start_ticks(parent), updated_at=written.isoformat())
    write_status(path, document)


def _standby(tmp_path: Path) -> StandbyStatus:
    config = tmp_path / "config.yaml"
    config.write_text("journal:\n  path: j.sqlite\n", encoding="utf-8")
    return StandbyStatus(
        load_config(config),
        mode=Mode.PAPER,
        journal_path=tmp_path / "j.sqlite",
        joined=lambda connection: frozenset(),
    )


def test_a_standby_leaves_a_live_leaders_status_alone(tmp_path: Path) -> None:
    standby = _standby(tmp_path)
    _another_live_process(standby.path, age=0)
    assert standby.write() is False
    assert read_status(standby.path)[1].state == "running"  # the leader's, untouched


def test_a_standby_writes_over_a_silent_ones_status(tmp_path: Path) -> None:
    standby = _standby(tmp_path)
    _another_live_process(standby.path, age=16)  # three beats missed: not responding
    assert standby.write() is True
    assert read_status(standby.path)[1].role == "standby"
