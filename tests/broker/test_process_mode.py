"""`tradebot simulate alpaca` as its own process: a bot killed with -9 finds its order again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.config.model import AlpacaConfig, Mode

from .conftest import KEY_ID, SECRET_KEY, make_intent

ROOT = Path(__file__).parents[2]
HEADERS = {"APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET_KEY}

#: A bot that submits one order through the adapter, then dies without any clean-up.
BOT = """
import asyncio, os, signal, sys
from pydantic import SecretStr
from tradebot.broker.alpaca import AlpacaBroker
from tradebot.config.model import AlpacaConfig, Mode
from tests.broker.conftest import make_intent

async def main():
    config = AlpacaConfig(url=sys.argv[1], stream_url=sys.argv[2])
    broker = AlpacaBroker(config, Mode.PAPER, key_id=SecretStr(sys.argv[3]),
                          secret_key=SecretStr(sys.argv[4]))
    await broker.__aenter__()
    await broker.submit(make_intent())
    print("submitted", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


@pytest.fixture
def server_process() -> Iterator[tuple[str, str]]:
    cmd = [sys.executable, "-m", "tradebot", "simulate", "alpaca", "--port", "0", "--hold"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1")
    )
    try:
        assert proc.stdout is not None
        rest = proc.stdout.readline().split()[1]
        stream = proc.stdout.readline().split()[1]
        yield rest, stream
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out


async def recover(rest: str, stream: str) -> tuple[str, str]:
    """A restarted bot: look the order up, then re-submit the journaled intent."""
    config = AlpacaConfig(url=rest, stream_url=stream)
    async with AlpacaBroker(
        config, Mode.PAPER, key_id=SecretStr(KEY_ID), secret_key=SecretStr(SECRET_KEY)
    ) as broker:
        found = await broker.get_order(make_intent().client_order_id)
        assert found is not None
        again = await broker.submit(make_intent())
        return found.broker_order_id, again.broker_order_id


def test_a_killed_bot_restarts_and_finds_its_order(server_process: tuple[str, str]) -> None:
    rest, stream = server_process
    bot = subprocess.run(
        [sys.executable, "-c", BOT, rest, stream, KEY_ID, SECRET_KEY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert bot.returncode == -signal.SIGKILL, bot.stderr
    assert "submitted" in bot.stdout
    found, again = asyncio.run(recover(rest, stream))
    assert again == found
    orders = requests.get(rest + "/v2/orders?status=all", headers=HEADERS, timeout=5).json()
    assert [o["client_order_id"] for o in orders] == [make_intent().client_order_id]
