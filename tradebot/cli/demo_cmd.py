"""``tradebot demo``: see the whole pipeline work, offline, in under a minute."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from tradebot.broker.factory import BROKERS


@click.command()
@click.option(
    "--dir",
    "folder",
    default="tradebot-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo writes its config and journal (cleared at each demo run).",
)
@click.option(
    "--broker",
    type=click.Choice(sorted(BROKERS)),
    default="alpaca",
    show_default=True,
    help="alpaca: the real Alpaca adapter against a local Alpaca-compatible server. "
    "sim: the in-process paper broker.",
)
@click.option(
    "--accounts",
    is_flag=True,
    help="Two accounts (main and family, different allocations) trade the same signals, "
    "each at its own local Alpaca server; ends with each account's result and the accounts "
    "side by side against the algorithms (tradebot track).",
)
def demo(folder: Path, broker: str, accounts: bool) -> None:
    """Play a scripted trading session against local simulators; nothing leaves the machine.

    Starts the bundled AlphaHub simulator and a broker on 127.0.0.1, runs the real bot on
    algorithms 14, 16, 17 and 18, and plays signals that include a dropped connection, a
    duplicate push, a close for a symbol never opened and a malformed leg. Ends with the
    journal report; the journal stays for `tradebot journal`, `report` and `explain`.

    With --accounts, the same signals go to two accounts of one bot, each with its own
    allocations and its own local Alpaca server; the demo ends with the report, each account
    apart, each account's result, and the accounts side by side against the algorithms.
    """
    if accounts:
        if broker != "alpaca":
            raise click.UsageError(
                "--accounts runs each account at its own local Alpaca server: "
                "--broker sim is one in-process broker"
            )
        from tradebot.demo.accounts import run_accounts_demo

        config_path = asyncio.run(run_accounts_demo(folder, out=sys.stdout))
    else:
        from tradebot.demo.runner import run_demo

        config_path = asyncio.run(run_demo(folder, broker=broker, out=sys.stdout))
    journal = folder / "journal" / "tradebot.sqlite"
    # the program as the user invoked it (.venv/bin/tradebot works without activating the venv)
    me = sys.argv[0] if Path(sys.argv[0]).name == "tradebot" else "tradebot"
    click.echo(
        f"\nThe journal is {journal}. Look closer with:\n"
        f"  {me} journal --config {config_path}\n"
        f"  {me} explain --config {config_path} <client order id or signal id>"
    )
