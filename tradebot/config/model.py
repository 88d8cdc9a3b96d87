"""The typed, frozen shape of ``config.yaml``: the root :class:`Config` and its top-level keys.

Each section is a module of its own, named for the section of docs/configuration.md it holds:
``alphahub_section``, ``broker_section`` (alpaca and sim), ``journal_section``,
``risk_section``, ``dashboard_section``, ``algorithms_section`` (with ``exits_section``),
``accounts_section`` and ``notify_section``; every section is a
:class:`~tradebot.config.frozen.Frozen` model that rejects unknown keys. Each default is written
once, on its key there; the core's values built from the config (``tradebot/core/rules.py``)
carry none (:mod:`.planning` fills them).

Components receive the slice they need (``config.alphahub``, ``config.broker``, ...), never the
whole document. Secrets are ``SecretStr``: masked in ``repr()``, logs and ``tradebot config
check``. The section classes are importable from here too.

Accounts (:mod:`.accounts_section`): :attr:`Config.accounts` is every account as it trades, with
or without ``accounts:`` (without it, the one account ``default``). For the code that trades one
account, ``config.mode``, ``config.live_trading_acknowledged``, ``config.broker``,
``config.algorithms``, ``config.risk``, :meth:`Config.risk_for` and :attr:`Config.planning` are
those of the config's only account. With several accounts, all but ``config.risk`` (then the
top-level limits every account's are tightened from, and the kill switch) raise
:class:`SeveralAccounts` naming the accounts: they never pick one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pydantic import Field, PrivateAttr, StrictBool, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from tradebot.config.accounts_section import DEFAULT_ACCOUNT as DEFAULT_ACCOUNT
from tradebot.config.accounts_section import (
    PER_ACCOUNT_KEYS,
    Problem,
    account_problems,
    default_account,
    effective_accounts,
    named,
)
from tradebot.config.accounts_section import Account as Account
from tradebot.config.accounts_section import AccountConfig as AccountConfig
from tradebot.config.accounts_section import AccountName as AccountName
from tradebot.config.accounts_section import Mode as Mode
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
from tradebot.config.planning import account_planning_rules
from tradebot.config.risk_section import GlobalRiskConfig as GlobalRiskConfig
from tradebot.config.risk_section import RiskConfig as RiskConfig

# The policies are the planner's vocabulary (tradebot.core.rules), named here as config values.
from tradebot.core.rules import CloseNotHeld as CloseNotHeld
from tradebot.core.rules import MarketClosedPolicy as MarketClosedPolicy
from tradebot.core.rules import PlanningRules
from tradebot.core.rules import ReferencePricePolicy as ReferencePricePolicy
from tradebot.exceptions import ConfigError


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
    accounts: dict[AccountName, AccountConfig] = Field(
        default_factory=dict,
        description="several accounts by name, each its own mode, broker, algorithms and risk"
        " (absent: the top-level ones are the one account named default)",
    )

    #: ``accounts:`` as written (None without the section) and the top-level ``risk:``
    _declared: dict[str, AccountConfig] | None = PrivateAttr(None)
    _base_risk: GlobalRiskConfig = PrivateAttr()
    _planning: dict[str, PlanningRules] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        problems: list[Problem] = []
        if "accounts" in self.model_fields_set:
            self._declared = dict(self.accounts)
            _raise(list(_section_problems(self)))  # nothing to derive the accounts from
        elif self.mode is Mode.LIVE and not self.live_trading_acknowledged:
            message = "mode: live also needs live_trading_acknowledged: true"
            problems.append(("live_not_acknowledged", message, ("mode",)))
        self._base_risk = self.risk
        self._derive()
        followed = {a for account in self.accounts.values() for a in account.algorithms}
        for index, algo_id in enumerate(self.alphahub.algorithms or ()):
            if algo_id not in followed:
                message = (
                    f"algorithm {algo_id} has no entry under algorithms"
                    if self._declared is None
                    else f"algorithm {algo_id} is followed by no account"
                )
                problems.append(("unknown_algorithm", message, ("alphahub", "algorithms", index)))
        _raise(problems)
        return self

    def _derive(self) -> None:
        """Fill :attr:`accounts`, the one-account compatibility keys and the planning rules."""
        slots = self.__dict__
        if self._declared is None:
            self._base_risk = self.risk  # a live edit of risk is a new top level
            only = default_account(
                self.mode, self.live_trading_acknowledged, self.broker, self.algorithms, self.risk
            )
            slots["accounts"] = {only.name: only}
        else:
            slots["accounts"] = effective_accounts(self._declared, self._base_risk)
            for key in (*PER_ACCOUNT_KEYS, "risk"):
                slots.pop(key, None)
            if len(self.accounts) == 1:
                (only,) = self.accounts.values()
                slots.update({key: getattr(only, key) for key in PER_ACCOUNT_KEYS})
                # the account's limits, with the kill switch every account shares
                values: dict[str, Any] = dict(only.risk.__dict__)
                values["kill_switch_file"] = self._base_risk.kill_switch_file
                slots["risk"] = GlobalRiskConfig.model_construct(**values)
            else:
                slots["risk"] = self._base_risk
        recovery_max_age = self.journal.recovery_max_age
        self._planning = {
            name: account_planning_rules(account, recovery_max_age)
            for name, account in self.accounts.items()
        }

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # reached only for the keys _derive took out: a config of several accounts
            if name in PER_ACCOUNT_KEYS:
                raise several_accounts(self, f"{name} is one account's")
            return super().__getattr__(name)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Config:
        """A copy with ``update`` applied, and what is derived from the sections derived again.

        A live config edit is such a copy (``runtime/config_watch.py``); pydantic would carry the
        old per-algorithm limits and planning rules over, and the edit would not bind. With
        ``accounts:``, an update of ``algorithms``, ``broker``, ``mode`` or
        ``live_trading_acknowledged`` is one of the only account (refused with several), and an
        update of ``risk`` is its limits in force.
        """
        copy = super().model_copy(update=update, deep=deep)
        if update and self._declared is not None:
            copy._declared, copy._base_risk = _carry(self, update)
        copy._derive()
        return copy

    def account_view(self, name: str) -> Config:
        """This config as the one account ``name`` trades it: a config of that account alone
        (its effective algorithms and limits, its broker and mode, the top-level sections and
        kill switch shared), so code written for one account runs each of several unchanged
        (the runtime's per-account engine, ``runtime/account_engine.py``). A config of one
        account is its own view. KeyError for a name that is no account's."""
        account = self.accounts[name]
        if len(self.accounts) == 1:
            return self
        own = named(name, account.model_copy(update={"mirror_of": None, "risk": RiskConfig()}))
        values: dict[str, Any] = dict(account.risk.__dict__)
        values["kill_switch_file"] = self._base_risk.kill_switch_file
        return self.with_accounts({name: own}, GlobalRiskConfig.model_construct(**values))

    def with_accounts(
        self, declared: Mapping[str, AccountConfig], risk: GlobalRiskConfig
    ) -> Config:
        """A copy whose ``accounts:`` as written is ``declared`` and whose top-level ``risk:``
        is ``risk``, the accounts derived again (a live edit of a config of several accounts:
        ``runtime/config_watch.py``; :meth:`account_view`)."""
        copy = super().model_copy()
        copy._declared = dict(declared)
        copy._base_risk = risk
        copy._derive()
        return copy

    @property
    def only_account(self) -> AccountConfig:
        """The config's one account; a :class:`ConfigError` naming them when there are several."""
        if len(self.accounts) != 1:
            raise several_accounts(self, "it needs one account")
        return next(iter(self.accounts.values()))

    def risk_for(self, algo_id: int) -> RiskConfig:
        """The limits that apply to ``algo_id``: the account's tightened by its own (one
        account; :meth:`AccountConfig.risk_for` for each of several)."""
        return self.only_account.risk_for(algo_id)

    @property
    def planning(self) -> PlanningRules:
        """The slice the planner obeys (:func:`~tradebot.config.planning.planning_rules`) for
        the config's one account, built once when this config was validated."""
        return self._planning[self.only_account.name]

    def planning_for(self, account: str) -> PlanningRules:
        """:attr:`planning` for one of the accounts, by name (:attr:`accounts`)."""
        return self._planning[account]

    @property
    def subscribed_algorithms(self) -> tuple[int, ...]:
        """The algorithms to listen to: ``alphahub.algorithms`` or every one enabled in an
        account."""
        if self.alphahub.algorithms is not None:
            return self.alphahub.algorithms
        enabled = {
            algo_id
            for account in self.accounts.values()
            for algo_id, algo in account.algorithms.items()
            if algo.enabled
        }
        return tuple(sorted(enabled))

    @property
    def declared_accounts(self) -> Mapping[str, AccountConfig] | None:
        """``accounts:`` as written (defaults filled in); None when the file has none."""
        return None if self._declared is None else MappingProxyType(self._declared)

    @property
    def base_risk(self) -> GlobalRiskConfig:
        """The top-level ``risk:`` as written (each account's is it, tightened by its own)."""
        return self._base_risk


class SeveralAccounts(ConfigError, AttributeError):
    """Code written for one account asked a config of several for one account's key.

    A :class:`ConfigError` (the CLI exits 2 naming the accounts) and an ``AttributeError``, so
    that generic walkers of a model's fields (``getattr(config, name, None)``: secrets masking)
    pass over the keys a config of several accounts has only under ``accounts``.
    """


def several_accounts(config: Config, what: str) -> SeveralAccounts:
    """The refusal of code written for one account, given a config of several."""
    names = ", ".join(config.accounts)
    return SeveralAccounts(
        f"the config has {len(config.accounts)} accounts ({names}) and {what}: this command"
        " does not handle several accounts yet (issue 22)"
    )


def _section_problems(config: Config) -> Iterator[Problem]:
    """``accounts:`` beside the top-level keys it replaces, and the accounts' own rules."""
    for key in PER_ACCOUNT_KEYS:
        if key in config.model_fields_set:
            message = (
                f"given beside accounts:: with accounts:, every account has its own {key}"
                f" (accounts.NAME.{key}); the top-level {key} is the one account's only"
                " without accounts:"
            )
            yield ("accounts_and_top_level", message, (key,))
    yield from account_problems(config.accounts)


def _carry(config: Config, update: Mapping[str, Any]) -> tuple[dict[str, AccountConfig], Any]:
    """``accounts:`` as written and the top-level risk after ``update`` of a copy."""
    declared, base_risk = dict(config._declared or {}), config._base_risk
    per_account = {k: v for k, v in update.items() if k in PER_ACCOUNT_KEYS}
    if per_account or "risk" in update:
        if len(declared) != 1:
            if per_account:
                raise several_accounts(config, f"{', '.join(per_account)} is one account's")
            return declared, update["risk"]
        ((name, account),) = declared.items()
        if "risk" in update:  # the account's limits in force: the new base, nothing to tighten
            per_account["risk"] = RiskConfig()
            base_risk = update["risk"]
        declared[name] = account.model_copy(update=per_account)
    return declared, base_risk


def _raise(problems: list[Problem]) -> None:
    if problems:
        details = [_problem(kind, message, loc, None) for kind, message, loc in problems]
        raise ValidationError.from_exception_data(Config.__name__, details)


def _problem(kind: str, message: str, loc: tuple[str | int, ...], value: Any) -> InitErrorDetails:
    # PydanticCustomError treats braces as placeholders; messages here carry none.
    return {"type": PydanticCustomError(kind, message), "loc": loc, "input": value}
