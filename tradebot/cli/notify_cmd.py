"""``tradebot notify test``: one test message to each URL under ``notify:``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click

from tradebot.cli.options import config_option


@click.group()
def notify() -> None:
    """Alerts: the Apprise URLs under `notify:` in config.yaml."""


@notify.command("test")
@config_option(purpose="whose notify: URLs to try")
def test(config_path: Path) -> None:
    """Send one test message to each configured URL and say whether each took it.

    URLs are secrets (they hold tokens): each is named by its place in the list and its scheme
    only. Exits 1 when any failed (the log says why, masked).
    """
    from tradebot.config.loader import load_config
    from tradebot.runtime.alerts import send_test

    config = load_config(config_path)
    if not config.notify:
        raise click.UsageError(f"{config_path}: notify: lists no URL to test")
    results = send_test(config.notify)
    for index, (target, ok) in enumerate(zip(config.notify, results, strict=True)):
        scheme = urlsplit(target.url.get_secret_value()).scheme or "?"
        verdict = "sent" if ok else "FAILED (see the log above)"
        click.echo(f"notify[{index}] {scheme}:// ({', '.join(target.events)}): {verdict}")
    failed = results.count(False)
    if failed:
        raise click.ClickException(f"{failed} of {len(results)} URL(s) did not take the message")
