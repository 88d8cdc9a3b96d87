"""``tradebot halt`` and ``tradebot resume``: the kill switch, from the command line; with
``--account NAME``, that account's own switch beside the global one
(:func:`~tradebot.runtime.killswitch.account_switch_path`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from tradebot.cli.accounts import account_option, config_accounts, require_known
from tradebot.cli.options import config_option
from tradebot.runtime.killswitch import (
    HaltMode,
    KillSwitchState,
    account_switch_path,
    clear_kill_switch,
    read_account_kill_switch,
    read_kill_switch,
    write_kill_switch,
)
from tradebot.runtime.paths import config_relative

_config_option = config_option(purpose="whose risk.kill_switch_file to use")
_file_option = click.option(
    "--file", "file", default=None, help="The kill switch file (overrides the config)."
)


def _switch_path(config_path: Path, file: str | None) -> Path:
    if file is not None:
        return Path(file).expanduser().resolve()
    from tradebot.config.loader import load_config

    config = load_config(config_path)
    if config.risk.kill_switch_file is None:
        raise click.UsageError(
            f"{config_path}: risk.kill_switch_file is not set; pass --file PATH or set it"
        )
    return config_relative(config_path, config.risk.kill_switch_file)


_account_option = account_option(
    "This account's own kill switch (beside the global one, which stops every account)."
)


def _account_path(path: Path, config_path: Path, file: str | None, account: str) -> Path:
    """``account``'s switch beside the global one at ``path``; the name must be one of the
    config's accounts (not checked with --file when there is no config file to ask)."""
    if file is None or config_path.is_file():
        from tradebot.config.loader import load_config

        require_known(account, config=config_accounts(load_config(config_path)))
    return account_switch_path(path, account)


def _standing(state: KillSwitchState) -> str:
    """What a running bot obeys now, whatever this command failed to do."""
    if state.mode is HaltMode.RUNNING:
        return "A running bot is NOT halted."
    return f"A running bot obeys what is there now: {state.mode} ({state.reason})"


@click.command()
@click.option("--reduce-only", is_flag=True, help="Let closes through; send no opens.")
@click.option("--reason", default="halted from the command line", help="Recorded with the halt.")
@_config_option
@_file_option
@_account_option
def halt(
    reduce_only: bool, reason: str, config_path: Path, file: str | None, account: str | None
) -> None:
    """Stop a running bot from sending orders, at once and without a restart.

    Writes the kill switch file. A full halt sends nothing; --reduce-only still lets closes
    out, so positions can shrink but never grow. A running bot journals (and alerts) the
    change within a second. Undo with `tradebot resume`.

    --account NAME halts that account only (its own switch, the global file's name plus
    `.NAME`); the other accounts trade on. An account obeys the stricter of the global
    switch and its own.
    """
    every = _switch_path(config_path, file)
    path = every if account is None else _account_path(every, config_path, file, account)
    try:
        write_kill_switch(path, reduce_only=reduce_only, reason=reason, now=datetime.now(UTC))
    except OSError as exc:
        now = (
            read_kill_switch(path) if account is None else read_account_kill_switch(every, account)
        )
        raise click.ClickException(
            f"cannot write the kill switch {path}: {exc.strerror or exc}. " + _standing(now)
        ) from None
    what = "reduce-only (closes only)" if reduce_only else "halted (nothing is sent)"
    whom = "" if account is None else f"account {account} "
    click.echo(f"{whom}{what}: kill switch written to {path}")


@click.command()
@_config_option
@_file_option
@_account_option
def resume(config_path: Path, file: str | None, account: str | None) -> None:
    """Lift a halt: remove the kill switch file so the bot trades again.

    --account NAME removes that account's own switch only; a global halt still stops it.
    """
    every = _switch_path(config_path, file)
    path = every if account is None else _account_path(every, config_path, file, account)
    before = read_kill_switch(path)
    try:
        cleared = clear_kill_switch(path)
    except OSError as exc:  # a directory at the path, a folder it may not write
        raise click.ClickException(
            f"cannot remove the kill switch {path}: {exc.strerror or exc}; remove it by hand. "
            + _standing(before)
        ) from None
    if cleared:
        click.echo(f"resumed: removed {path} (was {before.mode}: {before.reason})")
    else:
        click.echo(f"not halted: no kill switch at {path}")
    if account is not None:
        still = read_kill_switch(every)
        if still.mode is not HaltMode.RUNNING:
            click.echo(
                f"account {account} still obeys the global kill switch {every}: {still.mode} "
                f"({still.reason}); `tradebot resume` lifts it for every account"
            )
