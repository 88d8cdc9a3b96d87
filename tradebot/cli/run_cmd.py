"""``tradebot run``: listen and trade until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tradebot.cli.options import config_option

if TYPE_CHECKING:
    from tradebot.runtime.bot import Bot


@click.command()
@click.option(
    "--paper/--live",
    "paper",
    default=True,
    help="Paper trading (the default) or real money. --live also needs `mode: live` and "
    "`live_trading_acknowledged: true` in the config (with accounts:, in each live account's "
    "section; the other accounts trade paper).",
)
@config_option(purpose="edits to it apply while the bot runs")
@click.option(
    "--status-every",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds between status summaries on the output.",
)
def run(paper: bool, config_path: Path, status_every: float) -> None:
    """Listen to AlphaHub and trade, until Ctrl-C or SIGTERM.

    Start-up recovery comes first: positions are rebuilt from the journal, orders left open by
    a crash are settled with the broker, and any drift is printed. Then every signal is planned
    and sent, and every step is journaled.

    With several accounts (accounts: in the config), each account trades with its own broker
    and credentials the algorithms it follows; one AlphaHub stream is journaled once and handed
    to every account following its algorithm. --live is needed as soon as one account is in
    mode: live (--paper refuses such a config).

    Ctrl-C (or SIGTERM) stops cleanly: no new orders, orders in flight answered or left on
    record for the next start. A second Ctrl-C stops at once.
    """
    from tradebot.config.loader import load_config, read_config, resolve_modes
    from tradebot.config.model import Mode
    from tradebot.runtime.bot import Bot
    from tradebot.runtime.systemd import attach_systemd
    from tradebot.web.attach import attach_observability

    loaded = read_config(config_path)
    loaded.require_tradable()  # before the journal, its lock or the status file exist
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    modes = resolve_modes(loaded.config, live_flag=not paper)  # every account's, or refused
    mode = Mode.LIVE if Mode.LIVE in modes.values() else Mode.PAPER
    bot = Bot(
        loaded.config,
        config_path,
        mode,
        load=load_config,
        status_interval=status_every,
        modes=modes,
    )
    # the dashboard (/healthz, /metrics) and the alerts: never in the way of trading
    plugged = attach_observability(bot, loaded.config, config_path)
    attach_systemd(bot, os.environ)  # READY, STATUS, WATCHDOG when run by systemd
    try:
        asyncio.run(_run_until_signalled(bot))
    finally:
        plugged.flush()  # the last alerts ("stopped"), bounded


async def _run_until_signalled(bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    presses = 0

    def on_signal(signum: int) -> None:
        nonlocal presses
        presses += 1
        name = signal.Signals(signum).name
        if presses == 1:
            print(f"\n{name}: stopping cleanly (again to stop at once)", file=sys.stderr)
            bot.request_stop()
        elif presses == 2:
            print(
                f"\n{name}: stopping now; the next start settles what was in flight",
                file=sys.stderr,
            )
            main.cancel()
        else:
            os._exit(130)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await bot.run()
    except asyncio.CancelledError:
        if presses < 2:
            raise
        raise KeyboardInterrupt from None  # forced: the CLI exits 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
