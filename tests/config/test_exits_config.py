"""``algorithms.ID.exits``: the three keys, their ranges, the trailing-stop rule, strict types
named at their line, and what ``config check`` says about exits that go after the fill."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.config.helpers import WriteConfig, error_text, line, load
from tests.config.test_loader import issues, only_issue
from tradebot.config.loader import read_config
from tradebot.core.orders import ExitTerms

ALGO = """
algorithms:
  14:
    strategy: fixed_shares
    params: {shares: 10}
"""


def exits(text: str) -> str:
    return ALGO + "    exits:\n" + "".join(f"      {row}\n" for row in text.splitlines())


def test_exits_reach_the_planning_rules(write_config: WriteConfig) -> None:
    config = load(write_config(exits("take_profit_pct: 5\nstop_loss_pct: '2.5'")))
    assert config.planning.algorithms[14].exits == ExitTerms(Decimal(5), Decimal("2.5"), None)
    trailing = load(write_config(exits("trailing_stop_pct: 1.5")))
    assert trailing.planning.algorithms[14].exits == ExitTerms(None, None, Decimal("1.5"))
    assert load(write_config(ALGO)).planning.algorithms[14].exits is None


def test_a_trailing_stop_with_another_exit_is_refused_with_the_reason(
    write_config: WriteConfig,
) -> None:
    path = write_config(exits("trailing_stop_pct: 1\nstop_loss_pct: 2"))
    issue = only_issue(path)
    assert issue["path"] == "algorithms.14.exits"
    assert "exits:" in line(path, int(issue["line"]))
    assert "cannot link a trailing stop" in issue["message"]
    assert "could both sell" in issue["message"]


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ("take_profit_pct: 0", "take_profit_pct", "greater than 0"),
        ("stop_loss_pct: -1", "stop_loss_pct", "greater than 0"),
        ("stop_loss_pct: 100", "stop_loss_pct", "less than 100"),
        ("trailing_stop_pct: 0", "trailing_stop_pct", "greater than 0"),
        ("stop_loss_pct: lots", "stop_loss_pct", ""),
        ("stop_los_pct: 2", "stop_los_pct", "did you mean 'stop_loss_pct'"),
    ],
)
def test_bad_values_and_unknown_keys_are_named_at_their_line(
    write_config: WriteConfig, body: str, key: str, message: str
) -> None:
    path = write_config(exits(body))
    issue = only_issue(path)
    assert issue["path"] == f"algorithms.14.exits.{key}"
    assert key in line(path, int(issue["line"]))
    assert message in issue["message"]


def test_empty_exits_and_a_short_take_profit_of_100_percent_are_refused(
    write_config: WriteConfig,
) -> None:
    empty = error_text(write_config(ALGO + "    exits: {}\n"))
    assert "exits needs take_profit_pct, stop_loss_pct or trailing_stop_pct" in empty
    short = write_config(ALGO + "    allow_short: true\n" + "    exits: {take_profit_pct: 100}\n")
    (issue,) = issues(error_text(short))
    assert issue["path"] == "algorithms.14"
    assert "take_profit_pct must be under 100 with allow_short" in issue["message"]


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        ("    order_type: limit\n", "limit entry with time_in_force day"),
        ("    order_type: limit_then_market\n", "chased limit_then_market"),
    ],
)
def test_config_check_says_when_exits_go_after_the_fill(
    write_config: WriteConfig, settings: str, why: str
) -> None:
    path = write_config(ALGO + settings + "    exits: {stop_loss_pct: 2}\n")
    warnings = [str(w) for w in read_config(path, env={}).warnings]
    found = [w for w in warnings if "algorithms.14.exits" in w]
    assert len(found) == 1, warnings
    assert why in found[0] and "go after the entry has filled" in found[0]


def test_no_warning_when_the_exits_travel_with_the_entry(write_config: WriteConfig) -> None:
    for settings in ("", "    order_type: limit\n    time_in_force: gtc\n"):
        path = write_config(ALGO + settings + "    exits: {stop_loss_pct: 2}\n")
        warnings = [str(w) for w in read_config(path, env={}).warnings]
        assert not [w for w in warnings if "algorithms.14.exits" in w], warnings
