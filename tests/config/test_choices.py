"""Every choice key (an enum or a Literal) accepts what the code supports (issue 19, item 6).

``order_type: stop`` passed the check, then every signal of that algorithm failed planning: the
planner gives an entry no stop price. The keys come from the model (:mod:`tests.config.model_keys`);
what each one must accept is the audit below, checked against the planner where it plans with it.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest

from tests.config.helpers import error_text, load
from tests.config.model_keys import Key, is_choice, leaf_keys
from tests.core.helpers import ACCOUNT, agreeing_market, make_config, make_signal
from tradebot.config.model import ENTRY_ORDER_TYPES
from tradebot.core.book import PositionBook
from tradebot.core.order_shape import OrderType
from tradebot.core.orders import IntentRole, TimeInForce
from tradebot.core.planner import DayState, plan
from tradebot.exceptions import ConfigError

ISSUE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<path>.+?): (?P<message>.+)$")

CHOICE_KEYS = {key.dotted: key for key in leaf_keys() if is_choice(key.type)}

#: the audit: what each choice key must accept, where that is less than every value of its type.
#: order_type: the planner plans entries as market or limit orders (limit_then_market: a limit it
#: chases); stop and trailing_stop are exit orders, configured under exits:.
SUPPORTED: dict[str, set[str]] = {
    "algorithms.14.order_type": {"market", "limit", "limit_then_market"},
}

#: what the file needs for a value to be valid on its own: live needs the acknowledgement
BASE: dict[str, Any] = {"live_trading_acknowledged": True}


def values_of(tp: Any) -> list[str]:
    if get_origin(tp) is Literal:
        return [str(v) for v in get_args(tp)]
    return [str(member.value) for member in tp]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def issues_at(text: str) -> dict[tuple[str, str], str]:
    found = [ISSUE.match(row) for row in text.splitlines()]
    return {(m["line"], m["path"]): m["message"] for m in found if m}


def loads(tmp_path: Path, key: Key, value: str) -> bool:
    text, _ = key.document(value, BASE)
    try:
        load(write(tmp_path, text))
    except ConfigError:
        return False
    return True


def test_the_walk_finds_the_choice_keys_of_every_section() -> None:
    assert {
        "mode",
        "alphahub.backfill",
        "broker.name",
        "broker.alpaca.data_feed",
        "risk.reference_price",
        "notify[0].events[0]",
        "algorithms.14.order_type",
        "algorithms.14.time_in_force",
        "algorithms.14.on_close_not_held",
        "algorithms.14.market_closed",
        "algorithms.14.risk.reference_price",
    } <= set(CHOICE_KEYS)


@pytest.mark.parametrize("name", sorted(CHOICE_KEYS))
def test_each_choice_key_accepts_what_the_code_supports_and_nothing_else(
    tmp_path: Path, name: str
) -> None:
    key = CHOICE_KEYS[name]
    accepted = {value for value in values_of(key.type) if loads(tmp_path, key, value)}
    assert accepted == SUPPORTED.get(name, set(values_of(key.type)))


@pytest.mark.parametrize("value", ["nonsense", "Market", "16", "stop", "trailing_stop"])
@pytest.mark.parametrize("name", sorted(CHOICE_KEYS))
def test_an_unsupported_value_is_refused_at_its_line_listing_the_supported_ones(
    tmp_path: Path, name: str, value: str
) -> None:
    key = CHOICE_KEYS[name]
    supported = SUPPORTED.get(name, set(values_of(key.type)))
    if value in supported:
        pytest.skip(f"{value} is supported here")
    text, line = key.document(value, BASE)
    message = issues_at(error_text(write(tmp_path, text))).get((str(line), name))
    assert message is not None and message.startswith("should be ")
    listed = set(re.findall(r"'([^']*)'", message))
    assert listed == supported, message


def test_stop_entries_are_refused_saying_they_are_exits(tmp_path: Path) -> None:
    text = "algorithms:\n  14:\n    strategy: fixed_shares\n    params: {shares: 1}\n"
    path = write(tmp_path, text + "    order_type: stop\n")
    message = issues_at(error_text(path))[("5", "algorithms.14.order_type")]
    assert message == (
        "should be 'market', 'limit' or 'limit_then_market' (stop orders are exits, never"
        " entries: see exits.stop_loss_pct and exits.trailing_stop_pct)"
    )


# -- the audit, against the planner ----------------------------------------------------------------


def _plan_an_entry(order_type: OrderType, tif: TimeInForce, *, market_open: bool) -> None:
    signal = make_signal(opens=[("AAPL", "buy", "100")])
    config = make_config({16: {"order_type": "market"}})
    rules = config.planning
    # set past the config on purpose: the planner is asked what it can plan, not the config
    algo = dataclasses.replace(rules.algorithms[16], order_type=order_type, time_in_force=tif)
    rules = dataclasses.replace(rules, algorithms={16: algo})
    day = DayState(market_open=market_open)
    result = plan(
        signal, PositionBook(), ACCOUNT, rules, signal.received_at, day=day,
        market=agreeing_market(signal),
    )  # fmt: skip
    assert [i.role for i in result.intents] == [IntentRole.OPEN]


@pytest.mark.parametrize("market_open", [True, False])
@pytest.mark.parametrize("tif", list(TimeInForce))
@pytest.mark.parametrize("order_type", ENTRY_ORDER_TYPES)
def test_the_planner_plans_an_entry_of_every_order_type_the_config_accepts(
    order_type: OrderType, tif: TimeInForce, market_open: bool
) -> None:
    _plan_an_entry(order_type, tif, market_open=market_open)


@pytest.mark.parametrize("order_type", sorted(set(OrderType) - set(ENTRY_ORDER_TYPES)))
def test_the_planner_cannot_plan_an_entry_of_a_type_the_config_refuses(
    order_type: OrderType,
) -> None:
    """Why the config refuses them. If this starts failing, the planner learned to plan such
    entries: add the type to ENTRY_ORDER_TYPES."""
    with pytest.raises(ValueError, match="needs"):
        _plan_an_entry(order_type, TimeInForce.DAY, market_open=True)
