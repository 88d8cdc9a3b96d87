"""One simulated AlphaHub websocket connection: the server side of Phoenix Channels vsn 2.0.0.

Runs the websockets sans-I/O :class:`~websockets.server.ServerProtocol` over an asyncio stream
we own, so the simulator can do what a real network does to a client: drop the TCP link without a
close frame, close with any code, stop answering heartbeats, send garbage.

Server behaviour copied from Phoenix: a join carries refs that the reply echoes (``null`` refs
are accepted and echoed, as the service does for older clients); joining a topic that is already
joined on the socket closes the old instance first (``phx_close`` with the old join ref); a socket
that receives nothing for ``idle_timeout`` seconds is closed with code 1000.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

log = logging.getLogger(__name__)

TOPIC_PREFIX = "algorithms:"
_OK: dict[str, Any] = {"status": "ok", "response": {}}


def encode(join_ref: Any, ref: Any, topic: str, event: str, payload: Any) -> str:
    return json.dumps([join_ref, ref, topic, event, payload], separators=(",", ":"))


def valid_topic(topic: str) -> bool:
    tail = topic[len(TOPIC_PREFIX) :] if topic.startswith(TOPIC_PREFIX) else ""
    return tail.isascii() and tail.isdigit() and 0 < len(tail) <= 9 and int(tail) > 0


class SimConnection:
    """A live websocket connection; ``channels`` maps a joined topic to its join ref."""

    def __init__(
        self,
        conn_id: int,
        protocol: ServerProtocol,
        writer: asyncio.StreamWriter,
        on_change: Callable[[], None],
        idle_timeout: float,
    ) -> None:
        self.id = conn_id
        self.channels: dict[str, str | None] = {}
        self.heartbeats_muted = False
        self.heartbeats_answered = 0
        self._protocol = protocol
        self._writer = writer
        self._on_change = on_change
        self._idle_timeout = idle_timeout
        self._fragments: list[bytes] = []
        self.closed = asyncio.Event()

    # -- sending --------------------------------------------------------------------------------

    def _flush(self) -> None:
        for data in self._protocol.data_to_send():
            if data:
                self._writer.write(data)
            else:  # SEND_EOF: the close handshake is done
                self.abort()

    def send_text(self, text: str) -> None:
        if self._protocol.state is State.OPEN:
            self._protocol.send_text(text.encode())
            self._flush()

    def send_binary(self, data: bytes) -> None:
        if self._protocol.state is State.OPEN:
            self._protocol.send_binary(data)
            self._flush()

    def push(self, topic: str, event: str, payload: Any, *, with_join_ref: bool) -> bool:
        """Send ``event`` on ``topic`` if this connection has joined it; True if sent."""
        if topic not in self.channels:
            return False
        join_ref = self.channels[topic] if with_join_ref else None
        self.send_text(encode(join_ref, None, topic, event, payload))
        return True

    def end_channel(self, topic: str, event: str, join_ref: str | None = None) -> bool:
        """Send ``phx_close``/``phx_error`` for the current (or a given) join and forget it."""
        if topic not in self.channels:
            return False
        current = self.channels[topic]
        ref = current if join_ref is None else join_ref
        if ref == current:
            del self.channels[topic]
            self._on_change()
        self.send_text(encode(ref, None, topic, event, {}))
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Start a close handshake with ``code``; the link is cut if the client does not answer."""
        if self._protocol.state is State.OPEN:
            self._protocol.send_close(code, reason)
            self._flush()
            asyncio.get_running_loop().call_later(2.0, self.abort)
        self._forget_channels()

    def abort(self) -> None:
        """Cut the TCP link: no close frame, no FIN handshake (a reset)."""
        self._forget_channels()
        transport = self._writer.transport
        if not transport.is_closing():
            transport.abort()
        self.closed.set()

    def _forget_channels(self) -> None:
        if self.channels:
            self.channels.clear()
            self._on_change()

    # -- receiving ------------------------------------------------------------------------------

    async def serve(self, reader: asyncio.StreamReader) -> None:
        """Read frames until the link ends; answer joins, leaves and heartbeats."""
        last_received = time.monotonic()
        try:
            while self._protocol.state is not State.CLOSED:
                remaining = last_received + self._idle_timeout - time.monotonic()
                if remaining <= 0:
                    # Phoenix: a socket that sends nothing (no heartbeat) is closed as idle.
                    self.close(1000, "idle")
                    remaining = 2.0
                try:
                    async with asyncio.timeout(remaining):
                        data = await reader.read(65536)
                except TimeoutError:
                    continue
                if not data:
                    self._protocol.receive_eof()
                    self._flush()
                    break
                last_received = time.monotonic()
                self._protocol.receive_data(data)
                for event in self._protocol.events_received():
                    if isinstance(event, Frame):
                        self._frame(event)
                self._flush()
        except (ConnectionError, OSError):
            pass
        finally:
            self.abort()

    def _frame(self, frame: Frame) -> None:
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            return  # ping/pong/close are handled by the protocol object
        self._fragments.append(bytes(frame.data))
        if not frame.fin:
            return
        data, self._fragments = b"".join(self._fragments), []
        try:
            message = json.loads(data)
            join_ref, ref, topic, event, payload = message
        except (ValueError, TypeError):
            log.info("connection %d sent a malformed frame", self.id)
            return
        if not isinstance(topic, str) or not isinstance(event, str):
            return
        self._message(join_ref, ref, topic, event, payload)

    def _message(self, join_ref: Any, ref: Any, topic: str, event: str, payload: Any) -> None:
        if topic == "phoenix" and event == "heartbeat":
            if not self.heartbeats_muted:
                self.heartbeats_answered += 1
                self.send_text(encode(None, ref, "phoenix", "phx_reply", _OK))
                self._on_change()
            return
        if event == "phx_join":
            if not valid_topic(topic):
                reply = {"status": "error", "response": {"reason": "unmatched topic"}}
                self.send_text(encode(join_ref, ref, topic, "phx_reply", reply))
                return
            if topic in self.channels:
                # Phoenix closes the previous instance of a topic before a duplicate join.
                self.send_text(encode(self.channels[topic], None, topic, "phx_close", {}))
            self.channels[topic] = join_ref if isinstance(join_ref, str) else None
            self.send_text(encode(join_ref, ref, topic, "phx_reply", _OK))
            self._on_change()
            return
        if event == "phx_leave":
            self.channels.pop(topic, None)
            self.send_text(encode(join_ref, ref, topic, "phx_reply", _OK))
            self.send_text(encode(join_ref, None, topic, "phx_close", {}))
            self._on_change()
            return
        reply = {"status": "error", "response": {"reason": "unmatched topic"}}
        self.send_text(encode(join_ref, ref, topic, "phx_reply", reply))
