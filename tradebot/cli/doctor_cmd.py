"""``tradebot doctor``: is this machine ready to trade? (see :mod:`tradebot.doctor`)"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tradebot.cli.options import config_option


@click.command()
@config_option()
@click.option(
    "--paper/--live",
    "paper",
    default=True,
    help="Check for a paper run (the default) or a live one (`tradebot run --live`).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def doctor(config_path: Path, paper: bool, fmt: str) -> None:
    """Check that this machine is ready to trade unattended.

    \b
    config          the file is valid (FILE:LINE: key.path: what is wrong otherwise)
    alphahub        the credentials are accepted (a login)
    broker          the Alpaca keys are accepted (the account, read-only)
    clock           this machine's clock against the broker's
    journal folder  writable; then the disk's free space and the journal's growth,
                    or with journal.url: PostgreSQL reachable
    dashboard port  free

    Each line is ok, skipped, warning or error with its reason; no secret is printed. Exits 0
    when ready, 1 with warnings, 2 with an error.
    """
    from tradebot.doctor.checks import examine
    from tradebot.doctor.findings import as_json, as_text, exit_code

    findings = examine(config_path, live=not paper)
    click.echo(as_json(findings) if fmt == "json" else as_text(findings))
    sys.exit(exit_code(findings))
