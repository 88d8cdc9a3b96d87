"""The dashboard's guards: headers on every response, and who may press a control.

* Content-Security-Policy: scripts, styles, images and connections from this origin only (the
  JavaScript is vendored), no framing, forms post only here.
* A control (halt, reduce-only, resume) needs a POST with the configured token, compared in
  constant time, from a page of this same origin (Origin, else Referer, names the Host the
  request was sent to): another site cannot make a logged-in browser press it.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def same_origin(request: Request) -> bool:
    """Whether the request comes from a page served by this host (Origin, else Referer).

    A request with neither is refused: browsers send Origin with every cross-site POST, and a
    script outside a browser has no business pressing a control without saying where from.
    Behind a reverse proxy, the proxy must pass the Host header through.
    """
    host = request.headers.get("host", "").strip().lower()
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    if not host or not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == host


def token_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no token configured means no control works."""
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
