"""The one place where alpaca-py and ``requests`` errors become tradebot's exceptions.

alpaca-py 0.44 raises ``APIError`` for HTTP errors (its ``.code``/``.message`` parse the body as
JSON and raise on an HTML gateway page, so they are never used here), and lets ``requests``
exceptions through untouched on connection failures and timeouts. :func:`translate` classifies
all of them by what the caller should do::

    401                              -> AuthenticationError
    403 on submit                    -> OrderRejected (buying power, cannot short, ...)
    403 otherwise                    -> AuthenticationError (the keys may not do this)
    422 "client_order_id must be unique" on submit -> OrderOutcomeUnknown (look it up)
    400/404/422 on submit            -> OrderRejected
    429                              -> RateLimited (with Retry-After)
    5xx on submit                    -> OrderOutcomeUnknown; otherwise BrokerUnavailable
    timeout / connection / chunked   -> OrderOutcomeUnknown on submit; else BrokerUnavailable
    unreadable answer (bad JSON)     -> OrderOutcomeUnknown on submit; else BrokerError
    anything else                    -> OrderOutcomeUnknown on submit; else BrokerError

"On submit" means a ``client_order_id`` was given: an order that may exist must be looked up, never
simply sent again. Messages carry the HTTP status and the broker's short message, never headers
(where the keys travel); the text is masked before it is cut short, so a URL with a token
(``url: /?token=...`` in a connection error) or a key quoted by a proxy never survives in part.
"""

from __future__ import annotations

import json
from typing import Any

from tradebot.exceptions import (
    AuthenticationError,
    BrokerError,
    BrokerUnavailable,
    OrderOutcomeUnknown,
    OrderRejected,
    RateLimited,
    TradebotError,
)
from tradebot.masking import mask

DUPLICATE_CLIENT_ORDER_ID = 40010001  # Alpaca's code for "client_order_id must be unique"
_MAX_MESSAGE = 200


def translate(exc: BaseException, *, client_order_id: str | None = None) -> TradebotError:
    """Classify ``exc`` (raised by the SDK or requests); ``client_order_id`` marks a submission."""
    if isinstance(exc, TradebotError):
        return exc
    status = http_status(exc)
    if status is not None:
        return _from_status(exc, status, client_order_id)
    import requests  # loaded by alpaca-py already; imported here to keep this module light

    what = f"{type(exc).__name__}: {_short(str(exc))}"
    transport = (
        requests.Timeout,
        requests.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(exc, transport):
        if client_order_id is not None:
            return OrderOutcomeUnknown(f"no answer to the order ({what})", client_order_id)
        return BrokerUnavailable(f"broker unreachable ({what})")
    if client_order_id is not None:
        return OrderOutcomeUnknown(f"unreadable answer to the order ({what})", client_order_id)
    return BrokerError(f"unexpected broker answer ({what})")


def _from_status(exc: BaseException, status: int, cid: str | None) -> TradebotError:
    code, message = _body(exc)
    text = f"HTTP {status}" + (f" {code}" if code is not None else "") + f": {message}"
    if status == 401:
        return AuthenticationError(f"Alpaca refused the API keys ({text})")
    if status == 429:
        return RateLimited(f"rate limited ({text})", retry_after=_retry_after(exc))
    if status >= 500:
        if cid is not None:
            return OrderOutcomeUnknown(f"server error on submit ({text})", cid)
        return BrokerUnavailable(f"server error ({text})")
    if cid is not None:
        if code == DUPLICATE_CLIENT_ORDER_ID or "client_order_id must be unique" in message:
            return OrderOutcomeUnknown(f"an order with this id exists ({text})", cid)
        if status in (400, 403, 404, 422):
            code_text = None if code is None else str(code)
            return OrderRejected(message, client_order_id=cid, code=code_text, status=status)
    if status == 403:
        return AuthenticationError(f"Alpaca forbade the request ({text})")
    return BrokerError(f"unexpected answer ({text})")


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of an SDK ``APIError`` (or any error carrying a response), else None."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _body(exc: BaseException) -> tuple[int | None, str]:
    """(Alpaca error code, message) from the body; tolerant of HTML and empty bodies."""
    text = str(exc.args[0]) if exc.args else ""
    try:
        body: Any = json.loads(text)
    except ValueError:
        return None, _short(text) or "(no message)"
    if not isinstance(body, dict):
        return None, _short(text)
    code = body.get("code")
    message = body.get("message")
    return (code if isinstance(code, int) else None), _short(str(message or text))


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(str(value))
    except (TypeError, ValueError):
        return None  # an HTTP date, or absent: fall back to our own backoff
    return max(seconds, 0.0)


def _short(text: str) -> str:
    text = " ".join(mask(text).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
