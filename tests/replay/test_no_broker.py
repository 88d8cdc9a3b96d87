"""A replay uses no broker and opens no connection: the config's broker and its credentials
are ignored (the sim broker replays), and the journal is read from a file."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from .helpers import run_cli, write_config, write_history

ALPACA = """\
broker:
  name: alpaca
  sim: {cash: 100000, slippage_bps: 0}
  alpaca: {key_id: AKREPLAYKEYNEVERUSED, secret_key: replay-secret-never-used}
"""


def test_an_alpaca_config_replays_without_a_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = write_config(tmp_path).read_text(encoding="utf-8")
    config = tmp_path / "alpaca.yaml"
    config.write_text(
        base.replace("broker:\n  name: sim\n  sim: {cash: 100000, slippage_bps: 0}\n", ALPACA)
    )
    assert "name: alpaca" in config.read_text()
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("tests: a replay must open no connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    code, out, err = run_cli(
        capsys, "--history", str(write_history(tmp_path)), "--config", str(config)
    )
    assert code == 0, err
    assert attempts == []
    assert "replay alpaca.yaml" in out
    assert "replay-secret" not in out + err and "AKREPLAY" not in out + err
