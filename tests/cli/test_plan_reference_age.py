"""``tradebot plan --price``: a price the user typed has no age (issue 19 §3), whatever the market
clock says; the broker's own prices are judged by their age."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tradebot.cli.main import main

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / "config.yaml")


def test_a_typed_price_is_exempt_from_the_reference_age(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    signal = tmp_path / "signal.json"
    leg = {"symbol": "AAPL", "side": "buy", "price": 199.0, "timestamp": "2026-11-24T14:30:00"}
    signal.write_text(json.dumps({"open": [leg]}))
    args = ["plan", "--config", CONFIG, "--signal", str(signal), "--algo", "16"]
    # the market closed with no next open known: the strictest age check, and a typed price
    # carries no time the check could accept
    later = ["--now", "2026-11-24T14:34:00Z", "--market-closed", "--format", "json"]
    code = main([*args, *later, "--price", "AAPL=200"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (intent,) = json.loads(out)["intents"]
    assert (intent["symbol"], intent["qty"], intent["reference_price"]) == ("AAPL", "50", "200")
    assert intent["price_source"] == "reference"
