"""``tradebot halt`` / ``resume``: never a traceback, whatever is at the switch's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradebot.cli.main import main
from tradebot.runtime.killswitch import read_kill_switch


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out + captured.err


@pytest.mark.parametrize("value", ['""', '"   "'])
def test_an_empty_kill_switch_file_is_a_config_error_not_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"mode: paper\nrisk:\n  kill_switch_file: {value}\n", encoding="utf-8")
    for command in (
        ["halt", "--config", str(config)],
        ["resume", "--config", str(config)],
        ["config", "check", str(config)],
    ):
        code, text = run(capsys, *command)
        assert code == 2, text
        assert f"{config}:3: risk.kill_switch_file: is empty" in text
    assert list(tmp_path.iterdir()) == [config]  # nothing was written anywhere


def test_null_still_means_no_kill_switch_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("risk:\n  kill_switch_file: null\n", encoding="utf-8")
    code, text = run(capsys, "halt", "--config", str(config))
    assert code == 2 and "risk.kill_switch_file is not set" in text


def test_halt_over_a_directory_says_why_and_that_the_bot_is_halted_anyway(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tradebot.halt"
    path.mkdir()
    code, text = run(capsys, "halt", "--reduce-only", "--file", str(path))
    assert code == 1
    assert f"cannot write the kill switch {path}" in text
    assert "obeys what is there now: halt" in text and "is a directory" in text
    assert [p.name for p in tmp_path.iterdir()] == ["tradebot.halt"]  # no temporary file left


def test_halt_in_an_unusable_folder_says_whether_the_bot_is_halted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    code, text = run(capsys, "halt", "--file", str(blocker / "tradebot.halt"))
    assert code == 1
    assert "cannot write the kill switch" in text
    assert "obeys what is there now: halt" in text and "Not a directory" in text
    # a folder nobody may create files in (as root too): nothing is there, nothing halts
    code, text = run(capsys, "halt", "--file", "/proc/tradebot.halt")
    assert code == 1
    assert "cannot write the kill switch /proc/tradebot.halt" in text and "NOT halted" in text


def test_halt_replaces_garbage_and_resume_removes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tradebot.halt"
    path.write_bytes(b"\xff\xfe garbage")
    code, text = run(capsys, "resume", "--file", str(path))
    assert code == 0 and "holds binary data" in text and not path.exists()
    path.write_bytes(b"\xff\xfe garbage")
    code, text = run(capsys, "halt", "--reduce-only", "--reason", "earnings", "--file", str(path))
    assert code == 0 and read_kill_switch(path).reduce_only


def test_resume_of_a_directory_says_it_cannot_and_the_bot_stays_halted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tradebot.halt"
    path.mkdir()
    (path / "inside").write_text("x")
    code, text = run(capsys, "resume", "--file", str(path))
    assert code == 1
    assert f"cannot remove the kill switch {path}" in text and "now: halt" in text
    assert path.is_dir()


def test_a_long_reason_still_makes_a_switch_the_bot_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tradebot.halt"
    code, _ = run(capsys, "halt", "--reduce-only", "--reason", "é" * 10_000, "--file", str(path))
    assert code == 0
    state = read_kill_switch(path)
    assert state.reduce_only and state.reason == "é" * 200  # not a full halt for "too big"
