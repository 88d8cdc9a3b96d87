"""``tradebot config check``: 0 and the effective config, or 2 and FILE:LINE: key.path: what."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tradebot.cli.main import main

ROOT = Path(__file__).parents[2]

MISTAKES = {
    "unknown key": ("risk:\n  max_oder_notional: 5\n", "2: risk.max_oder_notional: unknown key"),
    "wrong type": ("alphahub:\n  connections: many\n", "2: alphahub.connections: should be"),
    "bad strategy params": (
        "algorithms:\n  14:\n    strategy: allocation\n    params: {pct: 0, max_positions: 1}\n",
        "4: algorithms.14.params.pct: should be greater than 0",
    ),
    "missing env var": (
        "alphahub:\n  email: ${TB_UNSET_FOR_TEST}\n",
        "2: alphahub.email: environment variable TB_UNSET_FOR_TEST is not set",
    ),
    "yaml syntax error": ("risk:\n  deny_symbols: [A, B\n", "YAML syntax error"),
}


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["config", "check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_shipped_config_is_valid(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ALPHAHUB_EMAIL", "ALPHAHUB_PASSWORD", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = check(capsys, str(ROOT / "config.yaml"))
    assert code == 0, err
    effective = yaml.safe_load(out)
    assert effective["broker"]["name"] == "sim"
    assert sorted(effective["algorithms"]) == [14, 16, 17, 18]
    assert effective["algorithms"][16]["params"] == {"pct": 30, "max_positions": 3}
    assert "OK (4 algorithms, 4 enabled; broker sim" in err
    assert "warning: " in err and "alphahub.email: not set" in err


def test_secrets_are_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHAHUB_PASSWORD", "correct-horse-battery")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "alpaca-secret-123")
    code, out, err = check(capsys, str(ROOT / "config.yaml"))
    assert code == 0
    assert "correct-horse-battery" not in out + err
    assert "alpaca-secret-123" not in out + err
    assert yaml.safe_load(out)["alphahub"]["password"] == "***"


def test_quiet_prints_only_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(capsys, "--quiet", str(ROOT / "config.yaml"))
    assert code == 0 and out == ""
    assert "OK" in err


def test_the_default_path_is_the_current_folder(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TRADEBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = check(capsys)
    assert code == 2
    assert "config.yaml: no such file" in err
    (tmp_path / "config.yaml").write_text(
        "algorithms:\n  14:\n    strategy: fixed_shares\n    params: {shares: 1}\n"
    )
    code, _, err = check(capsys, "-q")
    assert code == 0, err


@pytest.mark.parametrize("kind", sorted(MISTAKES))
def test_each_kind_of_mistake_exits_2_naming_file_line_and_key(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
) -> None:
    monkeypatch.delenv("TB_UNSET_FOR_TEST", raising=False)
    text, expected = MISTAKES[kind]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out, err = check(capsys, str(path))
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {path}:")
    assert expected in err


def test_a_real_process_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("algorithms:\n  14:\n    strategy: nope\n")
    env = {k: v for k, v in os.environ.items() if k != "TRADEBOT_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "tradebot", "config", "check", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"{path}:3: algorithms.14.strategy: unknown strategy 'nope'" in result.stderr


def test_check_masks_passwords_url_credentials_and_query_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "alphahub:\n"
        "  url: http://hubuser:URLPW-check-1@127.0.0.1:4000\n"
        "  password: PASSWORD-check-1\n"
        "broker:\n"
        "  name: alpaca\n"
        "  alpaca:\n"
        "    key_id: KEY-check-1\n"
        "    secret_key: SECRET-check-1\n"
        "    stream_url: ws://127.0.0.1:5000/stream?token=TOKEN-check-1\n"
        "algorithms:\n"
        "  16: {strategy: fixed_shares, params: {shares: 10}}\n"
    )
    code, out, err = check(capsys, str(path))
    assert code == 0, err
    for secret in ("URLPW-check-1", "PASSWORD-check-1", "KEY-check-1", "SECRET", "TOKEN-check-1"):
        assert secret not in out + err
    shown = yaml.safe_load(out)
    assert shown["broker"]["alpaca"]["stream_url"] == "ws://127.0.0.1:5000/stream?token=***"


#: issue 19, item 6: mistakes that passed the check before, each with the FILE:LINE: key it names
GOOD = "algorithms:\n  14:\n    strategy: fixed_shares\n    params: {shares: 1}\n"
TRAPS = {
    "an id written twice": (GOOD + "  '14': {strategy: fixed_shares, params: {shares: 2}}\n",
                            "5: algorithms.14: algorithm 14 is written twice, at {path}:2 and at"
                            " {path}:5"),
    "an octal id": (GOOD + "  016: {strategy: fixed_shares, params: {shares: 2}}\n",
                    "5: algorithms.016: not an algorithm id: YAML would read it as 14"),
    "a float id": (GOOD + "  16.0: {strategy: fixed_shares, params: {shares: 2}}\n",
                   "5: algorithms.16.0: not an algorithm id"),
    "a stop entry": (GOOD + "    order_type: stop\n",
                     "5: algorithms.14.order_type: should be 'market', 'limit' or"
                     " 'limit_then_market'"),
    "an infinite timeout": ("broker:\n  alpaca:\n    timeout: .inf\n" + GOOD,
                            "3: broker.alpaca.timeout: not a finite number"),
    "a NaN limit": (GOOD + "    risk: {max_order_notional: .nan}\n",
                    "5: algorithms.14.risk.max_order_notional: not a finite number"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(TRAPS))
@pytest.mark.parametrize("command", [["config", "check"], ["run", "--paper"]])
def test_each_trap_exits_2_naming_file_line_and_key_before_anything_is_made(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
    command: list[str],
) -> None:
    monkeypatch.delenv("TRADEBOT_CONFIG", raising=False)
    text, expected = TRAPS[kind]
    path = tmp_path / "config.yaml"
    path.write_text(text + "journal: {path: journal/tradebot.sqlite}\n")
    code = main([*command, "--config", str(path)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.err.startswith(f"error: {path}:")
    assert f"{path}:{expected.format(path=path)}" in captured.err
    assert "Traceback" not in captured.err
    # no journal (nor its folder), lock, status or halt file: the config alone is there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_a_real_run_with_an_infinite_timeout_exits_2_and_creates_no_journal(
    tmp_path: Path,
) -> None:
    """It used to start, then exit 5 with a misleading broker message (or a traceback)."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "broker:\n  name: alpaca\n  alpaca:\n    url: http://127.0.0.1:9\n    timeout: .inf\n"
        "journal: {path: journal/tradebot.sqlite}\n" + GOOD
    )
    env = {k: v for k, v in os.environ.items() if k != "TRADEBOT_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "tradebot", "run", "--paper", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"{path}:5: broker.alpaca.timeout: not a finite number" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
