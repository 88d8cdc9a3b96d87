"""The trade-updates websocket of the local Alpaca server, on its own asyncio loop thread.

Protocol (what alpaca-py 0.44's ``TradingStream`` speaks, JSON text frames):

* client ``{"action": "authenticate", "data": {"key_id": K, "secret_key": S}}``
  -> ``{"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}}``
  (``"unauthorized"`` and a close on bad keys);
* client ``{"action": "listen", "data": {"streams": ["trade_updates"]}}``
  -> ``{"stream": "listening", "data": {"streams": ["trade_updates"]}}``;
* then ``{"stream": "trade_updates", "data": {"event": ..., "order": {...}, ...}}`` per update.

Like Alpaca's, the stream never replays what a client missed while disconnected. Knobs:
:meth:`StreamServer.drop_connections` and :attr:`StreamServer.accepting` (503 on connect).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


class StreamServer:
    def __init__(self, authorized: Callable[[str | None, str | None], bool]) -> None:
        self._authorized = authorized
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._listeners: set[ServerConnection] = set()
        self._stopping: asyncio.Event | None = None
        self.accepting = True
        self.port = 0
        self.connections_made = 0

    # -- lifecycle (called from any thread) -------------------------------------------------

    def start(self, host: str, port: int) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(host, port, ready), daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("the trade-updates websocket did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self, host: str, port: int, ready: threading.Event) -> None:
        asyncio.run(self._main(host, port, ready))

    async def _main(self, host: str, port: int, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with serve(self._handler, host, port, process_request=self._gate) as server:
            self._server = server
            self.port = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            await self._stopping.wait()
            server.close()

    # -- knobs ------------------------------------------------------------------------------

    @property
    def listeners(self) -> int:
        """Connections currently authenticated and listening to trade updates."""
        return len(self._listeners)

    def publish(self, text: str) -> None:
        """Send ``text`` to every listener (thread-safe; order of calls is kept)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._broadcast, text)

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the stream's loop after ``delay`` seconds (timed fills)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.call_later, delay, fn, *args)

    def drop_connections(self) -> None:
        """Close every stream connection abruptly, as a network failure would."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._drop_all)

    # -- on the loop ------------------------------------------------------------------------

    def _broadcast(self, text: str) -> None:
        broadcast(set(self._listeners), text)

    def _drop_all(self) -> None:
        for conn in list(self._listeners):
            self._listeners.discard(conn)
            conn.transport.abort()

    def _gate(self, connection: ServerConnection, request: Request) -> Response | None:
        if not self.accepting:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "stream paused\n")
        return None

    async def _handler(self, conn: ServerConnection) -> None:
        self.connections_made += 1
        try:
            auth = _load(await conn.recv())
            data = auth.get("data") or {}
            ok = auth.get("action") in ("authenticate", "auth") and self._authorized(
                data.get("key_id"), data.get("secret_key")
            )
            status = "authorized" if ok else "unauthorized"
            await conn.send(
                json.dumps(
                    {
                        "stream": "authorization",
                        "data": {"action": "authenticate", "status": status},
                    }
                )
            )
            if not ok:
                await conn.close(1008, "unauthorized")
                return
            async for message in conn:
                request = _load(message)
                if request.get("action") == "listen":
                    streams = (request.get("data") or {}).get("streams") or []
                    if "trade_updates" in streams:
                        self._listeners.add(conn)
                    else:
                        self._listeners.discard(conn)
                    await conn.send(
                        json.dumps({"stream": "listening", "data": {"streams": streams}})
                    )
        except ConnectionClosed:
            pass  # the client went away; nothing to clean up beyond the listener set
        finally:
            self._listeners.discard(conn)


def _load(message: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(message)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
