"""Allocations claiming more than all equity are warned about (config check and the banner)."""

from __future__ import annotations

import pytest

from tests.config.helpers import ROOT_CONFIG, WriteConfig, load
from tradebot.cli.main import main
from tradebot.config.allocation import equity_shares, over_allocation
from tradebot.config.loader import read_config


def algo(algo_id: int, strategy: str, params: str, extra: str = "") -> str:
    return f"  {algo_id}:\n    strategy: {strategy}\n    params: {params}\n{extra}"


OVER = (
    "algorithms:\n"
    + algo(14, "allocation", "{pct: 80, max_positions: 1}")
    + algo(16, "allocation", "{pct: 30, max_positions: 3}")
)


def test_eighty_plus_thirty_is_warned_about_naming_each_share(write_config: WriteConfig) -> None:
    path = write_config(OVER)
    warnings = [str(w) for w in read_config(path, env={}).warnings]
    excess = [w for w in warnings if "allocations add up" in w]
    assert excess == [
        f"{path}:1: algorithms: allocations add up to 110% of equity (14: 80%, 16: 30%):"
        " with every algorithm invested the account runs short, and the last opens are shrunk"
        " or skipped for buying power (or use margin)"
    ]


def test_percent_of_equity_counts_one_position_and_says_so(write_config: WriteConfig) -> None:
    path = write_config(
        "algorithms:\n"
        + algo(14, "allocation", "{pct: 95, max_positions: 2}")
        + algo(18, "percent_of_equity", "{pct: 10}")
        + algo(20, "fixed_notional", "{notional: 100000}")
    )
    assert over_allocation(load(path)) is not None
    assert "105% of equity (14: 95%, 18: 10% per position)" in str(over_allocation(load(path)))


@pytest.mark.parametrize(
    "extra",
    [
        "",  # exactly 100%: all equity, not more
        "    enabled: false\n",  # a disabled algorithm claims nothing
    ],
)
def test_no_warning_at_or_below_all_equity(write_config: WriteConfig, extra: str) -> None:
    text = (
        "alphahub:\n  algorithms: [14, 16]\nalgorithms:\n"
        + algo(14, "allocation", "{pct: 70, max_positions: 1}")
        + algo(16, "allocation", "{pct: 30, max_positions: 3}")
        + algo(17, "allocation", "{pct: 50, max_positions: 1}", extra)  # not subscribed
    )
    config = load(write_config(text))
    assert [s.algo_id for s in equity_shares(config)] == [14, 16]
    assert over_allocation(config) is None


def test_the_shipped_config_is_not_over_allocated() -> None:
    config = load(ROOT_CONFIG)
    assert sum(s.pct for s in equity_shares(config)) == 80
    assert over_allocation(config) is None


def test_config_check_prints_the_warning(
    capsys: pytest.CaptureFixture[str], write_config: WriteConfig
) -> None:
    path = write_config(OVER)
    assert main(["config", "check", "-q", "--config", str(path)]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "allocations add up to 110% of equity (14: 80%, 16: 30%)" in err
