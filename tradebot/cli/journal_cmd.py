"""``tradebot journal``: read the order journal, newest first; filter, export, or follow it live."""

from __future__ import annotations

import csv
import io
import json
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from tradebot.cli.journal_common import csv_text, journal_options, open_review, parse_when, table
from tradebot.cli.journal_migrate import migrate_command
from tradebot.cli.journal_verify import verify_command
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Entry, Status

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
CSV_COLUMNS = (
    "id",
    "at",
    "status",
    "algo_id",
    "symbol",
    "client_order_id",
    "signal_id",
    "leg",
    "side",
    "qty",
    "price",
    "detail",
    "data",
)
TABLE_LIMIT = 100
_WIDTHS = {"detail": 60, "client_order_id": 44}


def _flat(entry: Entry) -> dict[str, Any]:
    row = entry.as_dict()
    row["data"] = json.dumps(row["data"], sort_keys=True, separators=(",", ":"))
    return row


def _emit(entries: list[Entry], fmt: str, *, header: bool, stream: bool) -> None:
    if fmt == "json":
        if stream:  # one object per line while following (JSON Lines)
            for e in entries:
                click.echo(json.dumps(e.as_dict(), sort_keys=True))
        else:
            click.echo(json.dumps([e.as_dict() for e in entries], indent=1, sort_keys=True))
    elif fmt == "csv":
        text = csv_text([_flat(e) for e in entries], CSV_COLUMNS, header=header)
        if text:
            click.echo(text, nl=False)
    elif entries or header:
        rows = [{**e.as_dict(), "at": e.as_dict()["at"][:19] + "Z"} for e in entries]
        text = table(rows, TABLE_COLUMNS, widths=_WIDTHS)
        click.echo(text if header else "\n".join(text.splitlines()[1:]))


class _Sink:
    """Text written to stdout through a buffer, ``chunk`` rows at a time (fewer, larger
    writes), with a running count on stderr when a person is watching it."""

    def __init__(self, chunk: int = 1000) -> None:
        self.buffer = io.StringIO()
        self._out: TextIO = sys.stdout
        self._chunk = chunk
        self._rows = 0
        self._progress = sys.stderr.isatty() and not sys.stdout.isatty()

    def row_done(self) -> None:
        self._rows += 1
        if self._rows % self._chunk == 0:
            self.flush()
            if self._progress:
                print(f"\rexported {self._rows:,} rows", end="", file=sys.stderr, flush=True)

    def flush(self) -> None:
        self._out.write(self.buffer.getvalue())
        self.buffer.seek(0)
        self.buffer.truncate()

    def close(self) -> None:
        self.flush()
        self._out.flush()
        if self._progress:
            print(f"\rexported {self._rows:,} rows", file=sys.stderr, flush=True)


def _export(entries: Iterator[Entry], fmt: str) -> None:
    """CSV or a JSON array, written as rows arrive: flat memory for any size of journal."""
    sink = _Sink()
    if fmt == "csv":
        writer = csv.writer(sink.buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for entry in entries:
            flat = _flat(entry)
            writer.writerow(["" if flat[c] is None else flat[c] for c in CSV_COLUMNS])
            sink.row_done()
    else:  # the same text as json.dumps(list, indent=1): each object one space further in
        sink.buffer.write("[")
        separator = "\n"
        for entry in entries:
            text = json.dumps(entry.as_dict(), indent=1, sort_keys=True)
            sink.buffer.write(separator + textwrap.indent(text, " "))
            separator = ",\n"
            sink.row_done()
        sink.buffer.write("\n]\n" if separator != "\n" else "]\n")
    sink.close()


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
        since=parse_when(since, now) if since else None,
        until=parse_when(until, now) if until else None,
    )
    if limit is None:
        limit = TABLE_LIMIT if fmt == "table" else 0
    with open_review(journal_path, config_path) as store:
        if not follow and fmt != "table":
            _export(store.iter_entries(replace(where, limit=limit or None)), fmt)
            return
        if not follow:
            entries = list(store.entries(replace(where, limit=limit or None)))
            _emit(entries, fmt, header=True, stream=False)
            if limit and len(entries) == limit:
                click.echo(f"(newest {limit} rows shown; --limit 0 for all)", err=True)
            return
        last = store.last_id()
        recent = [e for e in store.entries(replace(where, limit=limit or None)) if e.id <= last]
        _emit(recent[::-1], fmt, header=True, stream=True)
        try:
            while True:
                time.sleep(interval)
                new = list(store.entries(replace(where, after_id=last)))
                if new:
                    _emit(new, fmt, header=False, stream=True)
                    last = new[-1].id
        except KeyboardInterrupt:
            return  # Ctrl-C ends --follow; it is not an error


journal.add_command(migrate_command)
journal.add_command(verify_command)
