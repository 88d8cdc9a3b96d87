"""``--account NAME`` for the commands that show or act on one account (issue 22).

One rule for the name (:func:`tradebot.core.ids.check_account`: a malformed name is a usage
error, exit 2), and one for whether it exists (:func:`require_known`): an account the config
names or the journal has rows of; anything else is refused with the names there are, so a typo
never shows an empty report or halts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tradebot.core.ids import DEFAULT_ACCOUNT, check_account
from tradebot.exceptions import TradebotError

if TYPE_CHECKING:
    from tradebot.journal.interface import Journal

F = TypeVar("F", bound=Callable[..., Any])


def _checked(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_account(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def account_option(help_text: str) -> Callable[[F], F]:
    """``--account NAME``, checked by the account name rule (None when not given)."""
    return click.option("--account", metavar="NAME", callback=_checked, help=help_text)


def config_accounts(config: Any) -> list[str]:
    """The accounts a loaded config has (``default`` for today's single broker)."""
    return list(config.accounts) if config is not None else []


def require_known(
    name: str | None, *, config: Iterable[str] = (), journal: Iterable[str] = ()
) -> str | None:
    """``name`` when the config or the journal knows it (or None when not given); else a usage
    error naming the accounts the config and the journal have."""
    in_config, in_journal = sorted(set(config)), sorted(set(journal))
    if name is None or name in in_config or name in in_journal:
        return name
    where = [
        f"the {what} has {', '.join(names)}"
        for what, names in (("config", in_config), ("journal", in_journal))
        if names
    ]
    known = "; ".join(where) if where else f"nothing names an account (but {DEFAULT_ACCOUNT})"
    if not where and name == DEFAULT_ACCOUNT:
        return name
    raise click.UsageError(f"unknown account {name!r}: {known}")


def several(names: Iterable[str]) -> bool:
    """Whether outputs must name the account: some account other than ``default`` exists."""
    return any(n != DEFAULT_ACCOUNT for n in names)


def _config_names(config_path: Path | None) -> list[str]:
    """The accounts of the config a review command may have (none without one, or when it
    does not load: the journal's accounts still name the valid choices)."""
    from tradebot.cli.journal_common import load_config_or_none

    try:
        return config_accounts(load_config_or_none(config_path))
    except (TradebotError, click.UsageError):
        return []


def accounts_to_show(
    store: Journal, account: str | None, config_path: Path | None
) -> list[str | None]:
    """The accounts a review command shows, each apart: ``[account]`` when one was asked for
    (one the config or the journal knows, else a usage error naming those there are); else
    every account of a journal of several (:func:`several`), or ``[None]`` for a journal of one
    (read as before accounts: every row)."""
    in_journal = store.summary_accounts()
    if account is not None:
        require_known(account, config=_config_names(config_path), journal=in_journal)
        return [account]
    return list(in_journal) if several(in_journal) else [None]
