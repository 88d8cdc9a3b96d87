"""Alerts through Apprise to a local HTTP receiver (``json://127.0.0.1:PORT/...``): one message
per event from a real bot, bursts coalesced, URLs masked, and a dead or hanging receiver that
changes nothing about trading."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.web.test_served_dashboard import DEADLINE, running_bot
from tradebot.broker.sim import SimBroker
from tradebot.cli.main import main
from tradebot.config.display import effective_config_yaml
from tradebot.config.model import Config, NotifyTarget, SimBrokerConfig
from tradebot.execution.executor import Executor
from tradebot.journal.sqlite import open_journal
from tradebot.masking import mask, register
from tradebot.runtime.alerts import Alerts
from tradebot.runtime.killswitch import write_kill_switch
from tradebot.runtime.observer import ErrorRecorded, SignalHandled
from tradebot.simulators.alphahub.server import topic


class Receiver:
    """An HTTP server on a free loopback port keeping every JSON body posted to it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(size)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(DEADLINE):
            while len(self.messages) < count:  # noqa: ASYNC110 (filled by another thread)
                await asyncio.sleep(0.05)
        return self.messages


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(10)


#: every message's title names the bot (``name:``), the mode and the account
HEAD = "tradebot test-bot (paper, account SIM)"


def notify_yaml(*targets: tuple[str, str]) -> str:
    lines = ["name: test-bot", "notify:"]
    for url, events in targets:
        lines += [f"  - url: {url}", f"    events: [{events}]"]
    return "\n".join(lines) + "\n"


async def test_one_message_per_event_from_a_running_bot(tmp_path: Path) -> None:
    with receiving() as receiver:
        extra = notify_yaml((receiver.url, "fill, error, stopped"))
        async with running_bot(tmp_path, extra=extra) as run:
            await run.push_open("AAPL", 189.4)
            (fill,) = await receiver.wait_for(1)
            assert fill["title"] == f"{HEAD}: fill"
            assert "AAPL" in fill["message"] and "algorithm 17" in fill["message"]

            assert run.hub.send_raw(f'[null, null, "{topic(17)}", "new_signals", [1]]') == 1
            _, error = await receiver.wait_for(2)
            assert error["title"] == f"{HEAD}: error"
        _, _, stopped = await receiver.wait_for(3)
        assert stopped["title"] == f"{HEAD}: stopped"
        assert stopped["message"] == "tradebot stopped cleanly"
        await asyncio.sleep(0.5)  # nothing else trickles in
        assert len(receiver.messages) == 3


async def test_only_the_events_a_url_asked_for(tmp_path: Path) -> None:
    with receiving() as fills, receiving() as stops:
        extra = notify_yaml((fills.url, "fill"), (stops.url, "stopped"))
        async with running_bot(tmp_path, extra=extra) as run:
            await run.push_open("AAPL", 189.4)
            await fills.wait_for(1)
        await stops.wait_for(1)
        assert [m["title"] for m in fills.messages] == [f"{HEAD}: fill"]
        assert [m["title"] for m in stops.messages] == [f"{HEAD}: stopped"]


async def test_a_burst_is_one_message() -> None:
    with receiving() as receiver:
        alerts = Alerts([NotifyTarget(url=receiver.url, events=("error",))], coalesce=1.0)
        worker = asyncio.create_task(alerts.run())
        try:
            for n in range(5):
                alerts.notice(ErrorRecorded(f"problem {n}"))
            (message,) = await receiver.wait_for(1)
            await asyncio.sleep(1.5)
            assert len(receiver.messages) == 1
            assert message["message"].splitlines() == [f"error: problem {n}" for n in range(5)]
        finally:
            worker.cancel()


@contextmanager
def dead_receiver(kind: str) -> Iterator[str]:
    """A URL nobody answers: a closed port, or a server that accepts and never replies."""
    if kind == "closed":
        with socket.create_server(("127.0.0.1", 0)) as sock:
            port = sock.getsockname()[1]
        yield f"json://127.0.0.1:{port}/hook"
        return
    with socket.create_server(("127.0.0.1", 0), backlog=64) as sock:  # never accepts
        yield f"json://127.0.0.1:{sock.getsockname()[1]}/hook?rto=2&cto=2"


@pytest.mark.parametrize("kind", ["closed", "hanging"])
async def test_a_dead_receiver_changes_nothing_about_trading(tmp_path: Path, kind: str) -> None:
    with dead_receiver(kind) as url:
        every = "fill, error, stopped, order_rejected, order_failed"
        async with running_bot(tmp_path, extra=notify_yaml((url, every))) as run:
            await run.push_open("AAPL", 189.4)
            await run.push_open("NVDA", 131.2)
            assert run.bot.handled == 2
            assert run.orders() == ["AAPL", "NVDA"]
            alerts = run.plugged.alerts
            assert alerts is not None
        # it did try, and every try failed quietly
        assert alerts.sent and not any(ok for _, ok in alerts.sent)


async def test_a_secret_in_an_alert_never_reaches_the_receiver() -> None:
    """What an alert says comes from errors, broker answers and signals: a password a library
    quoted in an error must arrive masked, through Apprise, at the receiver."""
    secret = f"hub-password-{uuid.uuid4().hex[:12]}"
    register(secret)  # as the bot registers its config's secrets at start-up
    with receiving() as receiver:
        alerts = Alerts([NotifyTarget(url=receiver.url, events=("error",))], coalesce=0.1)
        worker = asyncio.create_task(alerts.run())
        try:
            alerts.notice(ErrorRecorded(f"login refused for {secret} (password={secret})"))
            (message,) = await receiver.wait_for(1)
        finally:
            worker.cancel()
    received = json.dumps(message)
    assert secret not in received
    assert message["message"] == "error: login refused for *** (password=***)"


def test_notify_urls_are_secrets_masked_everywhere() -> None:
    url = "json://127.0.0.1:9/hook-a9f3e2c1d0"
    config = Config.model_validate({"notify": [{"url": url, "events": ["fill"]}]})
    assert url not in repr(config)
    Alerts(config.notify)  # registers the URL with the masker
    assert mask(f"sending to {url} failed") == "sending to *** failed"
    shown = effective_config_yaml(config)  # what `tradebot config check` prints
    assert url not in shown and "events:" in shown


def test_tokens_inside_a_url_are_masked_alone_too() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    Alerts([NotifyTarget(url=f"tgram://{token}/-100987654321", events=("fill",))])
    assert mask(f"telegram said no to bot {token}") == "telegram said no to bot ***"
    assert mask("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw") == "***"
    assert mask("json://127.0.0.1:9000/hooks tradebot") == "json://127.0.0.1:9000/hooks tradebot"


def test_unknown_events_and_non_urls_are_refused() -> None:
    with pytest.raises(ValidationError, match="fil"):
        Config.model_validate({"notify": [{"url": "json://h/x", "events": ["fil"]}]})
    with pytest.raises(ValidationError, match="Apprise URL"):
        Config.model_validate({"notify": [{"url": "not a url", "events": ["fill"]}]})
    with pytest.raises(ValidationError):
        Config.model_validate({"notify": [{"url": "json://h/x", "events": []}]})


def test_notify_test_sends_one_message_to_each_url(tmp_path: Path, capsys: Any) -> None:
    with receiving() as receiver, dead_receiver("closed") as dead:
        path = tmp_path / "config.yaml"
        path.write_text(notify_yaml((receiver.url, "fill"), (dead, "error, stopped")))
        assert main(["notify", "test", "--config", str(path)]) == 1
        out = capsys.readouterr().out
        assert "notify[0] json:// (fill): sent" in out
        assert "notify[1] json:// (error, stopped): FAILED" in out
        assert receiver.url not in out and dead not in out
        assert [m["title"] for m in receiver.messages] == ["tradebot: test"]


async def test_kill_switch_and_lapse_each_alert_once(tmp_path: Path) -> None:
    every = "order_rejected, order_failed, kill_switch, lapse, drift, fill"
    with receiving() as receiver:
        async with running_bot(tmp_path, extra=notify_yaml((receiver.url, every))) as run:
            await run.push_open("AAPL", 189.4)
            (fill,) = await receiver.wait_for(1)
            assert fill["title"] == f"{HEAD}: fill"
            write_kill_switch(
                tmp_path / "tradebot.halt", reduce_only=False, reason="test", now=datetime.now(UTC)
            )
            await run.push_open("NVDA", 131.2)
            await receiver.wait_for(2)
            run.hub.drop()
            await receiver.wait_for(3)
        titles = [m["title"] for m in receiver.messages]
        assert titles == [f"{HEAD}: fill", f"{HEAD}: kill_switch", f"{HEAD}: lapse"]
        assert "kill switch: halt (test)" in receiver.messages[1]["message"]
        assert "algorithm 17 was not subscribed" in receiver.messages[2]["message"]


async def test_a_refused_order_is_order_rejected(
    tmp_path: Path,
) -> None:
    """A real executor's result: the sim broker refuses an order beyond its cash."""
    with receiving() as receiver:
        targets = [NotifyTarget(url=receiver.url, events=("order_rejected", "order_failed"))]
        alerts = Alerts(targets, coalesce=0.1)
        worker = asyncio.create_task(alerts.run())
        try:
            poor = SimBroker(SimBrokerConfig(cash=Decimal(100), prices={"AAPL": Decimal(189)}))
            with open_journal(tmp_path / "j.sqlite") as journal:
                executor = Executor(journal, poor, journal.rebuild_book())
                signal = make_signal(17, opens=(("AAPL", "buy", "189"),))
                result = await executor.handle(signal, simple_plan)
            alerts.notice(SignalHandled(signal, result))
            (message,) = await receiver.wait_for(1)
            assert message["title"].endswith(": order_rejected")
            assert "insufficient buying power" in message["message"]
        finally:
            worker.cancel()
