"""``tradebot track``: am I getting the algorithm's returns? The algorithm's result, the
account's, and the gap between them, decomposed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from tradebot.cli.accounts import account_option
from tradebot.cli.journal_common import (
    csv_text,
    journal_options,
    load_config_or_none,
    open_review,
    parse_when,
)


def _equity(ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    try:
        equity = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None
    if not equity.is_finite() or equity <= 0:
        raise click.BadParameter("must be a positive amount")
    return equity


@click.command()
@journal_options
@click.option(
    "--algo", "algo_ids", type=int, multiple=True, help="This algorithm (repeatable); default all."
)
@click.option("--since", help="From this time: 2026-11-24, 2026-11-24T14:30, or 12h / 7d ago.")
@click.option("--until", help="Before this time (same forms as --since).")
@click.option(
    "--equity",
    default="100000",
    show_default=True,
    callback=_equity,
    help="The equity the algorithm's own ledger is sized at (allocation rules are a share of it).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True
)
@click.option(
    "--coverage",
    is_flag=True,
    help="The coverage audit instead: per algorithm and day, AlphaHub's history against what the "
    "journal received (live, backfill, late, archived, missed); default period: the last week.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Do not read AlphaHub's history: the journal's legs only (the output says so).",
)
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Compare with a saved history FILE (what `tradebot replay --save-history` writes) "
    "instead of reading AlphaHub's.",
)
@account_option(
    "This account's result against the algorithm's (its rules, skips, orders and fills). "
    "Default: each account of the config or the journal apart, then the accounts side by side "
    "(a live account beside its paper mirror); one account: as it always was."
)
def track(
    journal_path: Path | None,
    config_path: Path | None,
    algo_ids: tuple[int, ...],
    since: str | None,
    until: str | None,
    equity: Decimal,
    fmt: str,
    coverage: bool,
    offline: bool,
    history_path: Path | None,
    account: str | None,
) -> None:
    """Per algorithm: the algorithm's result, the account's, and the gap, in parts that add up
    to it exactly, to the cent (money, and basis points of the allocation).

    \b
    algorithm's result  every leg AlphaHub sent for the algorithm: the journal's (received live
                        or by backfill) and its history's the journal never received, traded
                        at its signal price, open legs sized by the config's rules in
                        fractional shares, nothing skipped, nothing missed; open positions
                        marked at the latest reference or fill price in the journal
    account's result    the algorithm's own fills: realised P&L (average cost, as `tradebot
                        report`) plus its open positions at the same marks
    gap                 algorithm's result - account's result, in these parts:
      missed            legs never received (in the history, not the journal), or not in
                        time (backfill: missed_stale, ambiguous)
      skipped:REASON    legs the bot skipped, by reason, each at what it would have made
      sizing            the orders' quantities against the ideal's: whole-share rounding, and
                        sizing at the broker's reference price and the real equity
      execution:STYLE   fills against the signal's price: market, limit, chased_remainder
                        (a limit_then_market's market remainder)
      exits             stops and take-profits against the algorithm's own closes
      unattributed      the algorithm's fills whose leg the journal does not hold
      fees              fees the journal records (0: Alpaca equities are commission-free)

    Each part is the P&L difference of one step in a chain of ledgers from the algorithm's to
    the account's; the chain's last ledger is checked against the review's own computation.
    A symbol with no mark is named and not valued, never guessed. AlphaHub's history is read
    (credentials from the config or ALPHAHUB_EMAIL/ALPHAHUB_PASSWORD) from each algorithm's
    first leg in the journal; when it cannot be (--offline, no credentials, AlphaHub
    unreachable, its answer odd), the journal's legs only, and the output says why.

    With several accounts (accounts: in the config), each is tracked apart against the same
    legs, each by its own rules in force, and a table puts the accounts side by side.
    """
    if offline and history_path is not None:
        raise click.UsageError("--offline reads no history: leave out --history FILE")
    if coverage:
        from tradebot.cli.track_coverage import show_coverage

        if history_path is not None:
            raise click.UsageError("--history FILE goes with tracking, not with --coverage")
        show_coverage(
            journal_path,
            config_path,
            since=since,
            until=until,
            algos=algo_ids,
            fmt=fmt,
            offline=offline,
        )
        return
    from tradebot.tracking.render import as_dict, csv_columns, csv_rows, side_by_side, text
    from tradebot.tracking.track import track as track_all

    now = datetime.now(UTC)
    start = parse_when(since, now) if since else None
    end = parse_when(until, now) if until else None
    config = load_config_or_none(config_path)
    reader = _history(config, offline, history_path)
    with open_review(journal_path, config_path) as store:
        tracked = [
            t
            for name in _accounts(store, account, config, config_path)
            for t in track_all(
                store,
                config,
                algo_ids=list(algo_ids) or None,
                since=start,
                until=end,
                equity=equity,
                history=reader,
                account=name,
            )
        ]
    if fmt == "json":
        click.echo(json.dumps([as_dict(t) for t in tracked], indent=1))
    elif fmt == "csv":
        click.echo(csv_text(csv_rows(tracked), csv_columns(tracked), header=True), nl=False)
    else:
        click.echo(text(tracked))
        beside = side_by_side(tracked)
        if beside:
            click.echo("\n" + beside)
    if not all(t.reconciled for t in tracked):
        raise click.ClickException("the chain's account result differs from the review's")


def _accounts(
    store: Any, account: str | None, config: Any, config_path: Path | None
) -> list[str | None]:
    """The accounts tracked, each apart: the one asked for; else a config's several accounts,
    or a journal's (:func:`~tradebot.cli.accounts.accounts_to_show`); else ``[None]``."""
    from tradebot.cli.accounts import accounts_to_show

    if account is None and config is not None and len(config.accounts) > 1:
        return list(config.accounts)
    return list(accounts_to_show(store, account, config_path))


def _history(config: Any, offline: bool, path: Path | None) -> Any:
    """Where the history comes from: a saved FILE (refused whole, exit 2, when it is not one),
    AlphaHub (credentials from the config or the environment, as the coverage audit), or
    nowhere (--offline)."""
    # imported here: the history client loads requests, and ``tradebot --help`` must not
    from tradebot.cli.track_coverage import alphahub_settings
    from tradebot.tracking.history_legs import from_alphahub, from_file, unread

    if offline:
        return unread("not read (--offline)")
    if config is None:
        from tradebot.config.model import Config

        config = Config()  # no config file: AlphaHub's defaults, credentials from the env
    settings = alphahub_settings(config)
    if path is None:
        return from_alphahub(settings)
    from tradebot.replay.history_file import ReplayInputError, read_history

    try:
        return from_file(read_history(path, settings.zone), str(path))
    except ReplayInputError as exc:
        raise click.UsageError(str(exc)) from None
