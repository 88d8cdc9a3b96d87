"""No secret leaves the process: `tradebot -vv run` as a real process between both simulators,
through pushed signals, fills and a dropped connection, then every command that reads what it
left behind. Every output, the status file and every byte in the journal folder are searched for
every secret, and for its URL-encoded and base64 forms.

Every secret below contains ``SECRET``, so the search also catches a secret cut in part (a
library's truncated frame dump): the word itself must never appear.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, quote_plus

from tests.e2e.harness import (
    ALGORITHMS_YAML,
    ALGOS,
    DEADLINE,
    broker_orders,
    entries,
    last_id,
    leg,
    planned_after,
    unresolved,
    until,
    wait_subscribed,
)
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

HUB_EMAIL = "mail-SECRET-e7m@example.org"
HUB_PASSWORD = "pw-SECRET-h9b/+&=x"  # characters that URL-encoding and base64 change
HUB_URL_USER, HUB_URL_PASSWORD = "hubuser", "URLPW-SECRET-u5p"
KEY_ID, SECRET_KEY = "KEY-SECRET-k4d", "SEC-SECRET-s8q"
STREAM_TOKEN = "TOK-SECRET-t2w"


def config_yaml(hub_port: int, rest_url: str, stream_url: str) -> str:
    # (credentials inside an Alpaca URL are refused by the config: Alpaca takes keys in headers)
    return f"""\
mode: paper
alphahub:
  url: http://{HUB_URL_USER}:{HUB_URL_PASSWORD}@127.0.0.1:{hub_port}
  email: {HUB_EMAIL}
  password: "{HUB_PASSWORD}"
  connections: 2
  heartbeat_interval: 1
  heartbeat_timeout: 2
  join_timeout: 2
  reconnect: {{first_delay: 0.05, max_delay: 0.5, healthy_after: 2}}
broker:
  name: alpaca
  alpaca:
    url: {rest_url}
    data_url: {rest_url}
    stream_url: {stream_url}?token={STREAM_TOKEN}
    key_id: {KEY_ID}
    secret_key: {SECRET_KEY}
    timeout: 2
    first_retry_delay: 0.05
    max_retry_delay: 0.5
    reconnect_delay: 0.1
journal:
  path: journal/tradebot.sqlite
  recheck_interval: 1
risk:
  max_signal_age: 600
{ALGORITHMS_YAML}"""


def forms(secret: str) -> Iterator[str]:
    """The secret as it could leak: itself, URL-encoded, base64 (padding aside)."""
    yield secret
    yield quote(secret, safe="")
    yield quote_plus(secret)
    yield base64.b64encode(secret.encode()).decode().rstrip("=")
    yield base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")


def leaks(text: str, secrets: list[str]) -> list[str]:
    found = [
        f"{form!r} (of {secret!r})" for secret in secrets for form in forms(secret) if form in text
    ]
    if "SECRET" in text:
        at = text.index("SECRET")
        found.append(f"'SECRET' in ...{text[max(0, at - 120) : at + 40]!r}...")
    return found


class Process:
    """``python -m tradebot ARGS`` with stdout and stderr in their own files."""

    def __init__(self, folder: Path, name: str, *args: str) -> None:
        self.args = args
        self.stdout = folder / f"{name}.out"
        self.stderr = folder / f"{name}.err"
        self.folder = folder
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "ALPHAHUB_"))}
        env["PYTHONUNBUFFERED"] = "1"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tradebot",
                *self.args,
                stdout=out,
                stderr=err,
                stdin=asyncio.subprocess.DEVNULL,
                cwd=self.folder,
                env=env,
            )

    async def stop(self, sig: int) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        async with asyncio.timeout(DEADLINE):
            return await self.proc.wait()

    async def finish(self) -> int:
        assert self.proc is not None
        async with asyncio.timeout(DEADLINE * 2):
            return await self.proc.wait()

    def out(self) -> str:
        return self.stdout.read_text(errors="replace")

    def err(self) -> str:
        return self.stderr.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


def journal_bytes(folder: Path, when: str) -> dict[str, str]:
    """Every file in the journal folder (the SQLite db, its WAL and SHM, the status file)."""
    return {
        f"{path.name} {when}": path.read_bytes().decode("latin-1")
        for path in folder.iterdir()
        if path.is_file()
    }


async def command(folder: Path, name: str, *args: str) -> Process:
    process = Process(folder, name, "-vv", *args)
    await process.start()
    code = await process.finish()
    assert code == 0, f"{args}: exit {code}\n{process.err()[-3000:]}"
    return process


async def test_no_secret_reaches_any_output_log_status_or_journal_byte(tmp_path: Path) -> None:
    outputs: dict[str, str] = {}
    with AlpacaServer(key=KEY_ID, secret=SECRET_KEY) as server:
        server.set_price("VRTX", Decimal("216.08"))  # the market at the legs' prices
        server.set_price("JBHT", Decimal("150.00"))
        async with AlphaHubSimulator(port=0, email=HUB_EMAIL, password=HUB_PASSWORD) as hub:
            config = tmp_path / "config.yaml"
            config.write_text(config_yaml(hub.port, server.url, server.stream_url))
            journal = tmp_path / "journal" / "tradebot.sqlite"
            bot = Process(tmp_path, "run", "-vv", "run", "--paper", "--config", str(config))
            await bot.start()
            try:
                await wait_subscribed(hub, ALGOS)
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
                mark = last_id(journal)
                await hub.push(14, {"open": [leg("VRTX", "buy", "216.08", stamp)]})
                await until(lambda: planned_after(journal, 14, mark), "the first plan")
                await until(lambda: unresolved(journal) == 0, "the first fill")
                assert hub.drop() >= 2  # every connection: a lapse, journaled
                await until(lambda: bool(entries(journal, statuses=(Status.GAP,))), "the gap")
                await wait_subscribed(hub, ALGOS)
                mark = last_id(journal)
                await hub.push(16, {"open": [leg("JBHT", "buy", "150.00", stamp)]})
                await until(lambda: planned_after(journal, 16, mark), "the second plan")
                await until(lambda: unresolved(journal) == 0, "the second fill")
                mark = last_id(journal)
                edited = config.read_text().replace("max_signal_age: 600", "max_signal_age: 900")
                config.write_text(edited)
                await until(
                    lambda: bool(entries(journal, statuses=(Status.CONFIG,), after_id=mark)),
                    "the edited config applied and journaled",
                )
                status = await command(tmp_path, "status", "status", "--config", str(config))
                outputs["status (running)"] = status.out() + status.err()
                outputs.update(journal_bytes(journal.parent, "(running)"))  # the WAL is live
                assert await bot.stop(signal.SIGTERM) == 0
            finally:
                bot.kill()
            outputs["run stdout"], outputs["run stderr"] = bot.out(), bot.err()
            assert "PAPER trading" in outputs["run stdout"]  # the banner, masked, is there
            assert "DEBUG" in outputs["run stderr"]  # -vv did log at debug level
            assert "api_token=***" in outputs["run stderr"]  # the socket URL, masked

            bots = set(hub.connections)  # closed, but the hub may not have noticed yet
            listen = Process(tmp_path, "listen", "-vv", "listen", "--config", str(config))
            await listen.start()
            try:
                await until(lambda: len(set(hub.joined(14)) - bots) >= 2, "listen subscribed")
                await hub.push(14, {"close": [leg("VRTX", "sell", "217.00", stamp)]})
                await until(lambda: "VRTX" in listen.out(), "the signal printed by listen")
                await listen.stop(signal.SIGINT)
            finally:
                listen.kill()
            outputs["listen stdout"], outputs["listen stderr"] = listen.out(), listen.err()
            tokens = hub.tokens_issued

        cid = broker_orders(server)[0].client_order_id
        for name, args in {
            "config check": ("config", "check", str(config)),
            "journal": ("journal", "--config", str(config), "--format", "json"),
            "explain": ("explain", cid, "--config", str(config)),
            "status": ("status", "--config", str(config), "--json"),
            "positions": ("positions", "--config", str(config)),
            "report": ("report", "--config", str(config)),
        }.items():
            done = await command(tmp_path, name.replace(" ", "-"), *args)
            outputs[name] = done.out() + done.err()

    assert cid in outputs["journal"] and cid in outputs["explain"]  # the commands did show rows
    outputs.update(journal_bytes(tmp_path / "journal", "(stopped)"))
    assert any(name.endswith("-wal (running)") for name in outputs)
    assert any(name.endswith(".status.json (stopped)") for name in outputs)

    secrets = [
        HUB_EMAIL,
        HUB_PASSWORD,
        HUB_URL_PASSWORD,
        f"{HUB_URL_USER}:{HUB_URL_PASSWORD}",  # base64 of this is HTTP basic auth
        KEY_ID,
        SECRET_KEY,
        STREAM_TOKEN,
        *tokens,
    ]
    assert len(tokens) >= 2  # the bot's login and the listener's
    found = {where: leaks(text, secrets) for where, text in outputs.items()}
    assert not any(found.values()), {where: hits for where, hits in found.items() if hits}
