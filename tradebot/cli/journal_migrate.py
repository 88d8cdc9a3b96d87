"""``tradebot journal migrate``: move the SQLite journal to a PostgreSQL server, verified."""

from __future__ import annotations

from pathlib import Path

import click

from tradebot.cli.journal_common import resolve_journal
from tradebot.cli.options import config_option


@click.command("migrate")
@click.option(
    "--to",
    "url",
    required=True,
    metavar="URL",
    help="postgresql://user:password@host:port/database (an empty database, or one an "
    "interrupted migration of this journal left).",
)
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite journal file (default: journal.path of the config).",
)
@config_option(optional=True, purpose="its journal.path is the journal to copy")
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Rows per transaction.",
)
def migrate_command(url: str, source: Path | None, config_path: Path | None, batch: int) -> None:
    """Copy the SQLite journal into PostgreSQL and verify the copy: the same rows per
    algorithm and status, and the same positions, on both sides.

    Stop the bot first (the copy holds the journal's writer lock). An interrupted copy is
    resumed by running the same command again. Then set journal.url in config.yaml.
    """
    from tradebot.exceptions import JournalError
    from tradebot.journal.migrate import migrate
    from tradebot.journal.opener import is_url
    from tradebot.journal.postgres import open_postgres, shown
    from tradebot.journal.sqlite import open_journal as open_sqlite

    if not is_url(url):
        raise click.BadParameter("must start with postgresql://", param_hint="--to")
    where = source if source is not None else _configured_file(config_path)
    if not where.exists():
        raise JournalError(f"no journal at {where}")
    try:
        origin = open_sqlite(where)  # as the writer: the lock keeps a running bot out
    except JournalError as exc:
        raise JournalError(f"{exc} (stop `tradebot run` first)") from None
    with origin, open_postgres(url) as target:
        click.echo(f"copying {where} ({origin.last_id()} rows) to {shown(url)}", err=True)

        def progress(done: int, total: int) -> None:
            click.echo(f"  {done}/{total} rows", err=True)

        result = migrate(origin, target, batch=batch, progress=progress)
    click.echo(
        f"migrated {result.rows} rows ({result.copied} copied now), verified: the same rows "
        f"per algorithm and status, and the same {result.positions} positions"
    )
    click.echo(f"now set journal.url in config.yaml (the password from ${{VAR}}): {shown(url)}")


def _configured_file(config_path: Path | None) -> Path:
    found = resolve_journal(None, config_path)
    if not isinstance(found, Path):
        raise click.UsageError(
            "the config's journal is already a PostgreSQL URL (journal.url); name the SQLite "
            "file to copy with --from PATH"
        )
    return found
