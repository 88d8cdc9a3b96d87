"""``tradebot status``: what a running bot is doing, from another terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from tradebot.cli.options import config_option
from tradebot.runtime.status import render, status_path


@click.command()
@config_option(purpose="of the bot to look at")
@click.option("--json", "as_json", is_flag=True, help="Print the raw status document.")
def status(config_path: Path, as_json: bool) -> None:
    """Connections per algorithm, the last signal, today's orders and fills, the kill switch.

    A running bot rewrites its status every few seconds beside its journal; this reads it.
    """
    from tradebot.config.loader import load_config
    from tradebot.runtime.paths import config_relative

    config = load_config(config_path)
    path = status_path(config_relative(config_path, config.journal.path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"no status at {path}: is `tradebot run` running?") from None
    except ValueError as exc:
        raise click.ClickException(f"{path} is not a status file: {exc}") from None
    if as_json:
        click.echo(json.dumps(data, indent=1))
        return
    click.echo(render(data))
    updated = data.get("updated_at")
    if data.get("state") == "running" and updated:
        age = datetime.now(UTC) - datetime.fromisoformat(updated)
        if age.total_seconds() > 30:
            click.echo(f"warning: not updated for {int(age.total_seconds())} s; is the bot alive?")
