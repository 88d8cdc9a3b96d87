"""Prices: the signals' own by default; with --prices, the file's (fills, references, marks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradebot.replay.history_file import history_text

from .helpers import run_json, write_config

LEGS = [  # newest first, as AlphaHub lists them
    {"price": 110, "side": "sell", "symbol": "S001", "timestamp": "2026-03-06T14:30:00"},
    {"price": 20, "side": "sell", "symbol": "S003", "timestamp": "2026-03-06T14:30:00"},
    {"price": 50, "side": "buy", "symbol": "S002", "timestamp": "2026-03-05T14:30:00"},
    {"price": 100, "side": "buy", "symbol": "S001", "timestamp": "2026-03-02T14:30:00"},
]
PRICES = """\
time,symbol,price
2026-03-02T14:00:00Z,S001,100
2026-03-05T14:00:00Z,S002,50
2026-03-06T14:29:00Z,S001,106
2026-03-06T14:29:00Z,S003,20
2026-03-09T20:00:00Z,S003,18
2026-03-09T20:00:00Z,S002,55
"""


def _replay(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    history = tmp_path / "history.json"
    history.write_text(history_text({1: LEGS}), encoding="utf-8")
    config = write_config(tmp_path)
    data = run_json(
        capsys, "--history", str(history), "--config", str(config), "--no-journal", *extra
    )
    block = data["algorithms"][1]
    assert block["algo_id"] == 1
    summary: dict[str, object] = block["columns"]["replay config.yaml"]
    summary["lines"] = data["lines"]
    return summary


def test_the_signals_prices_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 10% of 100,000 at 100: 100 shares, sold at the signal's 110; 200 S002 and -500 S003
    # open, marked at their signals' 50 and 20
    got = _replay(tmp_path, capsys)
    assert (got["realised"], got["unrealised"], got["pnl"]) == ("1000.00", "0.00", "1000.00")
    assert got["fills"] == 4 and got["open_positions"] == 2
    assert "Prices: each signal's own" in str(got["lines"])


def test_a_prices_file_is_the_market(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text(PRICES, encoding="utf-8")
    got = _replay(tmp_path, capsys, "--prices", str(prices))
    # sold at the market's 106 (the signal's 110 is within the 5% collar of it); S002 is
    # marked at the file's last price, 55, after the last signal (+1,000); the short S003 is 503
    # shares (10% of the equity, 100,600 with S001 at 106), marked at 18 (+1,006)
    assert (got["realised"], got["unrealised"]) == ("600.00", "2006.00")
    assert f"Prices: {prices}" in str(got["lines"])


def test_hold_legs_are_skipped_as_hold_like_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holds = [
        {"price": 111, "side": "hold", "symbol": "S002", "timestamp": "2026-03-09T14:30:00"},
        {"price": 105, "side": "hold", "symbol": "S001", "timestamp": "2026-03-05T14:30:00"},
    ]
    history = tmp_path / "history.json"
    history.write_text(history_text({1: [holds[0], *LEGS[:3], holds[1], *LEGS[3:]]}))
    config = write_config(tmp_path)
    data = run_json(capsys, "--history", str(history), "--config", str(config), "--no-journal")
    got = data["algorithms"][1]["columns"]["replay config.yaml"]
    # one alone (a signal of its own), one beside the open of S002: neither is an order
    assert got["skips"] == {"hold": 2} and (got["orders"], got["fills"]) == (4, 4)
    assert data["lines"][0].startswith("Replay of 4 signals of 1 algorithm(s)")
