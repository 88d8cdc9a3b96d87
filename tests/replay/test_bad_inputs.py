"""Bad inputs are refused with a reason (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradebot.replay.history_file import history_text

from .helpers import history_answers, run_cli, write_config, write_history

_LEGS = '[{"price": 10, "side": "buy", "symbol": "X", "timestamp": "2026-03-02T14:30:00"}]'
_ANSWER = f'{{"data": {{"signals": {_LEGS}}}}}'


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run_cli(capsys, "--no-journal", *args)
    assert code == 2, (out, err)
    assert "Traceback" not in err and out == ""
    return err


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "one history answer per algorithm id"),
        ("{}", "one history answer per algorithm id"),
        ('{"one": {"data": {"signals": []}}}', "'one' is not an algorithm id"),
        ('{"1": {"data": {"signal": []}}}', 'algorithm 1\'s answer is JSON that is not {"data"'),
        ('{"1": [1]}', 'algorithm 1\'s answer is JSON that is not {"data": {"signals": [...]}}'),
        ("\xff\xfe", "not JSON"),
        # a repeated key: plain JSON keeps the last one, and the file would replay without a word
        (f'{{"1": {{"data": {{"signals": []}}}}, "1": {_ANSWER}}}', "'1' listed more than once"),
        (
            f'{{"1": {{"data": {{"signals": [], "signals": {_LEGS}}}}}}}',
            'algorithm 1\'s answer is JSON that repeats the key "signals"',
        ),
        (
            f'{{"1": {{"data": {{"signals": []}}, "data": {{"signals": {_LEGS}}}}}}}',
            'algorithm 1\'s answer is JSON that repeats the key "data"',
        ),
    ],
)
def test_a_malformed_history_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, reason: str
) -> None:
    history = tmp_path / "history.json"
    history.write_text(text, encoding="latin-1")
    err = _refused(capsys, "--history", str(history), "--config", str(write_config(tmp_path)))
    assert reason in err


def test_a_missing_history_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    err = _refused(capsys, "--history", str(tmp_path / "nope.json"), "--config", str(config))
    assert "cannot be read" in err


def test_an_algorithm_not_in_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "history.json"
    history.write_text(history_text(history_answers(algos=(1, 2, 99))), encoding="utf-8")
    err = _refused(capsys, "--history", str(history), "--config", str(write_config(tmp_path)))
    assert "algorithm(s) 99 in the history are not in the config" in err


def test_an_empty_period(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history, config = write_history(tmp_path), write_config(tmp_path)
    args = ("--history", str(history), "--config", str(config))
    err = _refused(capsys, *args, "--from", "2025-01-01", "--to", "2025-01-31")
    assert "no buy or sell leg between 2025-01-01 and 2025-02-01" in err
    only_holds = tmp_path / "holds.json"
    hold = {"price": 10, "side": "hold", "symbol": "X", "timestamp": "2026-03-02T14:30:00"}
    only_holds.write_text(history_text({1: [hold]}), encoding="utf-8")
    assert "no buy or sell leg" in _refused(capsys, "--history", str(only_holds), *args[2:])


def test_signals_must_be_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    assert "--history FILE, or --from DATE --to DATE" in _refused(capsys, "--config", config)
    err = _refused(capsys, "--config", config, "--from", "2026-01-01")
    assert "--from and --to go together" in err
    err = _refused(capsys, "--config", config, "--from", "2026-02-01", "--to", "2026-01-01")
    assert "is before --from" in err
    history = str(write_history(tmp_path))
    err = _refused(capsys, "--config", config, "--history", history, "--save-history", "x.json")
    assert "--save-history writes what --from/--to read" in err
    assert not Path("x.json").exists()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("when,what\n", "the first line must be time,symbol,price"),
        ("time,symbol,price\n2026-03-02T14:30:00Z,S001\n", "line 2: expected time,symbol,price"),
        ("time,symbol,price\nyesterday,S001,10\n", "line 2: timestamp"),
        ("time,symbol,price\n2026-03-02T14:30:00Z,S001,ten\n", "line 2: 'ten' is not a price"),
        ("time,symbol,price\n2026-03-02T14:30:00Z,S001,-1\n", "line 2:"),
        ("time,symbol,price\n2026-03-02T14:30:00Z,,10\n", "line 2: no symbol"),
    ],
)
def test_a_malformed_prices_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, reason: str
) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text(text, encoding="utf-8")
    history, config = write_history(tmp_path), write_config(tmp_path)
    err = _refused(
        capsys, "--history", str(history), "--config", str(config), "--prices", str(prices)
    )
    assert reason in err


def test_one_bad_leg_is_left_out_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = history_answers()
    answers[1] = [*answers[1], {"side": "buy", "symbol": "S001", "price": "lots"}]
    history = tmp_path / "history.json"
    history.write_text(history_text(answers), encoding="utf-8")
    code, out, err = run_cli(
        capsys, "--no-journal", "--history", str(history), "--config", str(write_config(tmp_path))
    )
    assert code == 0, err
    assert "1 leg(s) of the history could not be read and were left out." in out
