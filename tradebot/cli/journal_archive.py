"""``tradebot journal archive --before DATE``: move old rows to an archive file beside the
journal (see :mod:`tradebot.journal.archive`)."""

from __future__ import annotations

from pathlib import Path

import click

from tradebot.cli.journal_common import journal_options, resolve_journal
from tradebot.clock import utcnow
from tradebot.exceptions import JournalError
from tradebot.journal.opener import is_url


@click.command("archive")
@journal_options
@click.option(
    "--before",
    required=True,
    metavar="DATE",
    help="Move rows older than this day (YYYY-MM-DD, UTC; at least 7 days ago).",
)
@click.option(
    "--vacuum",
    is_flag=True,
    help="Give the space the rows held back to the disk now (rewrites the journal; without it "
    "the space is reused by new rows).",
)
def archive_command(
    journal_path: Path | None, config_path: Path | None, before: str, vacuum: bool
) -> None:
    """Move journal rows older than DATE to an archive file beside the journal.

    Only whole stories move (a signal with its legs, plan and orders), and never what a running
    bot still needs: orders without a final outcome, signals not planned, positions still open
    (a position's rows move only up to a moment it was flat), the newest signal of each
    algorithm. The archive is a journal itself (`tradebot journal --journal ARCHIVE`, `tradebot
    report --journal ARCHIVE`), named with the days it holds. The rows are removed only after
    the archive holds every one of them, in one transaction that also rebuilds the summaries
    (`tradebot journal verify` agrees after it) and leaves a tombstone of each order and leg
    decision moved: the same signal delivered again is a duplicate, never sent twice. Stop the
    bot first: archiving takes the journal's writer lock. SQLite only.
    """
    from tradebot.journal.archive import archive, parse_before

    where = resolve_journal(journal_path, config_path)
    if is_url(where):
        raise JournalError(
            "journal archive works on a SQLite journal only; with PostgreSQL, move old rows "
            "with the server's own tools (pg_dump of a date range, then DELETE) and run "
            "`tradebot journal verify`"
        )
    path = Path(where)
    if not path.exists():
        raise JournalError(f"no journal at {path}")
    day = parse_before(before, utcnow().date())
    done = archive(path, day, vacuum=vacuum)
    if done.path is None:
        click.echo(f"nothing to archive before {day}: every older row is still needed")
        return
    click.echo(
        f"{done.rows} rows from {done.first} to {done.last} moved to {done.path}; "
        "the journal's summaries were rebuilt from the rows left"
    )
