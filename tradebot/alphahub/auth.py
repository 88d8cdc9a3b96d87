"""AlphaHub REST login (docs/alphahub.md#login), session renewal (docs/alphahub.md#session-renewal)
and a token cache shared by a listener's connections and the history reader.

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
from tradebot.masking import register

log = logging.getLogger(__name__)

SESSION_PATH = "/api/v1/session"
RENEW_PATH = "/api/v1/session/renew"
SOCKET_PATH = "/socket/websocket"
_PERMANENT = frozenset({400, 401, 403, 404, 422})


@dataclass(frozen=True, slots=True)
class Grant:
    """What a login or a renewal answers: the access token and, if given, the renewal token.

    Both are secrets: ``repr`` shows neither (:class:`SecretStr`).
    """

    token: SecretStr
    renew_token: SecretStr | None


def login(base_url: str, email: str, password: str, timeout: float) -> Grant:
    """POST the form-encoded credentials; return the tokens. Blocking: call off the loop."""
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
    return _grant(response, "login")


def renew(base_url: str, renew_token: str, timeout: float) -> Grant:
    """POST the renewal (docs/alphahub.md#session-renewal, the Pow convention) with the raw renewal
    token as ``Authorization``; return the new tokens. Blocking: call off the loop.

    Any failure raises :class:`TransientError`: the caller logs in with the password instead.
    """
    headers = {"Authorization": renew_token}
    try:
        with requests.Session() as http:
            response = http.post(base_url + RENEW_PATH, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise TransientError(f"AlphaHub renewal failed: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise TransientError(f"AlphaHub renewal failed: HTTP {response.status_code}")
    return _grant(response, "renewal")


def _grant(response: requests.Response, what: str) -> Grant:
    try:
        data = response.json()["data"]
        token, renewal = data["token"], data.get("renew_token")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise TransientError(f"AlphaHub {what} answered without a token") from None
    if not isinstance(token, str) or not token:
        raise TransientError(f"AlphaHub {what} answered without a token")
    usable = isinstance(renewal, str) and bool(renewal)
    # masked wherever they might show from now on, before anyone holds them
    register(token, renewal if usable else None, temporary=True)
    return Grant(SecretStr(token), SecretStr(renewal) if usable else None)


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
    """One login shared by every connection of a listener; renewed when old or refused.

    An old or refused token is replaced through the renewal token
    (docs/alphahub.md#session-renewal); only when there is none, or the renewal fails in any way, is
    the password sent again.

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
        # from the last login or renewal; exchanged for new tokens when the token is too old or
        # refused, so the password is sent once per run (until a renewal fails)
        self._renew_token: SecretStr | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Token:
        """A token young enough to open a connection, logging in again when needed."""
        async with self._lock:
            token = self._token
            if token is not None and self._clock() - token.issued_at < self._max_age:
                return token
            grant = await self._renewed()
            if grant is None:
                grant = await self._login()
            self._renew_token = grant.renew_token
            self._token = Token(grant.token, self._clock())
            return self._token

    async def _renewed(self) -> Grant | None:
        """New tokens from the renewal token, or None (no renewal token, or it failed)."""
        renewal, self._renew_token = self._renew_token, None  # a renewal token is used once
        if renewal is None:
            return None
        log.info("renewing the AlphaHub session at %s", self._base_url)
        try:
            return await asyncio.to_thread(
                renew, self._base_url, renewal.get_secret_value(), self._timeout
            )
        except TransientError as exc:
            log.warning("%s; logging in again", exc)
            return None

    async def _login(self) -> Grant:
        if self._email is None or self._password is None:
            raise AuthenticationError(
                "AlphaHub credentials missing: set ALPHAHUB_EMAIL and ALPHAHUB_PASSWORD "
                "(or alphahub.email / alphahub.password in the config)"
            )
        log.info("logging in to AlphaHub at %s", self._base_url)
        return await asyncio.to_thread(
            login,
            self._base_url,
            self._email.get_secret_value(),
            self._password.get_secret_value(),
            self._timeout,
        )

    def refused(self, token: Token) -> None:
        """The server refused ``token`` (HTTP 403 at the handshake): log in again next time."""
        if self._token is token:
            self._token = None
