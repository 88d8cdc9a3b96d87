"""``tradebot halt --account NAME`` / ``resume --account NAME``: the account's own switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradebot.cli.main import main
from tradebot.runtime.killswitch import HaltMode, read_account_kill_switch, read_kill_switch

TWO_ACCOUNTS = """\
alphahub: {email: u@example.com, password: p}
risk: {kill_switch_file: tradebot.halt}
accounts:
  main:
    broker: {name: sim}
    algorithms:
      16: {strategy: fixed_shares, params: {shares: 1}}
  family:
    broker: {name: sim}
    algorithms:
      16: {strategy: fixed_shares, params: {shares: 2}}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out + captured.err


def test_halt_and_resume_one_account(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(TWO_ACCOUNTS, encoding="utf-8")
    every = tmp_path / "tradebot.halt"
    code, text = run(
        capsys, "halt", "--account", "family", "--reduce-only", "--config", str(config)
    )
    assert code == 0, text
    assert (
        f"account family reduce-only (closes only): kill switch written to {every}.family" in text
    )
    assert not every.exists()
    assert read_account_kill_switch(every, "family").mode is HaltMode.REDUCE_ONLY
    assert read_account_kill_switch(every, "main").mode is HaltMode.RUNNING
    # a global halt on top: the family account obeys the stricter; resuming it alone says so
    assert run(capsys, "halt", "--config", str(config))[0] == 0
    assert read_account_kill_switch(every, "family").halted
    code, text = run(capsys, "resume", "--account", "family", "--config", str(config))
    assert code == 0 and f"resumed: removed {every}.family" in text, text
    assert "account family still obeys the global kill switch" in text
    assert read_kill_switch(every).halted and read_account_kill_switch(every, "family").halted
    code, text = run(capsys, "resume", "--config", str(config))
    assert code == 0 and read_account_kill_switch(every, "family").mode is HaltMode.RUNNING
    code, text = run(capsys, "resume", "--account", "main", "--config", str(config))
    assert code == 0 and "not halted: no kill switch at" in text and "still obeys" not in text


def test_an_unknown_or_malformed_account_is_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(TWO_ACCOUNTS, encoding="utf-8")
    for command in ("halt", "resume"):
        code, text = run(capsys, command, "--account", "famly", "--config", str(config))
        assert code == 2 and "unknown account 'famly': the config has family, main" in text
        code, text = run(capsys, command, "--account", "../x", "--config", str(config))
        assert code == 2 and "account name" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_halt_account_with_a_file_and_no_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.yaml: the name rule alone applies
    path = tmp_path / "switch"
    code, text = run(capsys, "halt", "--account", "family", "--file", str(path))
    assert code == 0 and (tmp_path / "switch.family").is_file(), text
