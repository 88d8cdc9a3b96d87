"""The dashboard's accounts (issue 22): which account a page shows, and each account's row on
the Now page.

A config of several accounts (``accounts:``) puts a picker on every page: ``?account=NAME``,
carried through the links like the journal's filters. The value is read as hostile
(:func:`picked`): a malformed name is refused with 400 (the rule of
:func:`tradebot.core.ids.check_account`), a name the config does not have with 404; without a
config (``tradebot dashboard --journal``) any well-formed name is taken (the journal then shows
what it holds of it). What each page does with it:

* Now: the account's newest rows and its money; with several accounts, a table of every
  account (name, mode, equity, cash, broker, circuit, kill switch), from what the dashboard
  knows per account: its broker snapshot (:class:`~tradebot.web.snapshot.BrokerSnapshots`,
  one per account) and, when the running bot serves the page, its own checks
  (:class:`AccountHealth`). Today's counts are every account's (the counts read has no
  account yet, and the page says so);
* Journal: the account's rows and the rows every account shares (signals, legs, gaps), which
  explain its decisions;
* Positions, Performance, Tracking: the journal's summaries are every account's; the page says
  so when an account is picked.

With one account nothing of this shows: no picker, no table, every page as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams

from tradebot.core.ids import DEFAULT_ACCOUNT, check_account
from tradebot.journal.review import money_text
from tradebot.web.query import BadQuery, text
from tradebot.web.snapshot import BrokerSnapshots, BrokerState, OwnBroker

if TYPE_CHECKING:
    from tradebot.config.model import Config

#: what a page says when an account is picked and its figures are every account's
EVERY_ACCOUNT = (
    "every account's figures: the journal's summaries are not kept per account yet, so "
    "this page cannot show one account's alone"
)


class UnknownAccount(BadQuery):
    """``?account=`` names an account the config does not have (404)."""


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """What the running bot knows of one account's broker now: whether it answers (the
    ``/healthz`` broker check) and whether its circuit breaker is open; None: not known."""

    reachable: bool | None = None
    circuit_open: bool | None = None
    problem: str | None = None


def names(config: Config | None) -> list[str]:
    """The config's accounts, in its order (``default`` without a config)."""
    return [DEFAULT_ACCOUNT] if config is None else list(config.accounts)


def several(config: Config | None) -> bool:
    return config is not None and len(config.accounts) > 1


def picked(query: QueryParams, config: Config | None) -> str | None:
    """The account ``?account=`` names (None: none picked, every account); BadQuery (400)
    for a malformed name, UnknownAccount (404) for one the config lacks."""
    given = text(query.get("account", ""), "account")
    if not given:
        return None
    try:
        name = check_account(given)
    except ValueError as exc:
        raise BadQuery(f"account: {exc}") from None
    if config is not None and name not in config.accounts:
        known = ", ".join(config.accounts)
        raise UnknownAccount(f"account: no account {name!r} in the config (it has: {known})")
    return name


def account_query(account: str | None) -> str:
    """``account=NAME`` for a link's query ("" when none is picked)."""
    return "" if account is None else f"account={account}"


def account_rows(
    config: Config | None,
    states: Mapping[str, BrokerState],
    health: Mapping[str, AccountHealth],
    switch: str,
) -> list[dict[str, Any]]:
    """One row per account for the Now page: its name and mode, equity and cash as its broker
    last answered (with the age), whether the broker answers, its circuit, the kill switch."""
    rows = []
    for name in names(config):
        state = states.get(name)
        known = health.get(name, AccountHealth())
        snapshot = None if state is None else state.account
        mode = "paper" if config is None else str(config.accounts[name].mode)
        reachable = known.reachable
        if reachable is None and state is not None and (state.as_of or state.error):
            reachable = state.error is None and not state.hanging  # as the snapshot found it
        rows.append(
            {
                "name": name,
                "mode": mode,
                "equity": None if snapshot is None else money_text(snapshot.equity),
                "cash": None if snapshot is None else money_text(snapshot.cash),
                "currency": None if snapshot is None else snapshot.currency,
                "note": "broker not queried" if state is None else state.note,
                "reachable": reachable,
                "problem": known.problem or (None if state is None else state.error),
                "circuit_open": known.circuit_open,
                "kill_switch": switch,
            }
        )
    return rows


def own_snapshots(config: Config) -> tuple[dict[str, BrokerSnapshots], list[OwnBroker], str]:
    """``tradebot dashboard``'s snapshots: one connection of its own per account whose broker
    keeps positions between runs (the sim keeps none: not asked); and why some are not."""
    from tradebot.broker.factory import broker_kind

    snapshots: dict[str, BrokerSnapshots] = {}
    owned: list[OwnBroker] = []
    skipped: list[str] = []
    for name, account in config.accounts.items():
        broker = account.broker.name
        if not broker_kind(broker).keeps_positions:
            skipped.append(name)
            continue
        own = OwnBroker(account.broker, account.mode)
        owned.append(own)
        snapshots[name] = BrokerSnapshots(own, broker)
    why = ""
    if skipped:
        kinds = sorted({config.accounts[n].broker.name for n in skipped})
        why = f"broker not queried: the {', '.join(kinds)} broker keeps no positions between runs"
    return snapshots, owned, why
