"""``tradebot status``: never a traceback; says when the bot that wrote the status is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.test_status import GARBAGE, board
from tradebot.cli.main import main
from tradebot.runtime.process import start_ticks


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("journal:\n  path: j.sqlite\n", encoding="utf-8")
    return path


def status_file(config: Path) -> Path:
    return config.parent / "j.sqlite.status.json"


def run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["status", "--config", str(config), *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def write(config: Path, **changes: Any) -> None:
    document = {**board(), "state": "running", "updated_at": datetime.now(UTC).isoformat()}
    status_file(config).write_text(json.dumps({**document, **changes}), encoding="utf-8")


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_gives_a_message_and_exit_1(
    config: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    content, why = GARBAGE[name]
    status_file(config).write_bytes(content)
    code, _, err = run(capsys, config)
    assert code == 1
    assert "is not a status file" in err and why in err


def test_a_directory_at_the_status_path(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status_file(config).mkdir()
    code, _, err = run(capsys, config)
    assert code == 1 and "Is a directory" in err


def test_a_live_bot_is_shown(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(config)  # this process wrote it, and runs
    code, out, err = run(capsys, config)
    assert code == 0 and "tradebot running | PAPER" in out and err == ""


def test_a_bot_whose_process_is_gone_is_not_running(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    written = "2026-11-24T15:00:00+00:00"
    write(config, pid=int(gone.stdout), process_start=None, updated_at=written)
    for args in ((), ("--json",)):
        code, out, err = run(capsys, config, *args)
        assert code == 1
        assert f"tradebot is not running: process {int(gone.stdout)} is gone" in err
        assert f"last written {written}" in err
        assert out  # the last status is still shown


def test_a_reused_pid_is_not_the_bot(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = start_ticks(os.getpid())
    assert started is not None  # Linux /proc
    write(config, pid=os.getpid(), process_start=started - 1)
    code, _, err = run(capsys, config)
    assert code == 1 and "is another program now" in err


def test_a_cleanly_stopped_bot_says_so(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(config, state="stopped")
    code, _, err = run(capsys, config)
    assert code == 0 and "tradebot is not running: it stopped" in err


def test_every_process_sharing_a_postgresql_journal_is_listed(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tradebot.journal.postgres import ProcessBeat, open_postgres

    config = tmp_path / "config.yaml"
    config.write_text(f"journal:\n  path: j.sqlite\n  url: {pg_url}\n", encoding="utf-8")
    with open_postgres(pg_url) as store:
        assert store.take_lead("hostA:101:1", 60) == 1
        store.beat(ProcessBeat("hostA:101:1", "hostA", 101, "leader", "2/2 joined"))
        store.beat(ProcessBeat("hostB:202:1", "hostB", 202, "standby", "1/2 joined"))
    write(config)
    code, out, _ = run(capsys, config)
    assert code == 0
    assert "leadership epoch 1" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  host")}
    assert "leader" in lines["hostA"].split() and "2/2 joined" in lines["hostA"]
    assert "standby" in lines["hostB"].split() and "pid 202" in lines["hostB"]
    assert "last heartbeat" in lines["hostB"]
    assert "tradebot running" in out  # and the status board as before
