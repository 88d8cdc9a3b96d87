"""``tradebot dashboard``: the web dashboard over a journal, while no bot runs (or beside one).

Serves the same pages the running bot serves, reading the journal read-only, the status file
and the kill switch beside it. Binding to anything but loopback needs ``dashboard.token``. With
a config naming a real broker, a task of its own keeps the broker's positions snapshot fresh
(:mod:`tradebot.web.snapshot`); the pages show it with its age and never wait for the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tradebot.cli.journal_common import journal_options, load_config_or_none, resolve_journal
from tradebot.cli.options import config_or_none

if TYPE_CHECKING:
    from tradebot.config.model import Config
    from tradebot.web.snapshot import OwnBroker
    from tradebot.web.sources import Sources


@click.command()
@journal_options
@click.option("--host", help="Address to listen on (default: dashboard.host, 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port (default: dashboard.port; 0 = any free)."
)
def dashboard(
    journal_path: Path | None, config_path: Path | None, host: str | None, port: int | None
) -> None:
    """Serve the dashboard for reviewing a journal: Now, Journal, Positions, Performance, Config.

    Read-only unless dashboard.token is set (from the environment: token:
    ${TRADEBOT_DASHBOARD_TOKEN}); then halt, reduce-only and resume work from the page, each
    needing the token. Stop with Ctrl-C.
    """
    from pydantic import ValidationError

    from tradebot.config.model import Config, DashboardConfig, JournalConfig
    from tradebot.web.serve import serve_dashboard, sources_for
    from tradebot.web.sources import Sources

    config = load_config_or_none(config_path)
    source = config_or_none(config_path)
    if config is not None and source is not None:
        sources = sources_for(config, source)
        own = _snapshots(config, sources)
        if journal_path is not None:
            _point_at(sources, journal_path)
        base = config.dashboard
    else:
        own = []
        sources = Sources(
            journal_path=Path(JournalConfig().path).resolve(),
            broker_not_asked="broker not queried: no config (pass --config)",
        )
        _point_at(sources, resolve_journal(journal_path, None))
        base = Config().dashboard
    values = base.model_dump()
    values.update({k: v for k, v in (("host", host), ("port", port)) if v is not None})
    try:
        settings = DashboardConfig.model_validate(values)
    except ValidationError as exc:  # a non-loopback host without a token
        first = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise click.UsageError(first) from None
    if sources.opener is None and not sources.journal_path.exists():
        click.echo(f"note: no journal at {sources.journal_path} yet; pages wait for it", err=True)

    async def main() -> None:
        handle = await serve_dashboard(settings, sources)
        if handle.error is not None:
            raise click.ClickException(handle.error)
        mode = "controls enabled" if sources.token else "read-only"
        click.echo(f"dashboard: {handle.url} ({mode}; journal {sources.journal_path})", err=True)
        refreshers = [
            asyncio.create_task(snapshots.run(), name=f"broker snapshot {name}")
            for name, snapshots in sources.brokers.items()
        ]
        try:
            await handle.wait()
        finally:
            for refresher in refreshers:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            for broker in own:
                await broker.aclose()
            await handle.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        return


def _snapshots(config: Config, sources: Sources) -> list[OwnBroker]:
    """Give ``sources`` each account's broker snapshot over a connection of the dashboard's own
    (a broker that keeps no positions between runs, such as the sim, is not asked)."""
    from tradebot.web.accounts import own_snapshots

    sources.brokers, own, why = own_snapshots(config)
    if why:
        sources.broker_not_asked = why
    return own


def _point_at(sources: Sources, location: Path | str) -> None:
    """Read the journal at ``location``: a SQLite file, or a PostgreSQL URL (``--journal``)."""
    from tradebot.journal.opener import open_journal

    if isinstance(location, Path):
        sources.journal_path, sources.opener = location.resolve(), None
    else:
        sources.opener = lambda: open_journal(location, readonly=True)
