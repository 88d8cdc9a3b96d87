"""The typed, frozen shape of ``config.yaml``: the root :class:`Config` and its top-level keys.

Each section is a module of its own, named for the section of docs/configuration.md it holds:
``alphahub_section``, ``broker_section`` (alpaca and sim), ``journal_section``,
``risk_section``, ``dashboard_section``, ``algorithms_section`` (with ``exits_section``) and
``notify_section``; every section is a :class:`~tradebot.config.frozen.Frozen` model that
rejects unknown keys. Each default is written once, on its key there; the core's values built
from the config (``tradebot/core/rules.py``) carry none (:mod:`.planning` fills them).

Components receive the slice they need (``config.alphahub``, ``config.broker``, ...), never the
whole document. Secrets are ``SecretStr``: masked in ``repr()``, logs and ``tradebot config
check``. The section classes are importable from here too.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import Field, PrivateAttr, StrictBool, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from tradebot.config.algorithms_section import ENTRY_ORDER_TYPES as ENTRY_ORDER_TYPES
from tradebot.config.algorithms_section import AlgorithmConfig as AlgorithmConfig
from tradebot.config.alphahub_section import AlphaHubConfig as AlphaHubConfig
from tradebot.config.alphahub_section import BackfillMode as BackfillMode
from tradebot.config.alphahub_section import ReconnectConfig as ReconnectConfig
from tradebot.config.broker_section import AlpacaConfig as AlpacaConfig
from tradebot.config.broker_section import BrokerConfig as BrokerConfig
from tradebot.config.broker_section import BrokerName as BrokerName
from tradebot.config.broker_section import DataFeed as DataFeed
from tradebot.config.broker_section import SimBrokerConfig as SimBrokerConfig
from tradebot.config.dashboard_section import DashboardConfig as DashboardConfig
from tradebot.config.exits_section import ExitsConfig as ExitsConfig
from tradebot.config.frozen import Frozen as Frozen
from tradebot.config.journal_section import JournalConfig as JournalConfig
from tradebot.config.notify_section import NOTIFY_EVENTS as NOTIFY_EVENTS
from tradebot.config.notify_section import NotifyEvent as NotifyEvent
from tradebot.config.notify_section import NotifyTarget as NotifyTarget
from tradebot.config.numbers import AlgorithmId
from tradebot.config.planning import planning_rules
from tradebot.config.risk_section import GlobalRiskConfig as GlobalRiskConfig
from tradebot.config.risk_section import RiskConfig as RiskConfig

# The policies are the planner's vocabulary (tradebot.core.rules), named here as config values.
from tradebot.core.rules import CloseNotHeld as CloseNotHeld
from tradebot.core.rules import MarketClosedPolicy as MarketClosedPolicy
from tradebot.core.rules import PlanningRules
from tradebot.core.rules import ReferencePricePolicy as ReferencePricePolicy


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class Config(Frozen):
    name: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=64,
        description="this bot's name in alerts (default: the host name)",
    )
    mode: Mode = Field(Mode.PAPER, description="live also needs --live on the command line")
    live_trading_acknowledged: StrictBool = Field(
        False, description="must be true, together with --live, to trade real money"
    )
    alphahub: AlphaHubConfig = AlphaHubConfig()
    broker: BrokerConfig = BrokerConfig()
    journal: JournalConfig = JournalConfig()
    risk: GlobalRiskConfig = GlobalRiskConfig()
    dashboard: DashboardConfig = DashboardConfig()
    notify: tuple[NotifyTarget, ...] = Field(
        (), description="alerts: a list of {url: Apprise URL (a secret), events: [...]}"
    )
    algorithms: dict[AlgorithmId, AlgorithmConfig] = Field(default_factory=dict)

    _algo_risk: dict[int, RiskConfig] = PrivateAttr(default_factory=dict)
    _planning: PlanningRules = PrivateAttr()

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        problems: list[InitErrorDetails] = []
        if self.mode is Mode.LIVE and not self.live_trading_acknowledged:
            message = "mode: live also needs live_trading_acknowledged: true"
            problems.append(_problem("live_not_acknowledged", message, ("mode",), "live"))
        for index, algo_id in enumerate(self.alphahub.algorithms or ()):
            if algo_id not in self.algorithms:
                message = f"algorithm {algo_id} has no entry under algorithms"
                loc = ("alphahub", "algorithms", index)
                problems.append(_problem("unknown_algorithm", message, loc, algo_id))
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._algo_risk = {a: self.risk.tightened_by(c.risk) for a, c in self.algorithms.items()}
        self._planning = planning_rules(self)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Config:
        """A copy with ``update`` applied, and what is derived from the sections derived again.

        A live config edit is such a copy (``runtime/config_watch.py``); pydantic would carry the
        old per-algorithm limits and planning rules over, and the edit would not bind.
        """
        copy = super().model_copy(update=update, deep=deep)
        copy.model_post_init(None)
        return copy

    def risk_for(self, algo_id: int) -> RiskConfig:
        """The limits that apply to ``algo_id``: the global ones tightened by its own."""
        return self._algo_risk[algo_id]

    @property
    def planning(self) -> PlanningRules:
        """The slice the planner obeys (:func:`~tradebot.config.planning.planning_rules`),
        built once when this config was validated."""
        return self._planning

    @property
    def subscribed_algorithms(self) -> tuple[int, ...]:
        """The algorithms to listen to: ``alphahub.algorithms`` or every enabled one."""
        if self.alphahub.algorithms is not None:
            return self.alphahub.algorithms
        return tuple(sorted(a for a, c in self.algorithms.items() if c.enabled))


def _problem(kind: str, message: str, loc: tuple[str | int, ...], value: Any) -> InitErrorDetails:
    # PydanticCustomError treats braces as placeholders; messages here carry none.
    return {"type": PydanticCustomError(kind, message), "loc": loc, "input": value}
