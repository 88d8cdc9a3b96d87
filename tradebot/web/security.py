"""The dashboard's guards: headers on every response, the names it answers to, and who may
press a control.

* Content-Security-Policy: scripts, styles, images and connections from this origin only (the
  JavaScript is vendored), no framing, forms post only here.
* ``Host`` must name this dashboard (:class:`Allowed`): the bind host, ``dashboard.allowed_hosts``
  or a loopback name (``localhost``, ``127.0.0.1``, ``[::1]``...), with or without a port.
  Anything else is answered ``421 Misdirected Request`` and nothing is read: a page elsewhere
  whose name was re-pointed at this machine (DNS rebinding) sends its own name and learns
  nothing. (Starlette's TrustedHostMiddleware answers 400 and reads ``[::1]:8800`` wrong.)
* A control (halt, reduce-only, resume) needs a POST with the configured token, compared in
  constant time, and an ``Origin`` (else ``Referer``) that is one of :meth:`Allowed.origin`:
  ``http(s)://`` an allowed name at the port served (a name of ``allowed_hosts`` also at its
  scheme's default port, for a reverse proxy). Never compared with ``Host``, which the sender
  chooses. A POST with neither header is a script, not a page: it is accepted only with the
  token in ``Authorization: Bearer TOKEN``, a header no page elsewhere can send without a CORS
  preflight that this server never grants.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradebot.config.hosts import is_loopback, normalise_host

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)


class SecurityHeaders:
    """ASGI middleware: :data:`HEADERS` on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in HEADERS if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def token_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no token configured means no control works."""
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


#: a Host header: a name or an IPv4 address, or an IPv6 address in brackets, then maybe a port
_HOST = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[^\[\]:]+)(?::(?P<port>[0-9]{1,5}))?")
#: the port a browser leaves out of an origin
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Allowed:
    """The host names this dashboard answers to and the origins its controls accept.

    ``names`` are normalised (:func:`normalise_host`); a loopback name is always allowed
    (:func:`is_loopback`). ``proxied`` are the names of ``dashboard.allowed_hosts``: besides
    the port served, their origins may use their scheme's default port (a reverse proxy on
    443 in front of the dashboard). ``port`` is the port served.
    """

    names: frozenset[str]
    proxied: frozenset[str]
    port: int

    @classmethod
    def serving(cls, bind_host: str, allowed_hosts: Iterable[str], port: int) -> Allowed:
        proxied = frozenset(_normalised(h) for h in allowed_hosts) - {""}
        bound = _normalised(bind_host)
        return cls(names=proxied | ({bound} - {""}), proxied=proxied, port=port)

    def name(self, name: str) -> bool:
        """Whether ``name`` (a host, without port) is one of ours."""
        normal = _normalised(name)
        return bool(normal) and (normal in self.names or is_loopback(normal))

    def host(self, header: str | None) -> bool:
        """Whether a ``Host`` header names this dashboard (with or without a port)."""
        found = _HOST.fullmatch((header or "").strip())
        if found is None or (found["port"] is not None and int(found["port"]) > 65535):
            return False
        return self.name(found["name"])

    def origin(self, value: str) -> bool:
        """Whether ``value`` (an ``Origin``, or a ``Referer`` URL) is a page of this dashboard:
        ``http(s)://NAME:PORT`` with an allowed name and the port served."""
        try:
            parts = urlsplit(value.strip())
            port = parts.port
        except ValueError:
            return False
        default = _DEFAULT_PORTS.get(parts.scheme.lower())
        if default is None or "@" in parts.netloc or not parts.hostname:
            return False
        if not self.name(parts.hostname):
            return False
        port = default if port is None else port
        if port == self.port:
            return True
        return port == default and _normalised(parts.hostname) in self.proxied

    def refusal(self, header: str | None) -> str:
        """Why a request with this ``Host`` is not answered (the header shortened, quoted)."""
        if not header:
            return "refused: the request names no Host"
        shown = header if len(header) <= 80 else header[:80] + "..."
        return (
            f"refused: this dashboard does not answer to the name {shown!r}; if it is yours, "
            "add it to dashboard.allowed_hosts"
        )


class HostGuard:
    """ASGI middleware: a request whose ``Host`` is not :meth:`Allowed.host` gets
    ``refuse(421, why)`` and reaches no page (HTTP and websockets alike)."""

    def __init__(
        self, app: ASGIApp, allowed: Allowed, refuse: Callable[[int, str, str], Response]
    ) -> None:
        self.app = app
        self.allowed = allowed
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = [v for k, v in scope.get("headers", []) if k == b"host"]
        header = hosts[0].decode("latin-1") if len(hosts) == 1 else None
        if header is not None and self.allowed.host(header):
            await self.app(scope, receive, send)
            return
        why = self.allowed.refusal(header)
        if scope["type"] == "websocket":  # no page to show: close before accepting
            await send({"type": "websocket.close", "code": 1008, "reason": "misdirected"})
            return
        response = self.refuse(421, why, route_path(scope))
        await response(scope, receive, send)


def route_path(scope: Scope) -> str:
    """The request's path inside the app (a proxy's ``root_path`` prefix taken off), from which
    a page's relative links find their way back to the top."""
    path: str = scope.get("path", "/")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def request_origin(request: Request) -> str | None:
    """Where the request says it was sent from: ``Origin``, else ``Referer``; None when it
    names neither (a script)."""
    for name in ("origin", "referer"):
        value = request.headers.get(name)
        if value is not None:
            return value
    return None


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, else None."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _normalised(name: str) -> str:
    try:
        return normalise_host(name)
    except ValueError:
        return ""
