"""``tradebot report``: per algorithm, realised P&L, counts, and slippage against the signal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from tradebot.cli.journal_common import csv_text, journal_options, open_review, parse_when, table
from tradebot.journal.review import report as build_report

COLUMNS = (
    "algo_id",
    "signals",
    "orders",
    "fills",
    "skips",
    "rejections",
    "failed",
    "realised_pnl",
    "slippage",
    "slippage_bps",
)


@click.command()
@journal_options
@click.option("--since", help="From this time: 2026-11-24, 2026-11-24T14:30, or 12h / 7d ago.")
@click.option("--until", help="Before this time (same forms as --since).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def report(
    journal_path: Path | None,
    config_path: Path | None,
    since: str | None,
    until: str | None,
    fmt: str,
) -> None:
    """Per algorithm: realised P&L from fills (average cost), counts of signals, orders, fills,
    skips, rejections and failures, and slippage of fills against the signal price (positive =
    worse than the signal; in money and basis points of the signal-price notional).
    """
    now = datetime.now(UTC)
    start = parse_when(since, now) if since else None
    end = parse_when(until, now) if until else None
    with open_review(journal_path, config_path) as store:
        result = [r.as_dict() for r in build_report(store, since=start, until=end)]
    if fmt == "json":
        click.echo(json.dumps(result, indent=1))
    elif fmt == "csv":
        click.echo(csv_text(result, COLUMNS, header=True), nl=False)
    elif result:
        click.echo(table(result, COLUMNS))
    else:
        click.echo("nothing in the journal for that period")
