"""``tradebot listen``: print AlphaHub signals as they arrive; connection states on stderr.

Sends nothing to any broker. Stops on Ctrl-C; wrong credentials stop it with exit code 3.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import SecretStr

from tradebot.cli.options import config_option, config_or_none
from tradebot.config.model import AlphaHubConfig, Config
from tradebot.core.signal import Leg, Signal

if TYPE_CHECKING:
    from tradebot.runtime.backfill import Found


def _load(path: Path | None) -> Config:
    """The config at ``path`` (or ./config.yaml if present), else the defaults."""
    from tradebot.config.loader import load_config

    found = config_or_none(path)
    return Config() if found is None else load_config(found)


def _settings(config: Config, url: str | None, connections: int | None) -> AlphaHubConfig:
    values: dict[str, Any] = dict(config.alphahub)
    if url is not None:
        values["url"] = url
    if connections is not None:
        values["connections"] = connections
    # Credentials from the environment when the config has none (docs/alphahub.md#login).
    for key, env in (("email", "ALPHAHUB_EMAIL"), ("password", "ALPHAHUB_PASSWORD")):
        if values.get(key) is None and os.environ.get(env):
            values[key] = SecretStr(os.environ[env])
    return AlphaHubConfig.model_validate(values)


def _signal_json(signal: Signal) -> str:
    def legs(items: tuple[Leg, ...]) -> list[dict[str, str]]:
        return [
            {
                "symbol": leg.symbol,
                "side": str(leg.side),
                "price": str(leg.price),
                "timestamp": leg.timestamp.isoformat(),
            }
            for leg in items
        ]

    return json.dumps(
        {
            "algo_id": signal.algo_id,
            "received_at": signal.received_at.isoformat(),
            "close": legs(signal.close_legs),
            "open": legs(signal.open_legs),
            "rejected": [{"kind": str(r.kind), "reason": r.reason} for r in signal.rejected],
            "hold": [h.key for h in signal.held],
            "source": str(signal.source),
        }
    )


def _recovered_json(found: Found) -> str:
    return json.dumps(
        {
            "algo_id": found.window.algo_id,
            "source": "backfill",
            "window": [found.window.start.isoformat(), found.window.end.isoformat()],
            "legs": [
                {
                    "symbol": leg.symbol,
                    "side": str(leg.side or "hold"),
                    "price": None if leg.price is None else str(leg.price),
                    "timestamp": leg.timestamp.isoformat(),
                }
                for leg in sorted(found.missed + found.holds, key=lambda x: x.timestamp)
            ],
        }
    )


def _recovered_text(found: Found) -> str:
    w = found.window
    lines = [
        f"recovered from the signal history: algorithm {w.algo_id}, {len(found.missed)} "
        f"missed leg(s) while not subscribed ({w.start:%H:%M:%S} to {w.end:%H:%M:%S})"
    ]
    for leg in sorted(found.missed + found.holds, key=lambda x: x.timestamp):
        when = f"{leg.timestamp:%Y-%m-%d %H:%M:%S}Z"
        price = "" if leg.price is None else f" @ {leg.price}"
        lines.append(f"  backfill {leg.side or 'hold':<4} {leg.symbol:<6}{price}  ({when})")
    return "\n".join(lines)


def _signal_text(signal: Signal) -> str:
    head = f"{signal.received_at:%Y-%m-%dT%H:%M:%S.%fZ} algorithm {signal.algo_id}"
    lines = [head]
    for leg in signal.legs:
        when = f"{leg.timestamp:%Y-%m-%d %H:%M:%S}Z"
        lines.append(f"  {leg.kind:<5} {leg.side:<4} {leg.symbol:<6} @ {leg.price}  ({when})")
    lines.extend(f"  {h.kind:<5} hold {h.symbol:<6} (keep the position)" for h in signal.held)
    lines.extend(f"  rejected {r.kind or ''} leg: {r.reason}" for r in signal.rejected)
    return "\n".join(lines)


@click.command("listen")
@click.option("--algo", "algos", type=int, multiple=True, help="Algorithm id (repeatable).")
@config_option(optional=True)
@click.option("--url", help="AlphaHub base URL, e.g. http://127.0.0.1:4000 for the simulator.")
@click.option("--connections", type=click.IntRange(1, 8), help="Simultaneous connections.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per signal.")
@click.option(
    "--backfill",
    is_flag=True,
    help="After a lapse (no connection subscribed), also print the legs AlphaHub's signal "
    "history has that were missed, marked as recovered.",
)
def listen(
    algos: tuple[int, ...],
    config_path: Path | None,
    url: str | None,
    connections: int | None,
    as_json: bool,
    backfill: bool,
) -> None:
    """Print AlphaHub signals as they arrive (default: the config's algorithms).

    Credentials: alphahub.email / alphahub.password in the config, or ALPHAHUB_EMAIL and
    ALPHAHUB_PASSWORD. Connection state changes and gaps go to stderr.
    """
    from tradebot.alphahub import Gap, Listener, StateChange
    from tradebot.clock import utcnow
    from tradebot.runtime.backfill import Backfiller, identities

    config = _load(config_path)
    settings = _settings(config, url, connections)
    algorithms = algos or config.subscribed_algorithms
    if not algorithms:
        raise click.UsageError("no algorithms: pass --algo ID or list them in the config")

    def on_state(change: StateChange) -> None:
        detail = f": {change.detail}" if change.detail else ""
        click.echo(f"[connection {change.connection}] {change.state}{detail}", err=True)

    fillers: list[Backfiller] = []

    def on_gap(gap: Gap) -> None:
        click.echo(
            f"[connection {gap.connection}] gap on algorithm {gap.algo_id} from "
            f"{gap.lost_at:%H:%M:%S.%f} to {gap.rejoined_at:%H:%M:%S.%f} ({gap.reason})",
            err=True,
        )
        for filler in fillers:
            filler.gap_closed(gap)

    async def print_recovered(found: Found) -> None:
        for leg in found.missed:  # printed once: a live copy arriving later is not
            listener.claim_legs(identities(leg))
        if found.missed or found.holds:
            click.echo(_recovered_json(found) if as_json else _recovered_text(found))

    async def nothing_journaled(keys: Sequence[str]) -> set[str]:
        return set()  # listen keeps no journal: what it printed live is in the listener

    listener = Listener(settings, algorithms, on_state=on_state, on_gap=on_gap)
    if backfill:
        fillers.append(
            Backfiller(
                listener,
                known=nothing_journaled,
                deliver=print_recovered,
                since=None,
                say=lambda text: click.echo(text, err=True),
                now=utcnow,
            )
        )

    async def run() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(listener.run())
            for filler in fillers:
                tg.create_task(filler.run())
            async for signal in listener.signals():
                click.echo(_signal_json(signal) if as_json else _signal_text(signal))

    try:
        asyncio.run(run())
    except BaseExceptionGroup as group:
        # Surface the listener's own error (AuthenticationError) for the exit code.
        raise group.exceptions[0] from None
