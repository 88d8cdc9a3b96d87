"""Serving: a taken port is reported, never raised; port 0 picks one; loopback or a token."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import requests
from pydantic import ValidationError

from tests.web.conftest import served
from tradebot.cli.main import main
from tradebot.config.hosts import is_loopback
from tradebot.config.model import Config, DashboardConfig
from tradebot.web.serve import start_dashboard
from tradebot.web.sources import LiveFeed, Sources


def test_a_taken_port_is_reported_and_port_zero_says_which(tmp_path: Path) -> None:
    sources = Sources(journal_path=tmp_path / "j.sqlite")
    with served(sources) as first:
        assert first.port and first.url == f"http://127.0.0.1:{first.port}/"
        assert requests.get(first.url + "static/app.css", timeout=10).status_code == 200
        with served(sources, DashboardConfig(port=first.port)) as second:
            assert second.url is None and not second.running
            assert second.error == f"not started: port {first.port} in use on 127.0.0.1"
            assert second.describe() == f"dashboard: {second.error}"
        # the first one is untouched by the attempt
        assert requests.get(first.url + "static/app.css", timeout=10).status_code == 200


async def test_start_dashboard_honours_enabled(tmp_path: Path) -> None:
    config = Config.model_validate({"dashboard": {"enabled": False}})
    handle = await start_dashboard(config, Sources(journal_path=tmp_path / "j.sqlite"))
    assert handle.error == "off (dashboard.enabled: false)" and not handle.running
    on = Config.model_validate({"dashboard": {"port": 0}})
    handle = await start_dashboard(on, Sources(journal_path=tmp_path / "j.sqlite"))
    try:
        assert handle.running and handle.port
    finally:
        await handle.stop()
    assert not handle.running
    with socket.create_server(("127.0.0.1", handle.port)):  # the port was let go
        pass


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.0.1", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    assert DashboardConfig(host=host).token is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.com"])
def test_anything_but_loopback_without_a_token_is_a_config_error(host: str) -> None:
    with pytest.raises(ValidationError, match="not loopback"):
        Config.model_validate({"dashboard": {"host": host}})
    with pytest.raises(ValidationError, match="not loopback"):
        Config.model_validate({"dashboard": {"host": host, "token": "  "}})  # blank: no token
    assert Config.model_validate({"dashboard": {"host": host, "token": "t0ken-abc"}})


def test_dashboard_command_refuses_a_public_host_without_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["dashboard", "--journal", str(tmp_path / "j.sqlite"), "--host", "0.0.0.0"])
    assert code == 2
    assert "not loopback" in capsys.readouterr().err


async def test_a_live_feed_wakes_every_waiting_stream_at_once() -> None:
    feed = LiveFeed()
    waiting = [asyncio.create_task(feed.wait(3600)) for _ in range(3)]
    await asyncio.sleep(0)  # let them start waiting
    feed.notify()
    async with asyncio.timeout(30):  # a deadline for a broken feed, far above any real wake
        await asyncio.gather(*waiting)
    await feed.wait(0)  # nothing to wait for: returns at its own deadline


def test_allowed_hosts_are_host_names_normalised() -> None:
    config = Config.model_validate(
        {"dashboard": {"allowed_hosts": ["Bot.Example.ORG.", "bot.example.org", "[::1]"]}}
    )
    assert config.dashboard.allowed_hosts == ("bot.example.org", "::1")
    for bad in ("bot.example.org:8800", "http://bot.example.org", "two words", "a/b"):
        with pytest.raises(ValidationError, match="allowed_hosts"):
            Config.model_validate({"dashboard": {"allowed_hosts": [bad]}})
