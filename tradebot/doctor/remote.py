"""The checks that ask a server: AlphaHub's login, Alpaca's account and clock.

Each is one blocking request with the configured timeout (the CLI runs them one after the other;
nothing here runs on an event loop). Alpaca is asked with plain ``requests``, not alpaca-py: two
read-only GETs need neither the SDK nor pandas, and the answer's own ``timestamp`` is what the
clock check compares with this machine's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from tradebot.alphahub.auth import login
from tradebot.broker.alpaca.endpoints import resolve
from tradebot.broker.factory import alpaca_keys
from tradebot.config.model import Config, Mode
from tradebot.doctor.findings import Finding, Level, error, ok, skipped, warning
from tradebot.exceptions import AuthenticationError, TradebotError
from tradebot.masking import register

#: this machine's clock may be this far from the broker's before it is worth a warning: signal
#: freshness, reference-price age and the journal's times are all read on the local clock
SKEW_WARNING = timedelta(seconds=2)
#: ... and this far before it is an error (a 30 s error in "how old is this signal" is enough to
#: trade a stale one or refuse a fresh one)
SKEW_ERROR = timedelta(seconds=30)

Clock = Callable[[], datetime]


def alphahub(config: Config) -> Finding:
    """The credentials are accepted: a login (it opens a session and changes nothing)."""
    hub = config.alphahub
    if hub.email is None or hub.password is None:
        return error(
            "alphahub",
            "no credentials: set ALPHAHUB_EMAIL and ALPHAHUB_PASSWORD (or alphahub.email / "
            "alphahub.password)",
        )
    try:
        login(
            hub.url,
            hub.email.get_secret_value(),
            hub.password.get_secret_value(),
            hub.request_timeout,
        )
    except AuthenticationError as exc:
        return error("alphahub", str(exc))
    except TradebotError as exc:
        return error("alphahub", f"{hub.url} cannot be reached: {exc}")
    return ok("alphahub", f"{hub.url} accepted the login")


@dataclass(frozen=True, slots=True)
class _Alpaca:
    rest: str
    headers: Mapping[str, str]
    timeout: float


def _alpaca(config: Config, mode: Mode, environ: Mapping[str, str]) -> _Alpaca:
    """Where and how to ask; raises ConfigError (endpoints crossing paper and live, no keys)."""
    alpaca = config.broker.alpaca
    endpoints = resolve(alpaca, mode)
    key, secret = alpaca_keys(config.broker, environ)
    register(key, secret)  # from the environment too: masked wherever they might show
    headers = {
        "APCA-API-KEY-ID": key.get_secret_value(),
        "APCA-API-SECRET-KEY": secret.get_secret_value(),
        "Accept": "application/json",
    }
    return _Alpaca(endpoints.rest.rstrip("/"), headers, alpaca.timeout)


def _get(where: _Alpaca, path: str) -> requests.Response:
    """One GET; the request's text never reaches a message (it carries the keys)."""
    with requests.Session() as http:
        return http.get(where.rest + path, headers=dict(where.headers), timeout=where.timeout)


def broker(config: Config, mode: Mode, environ: Mapping[str, str], now: Clock) -> list[Finding]:
    """The broker's account (keys accepted) and its clock against this machine's."""
    if config.broker.name == "sim":
        why = "broker.name is sim: no broker to ask"
        return [skipped("broker", why), skipped("clock", why)]
    try:
        where = _alpaca(config, mode, environ)
    except TradebotError as exc:
        return [error("broker", str(exc)), skipped("clock", "no broker to ask")]
    account = _account(where)
    if account.level is Level.ERROR:
        return [account, skipped("clock", "the broker did not answer")]
    return [account, _clock(where, now)]


def _account(where: _Alpaca) -> Finding:
    try:
        response = _get(where, "/v2/account")
    except requests.RequestException as exc:
        return error("broker", f"{where.rest} cannot be reached: {type(exc).__name__}")
    if response.status_code in (401, 403):
        return error(
            "broker",
            f"Alpaca refused the keys (HTTP {response.status_code}): check APCA_API_KEY_ID and "
            "APCA_API_SECRET_KEY (or broker.alpaca.key_id / secret_key) and the endpoint "
            "(paper keys work only on the paper API)",
        )
    if response.status_code != 200:
        return error("broker", f"{where.rest}/v2/account answered HTTP {response.status_code}")
    account = _json(response)
    status = str(account.get("status", "?"))
    blocked = [k for k in ("trading_blocked", "account_blocked") if account.get(k) is True]
    if status != "ACTIVE" or blocked:
        what = ", ".join([f"status {status}", *blocked])
        return warning("broker", f"the keys are accepted but the account is not ready: {what}")
    return ok("broker", f"{where.rest} accepted the keys; account {status.lower()}")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _clock(where: _Alpaca, now: Clock) -> Finding:
    """The broker's time against this machine's, within half the request's round trip."""
    sent, started = now(), time.monotonic()
    try:
        response = _get(where, "/v2/clock")
    except requests.RequestException as exc:
        return warning("clock", f"the broker's clock cannot be read: {type(exc).__name__}")
    trip = timedelta(seconds=time.monotonic() - started)
    local = sent + trip / 2
    theirs, resolution = _broker_time(response)
    if theirs is None:
        return warning("clock", "the broker's answer carries no time (no timestamp, no Date)")
    skew = theirs - local
    doubt = trip / 2 + resolution
    beyond = max(abs(skew) - doubt, timedelta(0))  # what is certainly off
    ahead = "ahead of" if skew < timedelta(0) else "behind"
    said = f"this machine is {abs(skew).total_seconds():.1f} s {ahead} the broker"
    if beyond >= SKEW_ERROR:
        return error("clock", f"{said}: synchronise it (NTP, e.g. systemd-timesyncd or chrony)")
    if beyond >= SKEW_WARNING:
        return warning("clock", f"{said}: synchronise it (NTP)")
    return ok("clock", f"{said} (±{doubt.total_seconds():.2f} s)")


def _broker_time(response: requests.Response) -> tuple[datetime | None, timedelta]:
    """The clock's ``timestamp`` (Alpaca: RFC 3339 with an offset), else the Date header (to
    the second); with how coarse it is."""
    if response.status_code == 200:
        stamp = _json(response).get("timestamp")
        if isinstance(stamp, str):
            try:
                parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return parsed.astimezone(UTC), timedelta(0)
    date = response.headers.get("Date")
    if date:
        try:
            return parsedate_to_datetime(date).astimezone(UTC), timedelta(seconds=1)
        except (TypeError, ValueError):
            pass
    return None, timedelta(0)
