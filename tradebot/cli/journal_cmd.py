"""``tradebot journal``: read the order journal, newest first; filter, export, or follow it live."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click

from tradebot.cli.accounts import account_option
from tradebot.cli.journal_archive import archive_command
from tradebot.cli.journal_common import csv_text, journal_options, open_review, parse_when, table
from tradebot.cli.journal_export import CSV_COLUMNS, export, flat
from tradebot.cli.journal_migrate import migrate_command
from tradebot.cli.journal_verify import verify_command
from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import SHARED_ACCOUNT, Entry, Status

TABLE_COLUMNS = (
    "id",
    "at",
    "status",
    "algo_id",
    "symbol",
    "side",
    "qty",
    "price",
    "client_order_id",
    "detail",
)
TABLE_LIMIT = 100
_WIDTHS = {"detail": 60, "client_order_id": 44}
#: the accounts of a journal that never had a second one: its table has no account column
_ONE_ACCOUNT = frozenset({DEFAULT_ACCOUNT, SHARED_ACCOUNT})


def table_columns(entries: list[Entry], *, account_given: bool) -> tuple[str, ...]:
    """The table's columns: with ``account`` after ``status`` when some row belongs to an
    account other than ``default`` (or one was asked for), so a journal of one account reads
    as it always did. JSON and CSV always carry it."""
    if account_given or any(e.account not in _ONE_ACCOUNT for e in entries):
        at = TABLE_COLUMNS.index("status") + 1
        return (*TABLE_COLUMNS[:at], "account", *TABLE_COLUMNS[at:])
    return TABLE_COLUMNS


def _emit(
    entries: list[Entry],
    fmt: str,
    *,
    header: bool,
    stream: bool,
    columns: tuple[str, ...] = TABLE_COLUMNS,
) -> None:
    if fmt == "json":
        if stream:  # one object per line while following (JSON Lines)
            for e in entries:
                click.echo(json.dumps(e.as_dict(), sort_keys=True))
        else:
            click.echo(json.dumps([e.as_dict() for e in entries], indent=1, sort_keys=True))
    elif fmt == "csv":
        text = csv_text([flat(e) for e in entries], CSV_COLUMNS, header=header)
        if text:
            click.echo(text, nl=False)
    elif entries or header:
        rows = [{**e.as_dict(), "at": e.as_dict()["at"][:19] + "Z"} for e in entries]
        text = table(rows, columns, widths=_WIDTHS)
        click.echo(text if header else "\n".join(text.splitlines()[1:]))


@click.group(invoke_without_command=True)
@click.pass_context
@journal_options
@click.option("--algo", "algos", type=int, multiple=True, help="Only this algorithm (repeatable).")
@click.option("--symbol", "symbols", multiple=True, help="Only this symbol (repeatable).")
@click.option(
    "--since", help="From this time: 2026-11-24, 2026-11-24T14:30, or 90m / 12h / 7d ago."
)
@click.option("--until", help="Before this time (same forms as --since).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([str(s) for s in Status]),
    help="Only rows of this kind (repeatable): signal, intent, filled, rejected, skipped, ...",
)
@click.option("--client-order-id", "coids", multiple=True, help="Only this order (repeatable).")
@account_option("Only this account's rows, and the rows every account shares (signals, legs, ...).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--limit", type=int, help=f"At most N rows (table default {TABLE_LIMIT}; 0 = all).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new rows as they are written.")
@click.option(
    "--interval",
    type=float,
    default=0.5,
    show_default=True,
    help="Seconds between polls with --follow.",
)
def journal(
    ctx: click.Context,
    journal_path: Path | None,
    config_path: Path | None,
    algos: tuple[int, ...],
    symbols: tuple[str, ...],
    since: str | None,
    until: str | None,
    statuses: tuple[str, ...],
    coids: tuple[str, ...],
    account: str | None,
    fmt: str,
    limit: int | None,
    follow: bool,
    interval: float,
) -> None:
    """Show the journal, newest first (with --follow: oldest first, then live).

    \b
    Examples:
      tradebot journal --algo 16 --since 1d
      tradebot journal --status rejected --status skipped --format csv > problems.csv
      tradebot journal --symbol AAPL --format json
      tradebot journal --account family --status intent
      tradebot journal --follow
      tradebot journal migrate --to postgresql://tradebot:${PGPASSWORD}@db/tradebot
    """
    if ctx.invoked_subcommand is not None:
        # `tradebot journal migrate ...`: the review options belong to the listing
        given = [
            p.name
            for p in ctx.command.params
            if ctx.get_parameter_source(p.name or "") is click.core.ParameterSource.COMMANDLINE
        ]
        if given:
            raise click.UsageError(
                f"options before '{ctx.invoked_subcommand}' belong to the listing; put them "
                f"after it (tradebot journal {ctx.invoked_subcommand} --help)"
            )
        return
    now = datetime.now(UTC)
    where = EntryFilter(
        algo_ids=algos,
        symbols=tuple(s.strip().upper() for s in symbols),
        statuses=tuple(Status(s) for s in statuses),
        client_order_ids=coids,
        accounts=() if account is None else (account, SHARED_ACCOUNT),
        since=parse_when(since, now) if since else None,
        until=parse_when(until, now) if until else None,
    )
    if limit is None:
        limit = TABLE_LIMIT if fmt == "table" else 0
    with open_review(journal_path, config_path) as store:
        if not follow and fmt != "table":
            export(store, replace(where, limit=limit or None), fmt)
            return
        if not follow:
            entries = list(store.entries(replace(where, limit=limit or None)))
            columns = table_columns(entries, account_given=account is not None)
            _emit(entries, fmt, header=True, stream=False, columns=columns)
            if limit and len(entries) == limit:
                click.echo(f"(newest {limit} rows shown; --limit 0 for all)", err=True)
            return
        last = store.last_id()
        recent = [e for e in store.entries(replace(where, limit=limit or None)) if e.id <= last]
        columns = table_columns(recent, account_given=account is not None)
        _emit(recent[::-1], fmt, header=True, stream=True, columns=columns)
        try:
            while True:
                time.sleep(interval)
                new = list(store.entries(replace(where, after_id=last)))
                if new:
                    _emit(new, fmt, header=False, stream=True, columns=columns)
                    last = new[-1].id
        except KeyboardInterrupt:
            return  # Ctrl-C ends --follow; it is not an error


journal.add_command(migrate_command)
journal.add_command(verify_command)
journal.add_command(archive_command)
