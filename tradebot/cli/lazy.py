"""A click group whose subcommands are imported only when used.

Keeps ``tradebot --help`` fast: listing commands imports nothing (the short help comes from the
registry), so alpaca-py, pandas and websockets load only for the commands that need them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

from tradebot.cli.options import add_shared_options


class LazyGroup(click.Group):
    """``lazy_commands`` maps a name to ``("module:attribute", "short help")``."""

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.lazy_commands.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry[0]} is not a click command")
        return add_shared_options(command)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy_commands[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
