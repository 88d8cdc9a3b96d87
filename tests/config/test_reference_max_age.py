"""``risk.reference_max_age`` (issue 19 §3): how old a reference price may be while the market is
open, in seconds; 15 minutes unless the config says otherwise. An algorithm may shorten it."""

from __future__ import annotations

import pytest

from tests.config.helpers import WriteConfig, error_text, load
from tradebot.config.loader import read_config

ALGO = """
algorithms:
  14:
    strategy: fixed_shares
    params: {shares: 1}
"""


def test_the_default_is_15_minutes_and_reaches_the_planner(write_config: WriteConfig) -> None:
    config = load(write_config(ALGO))
    assert config.risk.reference_max_age == 900
    assert config.risk_for(14).reference_max_age == 900  # inherited
    assert config.planning.algorithms[14].risk.reference_max_age == 900


def test_the_shorter_age_wins_and_a_longer_one_is_warned_about(write_config: WriteConfig) -> None:
    path = write_config(
        """
        risk: {reference_max_age: 300}
        algorithms:
          14: {strategy: fixed_shares, params: {shares: 1}, risk: {reference_max_age: 60}}
          15: {strategy: fixed_shares, params: {shares: 1}, risk: {reference_max_age: 3600}}
        """
    )
    config = load(path)
    assert (config.risk_for(14).reference_max_age, config.risk_for(15).reference_max_age) == (
        60,
        300,
    )
    warnings = " ".join(str(w) for w in read_config(path, env={}).warnings)
    assert "algorithms.15.risk.reference_max_age: looser" in warnings


@pytest.mark.parametrize(
    "value", [".inf", "-.inf", ".nan", "-60", "0", "null", "soon", "'15m'", "[900]"]
)
@pytest.mark.parametrize("where", ["risk", "algorithms.14.risk"])
def test_an_age_must_be_a_finite_positive_number_of_seconds(
    write_config: WriteConfig, value: str, where: str
) -> None:
    if where == "risk":
        text = f"risk: {{reference_max_age: {value}}}\n{ALGO}"
    else:
        text = f"{ALGO}    risk: {{reference_max_age: {value}}}\n"
    if where != "risk" and value == "null":
        assert load(write_config(text)).risk_for(14).reference_max_age == 900  # inherits
        return
    assert f"{where}.reference_max_age" in error_text(write_config(text))
