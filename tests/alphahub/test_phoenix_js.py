"""The official Phoenix JavaScript client (npm ``phoenix``, run by Node) connects to the
simulator, joins and receives a signal: the simulator speaks the real protocol."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.alphahub.conftest import EMAIL, PASSWORD, leg
from tradebot.simulators.alphahub import AlphaHubSimulator

JS = Path(__file__).parents[1] / "js"


async def test_phoenix_js_client_joins_and_receives(sim: AlphaHubSimulator) -> None:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "phoenix").is_dir():
        pytest.fail("needs node and `npm ci --prefix tests/js` (scripts/setup does it)")
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS / "phoenix_client.js"),
        sim.url,
        EMAIL,
        PASSWORD,
        "14",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = json.loads(await asyncio.wait_for(process.stdout.readline(), 20))
        assert first == {"event": "joined"}
        await asyncio.wait_for(sim.wait_joined(14), 10)
        sent = {"close": [], "open": [leg("JBHT", ts="2021-04-26T14:30:01", price=168.56)]}
        assert await sim.push(14, sent) == 1
        second = json.loads(await asyncio.wait_for(process.stdout.readline(), 20))
        assert second == {"event": "new_signals", "payload": sent}
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
