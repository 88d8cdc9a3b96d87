"""Options several commands share, defined once so they read and behave the same everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

#: the config file every command reads when --config is not given
DEFAULT_CONFIG = Path("config.yaml")
#: the environment variable that names the config file instead
CONFIG_ENV = "TRADEBOT_CONFIG"
#: where the -v count of every level (group, command, subcommand) adds up
_VERBOSITY = "tradebot.verbosity"
_VERBOSE_HELP = "More log output (-v info, -vv debug); before or after the command name."


def config_option(*, optional: bool = False, purpose: str = "") -> Callable[[F], F]:
    """``--config PATH`` (or ``$TRADEBOT_CONFIG``), default ``./config.yaml``.

    ``optional``: the command also works without any config file; the value is None when no
    --config or $TRADEBOT_CONFIG was given and ./config.yaml does not exist
    (see :func:`config_or_none`).
    """
    default_text = "./config.yaml if present" if optional else "./config.yaml"
    text = f"The config file{f' ({purpose})' if purpose else ''}. Default: ${CONFIG_ENV}, else "
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=CONFIG_ENV,
        default=None if optional else DEFAULT_CONFIG,
        help=text + default_text + ".",
    )


def config_or_none(config_path: Path | None) -> Path | None:
    """For an optional --config: the file given, else ./config.yaml when it exists, else None."""
    if config_path is not None:
        return config_path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def log_level(verbosity: int) -> int:
    """WARNING by default, INFO with -v, DEBUG with -vv or more."""
    return logging.WARNING - 10 * min(verbosity, 2)


def verbose_option(f: F) -> F:
    """``-v``/``--verbose`` for the ``tradebot`` group; its value is the count given there."""
    return click.option("-v", "--verbose", count=True, callback=_count, help=_VERBOSE_HELP)(f)


def add_shared_options(command: click.Command) -> click.Command:
    """Let ``command`` (and its own subcommands) take ``-v`` after its name too.

    ``tradebot run -v`` reads as naturally as ``tradebot -v run``; every ``-v`` on the line adds
    up. Added here, where the CLI loads each command, so no command can forget it.
    """
    if not any(param.name == "verbose" for param in command.params):
        option = click.Option(
            ["-v", "--verbose"], count=True, expose_value=False, callback=_count, help=_VERBOSE_HELP
        )
        command.params.append(option)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_shared_options(sub)
    return command


def _count(ctx: click.Context, param: click.Parameter, value: int) -> int:
    root = ctx.find_root()
    total = int(root.meta.get(_VERBOSITY, 0)) + value
    root.meta[_VERBOSITY] = total
    if value:
        # the group's logging set-up has run (or runs next) with its own count; later -v raise it
        logging.getLogger().setLevel(log_level(total))
    return total
