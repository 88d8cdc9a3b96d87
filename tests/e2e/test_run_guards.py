"""The guards around a running bot's files: the kill switch, the status file, the journal.

Whatever a person (or a disk) leaves at those paths, the bot refuses clearly or keeps trading;
it never dies on it (issue 10, section 3).
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.e2e.harness import (
    ALGOS,
    BotProcess,
    entries,
    leg,
    running_bot,
    wait_subscribed,
)
from tradebot.cli.main import main
from tradebot.journal.records import Status


async def test_a_binary_kill_switch_halts_the_bot_which_keeps_running_and_restarts(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as env:
        switch = tmp_path / "tradebot.halt"
        switch.write_bytes(b"\xff\xfe\x00\x81 not a switch")
        await env.push_and_wait(17, {"open": [leg("AAPL", "buy", "189.50", env.at)]})
        assert env.skips("AAPL") == ["kill_switch"]  # the signal that found it, journaled
        assert env.orders("AAPL") == [] and env.bot.running
        changes = [e.detail for e in entries(env.journal, statuses=(Status.CONFIG,))]
        assert any("kill switch: halt" in d and "binary data" in d for d in changes), changes

        assert await env.bot.stop() == 0
        env.bot = BotProcess(env.config)
        await env.bot.start()  # a restart with the file still there starts, halted
        try:
            await wait_subscribed(env.hub, ALGOS)
            await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
            assert env.skips("JBHT") == ["kill_switch"] and env.bot.running

            assert main(["resume", "--config", str(env.config)]) == 0
            await env.push_and_wait(16, {"open": [leg("ILMN", "buy", "414.60", env.at)]})
            assert env.orders("ILMN") == ["buy 10"]
        finally:
            if env.bot.running:
                await env.bot.stop(signal.SIGKILL)
