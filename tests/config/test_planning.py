"""The planner's slice of the config: every limit and setting the planner obeys reaches it."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from tests.core.helpers import make_config
from tradebot.config.model import AlgorithmConfig, Config, RiskConfig
from tradebot.config.planning import planning_rules
from tradebot.core.order_shape import OrderType
from tradebot.core.rules import AlgorithmRules, MarketClosedPolicy, RiskLimits

D = Decimal


def test_every_risk_limit_of_the_config_is_a_limit_the_planner_sees() -> None:
    """A limit added to ``risk:`` but not to the core's value would be silently ignored."""
    assert {f.name for f in fields(RiskLimits)} == set(RiskConfig.model_fields)


def test_every_algorithm_setting_reaches_the_planner() -> None:
    # ``params`` arrive as the ready strategy (``sizer``); ``name`` is for people only
    settings = set(AlgorithmConfig.model_fields) - {"params", "name"}
    assert settings <= {f.name for f in fields(AlgorithmRules)}


def test_an_algorithm_gets_the_account_limits_tightened_by_its_own() -> None:
    config = make_config(
        {
            16: {"risk": {"max_order_notional": 500, "deny_symbols": ["GME"]}},
            14: {"order_type": "limit", "market_closed": "skip", "enabled": False},
        },
        risk={"max_order_notional": 1000, "max_orders_per_day": 9, "deny_symbols": ["AMC"]},
    )
    rules = planning_rules(config)
    assert rules == config.planning  # built once, when the config was validated
    a16, a14 = rules.algorithms[16], rules.algorithms[14]
    assert a16.risk.max_order_notional == D(500) and a16.risk.max_orders_per_day == 9
    assert a16.risk.deny_symbols == ("AMC", "GME")
    assert a14.risk.max_order_notional == D(1000)
    assert rules.account_risk.max_order_notional == D(1000)
    assert rules.account_risk.price_collar_pct == D(5)  # the default collar
    assert a16.strategy == "fixed_shares" and a16.sizer == config.algorithms[16].sizer
    assert (a14.order_type, a14.market_closed, a14.enabled) == (
        OrderType.LIMIT,
        MarketClosedPolicy.SKIP,
        False,
    )


def test_the_account_id_and_the_recovery_bound_come_from_their_sections() -> None:
    config = Config.model_validate(
        {"broker": {"account_id": "ACME"}, "journal": {"recovery_max_age": 42}}
    )
    rules = config.planning
    assert (rules.account_id, rules.recovery_max_age, dict(rules.algorithms)) == ("ACME", 42, {})


def test_a_live_edit_copy_plans_by_the_edited_sections() -> None:
    """A live edit replaces ``algorithms`` and ``risk`` on a copy of the running config."""
    running = make_config({16: {}}, risk={"max_order_notional": 1000})
    edited = make_config(
        {16: {"params": {"shares": 20}, "risk": {"max_order_qty": 5}}},
        risk={"max_order_notional": 800},
    )
    live = running.model_copy(update={"algorithms": edited.algorithms, "risk": edited.risk})
    assert live.planning == edited.planning
    assert live.risk_for(16) == edited.risk_for(16)
    assert live.planning.algorithms[16].risk.max_order_notional == D(800)
