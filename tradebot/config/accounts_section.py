"""``accounts:``: several broker accounts following the same signals (issue 22).

Each account is today's ``mode``, ``live_trading_acknowledged``, ``broker:`` and ``algorithms:``
under a name, with an optional ``risk:`` of its own::

    accounts:
      main:
        mode: live
        live_trading_acknowledged: true
        broker: {name: alpaca, alpaca: {key_id: ${MAIN_KEY}, secret_key: ${MAIN_SECRET}}}
        algorithms:
          16: {strategy: allocation, params: {pct: 30, max_positions: 3}}
      main-paper:
        mirror_of: main
        broker: {name: alpaca, alpaca: {key_id: ${PAPER_KEY}, secret_key: ${PAPER_SECRET}}}

The rules, each checked here once (:func:`account_problems`), every refusal naming the account:

- A name is :data:`ACCOUNT_NAME_RULE` (:func:`check_account_name`): it tags client order ids.
- Without ``accounts:``, the top-level ``mode``, ``live_trading_acknowledged``, ``broker:`` and
  ``algorithms:`` are one account named :data:`DEFAULT_ACCOUNT`. With it, those four keys belong
  to the accounts and are refused at the top level.
- ``mode: live`` needs the account's own ``live_trading_acknowledged: true``.
- An account that is no mirror names the ``algorithms:`` it follows.
- ``mirror_of: NAME`` is a paper copy of the account NAME: its algorithms and its rules (``risk``
  included), never its own (those keys are refused), always paper (``mode: live`` is refused),
  with its own ``broker:`` (required) whose credentials must differ from NAME's: two accounts on
  one broker account would mix their positions. NAME must be an account that is no mirror.
- ``risk:`` of an account tightens the top-level ``risk:`` for that account, key by key, as an
  algorithm's ``risk:`` does (it can never loosen it); absent, the account has the top-level one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PrivateAttr, StrictBool

from tradebot.config.algorithms_section import AlgorithmConfig
from tradebot.config.broker_section import BrokerConfig
from tradebot.config.frozen import Frozen
from tradebot.config.numbers import AlgorithmId
from tradebot.config.risk_section import GlobalRiskConfig, RiskConfig
from tradebot.core.ids import ACCOUNT_NAME as ACCOUNT_NAME
from tradebot.core.ids import ACCOUNT_NAME_RULE as ACCOUNT_NAME_RULE
from tradebot.core.ids import DEFAULT_ACCOUNT as DEFAULT_ACCOUNT


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


# The one rule for an account's name lives with the client order ids it tags (tradebot/core/ids.py).

#: the keys an account has, which the top level has too when there is no ``accounts:``
PER_ACCOUNT_KEYS = ("mode", "live_trading_acknowledged", "broker", "algorithms")

#: a problem found across accounts: (kind, message, key path); model.py makes them errors
Problem = tuple[str, str, tuple[str | int, ...]]


def account_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name an account (:data:`ACCOUNT_NAME_RULE`); None when it can."""
    if not isinstance(name, str):
        return f"an account name is text ({ACCOUNT_NAME_RULE})"
    if not ACCOUNT_NAME.fullmatch(name):
        return f"not an account name: use {ACCOUNT_NAME_RULE}"
    return None


def check_account_name(name: object) -> str:
    """``name`` when it can name an account; else ValueError saying why (never echoing it)."""
    problem = account_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    assert isinstance(name, str)
    return name


AccountName = Annotated[str, BeforeValidator(check_account_name)]


class AccountConfig(Frozen):
    """``accounts.NAME:`` as written, and, in ``Config.accounts``, as it trades.

    ``Config.accounts`` holds the effective account (:func:`effective_accounts`): a mirror's
    algorithms are those of the account it mirrors, ``risk`` is the top-level ``risk:`` tightened
    by the account's own, and :attr:`name` is its key.
    """

    mode: Mode = Field(Mode.PAPER, description="live also needs --live on the command line")
    live_trading_acknowledged: StrictBool = Field(
        False, description="this account's own: must be true, with --live, to trade real money"
    )
    broker: BrokerConfig = Field(
        BrokerConfig(), description="this account's broker, in the shape of broker:"
    )
    algorithms: dict[AlgorithmId, AlgorithmConfig] = Field(
        default_factory=dict, description="what this account follows, in the shape of algorithms:"
    )
    risk: RiskConfig = Field(
        RiskConfig(), description="tightens the top-level risk: for this account (never loosens)"
    )
    mirror_of: AccountName | None = Field(
        None, description="a paper copy of this account: its algorithms and rules"
    )

    _name: str = PrivateAttr("")

    @property
    def name(self) -> str:
        """The account's name (its key under ``accounts:``; ``default`` without the section)."""
        return self._name

    def risk_for(self, algo_id: int) -> RiskConfig:
        """The limits that apply to ``algo_id`` in this account: its own tightened by the
        algorithm's."""
        return self.risk.tightened_by(self.algorithms[algo_id].risk)


#: an account as it trades (``Config.accounts``)
Account = AccountConfig


def account_problems(declared: Mapping[str, AccountConfig]) -> list[Problem]:
    """Every rule of the module docstring that ``declared`` (``accounts:`` as written) breaks."""
    problems: list[Problem] = []
    if not declared:
        message = "no account configured: name at least one (or remove accounts:)"
        problems.append(("no_accounts", message, ("accounts",)))
    for name, account in declared.items():
        here: tuple[str | int, ...] = ("accounts", name)
        if account.mirror_of is None:
            problems.extend(_own_problems(here, account))
        else:
            problems.extend(_mirror_problems(here, name, account, declared))
    return problems


def _own_problems(here: tuple[str | int, ...], account: AccountConfig) -> Iterator[Problem]:
    if account.mode is Mode.LIVE and not account.live_trading_acknowledged:
        message = "mode: live also needs this account's live_trading_acknowledged: true"
        yield ("live_not_acknowledged", message, (*here, "mode"))
    if "algorithms" not in account.model_fields_set:
        message = (
            "required, but missing: the algorithms this account follows (or mirror_of: NAME,"
            " a paper copy of another account)"
        )
        yield ("account_without_algorithms", message, (*here, "algorithms"))


def _mirror_problems(
    here: tuple[str | int, ...],
    name: str,
    account: AccountConfig,
    declared: Mapping[str, AccountConfig],
) -> Iterator[Problem]:
    target_name = account.mirror_of
    assert target_name is not None
    given = account.model_fields_set
    target = declared.get(target_name)
    if target_name == name:
        yield ("mirror_of_itself", "an account cannot mirror itself", (*here, "mirror_of"))
    elif target is None:
        known = ", ".join(n for n in declared if n != name) or "none"
        message = f"no account named {target_name} (accounts: {known})"
        yield ("unknown_mirror", message, (*here, "mirror_of"))
    elif target.mirror_of is not None:
        message = (
            f"{target_name} is itself a mirror (of {target.mirror_of}): a mirror copies an"
            " account that is no mirror"
        )
        yield ("mirror_chain", message, (*here, "mirror_of"))
    for key in ("algorithms", "risk"):
        if key in given:
            message = (
                f"a mirror follows the {key} of the account it mirrors ({target_name}):"
                " remove this key"
            )
            yield ("mirror_own_rules", message, (*here, key))
    if account.mode is Mode.LIVE:
        message = f"a mirror is a paper copy of {target_name}: it never trades live"
        yield ("live_mirror", message, (*here, "mode"))
    if "broker" not in given:
        message = (
            f"required, but missing: a mirror trades its own broker account, never"
            f" {target_name}'s (broker: with its own credentials)"
        )
        yield ("mirror_without_broker", message, (*here, "broker"))
        return
    yield from _mirror_credentials(here, target_name, account.broker, target)


def _mirror_credentials(
    here: tuple[str | int, ...],
    target_name: str,
    broker: BrokerConfig,
    target: AccountConfig | None,
) -> Iterator[Problem]:
    """A mirror's credentials: its own, set, and not its target's (same broker account)."""
    if broker.name != "alpaca":
        return  # the sim broker is in the process: each account has its own, no credentials
    for key in ("key_id", "secret_key"):
        where = (*here, "broker", "alpaca", key)
        mine = getattr(broker.alpaca, key)
        if mine is None:
            message = (
                f"required for a mirror: its own credentials, never the ones {target_name}"
                " or the environment's APCA_API_* would give"
            )
            yield ("mirror_without_credentials", message, where)
            continue
        if target is None or target.broker.name != "alpaca":
            continue
        theirs = getattr(target.broker.alpaca, key)
        if theirs is not None and theirs.get_secret_value() == mine.get_secret_value():
            message = (
                f"the same {key} as {target_name}: a mirror trades its own broker account"
                " (two accounts on one broker account would mix their positions)"
            )
            yield ("mirror_same_credentials", message, where)


def effective_accounts(
    declared: Mapping[str, AccountConfig], base_risk: GlobalRiskConfig
) -> dict[str, AccountConfig]:
    """The accounts as they trade, in the file's order; ``declared`` has no problem
    (:func:`account_problems`)."""
    accounts = {}
    for name, account in declared.items():
        rules = declared[account.mirror_of] if account.mirror_of is not None else account
        accounts[name] = named(
            name,
            account.model_copy(
                update={
                    "algorithms": rules.algorithms,
                    "risk": base_risk.tightened_by(rules.risk),
                }
            ),
        )
    return accounts


def named(name: str, account: AccountConfig) -> AccountConfig:
    """``account`` with its :attr:`~AccountConfig.name` set."""
    account._name = name
    return account


def default_account(
    mode: Mode,
    live_trading_acknowledged: bool,
    broker: BrokerConfig,
    algorithms: dict[int, AlgorithmConfig],
    risk: GlobalRiskConfig,
) -> AccountConfig:
    """Today's top-level keys as the one account :data:`DEFAULT_ACCOUNT`."""
    values: dict[str, Any] = {
        "mode": mode,
        "live_trading_acknowledged": live_trading_acknowledged,
        "broker": broker,
        "algorithms": algorithms,
        "risk": risk.tightened_by(RiskConfig()),  # the limits alone, as a RiskConfig
        "mirror_of": None,
    }
    return named(DEFAULT_ACCOUNT, AccountConfig.model_construct(**values))
