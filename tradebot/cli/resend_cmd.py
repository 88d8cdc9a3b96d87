"""``tradebot resend``: send a leg again after its order ended without filling."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from tradebot.cli.options import config_option


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
def resend(client_order_id: str, config_path: Path, wait: float, yes: bool, live: bool) -> None:
    """Send the legs of CLIENT_ORDER_ID again, after it was rejected, canceled, expired or
    recorded as failed. tradebot never does this on its own.

    The new order is CLIENT_ORDER_ID-a<n> (deterministic: running this twice makes one order),
    for what the original did not fill, journaled before it is sent, with a note naming the
    original. Run it while the bot is stopped: the bot holds the journal while it runs.
    """
    from tradebot.broker.factory import make_broker
    from tradebot.config.loader import load_config, resolve_mode
    from tradebot.exceptions import JournalError
    from tradebot.execution.resend import plan_resend
    from tradebot.execution.resend import resend as do_resend
    from tradebot.journal.opener import configured, open_journal
    from tradebot.runtime.paths import config_relative

    config = load_config(config_path)
    mode = resolve_mode(config, live_flag=live)
    path = config_relative(config_path, config.journal.path)
    try:
        journal = open_journal(configured(config.journal.url, path))
    except JournalError as exc:
        raise JournalError(f"{exc} (stop `tradebot run` first: it holds the journal)") from None
    with journal:
        planned = plan_resend(journal, client_order_id)
        new = planned.intent
        click.echo(
            f"{client_order_id} ended {planned.outcome}\n"
            f"send again: {new.side} {new.qty} {new.symbol} {new.order_type}"
            f" as {new.client_order_id} ({mode})"
        )
        if not yes:
            click.confirm("Send it?", abort=True)

        async def send() -> None:
            async with make_broker(config.broker, mode) as broker:
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
