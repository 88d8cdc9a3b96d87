"""AlphaHub's signal history (docs/alphahub.md#signal-history): the REST read that recovers missed
signals.

``GET {base}/api/v1/algorithms/{id}/signals?after=YYYY-MM-DD`` with the raw session token as
``Authorization`` answers ``{"data": {"signals": [leg, ...]}}``, newest first; the legs are the
live ones flattened (no open/close grouping) and ``side`` may be ``hold``.

The endpoint has never been checked against the live service, so every answer is hostile until
checked. :func:`fetch_history` sorts failures by what the caller does:

* :class:`~tradebot.exceptions.TransientError`: a timeout, a reset, HTTP 5xx or 429: try again
  later, with backoff;
* :class:`~tradebot.exceptions.HistoryUnavailable`: HTTP 404 or 401/403, an HTML page, JSON of
  another shape: the endpoint is not (or no longer) what we expect; warn, carry on trading live.
  Its message is what the endpoint answered, in words that follow "the history answered ..."
  (``HTTP 404 (Not Found)``, ``an HTML page instead of JSON``).

:func:`parse_history` turns the legs into :class:`HistoryLeg` values, one bad leg never losing
the others. Neither the token nor the URL with it ever reaches a message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import requests

from tradebot.core import strict_json
from tradebot.core.signal import HeldLeg, LegKind, Side, parse_leg
from tradebot.core.strict_json import JsonObject
from tradebot.exceptions import HistoryUnavailable, InvalidSignal, TransientError

HISTORY_PATH = "/api/v1/algorithms/{algo_id}/signals"
MAX_BODY = 8 << 20  # a whole strategy record is a few hundred kB; refuse anything absurd
_UNAVAILABLE = frozenset({400, 401, 403, 404, 405, 410, 422})
#: parse_leg wants a kind; the history has none, and the classification decides it later
_ANY_KIND = LegKind.OPEN


def history_url(base_url: str, algo_id: int) -> str:
    return base_url + HISTORY_PATH.format(algo_id=algo_id)


def fetch_history(
    base_url: str, token: str, algo_id: int, after: date, timeout: float
) -> list[Any]:
    """The raw legs of ``algo_id`` since ``after`` (a date: the service filters by day).

    Blocking: call it through :func:`asyncio.to_thread`.
    """
    headers = {"Authorization": token, "Accept": "application/json"}
    params = {"after": after.isoformat()}
    try:
        with requests.Session() as http:
            response = http.get(
                history_url(base_url, algo_id), params=params, headers=headers, timeout=timeout
            )
            body = response.content
    except requests.RequestException as exc:
        raise TransientError(f"signal history: {type(exc).__name__}") from None
    status = response.status_code
    if status in _UNAVAILABLE:
        raise HistoryUnavailable(_status_text(status), status=status)
    if status == 429 or status >= 500:
        raise TransientError(f"signal history: HTTP {status}")
    if status != 200:
        raise HistoryUnavailable(f"an unexpected {_status_text(status)}", status=status)
    if len(body) > MAX_BODY:
        raise HistoryUnavailable(f"more than {MAX_BODY} bytes, far more than a history holds")
    return _signals(body)


def _status_text(status: int) -> str:
    """``HTTP 404 (Not Found)``: the status with its standard phrase, when it has one."""
    try:
        return f"HTTP {status} ({HTTPStatus(status).phrase})"
    except ValueError:
        return f"HTTP {status}"


def _signals(body: bytes) -> list[Any]:
    try:
        answer = strict_json.loads(body)  # a leg with a repeated key is refused, as live
    except (ValueError, UnicodeDecodeError):
        start = body[:200].decode("utf-8", "replace").strip().lower()
        page = start.startswith(("<!doctype", "<html"))
        what = "an HTML page instead of JSON" if page else "text that is not JSON"
        raise HistoryUnavailable(what) from None
    try:
        return history_signals(answer)
    except ValueError as exc:
        raise HistoryUnavailable(str(exc)) from None


def history_signals(answer: object) -> list[Any]:
    """The legs of one history answer, ``{"data": {"signals": [...]}}`` decoded by
    :func:`~tradebot.core.strict_json.loads`; :class:`ValueError` saying what the answer is
    instead, in words that follow "the history answered ...".

    A wrapper that repeats a key (``{"data": {"signals": [...], "signals": []}}``) is refused:
    plain JSON keeps the last value and nobody could tell which legs were meant. A leg that
    repeats a key is the leg parser's to refuse, alone (:func:`parse_history`).
    """
    _refuse_repeated(answer)
    data = answer.get("data") if isinstance(answer, dict) else None
    _refuse_repeated(data)
    signals = data.get("signals") if isinstance(data, dict) else None
    if not isinstance(signals, list):
        raise ValueError('JSON that is not {"data": {"signals": [...]}}')
    return signals


def _refuse_repeated(wrapper: object) -> None:
    if isinstance(wrapper, JsonObject) and wrapper.duplicates:
        keys = ", ".join(json.dumps(key)[:40] for key in sorted(wrapper.duplicates))
        raise ValueError(f"JSON that repeats the key {keys} (which one holds the legs?)")


@dataclass(frozen=True, slots=True)
class HistoryLeg:
    """One leg of the history. ``side`` is None for a ``hold`` (keep the position)."""

    algo_id: int
    symbol: str
    side: Side | None
    price: Decimal | None
    timestamp: datetime  # timezone-aware, UTC
    raw: str
    #: the leg's ``weight`` when it has one, kept as live: an open judged from the history is
    #: sized, and its signal's weights are checked, exactly as the same open pushed live
    weight: Decimal | None = None

    @property
    def identity(self) -> tuple[int, str, str, datetime]:
        """``(algo, symbol, side, timestamp)``: a leg's identity without open/close, which the
        history does not carry (matched against journaled legs of either kind)."""
        return (self.algo_id, self.symbol, str(self.side or "hold"), self.timestamp)


@dataclass(frozen=True, slots=True)
class BadHistoryLeg:
    index: int
    reason: str
    raw: str


def parse_history(
    algo_id: int, items: Sequence[Any], zone: tzinfo
) -> tuple[list[HistoryLeg], list[BadHistoryLeg]]:
    """Parse the legs with the live leg parser (same normalisation, same zone for naive
    timestamps); a ``hold`` leg keeps its symbol and time but has no side."""
    legs: list[HistoryLeg] = []
    bad: list[BadHistoryLeg] = []
    for index, item in enumerate(items):
        raw = _excerpt(item)
        try:
            leg = parse_leg(algo_id, _ANY_KIND, item, zone)
        except InvalidSignal as exc:
            bad.append(BadHistoryLeg(index, str(exc), raw))
            continue
        if isinstance(leg, HeldLeg):  # "keep the position": never traded, listed as such
            legs.append(HistoryLeg(algo_id, leg.symbol, None, None, leg.timestamp, raw))
        else:
            legs.append(
                HistoryLeg(algo_id, leg.symbol, leg.side, leg.price, leg.timestamp, raw, leg.weight)
            )
    return legs, bad


def _excerpt(item: object) -> str:
    try:
        return json.dumps(item, default=str, sort_keys=True)[:500]
    except (TypeError, ValueError):
        return repr(item)[:500]
