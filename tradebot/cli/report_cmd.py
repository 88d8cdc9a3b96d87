"""``tradebot report``: per algorithm, realised P&L, counts, and slippage; and per algorithm and
execution style, fill rate, time to fill and slippage against the signal's price."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import click

from tradebot.cli.accounts import account_option, accounts_to_show
from tradebot.cli.journal_common import csv_text, journal_options, open_review, parse_when, table
from tradebot.journal.counts import with_extras
from tradebot.journal.execution_review import ExecutionReport
from tradebot.journal.interface import Journal
from tradebot.journal.latency import LatencyReport, latency_report
from tradebot.journal.review import review, review_rows

COLUMNS = (
    "algo_id",
    "signals",
    "orders",
    "fills",
    "skips",
    "rejections",
    "refused_legs",
    "failed",
    "lapses",
    "realised_pnl",
    "slippage",
    "slippage_bps",
)
#: the execution table's columns (CSV and JSON also carry the planned and filled quantities)
EXECUTION_COLUMNS = (
    "algo_id",
    "style",
    "legs",
    "filled",
    "partial",
    "unfilled",
    "working",
    "fill_rate_pct",
    "median_fill_s",
    "p90_fill_s",
    "slippage_bps",
)
#: the latency table's columns (one row per algorithm and interval)
LATENCY_COLUMNS = ("algo_id", "interval", "n", "p50_s", "p90_s", "p99_s")
EXECUTION_CSV = (
    *EXECUTION_COLUMNS[:7],
    "planned_qty",
    "filled_qty",
    *EXECUTION_COLUMNS[7:],
    "unmeasured_legs",
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
@click.option(
    "--execution",
    is_flag=True,
    help="Only the execution table (per algorithm and style), in any --format.",
)
@click.option(
    "--latency",
    is_flag=True,
    help="Only the latency table (per algorithm: signal to order, order to first and last "
    "fill; p50, p90, p99), in any --format.",
)
@click.option(
    "--from-rows",
    is_flag=True,
    help="Compute from every row instead of the journal's summaries (slow on a big journal; "
    "counts rows edited in by hand, which the summaries never saw).",
)
@account_option(
    "Only this account's figures (its orders, fills and skips; the signals every account "
    "shares). Default: each account of the journal apart, never added together."
)
def report(
    journal_path: Path | None,
    config_path: Path | None,
    since: str | None,
    until: str | None,
    fmt: str,
    execution: bool,
    latency: bool,
    from_rows: bool,
    account: str | None,
) -> None:
    """Per algorithm: realised P&L from fills (average cost), counts of signals, orders, fills,
    skips, rejections (by the broker), refused legs (malformed, never orders), failures and
    lapses (docs/operations.md, "What each count means"), and slippage of fills against the
    price each order was sized at (positive = worse for us; in money and basis points).

    Then per algorithm and execution style (market, limit, limit_then_market, exits): legs
    sent, how they ended, fill rate, time to fill (intent to the completing fill; median and
    90th percentile) and slippage against the signal's price in basis points.

    Then per algorithm the latency: signal received to order sent, order sent to first fill
    and to last fill; p50, p90, p99 by nearest rank (docs/operations.md, "Latency"). The table
    shows all three; --format csv/json give the first, with --execution the second, with
    --latency the third.

    The whole journal is read from the summaries the journal keeps as it writes (fast at any
    size; `tradebot journal verify` checks them); --since/--until, or --from-rows, compute
    from the rows.

    Accounts: --account NAME shows that account's figures (the signals, refused legs and
    lapses every account shares are counted for each), in the shapes above. Without it, a
    journal of several accounts shows each account apart, never added together: the table a
    section per account, CSV an ACCOUNT column first, JSON an object keyed by account; a
    journal of one account, as always.
    """
    now = datetime.now(UTC)
    start = parse_when(since, now) if since else None
    end = parse_when(until, now) if until else None
    found: dict[str | None, Figures] = {}
    with open_review(journal_path, config_path) as store:
        for name in accounts_to_show(store, account, config_path):
            found[name] = _figures(store, name, start, end, from_rows=from_rows)
    if len(found) == 1:  # one account's: as before accounts, a table headed by its name
        ((name, figures),) = found.items()
        if name is not None and fmt == "table":
            click.echo(f"== account {name} ==")
        _print(figures, fmt, execution=execution, latency=latency)
    elif fmt == "table":
        for name, figures in found.items():
            click.echo(f"== account {name} ==")
            _print(figures, fmt, execution=execution, latency=latency)
            click.echo()
    elif fmt == "json":
        shown = {name: _document(f, execution, latency) for name, f in found.items()}
        click.echo(json.dumps(shown, indent=1))
        if not (execution or latency):  # the damaged rows are the whole journal's: said once
            _print_skipped(next(iter(found.values()))[1], err=True)
    else:
        _print_csv(found, execution=execution, latency=latency)


#: one account's report: the rows per algorithm, the execution report, the latency
Figures = tuple[list[dict[str, object]], ExecutionReport, LatencyReport]


def _figures(
    store: Journal,
    account: str | None,
    start: datetime | None,
    end: datetime | None,
    *,
    from_rows: bool,
) -> Figures:
    """``account``'s figures (None: every account's, a journal of one account)."""
    if from_rows:
        result, styles = review_rows(store, since=start, until=end, account=account)
    else:
        result, styles = review(store, since=start, until=end, account=account)
    # the counts the summaries do not keep (docs/operations.md, "What each count means")
    figures = with_extras([r.as_dict() for r in result], store, since=start, until=end)
    delays = latency_report(store, since=start, until=end, account=account)
    return figures, styles, delays


def _document(found: Figures, execution: bool, latency: bool) -> object:
    """What --format json prints of one account."""
    figures, styles, delays = found
    if latency:
        return delays.as_dict()
    if execution:
        return styles.as_dict()
    return figures


def _print_csv(found: dict[str | None, Figures], *, execution: bool, latency: bool) -> None:
    """Several accounts' CSV: today's columns after an ACCOUNT column."""
    rows: list[dict[str, object]] = []
    for name, (figures, styles, delays) in found.items():
        if latency:
            mine: list[dict[str, object]] = [dict(r) for r in delays.table()]
        elif execution:
            mine = [dict(r.as_dict()) for r in styles.rows]
        else:
            mine = list(figures)
        rows += [{"account": name, **r} for r in mine]
    columns = LATENCY_COLUMNS if latency else EXECUTION_CSV if execution else COLUMNS
    click.echo(csv_text(rows, ("account", *columns), header=True), nl=False)
    if not latency:
        _print_skipped(next(iter(found.values()))[1], err=True)


def _print(found: Figures, fmt: str, *, execution: bool, latency: bool) -> None:
    """One account's report (or every account's, a journal of one), as before accounts."""
    figures, styles, delays = found
    if latency:
        _print_latency(delays, fmt)
    elif execution and fmt != "table":
        _print_execution(styles, fmt)
    elif fmt in ("json", "csv"):
        out = (
            json.dumps(figures, indent=1)
            if fmt == "json"
            else csv_text(figures, COLUMNS, header=True)
        )
        click.echo(out, nl=fmt == "json")
        _print_skipped(styles, err=True)
    else:
        if not execution:
            click.echo(
                table(figures, COLUMNS) if figures else "nothing in the journal for that period"
            )
            click.echo()
        _print_execution(styles, fmt)
        if not execution:
            click.echo()
            _print_latency(delays, fmt)


def _print_latency(delays: LatencyReport, fmt: str) -> None:
    rows = delays.table()
    if fmt == "json":
        click.echo(json.dumps(delays.as_dict(), indent=1))
    elif fmt == "csv":
        click.echo(csv_text(rows, LATENCY_COLUMNS, header=True), nl=False)
    elif rows:
        click.echo("latency, per algorithm (legs sent in the period; entries and closes):")
        click.echo(table(rows, LATENCY_COLUMNS))
        click.echo(
            "signal_to_order: the signal's receipt to the order's intent (sent); "
            "order_to_first_fill / order_to_last_fill:\nfrom it to the leg's first fill / "
            "last fill (once filled or ended); nearest-rank percentiles in seconds"
        )
    else:
        click.echo("no orders in the journal for that period")


def _dashes(row: Mapping[str, object]) -> dict[str, object]:
    return {k: "-" if v is None else v for k, v in row.items()}


def _print_execution(styles: ExecutionReport, fmt: str) -> None:
    rows = [r.as_dict() for r in styles.rows]
    if fmt == "json":
        click.echo(json.dumps(styles.as_dict(), indent=1))
        return
    if fmt == "csv":
        click.echo(csv_text(rows, EXECUTION_CSV, header=True), nl=False)
    elif rows:
        click.echo("execution, per algorithm and style (legs decided in the period):")
        click.echo(table([_dashes(r) for r in rows], EXECUTION_COLUMNS))
        click.echo(
            "fill rate: filled / planned quantity; time to fill: seconds from the order's intent "
            "to its completing fill;\nslippage: against the signal's price (exits: their own "
            "stop or limit price), positive = worse for us"
        )
    else:
        click.echo("no orders in the journal for that period")
    _print_skipped(styles, err=fmt == "csv")


def _print_skipped(styles: ExecutionReport, *, err: bool) -> None:
    """Damaged journal rows left out of the figures, by reason: said, never silently dropped
    (stderr when stdout is data: CSV, or JSON without a place for it)."""
    for reason, n in sorted(styles.skipped.items()):
        click.echo(f"skipped {n} journal row(s): {reason}", err=err)
