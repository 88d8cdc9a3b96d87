"""``tradebot config check [--config PATH]``: validate a config, show what a run would use."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from tradebot.cli.options import DEFAULT_CONFIG, config_option
from tradebot.config.display import accounts_summary, effective_config_yaml
from tradebot.config.loader import read_config
from tradebot.config.model import Mode


@click.group()
def config() -> None:
    """Validate config.yaml and show the effective configuration."""


@config.command()
@click.argument(
    "path", required=False, default=None, type=click.Path(dir_okay=False, path_type=Path)
)
@config_option(optional=True)
@click.option("-q", "--quiet", is_flag=True, help="Report problems only; do not print the config.")
def check(path: Path | None, config_path: Path | None, quiet: bool) -> None:
    """Validate a config file and print the configuration a run would use.

    The file is --config PATH (or PATH, as before); default: $TRADEBOT_CONFIG, else
    ./config.yaml. Prints the effective configuration (every default filled in, secrets
    masked) and any warnings. Exits 0 when the file is valid, and 2 with every problem listed
    as FILE:LINE: key.path: what is wrong when it is not, or when it leaves nothing to trade.
    """
    loaded = read_config(_which(path, config_path))
    loaded.require_tradable()
    config = loaded.config
    if not quiet:
        click.echo(f"# {loaded.file}: effective configuration (defaults filled in, secrets masked)")
        click.echo(effective_config_yaml(config), nl=False)
        click.echo(f"# the accounts a run trades ({len(config.accounts)}):")
        for line in accounts_summary(config, loaded.variables):
            click.echo(f"#   {line}")
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    if config.declared_accounts is None:
        algorithms = config.algorithms
        enabled = sum(1 for a in algorithms.values() if a.enabled)
        click.echo(
            f"{loaded.file}: OK ({len(algorithms)} algorithms, {enabled} enabled;"
            f" broker {config.broker.name}; paper unless run with --live)",
            err=True,
        )
        return
    live = [name for name, account in config.accounts.items() if account.mode is Mode.LIVE]
    click.echo(
        f"{loaded.file}: OK ({len(config.accounts)} accounts: {', '.join(config.accounts)};"
        f" {'live: ' + ', '.join(live) + ', with --live only' if live else 'all paper'})",
        err=True,
    )


def _which(path: Path | None, config_path: Path | None) -> Path:
    """The file to check: PATH (kept for scripts that pass it), else --config like every command.

    PATH and --config both on the command line must agree, so that a script never checks one
    file while believing it checked another; PATH wins over $TRADEBOT_CONFIG, as it always did.
    """
    if path is None:
        return config_path or DEFAULT_CONFIG
    source = click.get_current_context().get_parameter_source("config_path")
    if config_path is not None and source is ParameterSource.COMMANDLINE and config_path != path:
        raise click.UsageError(f"two config files given: {path} and --config {config_path}")
    return path
