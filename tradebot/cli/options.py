"""Options several commands share, defined once so they read and behave the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

#: the config file every command reads when --config is not given
DEFAULT_CONFIG = Path("config.yaml")
#: the environment variable that names the config file instead
CONFIG_ENV = "TRADEBOT_CONFIG"


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
