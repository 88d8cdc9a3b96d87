"""The planner's slice of the config: :class:`~tradebot.core.rules.PlanningRules`, per account.

The one place the config's sections become the core's plain values. ``Config`` calls it once per
account and load (``Config.planning``, ``Config.planning_for``); nothing else builds planning
rules from a config. It fills every field:
the core's values carry no defaults, and each field has its key's name, so the default a planner
obeys is the one written on the key (``tests/config/test_defaults.py``).
"""

from __future__ import annotations

from dataclasses import fields
from types import MappingProxyType
from typing import TYPE_CHECKING

from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.core.rules import AlgorithmRules, PlanningRules, RiskLimits

if TYPE_CHECKING:  # model.py imports this module to build Config.planning
    from tradebot.config.accounts_section import AccountConfig
    from tradebot.config.model import AlgorithmConfig, Config, RiskConfig

_LIMITS = tuple(f.name for f in fields(RiskLimits))


def planning_rules(config: Config) -> PlanningRules:
    """What :func:`~tradebot.core.planner.plan` needs of a config of one account."""
    return account_planning_rules(config.only_account, config.journal.recovery_max_age)


def account_planning_rules(account: AccountConfig, recovery_max_age: float) -> PlanningRules:
    """What :func:`~tradebot.core.planner.plan` needs of one account, and nothing more."""
    return PlanningRules(
        algorithms=MappingProxyType(
            {
                algo_id: _algorithm(algo, account.risk_for(algo_id))
                for algo_id, algo in account.algorithms.items()
            }
        ),
        account_risk=risk_limits(account.risk),
        account_id=account.broker.account_id,
        recovery_max_age=recovery_max_age,
        account=account.name or DEFAULT_ACCOUNT,
    )


def risk_limits(risk: RiskConfig) -> RiskLimits:
    """The limits of a ``risk:`` section as the core's value (same names, same meaning)."""
    return RiskLimits(**{name: getattr(risk, name) for name in _LIMITS})


def _algorithm(algo: AlgorithmConfig, effective: RiskConfig) -> AlgorithmRules:
    return AlgorithmRules(
        strategy=algo.strategy,
        sizer=algo.sizer,
        risk=risk_limits(effective),
        enabled=algo.enabled,
        order_type=algo.order_type,
        time_in_force=algo.time_in_force,
        limit_offset_pct=algo.limit_offset_pct,
        chase_after=algo.chase_after,
        chase_pct=algo.chase_pct,
        allow_short=algo.allow_short,
        allow_fractional=algo.allow_fractional,
        on_close_not_held=algo.on_close_not_held,
        market_closed=algo.market_closed,
        exits=algo.exits.terms() if algo.exits is not None else None,
    )
