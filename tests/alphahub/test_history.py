"""The signal-history client (docs/alphahub.md#signal-history) against the simulator on
127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.alphahub.conftest import leg
from tests.conftest import load_fixture
from tradebot.alphahub.auth import login
from tradebot.alphahub.history import fetch_history, history_url, parse_history
from tradebot.core.signal import Side
from tradebot.exceptions import HistoryUnavailable, TransientError
from tradebot.simulators.alphahub import AlphaHubSimulator

DAY = date(2021, 4, 1)


async def token(sim: AlphaHubSimulator) -> str:
    grant = await asyncio.to_thread(login, sim.url, sim.email, sim.password, 5.0)
    return grant.token.get_secret_value()


async def fetch(sim: AlphaHubSimulator, algo: int = 16, after: date = DAY) -> list[object]:
    return await asyncio.to_thread(fetch_history, sim.url, await token(sim), algo, after, 2.0)


async def test_pushed_and_scripted_legs_come_back_newest_first(sim: AlphaHubSimulator) -> None:
    sim.history.add(16, [leg("OLD", ts="2021-03-01T14:30:00")])
    await sim.push(16, {"close": [leg("VRTX", "sell", "2021-04-26T14:30:00")]})
    await sim.push(16, {"open": [leg("JBHT", "buy", "2021-04-26T14:30:01")]})
    await sim.push(14, {"open": [leg("OTHER", "buy", "2021-04-26T14:30:01")]})
    got = await fetch(sim)
    assert [x["symbol"] for x in got] == ["JBHT", "VRTX"]  # type: ignore[index]
    assert sim.history.requests == 1


async def test_the_token_goes_raw_in_authorization(sim: AlphaHubSimulator) -> None:
    value = await token(sim)
    url = history_url(sim.url, 16)
    raw = await asyncio.to_thread(requests.get, url, headers={"Authorization": value}, timeout=5)
    bearer = await asyncio.to_thread(
        requests.get, url, headers={"Authorization": f"Bearer {value}"}, timeout=5
    )
    assert (raw.status_code, bearer.status_code) == (200, 401)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("404", "HTTP 404 (Not Found)"),
        ("401", "HTTP 401 (Unauthorized)"),
        ("html", "an HTML page instead of JSON"),
        ("garbage", "text that is not JSON"),
        ("shape", 'JSON that is not {"data": {"signals": [...]}}'),
    ],
)
async def test_a_missing_or_odd_endpoint_is_unavailable(
    sim: AlphaHubSimulator, fault: str, reason: str
) -> None:
    """The reason is what the endpoint answered, in words that read after "answered"."""
    sim.history_fault(fault)
    with pytest.raises(HistoryUnavailable) as caught:
        await fetch(sim)
    assert str(caught.value) == reason


async def test_a_stale_token_is_unavailable_with_its_status(sim: AlphaHubSimulator) -> None:
    stale = await token(sim)
    sim.expire_tokens()
    with pytest.raises(HistoryUnavailable) as caught:
        await asyncio.to_thread(fetch_history, sim.url, stale, 16, DAY, 2.0)
    assert caught.value.status == 401  # the caller tries once more with a fresh token


async def test_server_errors_and_timeouts_are_transient(sim: AlphaHubSimulator) -> None:
    sim.history_fault("500", count=1)
    with pytest.raises(TransientError, match="HTTP 500"):
        await fetch(sim)
    sim.history_fault("slow", count=1, delay=1.0)
    value = await token(sim)
    with pytest.raises(TransientError, match="Timeout"):
        await asyncio.to_thread(fetch_history, sim.url, value, 16, DAY, 0.2)
    assert await fetch(sim) == []  # the faults were for one request each


def test_nothing_listening_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientError) as caught:
        fetch_history(f"http://127.0.0.1:{port}", "secret-token", 16, DAY, 1.0)
    assert "secret-token" not in str(caught.value)


def test_the_published_sample_parses_with_holds_kept_apart() -> None:
    items = load_fixture("alphahub/signal_history.json")["data"]["signals"]
    legs, bad = parse_history(16, items, UTC)
    assert bad == []
    assert [(x.symbol, x.side) for x in legs] == [
        ("JBHT", Side.BUY),
        ("VRTX", Side.BUY),
        ("VRTX", Side.SELL),
        ("MU", None),
        ("MU", Side.BUY),
    ]
    assert legs[1].timestamp == datetime(2021, 4, 26, 14, 30, tzinfo=UTC)
    assert legs[3].identity == (16, "MU", "hold", datetime(2021, 4, 23, 14, 30, 1, tzinfo=UTC))


def test_bad_legs_are_set_apart_and_naive_times_read_in_the_zone() -> None:
    items = [
        {
            " Symbol ": " vrtx",
            "side": "Buy",
            "price": "216.08",
            "timestamp": "2021-04-26 T10:30:00",
        },
        {"side": "buy", "price": 1, "timestamp": "2021-04-26T10:30:00"},
        {"symbol": "X", "side": "short", "price": 1, "timestamp": "2021-04-26T10:30:00"},
        "not a leg",
    ]
    legs, bad = parse_history(16, items, ZoneInfo("America/New_York"))
    (only,) = legs
    assert only.symbol == "VRTX" and only.timestamp == datetime(2021, 4, 26, 14, 30, tzinfo=UTC)
    assert [b.index for b in bad] == [1, 2, 3]
    assert "missing symbol" in bad[0].reason


@contextmanager
def _answering(body: bytes) -> Iterator[str]:
    """A server on 127.0.0.1 whose every GET answers ``body`` (what the simulator cannot say)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


_LEG = b'{"price": 1, "side": "buy", "symbol": "X", "timestamp": "2021-04-26T14:30:00"}'


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"data": {"signals": [' + _LEG + b'], "signals": []}}', '"signals"'),
        (b'{"data": {"signals": []}, "data": {"signals": [' + _LEG + b"]}}", '"data"'),
        (b'{"data": {"signals": [], "signals": []}}', '"signals"'),  # even when they agree
    ],
)
def test_an_answer_that_repeats_a_key_of_its_wrapper_is_unavailable(body: bytes, key: str) -> None:
    """Plain JSON keeps the last of two equal keys: the legs read would be a guess."""
    with _answering(body) as url, pytest.raises(HistoryUnavailable) as caught:
        fetch_history(url, "token", 16, DAY, 2.0)
    assert str(caught.value) == f"JSON that repeats the key {key} (which one holds the legs?)"


def test_a_leg_that_repeats_a_key_is_one_bad_leg_not_a_bad_answer() -> None:
    twice = b'{"price": 1, "side": "buy", "symbol": "A", "symbol": "B", "timestamp": "2021-04-26"}'
    with _answering(b'{"data": {"signals": [' + twice + b", " + _LEG + b"]}}") as url:
        items = fetch_history(url, "token", 16, DAY, 2.0)
    legs, bad = parse_history(16, items, UTC)
    assert [x.symbol for x in legs] == ["X"] and [b.index for b in bad] == [0]
    assert "symbol" in bad[0].reason
