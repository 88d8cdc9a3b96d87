"""The guards around a running bot's files: the kill switch, the status file, the journal.

Whatever a person (or a disk) leaves at those paths, the bot refuses clearly or keeps trading;
it never dies on it (issue 10, section 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest

from tests.e2e.harness import (
    ALGOS,
    DEADLINE,
    BotProcess,
    entries,
    leg,
    running_bot,
    until,
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
            await until(lambda: env.orders("ILMN") == ["buy 10"], "the ILMN order")
        finally:
            if env.bot.running:
                await env.bot.stop(signal.SIGKILL)


def _replace_with_directory(path: Path) -> None:
    """Put a directory where the bot writes its status (it may rewrite the file meanwhile)."""
    while not path.is_dir():
        path.unlink(missing_ok=True)
        with contextlib.suppress(FileExistsError):
            path.mkdir()


async def test_a_status_file_that_cannot_be_written_never_stops_trading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_bot(tmp_path) as env:
        status = env.journal.with_name(env.journal.name + ".status.json")
        await until(status.is_file, "the first status file")
        _replace_with_directory(status)  # mid-run: the bot's next writes all fail
        await until(lambda: "cannot be written" in env.bot.output(), "the logged failure")
        await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
        await until(lambda: env.orders("JBHT") == ["buy 10"], "the JBHT order")
        assert env.bot.running
        assert env.bot.output().count("cannot be written") == 1  # not every two seconds
        assert main(["status", "--config", str(env.config)]) == 1
        assert "Is a directory" in capsys.readouterr().err

        status.rmdir()  # fixed: the bot writes it again, and says so
        await until(lambda: "is written again" in env.bot.output(), "the recovery")
        assert main(["status", "--config", str(env.config)]) == 0
        assert await env.bot.stop() == 0


async def test_status_says_a_killed_bot_is_not_responding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_bot(tmp_path) as env:
        status = env.journal.with_name(env.journal.name + ".status.json")
        await until(status.is_file, "the first status file")
        await env.bot.kill9()
        assert main(["status", "--config", str(env.config)]) == 1
        err = capsys.readouterr().err
        # gone without a clean stop: a crash is never shown as a stop
        assert "tradebot is not responding: process" in err and "is gone" in err
        assert "without a clean stop (killed or crashed)" in err
        assert "its status was last written" in err


async def run_to_exit(config: Path) -> tuple[int, str]:
    """``tradebot run`` that is expected to refuse to start: its exit code and output."""
    bot = BotProcess(config)
    await bot.start()
    try:
        async with asyncio.timeout(DEADLINE):
            assert bot.proc is not None
            code = await bot.proc.wait()
    finally:
        if bot.running:
            await bot.stop(signal.SIGKILL)
    return code, bot.output()


def offline_config(folder: Path, journal: str) -> Path:
    config = folder / "config.yaml"
    config.write_text(
        "alphahub:\n  url: http://127.0.0.1:9\n  email: a@b.c\n  password: p\n"
        f"journal:\n  path: {journal}\n"
        "algorithms:\n  16:\n    strategy: fixed_shares\n    params: {shares: 1}\n",
        encoding="utf-8",
    )
    return config


async def test_a_journal_truncated_to_nothing_is_refused_not_started_anew(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    journal.touch()
    code, output = await run_to_exit(offline_config(tmp_path, "journal.sqlite"))
    assert code == 4, output
    assert "is empty (0 bytes)" in output and "Traceback" not in output
    assert journal.stat().st_size == 0


async def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    journal.write_text("positions, by hand:\nAAPL 10\n")
    code, output = await run_to_exit(offline_config(tmp_path, "journal.sqlite"))
    assert code == 4, output
    assert "not a SQLite database" in output
    assert journal.read_text() == "positions, by hand:\nAAPL 10\n"


async def test_a_second_bot_on_a_hard_link_of_a_held_journal_is_refused(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    async with running_bot(tmp_path / "one") as env:
        other = tmp_path / "two"
        other.mkdir()
        os.link(env.journal, other / "linked.sqlite")
        code, output = await run_to_exit(offline_config(other, "linked.sqlite"))
        assert code == 4, output
        assert "in use by another tradebot process" in output
        await env.push_and_wait(16, {"open": [leg("JBHT", "buy", "168.56", env.at)]})
        assert env.bot.running  # the first bot never noticed
