from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tradebot.runtime.killswitch import (
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
