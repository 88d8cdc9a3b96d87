"""``tradebot config check [PATH]``: validate a config file, show what tradebot would run with."""

from __future__ import annotations

from pathlib import Path

import click

from tradebot.cli.options import CONFIG_ENV, DEFAULT_CONFIG
from tradebot.config.display import effective_config_yaml
from tradebot.config.loader import read_config


@click.group()
def config() -> None:
    """Validate config.yaml and show the effective configuration."""


@config.command()
@click.argument(
    "path",
    required=False,
    envvar=CONFIG_ENV,
    default=DEFAULT_CONFIG,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("-q", "--quiet", is_flag=True, help="Report problems only; do not print the config.")
def check(path: Path, quiet: bool) -> None:
    """Validate PATH (default: ./config.yaml, or $TRADEBOT_CONFIG).

    Prints the effective configuration (every default filled in, secrets masked) and any
    warnings. Exits 0 when the file is valid, and 2 with every problem listed as
    FILE:LINE: key.path: what is wrong when it is not.
    """
    loaded = read_config(path)
    if not quiet:
        click.echo(f"# {loaded.file}: effective configuration (defaults filled in, secrets masked)")
        click.echo(effective_config_yaml(loaded.config), nl=False)
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    algorithms = loaded.config.algorithms
    enabled = sum(1 for a in algorithms.values() if a.enabled)
    click.echo(
        f"{loaded.file}: OK ({len(algorithms)} algorithms, {enabled} enabled;"
        f" broker {loaded.config.broker.name}; paper unless run with --live)",
        err=True,
    )
