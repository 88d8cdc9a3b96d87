"""``tradebot track``: am I getting the algorithm's returns? The algorithm's result, the
account's, and the gap between them, decomposed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from tradebot.cli.journal_common import (
    csv_text,
    journal_options,
    load_config_or_none,
    open_review,
    parse_when,
)


def _equity(ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    try:
        equity = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None
    if not equity.is_finite() or equity <= 0:
        raise click.BadParameter("must be a positive amount")
    return equity


@click.command()
@journal_options
@click.option(
    "--algo", "algo_ids", type=int, multiple=True, help="This algorithm (repeatable); default all."
)
@click.option("--since", help="From this time: 2026-11-24, 2026-11-24T14:30, or 12h / 7d ago.")
@click.option("--until", help="Before this time (same forms as --since).")
@click.option(
    "--equity",
    default="100000",
    show_default=True,
    callback=_equity,
    help="The equity the algorithm's own ledger is sized at (allocation rules are a share of it).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True
)
@click.option(
    "--coverage",
    is_flag=True,
    help="The coverage audit instead: per algorithm and day, AlphaHub's history against what the "
    "journal received (live, backfill, late, archived, missed); default period: the last week.",
)
@click.option("--offline", is_flag=True, help="With --coverage: do not read AlphaHub's history.")
def track(
    journal_path: Path | None,
    config_path: Path | None,
    algo_ids: tuple[int, ...],
    since: str | None,
    until: str | None,
    equity: Decimal,
    fmt: str,
    coverage: bool,
    offline: bool,
) -> None:
    """Per algorithm: the algorithm's result, the account's, and the gap, in parts that add up
    to it exactly, to the cent (money, and basis points of the allocation).

    \b
    algorithm's result  every leg the journal holds for the algorithm (received live or by
                        backfill), traded at its signal price, open legs sized by the config's
                        rules in fractional shares, nothing skipped, nothing missed; open
                        positions marked at the latest reference or fill price in the journal
    account's result    the algorithm's own fills: realised P&L (average cost, as `tradebot
                        report`) plus its open positions at the same marks
    gap                 algorithm's result - account's result, in these parts:
      missed            legs never received in time (backfill: missed_stale, ambiguous)
      skipped:REASON    legs the bot skipped, by reason, each at what it would have made
      sizing            the orders' quantities against the ideal's: whole-share rounding, and
                        sizing at the broker's reference price and the real equity
      execution:STYLE   fills against the signal's price: market, limit, chased_remainder
                        (a limit_then_market's market remainder)
      exits             stops and take-profits against the algorithm's own closes
      unattributed      the algorithm's fills whose leg the journal does not hold
      fees              fees the journal records (0: Alpaca equities are commission-free)

    Each part is the P&L difference of one step in a chain of ledgers from the algorithm's to
    the account's; the chain's last ledger is checked against the review's own computation.
    A symbol with no mark is named and not valued, never guessed. AlphaHub's history is not
    read: the journal's legs only (the output says so).
    """
    if coverage:
        from tradebot.cli.track_coverage import show_coverage

        show_coverage(
            journal_path,
            config_path,
            since=since,
            until=until,
            algos=algo_ids,
            fmt=fmt,
            offline=offline,
        )
        return
    if offline:
        raise click.UsageError("--offline goes with --coverage (tracking reads no history)")
    from tradebot.tracking.render import CSV_COLUMNS, as_dict, csv_rows, text
    from tradebot.tracking.track import track as track_all

    now = datetime.now(UTC)
    start = parse_when(since, now) if since else None
    end = parse_when(until, now) if until else None
    config = load_config_or_none(config_path)
    with open_review(journal_path, config_path) as store:
        tracked = track_all(
            store, config, algo_ids=list(algo_ids) or None, since=start, until=end, equity=equity
        )
    if fmt == "json":
        click.echo(json.dumps([as_dict(t) for t in tracked], indent=1))
    elif fmt == "csv":
        click.echo(csv_text(csv_rows(tracked), CSV_COLUMNS, header=True), nl=False)
    else:
        click.echo(text(tracked))
    if not all(t.reconciled for t in tracked):
        raise click.ClickException("the chain's account result differs from the review's")
