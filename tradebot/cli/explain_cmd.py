"""``tradebot explain ID``: the whole story of one signal, one leg or one order."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tradebot.cli.accounts import account_option, accounts_to_show, several
from tradebot.cli.journal_common import journal_options, open_review
from tradebot.journal.records import SHARED_ACCOUNT
from tradebot.journal.review import describe, story


@click.command()
@journal_options
@click.argument("ident", metavar="ID")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@account_option(
    "Only this account's rows of the story, and the ones every account shares (the signal, "
    "its legs). Default: every account's, each row of an account naming it."
)
def explain(
    journal_path: Path | None, config_path: Path | None, ident: str, fmt: str, account: str | None
) -> None:
    """Everything the journal knows about ID, from the raw frame to the fill.

    ID is a signal's row number (as `tradebot journal` shows it, e.g. 42), a client order id,
    or a leg key like 16:open:JBHT:buy:2021-04-26T14:30:01Z.

    A signal is every account's: its story shows each account's decision and orders, each
    row naming its account when the journal has several. --account NAME keeps that
    account's rows (and the shared ones); a story with none of its rows is an error.
    """
    with open_review(journal_path, config_path) as store:
        accounts_to_show(store, account, config_path)  # a name nothing knows is refused
        in_journal = store.summary_accounts()
        entries = story(store, ident)
    if not entries:
        raise click.ClickException(f"nothing in the journal matches {ident!r}")
    if account is not None:
        whose = sorted({e.account for e in entries} - {SHARED_ACCOUNT})
        entries = [e for e in entries if e.account in (account, SHARED_ACCOUNT)]
        if account not in whose:
            others = f" (its story is {', '.join(whose)}'s)" if whose else ""
            raise click.ClickException(
                f"nothing of account {account} in the journal matches {ident!r}{others}"
            )
    if fmt == "json":
        click.echo(json.dumps([e.as_dict() for e in entries], indent=1, sort_keys=True))
        return
    named = account is not None or several(in_journal)
    for entry in entries:
        click.echo("\n".join(describe(entry, named=named)))
