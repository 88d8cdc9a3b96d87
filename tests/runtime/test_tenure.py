"""The journal's tenure, as the supervisor sees it: the opener picks it from where the journal is
(a SQLite file: held alone, and the PostgreSQL driver never loads; a server: leased among the
processes sharing it), and ``runtime/bot.py`` names no backend. The leased tenure against a
real server: leads at once when the lease is free, else stands by until it is, or until the
stop. (The bot standing by and taking over: test_standby.py and tests/e2e/test_run_failover.py.)"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import pytest

from tradebot.journal.interface import Journal
from tradebot.journal.lease import LeasedTenure
from tradebot.journal.opener import tenure_for
from tradebot.journal.postgres import PostgresJournal, open_postgres
from tradebot.journal.tenure import SoleTenure

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("tradebot.journal.postgres", "tradebot.journal.lease", "tradebot.journal.sqlite")


def _tenure(location: str | Path) -> SoleTenure | LeasedTenure:
    tenure = tenure_for(location, failover_timeout=1, say=print, connections=lambda: "1/1 joined")
    assert isinstance(tenure, SoleTenure | LeasedTenure)
    return tenure


def test_the_opener_holds_a_sqlite_file_alone(tmp_path: Path) -> None:
    tenure = _tenure(tmp_path / "j.sqlite")
    assert isinstance(tenure, SoleTenure)
    assert (tenure.pick_up_every, tenure.planned, tenure.role()) == (None, None, None)


def test_the_opener_leases_a_postgresql_journal(pg_url: str) -> None:
    assert isinstance(_tenure(pg_url), LeasedTenure)


def test_the_supervisor_names_no_backend() -> None:
    """runtime/bot.py and runtime/components.py ask the tenure; they never ask which journal
    they have (no is_url, no backend module, no isinstance on a journal class)."""
    for name in ("bot.py", "components.py"):
        tree = ast.parse((ROOT / "tradebot" / "runtime" / name).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
        }
        named = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        named |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert not imported & {*BACKENDS, "psycopg"}, name
        assert not named & {"is_url", "PostgresJournal", "SqliteJournal", "open_postgres"}, name


RUN_ON_SQLITE = """\
import asyncio, io, json, sys
from pathlib import Path

from tradebot.broker.sim import SimBroker
from tradebot.config.loader import load_config
from tradebot.config.model import Mode
from tradebot.runtime.bot import Bot
from tradebot.simulators.alphahub.server import AlphaHubSimulator

async def main(folder: Path) -> None:
    async with AlphaHubSimulator(port=0) as hub:
        path = folder / "config.yaml"
        path.write_text(
            f"alphahub: {{url: {hub.url}, email: demo@example.com, password: demo, "
            "connections: 1}\\n"
            "broker: {name: sim, sim: {prices: {VRTX: 100}}}\\n"
            "journal: {path: journal/tradebot.sqlite}\\n"
            "risk: {kill_switch_file: null}\\n"
            "algorithms: {14: {strategy: fixed_shares, params: {shares: 10}}}\\n"
        )
        config = load_config(path)
        out = io.StringIO()
        bot = Bot(config, path, Mode.PAPER, load=load_config, out=out,
                  broker=SimBroker(config.broker.sim))
        running = asyncio.create_task(bot.run())
        async with asyncio.timeout(30):
            await bot.ready.wait()
        bot.request_stop()
        await running
    loaded = sorted(m for m in sys.modules if m.split(".")[0] == "psycopg"
                    or m in ("tradebot.journal.postgres", "tradebot.journal.lease"))
    print(json.dumps({"loaded": loaded, "output": out.getvalue()}))

asyncio.run(main(Path(sys.argv[1])))
"""


def test_a_bot_on_a_sqlite_file_runs_alone_and_never_loads_the_postgresql_driver(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RUN_ON_SQLITE), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["loaded"] == []
    assert "tradebot" in seen["output"] and "STANDBY" not in seen["output"]
    assert "role " not in seen["output"]  # the only process: the banner has no role line


# -- the leased tenure against a real server ----------------------------------------------


class StandingBy:
    """A stand-by of our own: records that it was entered and left, with which journal."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.left = False
        self.journal: Journal | None = None

    @asynccontextmanager
    async def __call__(self, journal: Journal) -> AsyncIterator[None]:
        self.journal = journal
        self.entered.set()
        try:
            yield
        finally:
            self.left = True


def _hold_the_lease(url: str) -> None:
    with open_postgres(url) as store:
        assert store.take_lead("elsewhere:1:1", 3600) == 1


async def test_a_free_lease_is_taken_at_once_without_standing_by(pg_url: str) -> None:
    tenure, standing = _tenure(pg_url), StandingBy()
    assert isinstance(tenure, LeasedTenure)
    try:
        assert await tenure.acquire(asyncio.Event(), standing)
        assert not standing.entered.is_set()
        journal = await asyncio.to_thread(tenure.open)
        try:
            assert isinstance(journal, PostgresJournal) and tenure.planned is not None
            assert tenure.planned(["nothing"]) == set()
            assert tenure.role() == (
                "leader (epoch 1) of the processes sharing this journal; a standby takes over"
                " within 1 s of its loss"
            )
        finally:
            journal.close()
    finally:
        await tenure.release()
    with open_postgres(pg_url) as store:
        assert store.leadership() == (1, tenure.holder, False)  # released: ended at once


async def test_a_held_lease_stands_by_until_it_runs_out(pg_url: str) -> None:
    _hold_the_lease(pg_url)
    tenure, standing = _tenure(pg_url), StandingBy()
    try:
        acquiring = asyncio.create_task(tenure.acquire(asyncio.Event(), standing))
        async with asyncio.timeout(20):
            await standing.entered.wait()
            assert not acquiring.done() and not standing.left
            with psycopg.connect(pg_url, autocommit=True) as conn:  # the leader is gone
                conn.execute("UPDATE tradebot_leadership SET lease_until = now()")
            assert await acquiring
        assert standing.left and isinstance(tenure, LeasedTenure) and tenure.epoch == 2
    finally:
        await tenure.release()


async def test_the_stop_while_standing_by_leaves_without_the_lease(pg_url: str) -> None:
    _hold_the_lease(pg_url)
    tenure, standing, stopping = _tenure(pg_url), StandingBy(), asyncio.Event()
    try:
        acquiring = asyncio.create_task(tenure.acquire(stopping, standing))
        async with asyncio.timeout(20):
            await standing.entered.wait()
            stopping.set()
            assert await acquiring is False
        assert standing.left
    finally:
        await tenure.release()
    with open_postgres(pg_url) as store:
        assert store.leadership() == (1, "elsewhere:1:1", True)  # still the other's
        assert {p.beat.role for p in store.processes()} == {"stopped"}


@pytest.mark.parametrize("name", ["tenure.py", "lease.py", "opener.py"])
def test_the_journal_side_of_the_tenure_imports_no_runtime(name: str) -> None:
    tree = ast.parse((ROOT / "tradebot" / "journal" / name).read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in imported if m.startswith("tradebot.runtime")]
