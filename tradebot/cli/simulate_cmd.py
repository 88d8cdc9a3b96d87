"""``tradebot simulate``: local, loopback-only stand-ins for the services tradebot talks to."""

from __future__ import annotations

import click

from tradebot.cli.lazy import LazyGroup

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


@click.group(cls=LazyGroup, lazy_commands=SIMULATORS)
def simulate() -> None:
    """Run a local simulator on 127.0.0.1 for rehearsals and tests. Nothing leaves the machine."""
