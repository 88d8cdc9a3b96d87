"""The dashboard's accounts (issue 22): which account a page shows, and each account's row on
the Now page.

A config of several accounts (``accounts:``) puts a picker on every page: ``?account=NAME``,
carried through the links like the journal's filters. The value is read as hostile
(:func:`picked`): a malformed name is refused with 400 (the rule of
:func:`tradebot.core.ids.check_account`), a name the config does not have with 404; without a
config (``tradebot dashboard --journal``) any well-formed name is taken (the journal then shows
what it holds of it). What each page does with it:

* Now: the account's newest rows and its money, and today's counts of its rows (the signals,
  refused legs and lapses every account shares counted for the algorithms it has rows of, as
  the review counts them); with several accounts, a table of every account (name, mode,
  equity, cash, broker, circuit, kill switch), from what the dashboard knows per account: its
  broker snapshot (:class:`~tradebot.web.snapshot.BrokerSnapshots`, one per account) and, when
  the running bot serves the page, its own checks (:class:`AccountHealth`). With none picked,
  today's counts are every account's rows (each row counted once; the card says so);
* Journal: the account's rows and the rows every account shares (signals, legs, gaps), which
  explain its decisions;
* Positions, Performance: the account's figures alone, read from the journal's summaries kept
  per account (positions beside its own broker's snapshot; latency of its own legs). With
  several accounts and none picked (:func:`shown`), each account apart, never added together:
  Positions one table with an account column (each account beside its own broker), Performance
  a section per account;
* Tracking: ``tradebot track --account``'s figures for the account picked (its rules, its
  fills); with several accounts and none picked the page computes nothing (it would add the
  accounts' fills together) and asks for one (:data:`TRACKING_EVERY_ACCOUNT`).

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

#: the Tracking page's note with several accounts, where it shows no figures
TRACKING_EVERY_ACCOUNT = (
    "Pick an account: tracking compares each algorithm with one account's own fills, by that "
    "account's rules (tradebot track shows every account apart, then side by side), so with "
    "several accounts this page shows one account's at a time, never the accounts added "
    "together."
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


def shown(config: Config | None, in_journal: list[str]) -> list[str | None]:
    """The accounts a page of figures shows, each apart, when none is picked: every account
    the config has and then those only the journal's summaries have (``in_journal``: an
    account since removed from the config keeps its figures), when that makes several; else
    ``[None]``: every row, read as before accounts (a journal of one account)."""
    every = list(dict.fromkeys([*(config.accounts if config is not None else ()), *in_journal]))
    return list(every) if len(every) > 1 else [None]


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
