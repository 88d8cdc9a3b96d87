"""``tradebot simulate alphahub``: run the AlphaHub simulator on loopback until Ctrl-C."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from tradebot.simulators.alphahub.script import ScriptEntry, load_script
from tradebot.simulators.alphahub.server import AlphaHubSimulator


@click.command("alphahub")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4000, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--script",
    "script_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSONL of {"at": seconds, "algo_id": N, "payload": {...}}, timed from the first join.',
)
@click.option("--email", default="demo@example.com", show_default=True, help="Accepted login.")
@click.option("--password", default="demo", show_default=True, help="Accepted password.")
@click.option(
    "--token-lifetime", default=1800.0, show_default=True, type=float, help="Token life, seconds."
)
def command(
    host: str,
    port: int,
    script_path: Path | None,
    email: str,
    password: str,
    token_lifetime: float,
) -> None:
    """Serve AlphaHub's REST login and Phoenix channels (vsn 2.0.0) locally.

    Point tradebot at it with `alphahub.url: http://127.0.0.1:PORT`. Signals come from --script,
    or from `POST /_sim/push` with `{"algo_id": 14, "payload": {...}}`; faults from
    `POST /_sim/fault` with `{"fault": "drop"}` (see AlphaHubSimulator.control).
    """
    try:
        script: list[ScriptEntry] = load_script(script_path) if script_path else []
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--script") from None

    async def serve() -> None:
        sim = AlphaHubSimulator(
            host=host,
            port=port,
            email=email,
            password=password,
            token_lifetime=token_lifetime,
            script=script,
        )
        async with sim:
            click.echo(f"AlphaHub simulator on {sim.url} (login {email})", err=True)
            await sim.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        click.echo("simulator stopped", err=True)
