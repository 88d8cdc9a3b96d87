"""How the algorithm's own ledger sizes an open leg: the sizing rules in force for that algorithm
when the leg arrived, at the leg's signal price, in fractional shares (the raw quantity, never
rounded), against a stated equity.

The journal knows the rules: every start (its START row) and every config reload (its CONFIG
row) records each algorithm's strategy and params under the data key :data:`RULES_KEY`, as
:func:`rules_of` writes them (``{"16": {"strategy": "allocation", "params": {"pct": "30",
"max_positions": 3}}}``, Decimals as strings). :func:`strategy_from` rebuilds one with the
config's own strategy code (:mod:`tradebot.config.strategy`), and refuses, with the reason,
rules that are damaged or name code the current config does not: a journal row never imports
a module. :mod:`.rules_in_force` reads the records and says which were in force for each leg;
legs from before any record (journals written by older versions) are sized by the current
config, and the output says so.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from tradebot.config.algorithms_section import AlgorithmConfig
from tradebot.config.model import Config
from tradebot.config.strategy import StrategyNotFound, builtin_names, resolve_strategy
from tradebot.core.account import AccountSnapshot
from tradebot.core.signal import Leg, LegKind, Side
from tradebot.core.sizing import SizingContext, SizingStrategy
from tradebot.journal.records import from_micros
from tradebot.tracking.chain import Sizer
from tradebot.tracking.facts import LegFact

#: the key of a START or CONFIG row's data that holds the rules in force from that row on
RULES_KEY = "rules"
#: the key that holds them per account (account name -> what :data:`RULES_KEY` holds for one)
ACCOUNT_RULES_KEY = "account_rules"
#: a strategy's params longer than this (as JSON text) are not rebuilt: no config has them
_MAX_PARAMS = 10_000


class RulesRefused(ValueError):
    """Recorded rules that cannot size a leg; the message says why."""


def rules_of(config: Config) -> dict[str, dict[str, Any]]:
    """Each algorithm's sizing rules in ``config`` of one account, as JSON-ready data (algorithm
    id as text -> its strategy's name and its validated params, Decimals as strings)."""
    return _rules(config.only_account.algorithms)


def _rules(algorithms: Mapping[int, AlgorithmConfig]) -> dict[str, dict[str, Any]]:
    return {
        str(algo_id): {
            "strategy": algo.strategy,
            "params": algo.sizer.params.model_dump(mode="json"),
        }
        for algo_id, algo in sorted(algorithms.items())
    }


def rules_record(config: Config) -> dict[str, Any]:
    """What a START or CONFIG row records of ``config``'s rules: each account's, by name, under
    :data:`ACCOUNT_RULES_KEY`; with one account, its rules under :data:`RULES_KEY` too (the
    shape journals kept before accounts, which older versions read)."""
    record: dict[str, Any] = {
        ACCOUNT_RULES_KEY: {
            name: _rules(account.algorithms) for name, account in config.accounts.items()
        }
    }
    if len(config.accounts) == 1:
        record[RULES_KEY] = rules_of(config)
    return record


def trusted_strategies(config: Config | None) -> frozenset[str]:
    """The strategy names recorded rules may use: the ``strategies`` package's, and the
    ``package.module:Class`` names the current config itself loads (in any of its accounts)."""
    named = (
        ()
        if config is None
        else (
            a.strategy for account in config.accounts.values() for a in account.algorithms.values()
        )
    )
    return frozenset((*builtin_names(), *named))


def strategy_from(recorded: Any, trusted: Collection[str]) -> SizingStrategy[Any]:
    """One algorithm's recorded rules (a value of :func:`rules_of`), rebuilt with the config's
    own strategy code; raises :class:`RulesRefused` for damaged or hostile rules."""
    if not isinstance(recorded, Mapping):
        raise RulesRefused("its rules are not an object")
    name, params = recorded.get("strategy"), recorded.get("params")
    if not isinstance(name, str) or not isinstance(params, Mapping):
        raise RulesRefused("its rules have no strategy name or no params object")
    if name not in trusted:
        # importing a module a journal row names would run code no config chose
        raise RulesRefused(
            f"strategy {name[:80]!r} is neither built in nor in the current config"
            " (a journal row never imports code)"
        )
    if len(repr(params)) > _MAX_PARAMS:
        raise RulesRefused("its params are too large to be a config's")
    try:
        return resolve_strategy(name).from_params(params)
    except StrategyNotFound as exc:
        raise RulesRefused(str(exc)) from None
    except ValidationError as exc:
        raise RulesRefused(
            f"its params do not fit strategy {name!r}: {exc.errors()[0]['msg']}"
        ) from None
    except Exception as exc:  # a user's strategy validates its params with its own code
        raise RulesRefused(f"strategy {name!r} refused its params: {type(exc).__name__}") from None


def strategy_sizer(strategy: SizingStrategy[Any], algo_id: int, equity: Decimal) -> Sizer:
    """Size open legs by ``strategy`` at ``equity``: a raw, fractional quantity, None for a leg
    it cannot size."""
    account = AccountSnapshot("track", equity, equity, equity)

    def size(leg: LegFact, holdings: Mapping[str, Decimal]) -> Decimal | None:
        at = from_micros(leg.at) if leg.at else datetime.now(UTC)
        side = Side.BUY if leg.buy else Side.SELL
        the_leg = Leg(algo_id, LegKind.OPEN, leg.symbol, side, leg.price, at, leg.weight)
        try:
            sizing = strategy.size(the_leg, SizingContext(account, dict(holdings)))
        except Exception:  # a user's strategy: one leg it cannot size is said, not fatal
            return None
        qty = sizing.qty
        return qty if isinstance(qty, Decimal) and qty.is_finite() and qty >= 0 else None

    return size


def allocation(strategy: SizingStrategy[Any], equity: Decimal) -> Decimal | None:
    """The money the rules give the algorithm, the base of the basis points: ``pct`` of equity
    (``allocation``, ``percent_of_equity``), or the notional of ``fixed_notional``; None for
    rules that state no amount."""
    params = strategy.params
    pct = getattr(params, "pct", None)
    if isinstance(pct, Decimal):
        return equity * pct / 100
    notional = getattr(params, "notional", None)
    if isinstance(notional, Decimal):
        return notional
    return None
