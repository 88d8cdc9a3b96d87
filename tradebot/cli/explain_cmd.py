"""``tradebot explain ID``: the whole story of one signal, one leg or one order."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tradebot.cli.journal_common import journal_options, open_review
from tradebot.journal.review import describe, story


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
