"""``tradebot listen`` as a user runs it: a real process against the simulator on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.alphahub.conftest import EMAIL, PASSWORD, leg
from tradebot.simulators.alphahub import AlphaHubSimulator


async def start_listen(
    *args: str, cwd: Path, password: str = PASSWORD
) -> asyncio.subprocess.Process:
    env = {**os.environ, "ALPHAHUB_EMAIL": EMAIL, "ALPHAHUB_PASSWORD": password}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradebot",
        "listen",
        *args,
        env=env,
        cwd=cwd,  # no stray ./config.yaml
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_until(stream: asyncio.StreamReader, text: str) -> list[str]:
    lines: list[str] = []
    while not lines or text not in lines[-1]:
        line = await asyncio.wait_for(stream.readline(), 20)
        if not line:
            raise AssertionError(f"stream ended before {text!r}; got {lines}")
        lines.append(line.decode())
    return lines


async def test_listen_prints_signals_and_states(sim: AlphaHubSimulator, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"alphahub:\n  url: {sim.url}\n  connections: 2\n")
    process = await start_listen("--config", str(config), "--algo", "16", "--json", cwd=tmp_path)
    assert process.stdout is not None and process.stderr is not None
    try:
        states = await read_until(process.stderr, "joined")
        assert any("connecting" in s and "api_token=***" in s for s in states)
        await asyncio.wait_for(sim.wait_joined(16, 2), 20)
        opens = [leg("JBHT"), leg("KEEP", "hold")]
        await sim.push(16, {"close": [leg("MU", "sell")], "open": opens}, times=2)
        printed = json.loads(await asyncio.wait_for(process.stdout.readline(), 20))
        assert printed["algo_id"] == 16
        assert [x["symbol"] for x in printed["close"] + printed["open"]] == ["MU", "JBHT"]
        assert printed["hold"] == ["16:open:KEEP:hold:2021-04-26T14:30:00Z"]
        sim.drop()
        gap_lines = await read_until(process.stderr, "gap on algorithm 16")
        assert PASSWORD not in "".join(states + gap_lines)
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 20)
    assert process.returncode == 130


async def test_listen_with_wrong_password_exits_3(sim: AlphaHubSimulator, tmp_path: Path) -> None:
    process = await start_listen(
        "--url", sim.url, "--algo", "14", cwd=tmp_path, password="wrong-pw-123"
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 3
    assert b"refused the login" in stderr
    assert b"wrong-pw-123" not in stdout + stderr


async def test_listen_backfill_prints_recovered_legs_marked_once(
    sim: AlphaHubSimulator, tmp_path: Path
) -> None:
    process = await start_listen(
        "--url", sim.url, "--algo", "16", "--connections", "1", "--json", "--backfill",
        cwd=tmp_path,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None

    async def printed() -> dict[str, object]:
        line = await asyncio.wait_for(process.stdout.readline(), 20)  # type: ignore[union-attr]
        return dict(json.loads(line))

    try:
        await asyncio.wait_for(sim.wait_joined(16, 1), 20)
        now = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}"
        await sim.push(16, {"open": [leg("LIVE", ts=now)]})
        assert (await printed())["source"] == "live"
        sim.drop()
        assert await sim.push(16, {"open": [leg("LOST", ts=now)]}) == 0  # nobody subscribed
        recovered = await printed()
        assert recovered["source"] == "backfill"
        assert [x["symbol"] for x in recovered["legs"]] == ["LOST"]  # type: ignore[attr-defined]
        await asyncio.wait_for(sim.wait_joined(16, 1), 20)
        await sim.push(16, {"open": [leg("LOST", ts=now), leg("NEXT", ts=now)]})
        again = await printed()
        assert [x["symbol"] for x in again["open"]] == ["NEXT"]  # type: ignore[attr-defined]
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 20)
