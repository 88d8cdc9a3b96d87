"""A config that leaves nothing to trade is refused by ``run`` and ``config check`` (exit 2)."""

from __future__ import annotations

import pytest

from tests.config.helpers import WriteConfig
from tradebot.config.loader import read_config
from tradebot.exceptions import ConfigError

ALGO_14 = "  14:\n    strategy: fixed_shares\n    params: {shares: 1}\n"

#: config text -> the line and what the refusal says
NOTHING_TO_TRADE = {
    "empty file": ("", "config.yaml: (top level): the config is empty: nothing to trade"),
    "comments only": (
        "# my config\n\n# to do\n",
        "config.yaml: (top level): the config is empty: nothing to trade",
    ),
    "empty mapping": ("algorithms: {}\n", "config.yaml:1: algorithms: no algorithms configured"),
    "no algorithms section": (
        "mode: paper\nbroker:\n  name: sim\n",
        "config.yaml:1: algorithms: no algorithms configured",
    ),
    "every algorithm disabled": (
        "algorithms:\n" + ALGO_14 + "    enabled: false\n",
        "config.yaml:1: algorithms: every algorithm is disabled: nothing to trade",
    ),
    "subscribed to none": (
        "alphahub:\n  algorithms: []\nalgorithms:\n" + ALGO_14,
        "config.yaml:2: alphahub.algorithms: is empty: nothing to trade",
    ),
    "subscribed only to a disabled one": (
        "alphahub:\n  algorithms: [14]\nalgorithms:\n"
        + ALGO_14
        + "    enabled: false\n  16:\n    strategy: fixed_shares\n    params: {shares: 1}\n",
        "config.yaml:2: alphahub.algorithms: lists no enabled algorithm: nothing to trade",
    ),
}


@pytest.mark.parametrize("case", sorted(NOTHING_TO_TRADE))
def test_nothing_to_trade_is_refused_for_trading(write_config: WriteConfig, case: str) -> None:
    text, expected = NOTHING_TO_TRADE[case]
    path = write_config(text)
    loaded = read_config(path, env={})
    with pytest.raises(ConfigError) as info:
        loaded.require_tradable()
    assert str(info.value).startswith(f"{path.parent}/{expected}")


def test_one_enabled_algorithm_is_enough(write_config: WriteConfig) -> None:
    text = "algorithms:\n" + ALGO_14 + "    enabled: false\n  16:\n" + ALGO_14[5:]
    loaded = read_config(write_config(text), env={})
    loaded.require_tradable()
    assert loaded.untradable == ()


def test_readers_still_accept_such_a_config(write_config: WriteConfig) -> None:
    """journal, report, status and halt read only the journal and kill switch paths."""
    loaded = read_config(write_config("journal:\n  path: j.sqlite\n"), env={})
    assert loaded.config.journal.path == "j.sqlite"
    assert loaded.untradable
