"""``tradebot journal verify``: recompute the journal's summaries from its rows and compare."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tradebot.cli.journal_common import journal_options, open_review


@click.command("verify")
@journal_options
@click.option(
    "--show",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Disagreements named per table.",
)
def verify_command(journal_path: Path | None, config_path: Path | None, show: int) -> None:
    """Recompute every summary from the journal's rows and say whether they agree.

    The report, and the dashboard's Performance and Positions pages, read summaries the
    journal keeps as it writes (per algorithm, day and symbol; per algorithm and symbol; per
    order and per execution style). This reads every row again, oldest first, folds it by the
    same rule, in flat memory, and compares table by table, naming the first disagreements.
    Safe while the bot runs (read-only, one consistent snapshot).

    Exit status: 0 when every table agrees, 1 when one does not (rows edited or added by
    hand, a bug: say so in an issue; the rows are the record, the summaries only a view).
    """
    with open_review(journal_path, config_path) as store:
        verdict = store.verify_summaries(limit=show)
    click.echo(f"{verdict.journal_rows} journal rows read")
    for check in verdict.tables:
        state = "agrees" if check.agrees else f"DISAGREES ({check.disagreements})"
        click.echo(f"{check.name:<13} {check.rows:>9} rows  {state}")
        for text in check.first:
            click.echo(f"  {text}")
    click.echo("summaries agree with the rows" if verdict.agrees else "summaries DISAGREE")
    sys.exit(0 if verdict.agrees else 1)
