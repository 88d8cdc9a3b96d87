"""``tradebot simulate``: local, loopback-only stand-ins for the services tradebot talks to."""

from __future__ import annotations

import importlib

import click

#: simulator name -> ("module:attribute" of its click command, short help)
SIMULATORS: dict[str, tuple[str, str]] = {
    "alphahub": (
        "tradebot.simulators.alphahub.cli:command",
        "AlphaHub: REST login and the Phoenix channel protocol, with fault knobs.",
    ),
    "alpaca": (
        "tradebot.simulators.alpaca.cli:command",
        "An Alpaca-compatible paper trading server (REST and trade updates).",
    ),
}


class _Simulators(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SIMULATORS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SIMULATORS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Simulators"):
            formatter.write_dl([(n, SIMULATORS[n][1]) for n in self.list_commands(ctx)])


@click.group(cls=_Simulators)
def simulate() -> None:
    """Run a local simulator on 127.0.0.1 for rehearsals and tests. Nothing leaves the machine."""
