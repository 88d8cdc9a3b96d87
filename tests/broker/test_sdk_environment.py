"""The SDK's sessions read the environment's proxy settings once, when made, and honour them.

A plain ``requests.Session`` re-reads the environment on every request (about 0.1 ms each on
the signal path); ours reads it for the client's one URL when the client is made. These tests
show the proxy is still used (a real loopback proxy sees the request), ``NO_PROXY`` still
exempts a host, and nothing is re-read per request.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
import requests

from tradebot.broker.alpaca.sdk import trading_client


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy that answers every request itself and remembers its request line."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.requestline)
        body = b'{"id": "through-the-proxy"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    _Proxy.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_proxy_in_the_environment_carries_the_requests(
    proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # a host that does not resolve: only the proxy can answer for it
    client = trading_client("http://alpaca.invalid", "key", "secret", timeout=5)
    assert client.get_account() == {"id": "through-the-proxy"}
    assert _Proxy.seen == ["GET http://alpaca.invalid/v2/account HTTP/1.1"]


def test_no_proxy_exempts_the_host(proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "alpaca.invalid")
    client = trading_client("http://alpaca.invalid", "key", "secret", timeout=5)
    assert "http" not in client._session.proxies


def test_the_environment_is_read_once_not_per_request(
    proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    client = trading_client("http://alpaca.invalid", "key", "secret", timeout=5)
    assert client._session.trust_env is False
    # set after the client was made: a request does not read it (a restart does)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    request = client._session.prepare_request(
        requests.Request("GET", "http://alpaca.invalid/v2/account")
    )
    settings = client._session.merge_environment_settings(request.url, {}, None, None, None)
    assert settings["proxies"] == {}
