"""The bundled AlphaHub simulator: REST login and Phoenix channels on loopback, with fault knobs.

::

    async with AlphaHubSimulator() as sim:          # port 0: a free port
        listener = Listener(AlphaHubConfig(url=sim.url, email=..., password=...), [14])
        await sim.wait_joined(14, count=2)
        await sim.push(14, {"open": [...]})
        sim.drop()                                  # every connection, TCP reset
        sim.close_connections(1012)                 # close frame with a code

One TCP port serves ``POST /api/v1/session`` (form-encoded ``user[email]``, ``user[password]``),
``POST /api/v1/session/renew`` and ``GET /api/v1/algorithms/{id}/signals?after=...``
(docs/alphahub.md#signal-history, :mod:`.history`),
``GET /socket/websocket?vsn=2.0.0&api_token=...`` and, for tests that run the simulator as a
process, ``POST /_sim/push`` and ``POST /_sim/fault`` with JSON bodies (see
:meth:`control`).
Tokens expire after ``token_lifetime`` seconds; an unknown or expired token gets HTTP 403 at
the handshake, as the service does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from websockets.server import ServerProtocol

from tradebot.masking import MaskSecrets
from tradebot.simulators.alphahub import http
from tradebot.simulators.alphahub.channels import SimConnection
from tradebot.simulators.alphahub.history import HistoryFeed
from tradebot.simulators.alphahub.script import ScriptEntry, run_script
from tradebot.simulators.alphahub.tokens import TokenStore

log = logging.getLogger(__name__)

_ws_log = logging.getLogger(__name__ + ".websocket")
_ws_log.addFilter(MaskSecrets())  # its handshake lines carry the client's token


_HISTORY = re.compile(r"^/api/v1/algorithms/(?P<algo>\d{1,9})/signals$")


def topic(algo_id: int) -> str:
    return f"algorithms:{algo_id}"


class AlphaHubSimulator:
    """A local AlphaHub. Use as an async context manager; everything runs on the caller's loop."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        email: str = "demo@example.com",
        password: str = "demo",  # noqa: S107 - the documented demo login of a local simulator
        token_lifetime: float = 1800.0,
        idle_timeout: float = 60.0,
        script: Sequence[ScriptEntry] = (),
        broadcast_join_ref: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.email, self.password = email, password
        self.token_lifetime = token_lifetime
        self.idle_timeout = idle_timeout
        self.broadcast_join_ref = broadcast_join_ref
        self._script = tuple(e for e in script if not e.history)
        self.tokens = TokenStore(token_lifetime)
        self.history = HistoryFeed()  # every leg pushed, and the script's history lines
        for entry in script:
            if entry.history:
                self.history.add(entry.algo_id, entry.payload)
        self._renew_tokens: set[str] = set()  # issued, not yet used (each renews once)
        self._refuse_renewals = 0
        self._connections: dict[int, SimConnection] = {}
        self._next_id = 0
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._fail_logins: list[int] = []  # HTTP statuses for the next logins
        self._refuse_handshakes = 0
        # Counters the tests read.
        self.logins = 0  # password logins (renewals are counted apart)
        self.renewals = 0
        self.handshakes_refused = 0
        self.pushes = 0
        self.client_close_codes: list[int] = []  # close codes the clients sent

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> AlphaHubSimulator:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self._script:
            self._spawn(run_script(self, self._script))
        log.info("AlphaHub simulator listening on %s", self.url)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections.values()):
            conn.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        await asyncio.Event().wait()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def url(self) -> str:
        """The base URL to configure as ``alphahub.url``."""
        return f"http://{self.host}:{self.port}"

    # -- observing ------------------------------------------------------------------------------

    def _moved(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def connections(self) -> list[int]:
        """Ids of the live websocket connections, oldest first."""
        return sorted(self._connections)

    def joined(self, algo_id: int) -> list[int]:
        """Ids of the connections currently joined to ``algo_id``."""
        t = topic(algo_id)
        return [i for i, c in sorted(self._connections.items()) if t in c.channels]

    def heartbeats_answered(self, connection: int) -> int:
        """Heartbeats answered on a live connection so far (0 if it is gone)."""
        conn = self._connections.get(connection)
        return conn.heartbeats_answered if conn is not None else 0

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await self._changed.wait()

    async def wait_joined(self, algo_id: int, count: int = 1) -> None:
        """Wait until at least ``count`` live connections have joined ``algo_id``."""
        await self.wait_until(lambda: len(self.joined(algo_id)) >= count)

    # -- signals --------------------------------------------------------------------------------

    async def push(self, algo_id: int, payload: Any, *, times: int = 1) -> int:
        """Send ``new_signals`` to every connection joined to ``algo_id``, ``times`` times.

        Returns how many channel instances it reached (per repetition).
        """
        reached = 0
        self.history.record_push(algo_id, payload)
        for _ in range(times):
            reached = 0
            for conn in list(self._connections.values()):
                if conn.push(
                    topic(algo_id), "new_signals", payload, with_join_ref=self.broadcast_join_ref
                ):
                    reached += 1
        self.pushes += 1
        await asyncio.sleep(0)  # let the writes go out in order with other work
        return reached

    # -- fault knobs ----------------------------------------------------------------------------

    def _targets(self, connection: int | None) -> list[SimConnection]:
        if connection is None:
            return list(self._connections.values())
        conn = self._connections.get(connection)
        return [conn] if conn is not None else []

    def fail_logins(self, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` logins with HTTP ``status`` (503: transient, 401: refused)."""
        self._fail_logins.extend([status] * count)

    def refuse_renewals(self, count: int = 1) -> None:
        """Answer the next ``count`` session renewals with HTTP 401 (the client must log in)."""
        self._refuse_renewals += count

    def history_fault(self, mode: str, count: int | None = None, delay: float = 5.0) -> None:
        """The history endpoint misbehaves (see :mod:`.history`) for ``count`` requests."""
        self.history.fault(mode, count, delay)

    def refuse_handshakes(self, count: int = 1) -> None:
        """Refuse the next ``count`` websocket handshakes with HTTP 403 (as for a bad token)."""
        self._refuse_handshakes += count

    def accept_handshakes(self) -> None:
        """Stop refusing handshakes: the refusals still scripted are forgotten."""
        self._refuse_handshakes = 0

    @property
    def tokens_issued(self) -> list[str]:
        """Every token issued so far (tests check that none reaches a log)."""
        return self.tokens.issued

    @property
    def live_tokens(self) -> int:
        """How many issued tokens have not expired yet."""
        return self.tokens.live

    async def wait_tokens_expired(self) -> None:
        """Return once every token issued so far has outlived ``token_lifetime``."""
        await self.tokens.wait_all_expired()

    def expire_tokens(self) -> None:
        """Every token issued so far expires now: the next handshake with one gets 403."""
        self.tokens.expire_all()

    def drop(self, connection: int | None = None) -> int:
        """Cut the TCP link of one connection (or all) without a close frame. Returns how many."""
        targets = self._targets(connection)
        for conn in targets:
            conn.abort()
        return len(targets)

    def close_connections(self, code: int, connection: int | None = None) -> int:
        """Close one connection (or all) with a close frame carrying ``code``."""
        targets = self._targets(connection)
        for conn in targets:
            conn.close(code, "simulated")
        return len(targets)

    def mute_heartbeats(self, connection: int | None = None) -> int:
        """Stop answering heartbeats on one live connection (or all); new ones are answered."""
        targets = self._targets(connection)
        for conn in targets:
            conn.heartbeats_muted = True
        return len(targets)

    def end_channel(
        self, algo_id: int, event: str = "phx_error", connection: int | None = None
    ) -> int:
        """Send ``phx_error`` or ``phx_close`` for the current join of ``algo_id``."""
        if event not in ("phx_error", "phx_close"):
            raise ValueError("event must be phx_error or phx_close")
        return sum(c.end_channel(topic(algo_id), event) for c in self._targets(connection))

    def send_stale_close(self, algo_id: int, connection: int | None = None) -> int:
        """Send ``phx_close`` for a join ref that is not the current one (must be ignored)."""
        return sum(
            c.end_channel(topic(algo_id), "phx_close", join_ref="stale-0")
            for c in self._targets(connection)
        )

    def send_raw(self, text: str | bytes, connection: int | None = None) -> int:
        """Send ``text`` as a text frame as is (malformed frames, odd events); ``bytes`` go as a
        binary frame, which may hold anything, even invalid UTF-8 (a text frame may not)."""
        targets = self._targets(connection)
        for conn in targets:
            if isinstance(text, bytes):
                conn.send_binary(text)
            else:
                conn.send_text(text)
        return len(targets)

    async def control(self, command: dict[str, Any]) -> dict[str, Any]:
        """Run a JSON command (what ``POST /_sim/fault`` takes): ``{"fault": NAME, ...args}``."""
        name = command.get("fault")
        args = {k: v for k, v in command.items() if k != "fault"}
        knobs: dict[str, Callable[..., int | None]] = {
            "fail_logins": self.fail_logins,
            "refuse_renewals": self.refuse_renewals,
            "history": self.history_fault,
            "refuse_handshakes": self.refuse_handshakes,
            "expire_tokens": self.expire_tokens,
            "drop": self.drop,
            "close": self.close_connections,
            "mute_heartbeats": self.mute_heartbeats,
            "end_channel": self.end_channel,
            "send_raw": self.send_raw,
        }
        if name not in knobs:
            raise ValueError(f"unknown fault {name!r}; known: {sorted(knobs)}")
        return {"result": knobs[str(name)](**args)}

    # -- HTTP -----------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.transport.abort()
            return
        method, path, query = http.request_line(head)
        try:
            if method == "GET" and path == "/socket/websocket":
                await self._websocket(head, query, reader, writer)
                return
            body = await http.read_body(head, reader)
            if method == "GET" and _HISTORY.match(path):
                await self._history(head, path, query, writer)
                return
            if method == "POST" and path == "/api/v1/session":
                status, reply = self._login(body)
            elif method == "POST" and path == "/api/v1/session/renew":
                status, reply = self._renew(http.header(head, "authorization") or "")
            elif method == "POST" and path in ("/_sim/push", "/_sim/fault"):
                status, reply = await self._control(path, body)
            else:
                status, reply = 404, {"errors": {"detail": "Not Found"}}
            http.write_json(writer, status, reply)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()

    def _login(self, body: bytes) -> tuple[int, dict[str, Any]]:
        self.logins += 1
        if self._fail_logins:
            status = self._fail_logins.pop(0)
            return status, {"error": {"status": status, "message": "simulated failure"}}
        form = parse_qs(body.decode("utf-8", "replace"))
        email = form.get("user[email]", [""])[0]
        password = form.get("user[password]", [""])[0]
        if email != self.email or password != self.password:
            return 401, {"error": {"status": 401, "message": "Invalid email or password"}}
        return 200, self._grant()

    def _grant(self) -> dict[str, Any]:
        renewal = secrets.token_urlsafe(24)
        self._renew_tokens.add(renewal)
        self.tokens.issued.append(renewal)  # a secret too: tests check none reaches a log
        return {"data": {"token": self.tokens.issue(), "renew_token": renewal}}

    def _renew(self, renewal: str) -> tuple[int, dict[str, Any]]:
        """Pow's ``POST /api/v1/session/renew``: a renewal token (raw) for a new pair."""
        self.renewals += 1
        refused = self._refuse_renewals > 0
        if refused:
            self._refuse_renewals -= 1
        if refused or renewal not in self._renew_tokens:
            return 401, {"error": {"status": 401, "message": "Invalid token"}}
        self._renew_tokens.discard(renewal)
        return 200, self._grant()

    async def _history(
        self, head: bytes, path: str, query: str, writer: asyncio.StreamWriter
    ) -> None:
        match = _HISTORY.match(path)
        assert match is not None
        token = http.header(head, "authorization") or ""
        status, kind, body = await self.history.answer(
            int(match["algo"]), query, self.tokens.valid(token)
        )
        http.write_body(writer, status, kind, body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _control(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            command = json.loads(body or b"{}")
            if path == "/_sim/push":
                reached = await self.push(int(command["algo_id"]), command["payload"])
                return 200, {"reached": reached}
            return 200, await self.control(command)
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"error": str(exc)}

    async def _websocket(
        self, head: bytes, query: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        protocol = ServerProtocol(logger=_ws_log)
        protocol.receive_data(head)
        request = next(iter(protocol.events_received()), None)
        if request is None:
            writer.transport.abort()
            return
        refuse = self._refuse_handshakes > 0
        if refuse:
            self._refuse_handshakes -= 1
        if refuse or not self.tokens.valid(parse_qs(query).get("api_token", [""])[0]):
            self.handshakes_refused += 1
            response = protocol.reject(403, "Forbidden\n")
        elif parse_qs(query).get("vsn", [""])[0] != "2.0.0":
            response = protocol.reject(400, "this simulator speaks vsn=2.0.0 only\n")
        else:
            response = protocol.accept(request)  # type: ignore[arg-type]
        protocol.send_response(response)
        for data in protocol.data_to_send():
            writer.write(data)
        if response.status_code != 101:
            await writer.drain()
            return
        self._next_id += 1
        conn = SimConnection(self._next_id, protocol, writer, self._moved, self.idle_timeout)
        self._connections[conn.id] = conn
        self._moved()
        try:
            await conn.serve(reader)
        finally:
            if protocol.close_rcvd is not None:
                self.client_close_codes.append(protocol.close_rcvd.code)
            self._connections.pop(conn.id, None)
            self._moved()
