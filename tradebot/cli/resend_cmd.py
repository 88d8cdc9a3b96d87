"""``tradebot resend``: send a leg again after its order ended without filling."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tradebot.cli.accounts import account_option
from tradebot.cli.options import config_option

if TYPE_CHECKING:
    from tradebot.config.model import Account, Config, Mode


def account_to_resend(config: Config, client_order_id: str, asked: str | None) -> Account:
    """The account whose order ``client_order_id`` is (its prefix: ``core/ids.account_of``),
    as the config has it now: its broker sends the re-send. Refused (ConfigError, exit 2)
    when the config no longer has it, or when ``asked`` (--account) names another."""
    from tradebot.core.ids import account_of
    from tradebot.exceptions import ConfigError

    name = account_of(client_order_id)
    if asked is not None and asked != name:
        raise ConfigError(
            f"{client_order_id} is account {name}'s order, not {asked}'s; nothing was sent"
        )
    if name not in config.accounts:
        raise ConfigError(
            f"{client_order_id} is account {name}'s order, and the config has no account {name}"
            f" (it has {', '.join(config.accounts)}): its broker is unknown; nothing was sent"
        )
    return config.accounts[name]


def mode_to_resend(config: Config, account: Account, live: bool) -> Mode:
    """The mode the re-send goes out in: as ``run`` decides it for the account (live only
    with --live and the account's own ``mode: live``; --live for a paper account refused)."""
    from tradebot.config.loader import resolve_mode
    from tradebot.config.model import Mode
    from tradebot.exceptions import LiveTradingNotGranted

    if config.declared_accounts is None:  # today's one broker: as always
        return resolve_mode(config, live_flag=live)
    if account.mode is Mode.LIVE and not live:
        raise LiveTradingNotGranted(
            f"account {account.name} is in mode: live: pass --live to send its order with real "
            "money; nothing was sent"
        )
    if live and account.mode is not Mode.LIVE:
        raise LiveTradingNotGranted(
            f"--live, but account {account.name} is in mode: {account.mode}; nothing was sent"
        )
    return account.mode


@click.command()
@click.argument("client_order_id")
@config_option(purpose="its broker and journal")
@click.option(
    "--wait",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to follow the new order before returning.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--live", is_flag=True, help="Allowed only with a live config (as for run).")
@account_option(
    "The account the order must be (a check: the default, and the only account used, is the "
    "one its client order id names)."
)
def resend(
    client_order_id: str,
    config_path: Path,
    wait: float,
    yes: bool,
    live: bool,
    account: str | None,
) -> None:
    """Send the legs of CLIENT_ORDER_ID again, after it was rejected, canceled, expired or
    recorded as failed. tradebot never does this on its own.

    The new order is CLIENT_ORDER_ID-a<n> (deterministic: running this twice makes one order),
    for what the original did not fill, journaled before it is sent, with a note naming the
    original. Run it while the bot is stopped: the bot holds the journal while it runs.

    The new order is the original's account's (its client order id names it): it goes
    through that account's broker (accounts.NAME.broker) in that account's mode, and is
    refused when the config no longer has the account.
    """
    from tradebot.broker.factory import make_broker
    from tradebot.config.loader import load_config
    from tradebot.exceptions import JournalError
    from tradebot.execution.resend import plan_resend
    from tradebot.execution.resend import resend as do_resend
    from tradebot.journal.opener import configured, open_journal
    from tradebot.runtime.paths import config_relative

    config = load_config(config_path)
    chosen = account_to_resend(config, client_order_id, account)
    mode = mode_to_resend(config, chosen, live)
    path = config_relative(config_path, config.journal.path)
    try:
        journal = open_journal(configured(config.journal.url, path))
    except JournalError as exc:
        raise JournalError(f"{exc} (stop `tradebot run` first: it holds the journal)") from None
    whose = "" if config.declared_accounts is None else f"account {chosen.name}, "
    with journal:
        planned = plan_resend(journal, client_order_id)
        new = planned.intent
        click.echo(
            f"{client_order_id} ended {planned.outcome}\n"
            f"send again: {new.side} {new.qty} {new.symbol} {new.order_type}"
            f" as {new.client_order_id} ({whose}{mode})"
        )
        if not yes:
            click.confirm("Send it?", abort=True)

        async def send() -> None:
            async with make_broker(chosen.broker, mode) as broker:
                _, outcome, snapshot = await do_resend(journal, broker, client_order_id, wait=wait)
            if snapshot is None and outcome.error and "outcome unknown" in outcome.error:
                # the broker may have it: never "not sent", and never sent again blind
                click.echo(
                    f"{new.client_order_id}: {outcome.error}; it is on record, and the next "
                    "tradebot run looks it up by client order id before anything else"
                )
                return
            if snapshot is None:
                click.echo(f"not sent: {outcome.error}")
                return
            done = f", filled {snapshot.filled_qty}" if snapshot.filled_qty else ""
            click.echo(f"{new.client_order_id}: {snapshot.status}{done}")

        asyncio.run(send())
