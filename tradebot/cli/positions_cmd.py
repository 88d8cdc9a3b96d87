"""``tradebot positions``: per-algorithm positions from the journal, beside the broker's net."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from tradebot.cli.journal_common import journal_options, load_config_or_none, open_review, table
from tradebot.exceptions import TradebotError
from tradebot.journal.review import live_exits, position_rows


async def _broker_positions(config: Any) -> Mapping[str, Decimal]:
    from tradebot.broker.factory import make_broker

    async with make_broker(config.broker, config.mode) as broker:
        return await broker.positions()


def broker_view(config_path: Path | None) -> tuple[Mapping[str, Decimal] | None, str]:
    """The broker's net positions, or None and why not (never raises: it is optional)."""
    try:
        config = load_config_or_none(config_path)
        if config is None:
            return None, "broker not queried: no config (pass --config)"
        from tradebot.broker.factory import broker_kind

        name = config.broker.name
        if not broker_kind(name).keeps_positions:
            return None, f"broker not queried: the {name} broker keeps no positions between runs"
        return asyncio.run(_broker_positions(config)), f"broker: {config.broker.name}"
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
def positions(
    journal_path: Path | None, config_path: Path | None, ask_broker: bool, fmt: str
) -> None:
    """Positions per algorithm (from the journal's fills) and net, beside the broker's view.

    A DRIFT column shows broker minus journal wherever they differ; an EXITS column, the
    take-profit, stop-loss or trailing stop live at the broker for a position (when any is).
    """
    with open_review(journal_path, config_path) as store:
        book = store.rebuild_book()
        exits = live_exits(store)
    broker, note = broker_view(config_path) if ask_broker else (None, "broker not queried")
    result = position_rows(book, broker, exits)
    if fmt == "json":
        click.echo(json.dumps({"positions": result, "broker": note}, indent=1))
        return
    if not result:
        click.echo("no positions")
    else:
        columns = ["algo", "symbol", "qty"] + (["broker", "drift"] if broker is not None else [])
        if exits:  # what protects each position (exits live at the broker)
            columns.append("exits")
        click.echo(table(result, columns))
    click.echo(f"({note})", err=True)
