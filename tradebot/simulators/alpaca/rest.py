"""The REST half of the local Alpaca server: a threaded HTTP/1.1 server for the Trading API v2.

Routes (the ones tradebot's adapter uses): ``GET /v2/account``, ``GET /v2/clock``,
``GET /v2/assets/{symbol}``, ``POST /v2/orders``, ``GET /v2/orders``,
``GET /v2/orders:by_client_order_id``, ``GET /v2/orders/{id}``, ``DELETE /v2/orders/{id}``
(orders of every type Alpaca has for stocks, and bracket/oto/oco orders with their legs),
``GET /v2/positions``, ``GET /v2/positions/{symbol}``, and the market-data snapshot
``GET /v2/stocks/snapshots?symbols=...&feed=...`` (served on the same port: point
``broker.alpaca.data_url`` here too). Requests need both ``APCA-API-KEY-ID`` and
``APCA-API-SECRET-KEY`` (401 otherwise). Scripted faults apply before or after the request takes
effect (see :class:`~tradebot.simulators.alpaca.faults.Fault`).
"""

from __future__ import annotations

import json
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tradebot.simulators.alpaca.faults import FaultKind
from tradebot.simulators.alpaca.models import UNAUTHORIZED, ApiError

if TYPE_CHECKING:
    from tradebot.simulators.alpaca.server import AlpacaServer


class RestServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: AlpacaServer) -> None:
        super().__init__(address, _Handler)
        self.app = app


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's requests.Session expects
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall
    server: RestServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the CLI read the inspection API, not an access log."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not app.authorized(
            self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY")
        ):
            self._send(401, {"code": UNAUTHORIZED, "message": "request is not authorized"})
            return
        app.begin_request()
        try:
            self._serve_authorized(app, method, url.path, query, raw)
        finally:
            app.end_request()

    def _serve_authorized(
        self, app: AlpacaServer, method: str, path: str, query: dict[str, str], raw: bytes
    ) -> None:
        fault = app.take_fault(method, path)
        if fault is not None and fault.kind is FaultKind.STATUS and not fault.process:
            self._send_fault(fault.status, fault.retry_after)
            return
        if fault is not None and fault.kind is FaultKind.SLOW and not fault.process:
            time.sleep(fault.delay)  # held up in transit: it arrives after the client gave up
        if fault is not None and fault.kind is FaultKind.HANG:
            app.hold()  # a broker that hangs: nothing happens until the test releases it
            fault = None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        try:
            status, payload = app.handle(method, path, query, body)
        except ApiError as exc:
            status, payload = exc.status, exc.body
        if fault is None:
            self._send(status, payload)
        elif fault.kind is FaultKind.STATUS:
            self._send_fault(fault.status, fault.retry_after)
        elif fault.kind is FaultKind.SLOW:
            if fault.process:
                time.sleep(fault.delay)  # this handler thread only; the client has given up
            self._send(status, payload)
        else:  # DROP: the order exists, the client never hears about it
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_fault(self, status: int, retry_after: str | None) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        if status == 429:
            self._send(status, {"code": 42910000, "message": "rate limit exceeded"}, headers)
        else:  # gateways answer 5xx with HTML, not JSON: the adapter must cope
            self._send_raw(
                status, b"<html><body>upstream error</body></html>", "text/html", headers
            )

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        if payload is None:
            self._send_raw(status, b"", None, headers or {})
        else:
            data = json.dumps(payload).encode()
            self._send_raw(status, data, "application/json", headers or {})

    def _send_raw(
        self, status: int, data: bytes, content_type: str | None, headers: dict[str, str]
    ) -> None:
        try:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left (it timed out): nothing to tell it
