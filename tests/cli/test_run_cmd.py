"""``tradebot run`` refuses a config with nothing to trade before it makes anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradebot.cli.main import main

EMPTY = {
    "empty file": "",
    "comments only": "# nothing here yet\n",
    "no algorithms": "algorithms: {}\n",
    "every algorithm disabled": (
        "algorithms:\n  14:\n    enabled: false\n    strategy: fixed_shares\n"
        "    params: {shares: 1}\n"
    ),
}


@pytest.mark.parametrize("case", sorted(EMPTY))
@pytest.mark.parametrize("command", [["run", "--paper"], ["config", "check"]])
def test_nothing_to_trade_exits_2_and_creates_nothing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    case: str,
    command: list[str],
) -> None:
    monkeypatch.delenv("TRADEBOT_CONFIG", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(EMPTY[case])
    code = main([*command, "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"error: {path}")
    assert "nothing to trade" in err
    assert "Traceback" not in err
    # no journal folder, lock, status file or halt file: only the config is there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
