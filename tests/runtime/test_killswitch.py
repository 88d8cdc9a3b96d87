from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradebot.runtime.killswitch import (
    MAX_BYTES,
    HaltMode,
    clear_kill_switch,
    read_kill_switch,
    write_kill_switch,
)

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_no_file_or_no_path_means_running(tmp_path: Path) -> None:
    assert read_kill_switch(None).mode is HaltMode.RUNNING
    assert read_kill_switch(tmp_path / "tradebot.halt").mode is HaltMode.RUNNING


def test_written_modes_read_back_with_their_reason(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tradebot.halt"
    write_kill_switch(path, reduce_only=True, reason="earnings", now=NOW)
    state = read_kill_switch(path)
    assert state.reduce_only and not state.halted and state.reason == "earnings"
    write_kill_switch(path, reduce_only=False, reason="stop", now=NOW)
    assert read_kill_switch(path).halted
    assert clear_kill_switch(path) and not clear_kill_switch(path)
    assert read_kill_switch(path).mode is HaltMode.RUNNING
    assert [p.name for p in path.parent.iterdir()] == []  # no temporary files left behind


def test_any_other_content_fails_safe_to_a_full_halt(tmp_path: Path) -> None:
    path = tmp_path / "tradebot.halt"
    for content in ("", "stop please", "[1, 2]", '{"mode": "resume"}'):
        path.write_text(content)
        state = read_kill_switch(path)
        assert state.halted, content
        assert str(path) in state.reason


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xfe\x00\x81 not utf-8", "binary data"),  # issue 10: crashed the bot
        (b"\x80", "binary data"),
        (b"{" + b" " * MAX_BYTES + b"}", f"larger than {MAX_BYTES} bytes"),
    ],
)
def test_binary_or_huge_content_is_a_full_halt_that_says_why(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "tradebot.halt"
    path.write_bytes(content)
    state = read_kill_switch(path)
    assert state.halted
    assert why in state.reason and str(path) in state.reason


def test_a_directory_fifo_broken_link_or_unreadable_path_is_a_full_halt(tmp_path: Path) -> None:
    directory = tmp_path / "dir.halt"
    directory.mkdir()
    fifo = tmp_path / "fifo.halt"
    os.mkfifo(fifo)  # opened without blocking: nobody writes to it
    dangling = tmp_path / "dangling.halt"
    dangling.symlink_to(tmp_path / "nowhere")
    loop = tmp_path / "loop.halt"
    loop.symlink_to(tmp_path / "loop.halt")  # ELOOP: exists, but cannot be opened
    expected = {
        directory: "is a directory",
        fifo: "is not a regular file",
        dangling: "broken symbolic link",
        loop: "cannot be read",
    }
    for path, why in expected.items():
        state = read_kill_switch(path)
        assert state.halted and why in state.reason, (path, state)


def test_the_reason_from_the_file_is_printable_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "tradebot.halt"
    path.write_text(json.dumps({"mode": "reduce_only", "reason": "\x1b[2Jcleared" + "x" * 500}))
    state = read_kill_switch(path)
    assert state.reduce_only
    assert state.reason.startswith("?[2Jcleared") and len(state.reason) == 200
