"""``tradebot status``: what a running bot is doing, from another terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from tradebot.cli.options import config_option
from tradebot.runtime.process import why_not_running
from tradebot.runtime.status import read_status, render, status_path

#: a running bot rewrites its status every couple of seconds; older than this is suspicious
STALE_AFTER = 30


@click.command()
@config_option(purpose="of the bot to look at")
@click.option("--json", "as_json", is_flag=True, help="Print the raw status document.")
def status(config_path: Path, as_json: bool) -> None:
    """Connections per algorithm, the last signal, today's orders and fills, the kill switch.

    A running bot rewrites its status every few seconds beside its journal; this reads it.
    With a PostgreSQL journal (journal.url), every process sharing it is listed first: host,
    pid, role (leader or standby), AlphaHub connections and the age of its last heartbeat.
    Exits 1 when there is no readable status, or when the bot that wrote it is gone without
    stopping (a crash, kill -9); the last status it wrote is still shown.
    """
    from tradebot.config.loader import load_config
    from tradebot.runtime.paths import config_relative

    config = load_config(config_path)
    if config.journal.url and not as_json:
        from tradebot.runtime.leadership import process_lines

        for line in process_lines(config.journal.url):  # every process sharing the journal
            click.echo(line)
    path = status_path(config_relative(config_path, config.journal.path))
    raw, document = read_status(path)  # StatusUnreadable: the CLI prints it, exit 1
    click.echo(json.dumps(raw, indent=1) if as_json else render(document.model_dump(mode="json")))
    written = document.updated_at
    age = f"{int((datetime.now(UTC) - written).total_seconds())} s ago" if written else "never"
    since = f"its status was last written {written.isoformat() if written else '-'} ({age})"
    if document.state == "stopped":  # a clean stop is news, not an error
        click.echo(f"tradebot is not running: it stopped; {since}", err=True)
        return
    gone = why_not_running(document.writer) if document.writer else None
    if gone is not None:
        raise click.ClickException(f"tradebot is not running: {gone}; {since}")
    if document.state == "running" and written:
        seconds = (datetime.now(UTC) - written).total_seconds()
        if seconds > STALE_AFTER:
            click.echo(f"warning: not updated for {int(seconds)} s; is the bot alive?", err=True)
