"""``--compare``: two configs over the same signals, side by side."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradebot.replay.engine import run_replay

from .helpers import arrivals_of, load, run_cli, run_json, write_config, write_history


def test_double_the_pct_doubles_the_quantities(tmp_path: Path) -> None:
    small = load(write_config(tmp_path, pct=10))
    big = load(write_config(tmp_path, "big.yaml", pct=20))
    arrivals = arrivals_of(small)
    one, two = run_replay(small, arrivals), run_replay(big, arrivals)
    first_one, first_two = one.steps[0].plan.intents, two.steps[0].plan.intents
    assert first_one and len(first_one) == len(first_two)
    for a, b in zip(first_one, first_two, strict=True):
        assert (a.symbol, a.side) == (b.symbol, b.side)
        # whole shares, rounded down: twice the money buys twice the shares, or one more
        assert b.qty in (2 * a.qty, 2 * a.qty + 1), (a, b)


def test_the_cli_puts_both_configs_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, pct=10)
    other = write_config(tmp_path, "big.yaml", pct=20)
    history = write_history(tmp_path)
    args = ("--history", str(history), "--config", str(config), "--no-journal")
    data = run_json(capsys, *args, "--compare", str(other))
    assert data["columns"] == ["replay config.yaml", "replay big.yaml"]
    total = data["algorithms"][0]
    assert total["algo_id"] is None and [b["algo_id"] for b in data["algorithms"][1:]] == [1, 2]
    small, big = (total["columns"][name] for name in data["columns"])
    value = Decimal(big["largest_position"]["value"]) / Decimal(small["largest_position"]["value"])
    assert Decimal("1.8") < value < Decimal("2.2")
    assert small["orders"] > 0 and small["skips"] == big["skips"]
    code, out, err = run_cli(capsys, *args, "--compare", str(other))
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith("All algorithms"))
    assert header.split()[-4:] == ["replay", "config.yaml", "replay", "big.yaml"]
    assert "largest position" in out and "worst day" in out
