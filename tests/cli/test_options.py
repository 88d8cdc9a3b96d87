"""Options every command shares: ``-v`` before or after the command name, ``--config PATH``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradebot.cli.main import COMMANDS, main
from tradebot.cli.simulate_cmd import SIMULATORS

ROOT_CONFIG = Path(__file__).parents[2] / "config.yaml"
EVERY_COMMAND = sorted(
    [[name] for name in COMMANDS if name not in ("config", "simulate")]
    + [["config", "check"]]
    + [["simulate", name] for name in SIMULATORS]
)


@pytest.fixture(autouse=True)
def _restore_log_level() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=" ".join)
def test_every_command_explains_itself_and_takes_v_after_its_name(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Usage: tradebot {' '.join(command)} ")
    assert "-v, --verbose" in text and "-h, --help" in text
    summary = text.split("\n\n")[1].strip()
    assert len(summary) > 20, text  # the command's own first line, not an empty help
    assert main([*command, "-vv", "--help"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("before", "after", "level"),
    [
        ([], ["-v"], logging.INFO),
        ([], ["-vv"], logging.DEBUG),
        (["-v"], ["--verbose"], logging.DEBUG),
        (["-v"], [], logging.INFO),
    ],
)
def test_v_counts_wherever_it_is_given(
    capsys: pytest.CaptureFixture[str], before: list[str], after: list[str], level: int
) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    args = [*before, "config", "check", "-q", "--config", str(ROOT_CONFIG), *after]
    assert main(args) == 0, capsys.readouterr().err
    assert logging.getLogger().level == level


def test_config_check_takes_config_like_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.yaml here
    monkeypatch.delenv("TRADEBOT_CONFIG", raising=False)
    assert main(["config", "check", "-q", "--config", str(ROOT_CONFIG)]) == 0
    assert f"{ROOT_CONFIG}: OK" in capsys.readouterr().err
    assert main(["config", "check", "-q", str(ROOT_CONFIG)]) == 0  # the positional PATH stays
    assert main(["config", "check", "-q", str(ROOT_CONFIG), "--config", str(ROOT_CONFIG)]) == 0
    capsys.readouterr()
    monkeypatch.setenv("TRADEBOT_CONFIG", str(ROOT_CONFIG))
    assert main(["config", "check", "-q"]) == 0


def test_two_different_files_are_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "other.yaml"
    code = main(["config", "check", str(ROOT_CONFIG), "--config", str(other)])
    assert code == 2
    assert f"two config files given: {ROOT_CONFIG} and --config {other}" in capsys.readouterr().err


def test_a_path_wins_over_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRADEBOT_CONFIG", str(tmp_path / "missing.yaml"))
    assert main(["config", "check", "-q", str(ROOT_CONFIG)]) == 0, capsys.readouterr().err
