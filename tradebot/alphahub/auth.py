"""AlphaHub REST login (ALPHAHUB.md §1) and a token cache shared by a listener's connections.

The login is a blocking ``requests`` call, always run through :func:`asyncio.to_thread` so the
event loop never waits on it. Wrong credentials are permanent (:class:`AuthenticationError`);
everything else (timeouts, resets, 5xx, 429) is transient. Neither the password nor the token
ever appears in a message: errors name only the HTTP status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from pydantic import SecretStr

from tradebot.exceptions import AuthenticationError, TransientError

log = logging.getLogger(__name__)

SESSION_PATH = "/api/v1/session"
SOCKET_PATH = "/socket/websocket"
_PERMANENT = frozenset({400, 401, 403, 404, 422})


def login(base_url: str, email: str, password: str, timeout: float) -> str:
    """POST the form-encoded credentials; return the access token. Blocking: call off the loop."""
    form = {"user[email]": email, "user[password]": password}
    try:
        with requests.Session() as http:
            response = http.post(base_url + SESSION_PATH, data=form, timeout=timeout)
    except requests.RequestException as exc:
        # The exception text can quote the request; keep only its kind.
        raise TransientError(f"AlphaHub login failed: {type(exc).__name__}") from None
    if response.status_code in _PERMANENT:
        raise AuthenticationError(
            f"AlphaHub refused the login (HTTP {response.status_code}): check the email and "
            "password (ALPHAHUB_EMAIL / ALPHAHUB_PASSWORD or alphahub.email / alphahub.password)"
        )
    if response.status_code != 200:
        raise TransientError(f"AlphaHub login failed: HTTP {response.status_code}")
    try:
        token = response.json()["data"]["token"]
    except (ValueError, KeyError, TypeError):
        raise TransientError("AlphaHub login answered without a token") from None
    if not isinstance(token, str) or not token:
        raise TransientError("AlphaHub login answered without a token")
    return token


def socket_url(base_url: str, token: str | None) -> str:
    """The websocket URL for ``base_url`` (``wss`` for ``https``); ``token=None`` masks it."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = f"vsn=2.0.0&api_token={token if token is not None else '***'}"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + SOCKET_PATH, query, ""))


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and when (monotonic) it was issued. ``repr`` never shows the value."""

    value: SecretStr
    issued_at: float


class TokenSource:
    """One login shared by every connection of a listener; refreshed when old or refused.

    ``login_fn`` is the blocking login (default :func:`login`); the clock is monotonic.
    """

    def __init__(
        self,
        base_url: str,
        email: SecretStr | None,
        password: SecretStr | None,
        *,
        request_timeout: float,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base_url = base_url
        self._email = email
        self._password = password
        self._timeout = request_timeout
        self._max_age = max_age
        self._clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Token:
        """A token young enough to open a connection, logging in again when needed."""
        async with self._lock:
            token = self._token
            if token is not None and self._clock() - token.issued_at < self._max_age:
                return token
            if self._email is None or self._password is None:
                raise AuthenticationError(
                    "AlphaHub credentials missing: set ALPHAHUB_EMAIL and ALPHAHUB_PASSWORD "
                    "(or alphahub.email / alphahub.password in the config)"
                )
            log.info("logging in to AlphaHub at %s", self._base_url)
            value = await asyncio.to_thread(
                login,
                self._base_url,
                self._email.get_secret_value(),
                self._password.get_secret_value(),
                self._timeout,
            )
            self._token = Token(SecretStr(value), self._clock())
            return self._token

    def refused(self, token: Token) -> None:
        """The server refused ``token`` (HTTP 403 at the handshake): log in again next time."""
        if self._token is token:
            self._token = None
