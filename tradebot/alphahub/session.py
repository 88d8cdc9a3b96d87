"""One AlphaHub connection's lifecycle: log in, connect, join, heartbeat, and reconnect forever.

:class:`Session` is a thin asyncio loop over the sans-I/O :class:`~.protocol.ChannelClient`: one
coroutine reads frames with a deadline (the next heartbeat or join timeout), so no frame and no
heartbeat waits on anything else. Every close it did not ask for, 1000 and 1001 included, and
every silent link ends the connection with :class:`ConnectionLost`; tenacity then reconnects:
immediately after a connection that had stayed healthy for ``reconnect.healthy_after`` seconds,
otherwise after an exponential, jittered wait (first about ``first_delay``, capped at
``max_delay``). Only :class:`AuthenticationError` stops it.

What happens is reported to a :class:`SessionSink` (the :class:`~.listener.Listener`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    WebSocketException,
)

from tradebot.alphahub import protocol as p
from tradebot.alphahub.auth import TokenSource, socket_url
from tradebot.config.hosts import is_loopback
from tradebot.config.model import AlphaHubConfig
from tradebot.exceptions import ConnectionLost, InvalidFrame, TransientError
from tradebot.masking import MaskSecrets, mask, register, register_found_in

log = logging.getLogger(__name__)

#: The logger handed to websockets: its debug output (the handshake's request line carries the
#: token) is masked here already, for any handler, not only the CLI's.
ws_log = logging.getLogger("tradebot.alphahub.websocket")
ws_log.addFilter(MaskSecrets())


@dataclass(frozen=True, slots=True)
class StateChange:
    """A connection's state: connecting, connected, joined, lost, or retrying (detail says why).

    For ``retrying``, ``attempt`` counts the failures since the backoff was last reset and
    ``retry_in`` is the wait, in seconds, before the next attempt.
    """

    connection: int
    state: str
    detail: str = ""
    attempt: int | None = None
    retry_in: float | None = None


class SessionSink(Protocol):
    """What a :class:`Session` reports to. Calls are synchronous and must not block."""

    def state(self, change: StateChange) -> None: ...
    def joined_channel(self, connection: int, algo_id: int) -> None: ...
    def lost(self, connection: int, algo_ids: Sequence[int], reason: str) -> None: ...
    def push(self, connection: int, algo_id: int, payload: Any, raw: str) -> None: ...
    def bad_frame(self, connection: int, reason: str, raw: str) -> None: ...


class _Healthy(Exception):
    """Internal: a connection that had been healthy ended; reconnect at once, backoff reset."""


def backoff(first_delay: float, max_delay: float) -> Callable[[RetryCallState], float]:
    """Exponential wait with jitter: attempt n waits in [d/2, d], d = min(max, first * 2**(n-1))."""

    def wait(state: RetryCallState) -> float:
        ceiling = min(max_delay, first_delay * 2 ** min(state.attempt_number - 1, 30))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311 - jitter, not crypto

    return wait


class Session:
    """Connection number ``index`` of a listener, subscribed to ``algorithms``."""

    def __init__(
        self,
        index: int,
        settings: AlphaHubConfig,
        algorithms: Sequence[int],
        tokens: TokenSource,
        sink: SessionSink,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.index = index
        self._settings = settings
        self._algorithms = tuple(algorithms)
        self._tokens = tokens
        self._sink = sink
        self._mono = monotonic
        self._ever_joined: set[int] = set()
        register_found_in(settings)  # the password, and whatever the URL carries

    async def run(self) -> None:
        """Stay connected until cancelled; raises only :class:`AuthenticationError`."""
        r = self._settings.reconnect
        while True:
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(TransientError),
                wait=backoff(r.first_delay, r.max_delay),
                stop=stop_never,
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                await retrying(self._connect_once)
            except _Healthy:
                continue

    def _before_sleep(self, state: RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        detail = f"attempt {state.attempt_number} failed ({error}); retrying in {wait:.2f} s"
        change = StateChange(self.index, "retrying", detail, state.attempt_number, wait)
        self._sink.state(change)

    async def _connect_once(self) -> None:
        token = await self._tokens.get()
        register(token.value, temporary=True)
        url = socket_url(self._settings.url, token.value.get_secret_value())
        self._sink.state(
            StateChange(self.index, "connecting", mask(socket_url(self._settings.url, None)))
        )
        try:
            ws = await connect(
                url,
                open_timeout=self._settings.request_timeout,
                proxy=None if _is_loopback(self._settings.url) else True,
                logger=ws_log,
                compression=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 403:
                self._tokens.refused(token)  # expired or revoked: log in again next attempt
            raise ConnectionLost(f"handshake refused (HTTP {status})") from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            # ConnectionLost masks its message: the text may quote the URL with the token
            raise ConnectionLost(f"connect failed: {str(exc) or type(exc).__name__}") from None
        opened = self._mono()
        try:
            async with ws:
                self._sink.state(StateChange(self.index, "connected"))
                try:
                    await self._serve(ws)
                except asyncio.CancelledError:
                    # Stopping on purpose: say goodbye with 1001 (going away), briefly.
                    with contextlib.suppress(TimeoutError, WebSocketException, OSError):
                        async with asyncio.timeout(1.0):
                            await ws.close(1001, "client stopping")
                    raise
                except WebSocketException as exc:
                    raise ConnectionLost(f"websocket error: {type(exc).__name__}") from None
        except ConnectionLost as exc:
            self._sink.lost(self.index, sorted(self._ever_joined), str(exc))
            self._sink.state(StateChange(self.index, "lost", str(exc)))
            if self._mono() - opened >= self._settings.reconnect.healthy_after:
                raise _Healthy from None
            raise

    async def _send(self, ws: ClientConnection, client: p.ChannelClient) -> None:
        frames = client.data_to_send()
        if not frames:
            return
        try:
            # A dead peer can stall the write buffer; do not wait longer than a heartbeat would.
            async with asyncio.timeout(self._settings.heartbeat_timeout):
                for text in frames:
                    await ws.send(text)
        except TimeoutError:
            raise ConnectionLost("send stalled") from None
        except ConnectionClosed as exc:
            raise ConnectionLost(_describe_close(exc)) from None

    async def _serve(self, ws: ClientConnection) -> None:
        s = self._settings
        client = p.ChannelClient(
            self._algorithms, s.heartbeat_interval, s.heartbeat_timeout, s.join_timeout
        )
        client.start(self._mono())
        was_all_joined = False
        while True:
            await self._send(ws, client)
            if self._mono() >= client.next_deadline():
                for event in client.on_timer(self._mono()):
                    self._handle(event)
                continue
            try:
                async with asyncio.timeout(max(0.0, client.next_deadline() - self._mono())):
                    message = await ws.recv()  # cancelling recv loses nothing (websockets docs)
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                raise ConnectionLost(_describe_close(exc)) from None
            try:
                event = client.receive(message, self._mono())
            except InvalidFrame as exc:
                self._sink.bad_frame(self.index, str(exc), _text(message))
                continue
            if isinstance(event, p.SignalPush):
                self._sink.push(self.index, event.algo_id, event.payload, _text(message))
            else:
                self._handle(event)
            if client.all_joined and not was_all_joined:
                self._sink.state(
                    StateChange(self.index, "joined", f"{len(self._algorithms)} channel(s)")
                )
            was_all_joined = client.all_joined

    def _handle(self, event: p.Event) -> None:
        if isinstance(event, p.Joined):
            self._ever_joined.add(event.algo_id)
            self._sink.joined_channel(self.index, event.algo_id)
        elif isinstance(event, p.ChannelLost):
            if event.algo_id in self._ever_joined:
                self._sink.lost(self.index, [event.algo_id], event.reason)
        elif isinstance(event, p.JoinFailed):
            log.warning("connection %d: algorithm %d: %s", self.index, event.algo_id, event.reason)
        elif isinstance(event, p.Dead):
            raise ConnectionLost(event.reason)
        elif isinstance(event, p.Ignored):
            log.debug("connection %d: ignored frame: %s", self.index, event.reason)


def _is_loopback(url: str) -> bool:
    """The simulator and tests are reached directly, whatever proxy the environment names."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # brackets that do not close: not a host we can vouch for
        return False
    return is_loopback(host)


def _text(message: str | bytes) -> str:
    return message if isinstance(message, str) else message.decode("utf-8", "replace")


def _describe_close(exc: ConnectionClosed) -> str:
    if exc.rcvd is not None:
        return f"server closed the connection (code {exc.rcvd.code})"
    if exc.sent is not None:
        return f"connection closed (code {exc.sent.code})"
    return "connection dropped without a close frame"
