"""``tradebot doctor`` as a user runs it: a process, against the bundled AlphaHub simulator and
the local Alpaca server on 127.0.0.1, on a good machine and on broken ones."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.e2e.harness import bot_config
from tradebot.clock import utcnow
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

SECRET = "s3cret-alpaca-key-987"
PASSWORD = "hub-pass-654321"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Machine:
    folder: Path
    hub: AlphaHubSimulator
    server: AlpacaServer
    config: Path
    port: int

    def write(self, **replace: str) -> None:
        """The config ``tradebot run`` would use here; ``replace``: old text -> new text."""
        text = bot_config(self.hub.url, self.server)
        text = text.replace("secret_key: test-secret", f"secret_key: {SECRET}")
        text = text.replace("password: demo", f"password: {PASSWORD}")
        text += f"dashboard:\n  port: {self.port}\n"
        for old, new in replace.items():
            assert old in text, old
            text = text.replace(old, new)
        self.config.write_text(text)

    async def doctor(
        self, *args: str, env: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], str]:
        """Run ``tradebot doctor --format json``: the exit code, the findings by check, the
        whole output."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "ALPHAHUB_"))}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tradebot",
            "doctor",
            "--config",
            str(self.config),
            "--format",
            "json",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.folder,
            env={**clean, **(env or {})},
        )
        out, err = await proc.communicate()
        assert proc.returncode is not None
        text = out.decode() + err.decode()
        report = json.loads(out)
        assert report["exit_code"] == proc.returncode
        found: dict[str, Any] = {}
        for f in report["findings"]:
            found.setdefault(f["check"], f)  # the first of a check (config: ok, then warnings)
        return proc.returncode, found, text


@asynccontextmanager
async def machine(folder: Path, *, now: Callable[[], datetime] = utcnow) -> AsyncIterator[Machine]:
    server = AlpacaServer(key="test-key", secret=SECRET, now=now)
    server.start()
    try:
        async with AlphaHubSimulator(port=0, password=PASSWORD) as hub:
            m = Machine(folder, hub, server, folder / "config.yaml", free_port())
            m.write()
            yield m
    finally:
        server.stop()


def levels(found: dict[str, Any]) -> dict[str, str]:
    return {check: f["level"] for check, f in found.items()}


async def test_a_good_machine_is_ready(tmp_path: Path) -> None:
    async with machine(tmp_path) as m:
        code, found, text = await m.doctor()
    assert levels(found) == {
        "config": "ok",
        "alphahub": "ok",
        "broker": "ok",
        "clock": "ok",
        "journal folder": "ok",
        "journal disk": "ok",
        "dashboard port": "ok",
    }, found
    assert code == 0
    assert SECRET not in text and PASSWORD not in text


async def test_a_broken_machine_is_not_ready_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the journal's folder should be")
    async with machine(tmp_path) as m:
        m.write(
            **{
                f"password: {PASSWORD}": "password: wrong-password-1",
                f"secret_key: {SECRET}": "secret_key: wrong-secret-2",
                "path: journal/tradebot.sqlite": "path: blocked/tradebot.sqlite",
            }
        )
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", m.port))
            taken.listen()
            code, found, text = await m.doctor()
    assert code == 2
    assert levels(found) == {
        "config": "ok",
        "alphahub": "error",
        "broker": "error",
        "clock": "skipped",
        "journal folder": "error",
        "dashboard port": "error",
    }, found
    assert "refused the login" in found["alphahub"]["reason"]
    assert "refused the keys (HTTP 401)" in found["broker"]["reason"]
    assert "is not a folder" in found["journal folder"]["reason"]
    assert f"127.0.0.1:{m.port} is in use" in found["dashboard port"]["reason"]
    assert "wrong-secret-2" not in text and "wrong-password-1" not in text


async def test_servers_that_cannot_be_reached_are_errors(tmp_path: Path) -> None:
    closed = free_port()
    async with machine(tmp_path) as m:
        m.write(
            **{
                f"url: {m.hub.url}": f"url: http://127.0.0.1:{closed}",
                f"url: {m.server.url}": f"url: http://127.0.0.1:{closed}",
                "path: journal/tradebot.sqlite": "path: /proc/no-such/tradebot.sqlite",
            }
        )
        code, found, _ = await m.doctor()
    assert code == 2
    assert found["alphahub"]["level"] == "error"
    assert "cannot be reached" in found["alphahub"]["reason"]
    assert found["broker"]["level"] == "error"
    assert "cannot be reached" in found["broker"]["reason"]
    assert found["journal folder"]["level"] == "error"
    assert "not writable" in found["journal folder"]["reason"]


async def test_a_clock_a_few_seconds_off_is_a_warning(tmp_path: Path) -> None:
    async with machine(tmp_path, now=lambda: utcnow() + timedelta(seconds=8)) as m:
        code, found, _ = await m.doctor()
    assert found["clock"]["level"] == "warning", found["clock"]
    assert "behind the broker" in found["clock"]["reason"]
    assert code == 1


async def test_a_clock_far_off_is_an_error(tmp_path: Path) -> None:
    async with machine(tmp_path, now=lambda: utcnow() - timedelta(minutes=5)) as m:
        code, found, _ = await m.doctor()
    assert found["clock"]["level"] == "error", found["clock"]
    assert "ahead of the broker" in found["clock"]["reason"]
    assert code == 2


async def test_a_sim_broker_skips_the_broker_checks(tmp_path: Path) -> None:
    async with machine(tmp_path) as m:
        m.write(**{"name: alpaca": "name: sim"})
        code, found, _ = await m.doctor()
    assert found["broker"]["level"] == "skipped"
    assert found["clock"]["level"] == "skipped"
    assert "broker.name is sim" in found["broker"]["reason"]
    assert code == 0


async def test_an_invalid_config_names_file_line_and_key(tmp_path: Path) -> None:
    async with machine(tmp_path) as m:
        m.write(**{"connections: 2": "connections: many"})
        code, found, _ = await m.doctor()
    assert code == 2
    reason = found["config"]["reason"]
    assert f"{m.config}:6: alphahub.connections" in reason, reason
    assert found["alphahub"]["level"] == "skipped"


async def test_keys_from_the_environment_are_tried_not_warned_about(tmp_path: Path) -> None:
    async with machine(tmp_path) as m:
        m.write(**{"    key_id: test-key\n": "", f"    secret_key: {SECRET}\n": ""})
        keys = {"APCA_API_KEY_ID": "test-key", "APCA_API_SECRET_KEY": SECRET}
        code, found, text = await m.doctor(env=keys)
    assert levels(found)["broker"] == "ok", found
    assert levels(found)["config"] == "ok"
    assert code == 0
    assert SECRET not in text


async def test_a_config_warning_makes_it_exit_1(tmp_path: Path) -> None:
    async with machine(tmp_path) as m:
        m.write(
            **{"    params: {shares: 10}\n": "    params: {shares: 10}\n    limit_offset_pct: 1\n"}
        )
        code, _, text = await m.doctor()
    report = json.loads(text[: text.rindex("}") + 1])
    warned = [f for f in report["findings"] if f["level"] == "warning"]
    assert [f["check"] for f in warned] == ["config", "config"], warned
    assert "limit_offset_pct: has no effect on market orders" in warned[0]["reason"]
    assert code == 1


async def test_a_postgresql_journal_is_reached_and_a_wrong_password_is_an_error(
    tmp_path: Path, pg_url: str
) -> None:
    from tests.pgserver import PASSWORD as PG_PASSWORD

    async with machine(tmp_path) as m:
        m.write(
            **{"path: journal/tradebot.sqlite": "path: journal/tradebot.sqlite\n  url: ${PG_URL}"}
        )
        code, found, _ = await m.doctor(env={"PG_URL": pg_url})
        assert found["postgresql"]["level"] == "ok", found
        assert "no journal there yet" in found["postgresql"]["reason"]
        assert code == 0
        wrong = pg_url.replace(PG_PASSWORD, "not-the-password-7")
        code, found, text = await m.doctor(env={"PG_URL": wrong})
    assert found["postgresql"]["level"] == "error", found
    assert code == 2
    assert "not-the-password-7" not in text and PG_PASSWORD not in text
