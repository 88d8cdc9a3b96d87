"""The status file: written atomically, a failed write logged (rate-limited) and never raised;
read back with its shape checked."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tradebot.exceptions import StatusUnreadable
from tradebot.runtime.status import (
    LOG_FAILURES_EVERY,
    MAX_STATUS_BYTES,
    AlgoLine,
    StatusBoard,
    StatusWriter,
    read_status,
    render,
)

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def board() -> dict[str, Any]:
    status = StatusBoard("paper", "sim", "ACC", 2, "j.sqlite", started_at=NOW, updated_at=NOW)
    return status.as_dict()


@pytest.mark.parametrize(("state", "link"), [("recovering", "joined"), ("starting", "-")])
def test_a_recovering_bot_shows_the_joins_it_has_and_no_account_yet(state: str, link: str) -> None:
    """Recovering, the bot listens already: its joins are shown; the account is not read yet.
    Seen failing with ``recovering`` left out of the states that show joins."""
    status = StatusBoard("paper", "alpaca", "", 2, "j.sqlite", started_at=NOW, state=state)
    status.algos[14] = AlgoLine(14, "Minotaur", joined=2)
    lines = render(status.as_dict()).splitlines()
    assert lines[0].startswith(f"tradebot {state} | PAPER | broker alpaca account - |")
    assert lines[1].split()[2] == link


def test_a_written_status_reads_back_with_the_writers_process(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite.status.json"
    assert StatusWriter(path).write(board())
    raw, document = read_status(path)
    assert raw == json.loads(json.dumps(board()))
    assert document.writer is not None and document.writer.pid > 0
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_failing_write_is_logged_once_a_minute_and_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "status.json"
    path.mkdir()  # a directory at the path: every write fails
    clock = [100.0]
    writer = StatusWriter(path, clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="tradebot.runtime.status"):
        assert writer.write(board()) is False
        clock[0] += 2
        assert writer.write(board()) is False
        clock[0] += 2
        assert writer.write(board()) is False
        assert len(caplog.records) == 1
        assert "cannot be written" in caplog.text and "trading goes on" in caplog.text
        clock[0] += LOG_FAILURES_EVERY
        assert writer.write(board()) is False
        assert len(caplog.records) == 2
        assert "3 failed writes since the last report" in caplog.records[1].getMessage()
        path.rmdir()
        assert writer.write(board()) is True
        assert "written again" in caplog.records[-1].getMessage()
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temporary files left


GARBAGE: dict[str, tuple[bytes, str]] = {
    "binary": (b"\xff\xfe\x00\x81", "binary data"),
    "truncated": (json.dumps(board()).encode()[:40], "not JSON"),
    "a list": (b"[1, 2]", "not a JSON object"),
    "an empty object": (b"{}", "not a status file (state: Field required)"),
    "wrong algorithms": (
        json.dumps({**board(), "algorithms": [{"algo_id": "x"}]}).encode(),
        "algorithms.0.algo_id",
    ),
    "naive time": (
        json.dumps({**board(), "updated_at": "2026-11-24T15:00:00"}).encode(),
        "updated_at",
    ),
    "a heartbeat claimed hours apart": (
        json.dumps({**board(), "heartbeat_every": 7200}).encode(),
        "heartbeat_every",
    ),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    "huge": (b" " * (MAX_STATUS_BYTES + 1), "larger than"),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_is_refused_with_a_reason(tmp_path: Path, name: str) -> None:
    content, why = GARBAGE[name]
    path = tmp_path / "status.json"
    path.write_bytes(content)
    with pytest.raises(StatusUnreadable, match="is not a status file") as info:
        read_status(path)
    assert why in str(info.value)


def test_a_directory_or_no_file_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(StatusUnreadable, match="is `tradebot run` running"):
        read_status(tmp_path / "missing.json")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(StatusUnreadable, match=r"cannot read .*Is a directory"):
        read_status(tmp_path / "dir.json")
    os.mkfifo(tmp_path / "fifo.json")  # nobody writes to it: read at once, not waited on
    with pytest.raises(StatusUnreadable, match="not a status file"):
        read_status(tmp_path / "fifo.json")
