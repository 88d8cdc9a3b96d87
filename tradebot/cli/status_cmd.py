"""``tradebot status``: what a running bot is doing, from another terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from tradebot.cli.accounts import account_option
from tradebot.cli.options import config_option
from tradebot.exceptions import StatusUnreadable
from tradebot.runtime.processes import ProcessView, process_lines, shared_processes, sole_process
from tradebot.runtime.status import liveness_of, read_status, render, status_path


@click.command()
@config_option(purpose="of the bot to look at")
@click.option("--json", "as_json", is_flag=True, help="Print the status document as JSON.")
@account_option(
    "Also this account's line: its mode, broker, kill switch, today's orders and fills, newest "
    "row. Default: every account's with a config of several, none with one account."
)
def status(config_path: Path, as_json: bool, account: str | None) -> None:
    """Every process of the bot, connections per algorithm, the last signal, today's orders and
    fills, the kill switch.

    A running bot rewrites its status beside its journal every few seconds (its heartbeat);
    this reads it. "running" means a heartbeat younger than three beats; older, or a process
    gone without a clean stop (kill -9, a crash), is "not responding"; a clean stop "stopped".
    With a PostgreSQL journal (journal.url), every process sharing it is listed: role (leader
    or standby), host, pid, state, heartbeat age and the leader's epoch.

    --json prints the status file's fields, with "state" judged by the heartbeat ("state_written"
    is what the bot wrote), "heartbeat_age" in seconds, and "processes": a list of every process
    (role, host, pid, state, heartbeat_age, epoch, connections).

    Accounts: with a config of several accounts (or --account NAME, that one), a line per
    account: its mode and broker, the kill switch it obeys (the global one and its own, the
    stricter), today's orders and fills and its newest journal row; in --json, "accounts":
    a list of those. A config of one account shows as it always did.

    Exits 1 when there is no readable status, or when the bot that wrote it is not responding
    or gone without stopping (a crash, kill -9); the last status it wrote is still shown.
    """
    from tradebot.cli.status_accounts import account_statuses, render_accounts, shown_accounts
    from tradebot.config.loader import load_config
    from tradebot.runtime.paths import config_relative

    config = load_config(config_path)
    url, every = config.journal.url, config.journal.heartbeat_every
    path = status_path(config_relative(config_path, config.journal.path))
    now = datetime.now(UTC)
    names = shown_accounts(config, account)
    lines, problem = account_statuses(config, config_path, names, now)
    extra: dict[str, Any] = {"accounts": [a.as_dict() for a in lines]} if names else {}
    if problem and names:
        extra["accounts_problem"] = problem
    try:
        raw, document = read_status(path)
    except StatusUnreadable as exc:
        if url is None:
            if names and not as_json:  # what each account obeys, bot or no bot
                click.echo(render_accounts(lines, problem))
            raise  # the CLI prints it, exit 1
        views = shared_processes(url, every=every)  # a standby elsewhere may still be listed
        if as_json:
            shown_error = {"error": str(exc), "processes": _dicts(views), **extra}
            click.echo(json.dumps(shown_error, indent=1))
        else:
            click.echo("\n".join(process_lines(views)))
            if names:
                click.echo(render_accounts(lines, problem))
        raise
    verdict = liveness_of(document, now)
    views = shared_processes(url, every=every) if url else [sole_process(document, now)]
    if as_json:
        shown: dict[str, Any] = {
            **raw,
            "state": verdict.state,
            "state_written": document.state,
            "heartbeat_age": None if verdict.age is None else round(verdict.age, 1),
            "processes": _dicts(views),
            **extra,
        }
        click.echo(json.dumps(shown, indent=1))
    else:
        if url:
            click.echo("\n".join(process_lines(views)))
        judged = {**document.model_dump(mode="json"), "state": verdict.state}
        click.echo(render(judged))
        if names:
            click.echo(render_accounts(lines, problem))
    written = document.updated_at
    age = f"{verdict.age:.0f} s ago" if verdict.age is not None else "never"
    since = f"its status was last written {written.isoformat() if written else '-'} ({age})"
    if document.state == "stopped":  # a clean stop is news, not an error
        click.echo(f"tradebot is not running: it stopped; {since}", err=True)
        return
    if not verdict.alive:
        word = "not running" if verdict.state == "stopped" else "not responding"
        raise click.ClickException(f"tradebot is {word}: {verdict.why}; {since}")


def _dicts(views: list[ProcessView]) -> list[dict[str, Any]]:
    return [v.as_dict() for v in views]
