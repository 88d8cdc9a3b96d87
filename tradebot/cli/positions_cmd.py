"""``tradebot positions``: per-algorithm positions from the journal, beside the broker's net;
with several accounts, each account's apart (its own broker beside it)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from tradebot.cli.accounts import account_option, accounts_to_show
from tradebot.cli.journal_common import journal_options, load_config_or_none, open_review, table
from tradebot.exceptions import TradebotError
from tradebot.journal.review import live_exits, position_rows


async def _broker_positions(broker_config: Any, mode: Any) -> Mapping[str, Decimal]:
    from tradebot.broker.factory import make_broker

    async with make_broker(broker_config, mode) as broker:
        return await broker.positions()


def broker_view(
    config_path: Path | None, account: str | None = None
) -> tuple[Mapping[str, Decimal] | None, str]:
    """The broker's net positions, or None and why not (never raises: it is optional).
    ``account``: that account's broker (``config.accounts[account]``); None: the config's one
    broker."""
    try:
        config = load_config_or_none(config_path)
        if config is None:
            return None, "broker not queried: no config (pass --config)"
        from tradebot.broker.factory import broker_kind

        if account is None and len(config.accounts) > 1:
            return None, "broker not queried: the config has several accounts (pass --account)"
        if account is None:
            broker_config, mode = config.broker, config.mode
        elif account in config.accounts:
            chosen = config.accounts[account]
            broker_config, mode = chosen.broker, chosen.mode
        else:
            return None, f"broker not queried: the config has no account {account}"
        name = broker_config.name
        if not broker_kind(name).keeps_positions:
            return None, f"broker not queried: the {name} broker keeps no positions between runs"
        return asyncio.run(_broker_positions(broker_config, mode)), f"broker: {name}"
    except (TradebotError, ImportError, OSError, click.UsageError) as exc:
        return None, f"broker not reachable: {exc}"


@click.command()
@journal_options
@click.option(
    "--broker/--no-broker",
    "ask_broker",
    default=True,
    show_default=True,
    help="Also ask the broker for its net positions (needs --config).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@account_option(
    "Only this account's positions, beside its own broker's. Default: each account of the "
    "journal apart (an ACCOUNT column), never added together."
)
def positions(
    journal_path: Path | None,
    config_path: Path | None,
    ask_broker: bool,
    fmt: str,
    account: str | None,
) -> None:
    """Positions per algorithm (from the journal's fills) and net, beside the broker's view.

    A DRIFT column shows broker minus journal wherever they differ; an EXITS column, the
    take-profit, stop-loss or trailing stop live at the broker for a position (when any is).

    Accounts: each account's positions are its own (two accounts holding one symbol hold two
    positions). --account NAME shows that account's, beside its own broker's (the config's
    accounts.NAME.broker). Without it, a journal of several accounts shows every account
    apart: an ACCOUNT column on every row (a drift names its account), each account beside
    its own broker; a journal of one account, as always.
    """
    with open_review(journal_path, config_path) as store:
        names = accounts_to_show(store, account, config_path)
        books = {n: (store.rebuild_book(account=n), live_exits(store, account=n)) for n in names}
    result: list[dict[str, Any]] = []
    notes: dict[str | None, str] = {}
    queried = False
    exits_shown = False
    for name, (book, exits) in books.items():
        broker, notes[name] = (
            broker_view(config_path, name) if ask_broker else (None, "broker not queried")
        )
        queried |= broker is not None
        exits_shown |= bool(exits)
        mine = position_rows(book, broker, exits)
        result += mine if name is None else [{"account": name, **row} for row in mine]
    named = names != [None]
    if fmt == "json":
        said: str | dict[str | None, str] = notes if named else notes[None]
        click.echo(json.dumps({"positions": result, "broker": said}, indent=1))
        return
    if not result:
        click.echo("no positions")
    else:
        columns = ["account"] if named else []
        columns += ["algo", "symbol", "qty"] + (["broker", "drift"] if queried else [])
        if exits_shown:  # what protects each position (exits live at the broker)
            columns.append("exits")
        click.echo(table(result, columns))
    for name, note in notes.items():
        click.echo(f"({note})" if name is None else f"(account {name}: {note})", err=True)
