"""``tradebot explain ID``: the whole story of one signal, one leg or one order."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tradebot.cli.journal_common import journal_options, open_review
from tradebot.journal.records import Entry, Status
from tradebot.journal.review import story


def describe(entry: Entry) -> list[str]:
    """One entry as a few readable lines."""
    who = " ".join(
        part
        for part in (
            f"algo {entry.algo_id}" if entry.algo_id is not None else "",
            entry.symbol or "",
            entry.client_order_id or "",
        )
        if part
    )
    head = f"#{entry.id}  {entry.as_dict()['at']}  {entry.status.upper():<12} {who}".rstrip()
    lines = [head, f"      {entry.detail}"] if entry.detail else [head]
    if entry.status is Status.SIGNAL:
        if entry.data.get("source") == "backfill":
            lines.append("      source: backfill (missed live, read back from AlphaHub's history)")
            lines.append(f"      history legs: {entry.data.get('raw', '')}")
        else:
            lines.append("      source: live")
            lines.append(f"      raw frame: {entry.data.get('raw', '')}")
    elif entry.status is Status.LEG and entry.data.get("source") == "backfill":
        lines.append("      recovered by backfill; open/close judged from the algorithm's ledger")
    elif entry.status is Status.LEG_REJECTED:
        lines.append(f"      raw leg: {entry.data.get('raw', '')}")
    elif entry.status is Status.INTENT:
        legs = ", ".join(
            f"{d['kind']} {d['side']} {d['symbol']} @ {d['timestamp']}" for d in entry.data["legs"]
        )
        lines.append(f"      serves: {legs}; signal price {entry.price}")
    return lines


@click.command()
@journal_options
@click.argument("ident", metavar="ID")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def explain(journal_path: Path | None, config_path: Path | None, ident: str, fmt: str) -> None:
    """Everything the journal knows about ID, from the raw frame to the fill.

    ID is a signal's row number (as `tradebot journal` shows it, e.g. 42), a client order id,
    or a leg key like 16:open:JBHT:buy:2021-04-26T14:30:01Z.
    """
    with open_review(journal_path, config_path) as store:
        entries = story(store, ident)
    if not entries:
        raise click.ClickException(f"nothing in the journal matches {ident!r}")
    if fmt == "json":
        click.echo(json.dumps([e.as_dict() for e in entries], indent=1, sort_keys=True))
        return
    for entry in entries:
        click.echo("\n".join(describe(entry)))
