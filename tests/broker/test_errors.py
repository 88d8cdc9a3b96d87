"""The one translation boundary: every SDK and requests error becomes a tradebot exception."""

from __future__ import annotations

import inspect
import json

import alpaca.common.exceptions as alpaca_exceptions
import pytest
import requests
from requests.models import Response

from tradebot.broker.errors import translate
from tradebot.exceptions import (
    AuthenticationError,
    BrokerError,
    BrokerUnavailable,
    OrderOutcomeUnknown,
    OrderRejected,
    RateLimited,
    TradebotError,
)

APIError = alpaca_exceptions.APIError
CID = "tb1-AAPL-o-0123456789abcdef"


def api_error(status: int, body: str, headers: dict[str, str] | None = None) -> Exception:
    """An ``APIError`` exactly as alpaca-py 0.44's ``_one_request`` builds it."""
    response = Response()
    response.status_code = status
    response._content = body.encode()
    response.headers.update(headers or {})
    return APIError(body, requests.HTTPError(response=response))


def alpaca_body(code: int, message: str) -> str:
    return json.dumps({"code": code, "message": message})


def all_exception_classes() -> list[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for module in (requests.exceptions, alpaca_exceptions):
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and not issubclass(value, Warning):
                found.add(value)
    return sorted(found, key=lambda c: c.__qualname__)


def instantiate(cls: type[BaseException]) -> BaseException:
    for args in (("boom",), (), ("boom", "<html>", 0)):  # the last: JSONDecodeError's shape
        try:
            return cls(*args)
        except TypeError:
            continue
    raise AssertionError(f"cannot build {cls}")


@pytest.mark.parametrize("cls", all_exception_classes(), ids=lambda c: c.__qualname__)
@pytest.mark.parametrize("submitting", [False, True], ids=["read", "submit"])
def test_every_sdk_and_requests_error_is_translated(
    cls: type[BaseException], submitting: bool
) -> None:
    exc = instantiate(cls)
    out = translate(exc, client_order_id=CID if submitting else None)
    assert isinstance(out, TradebotError)
    if submitting:
        # Whatever went wrong mid-submit, the order may exist: never a plain "retry".
        assert isinstance(out, OrderOutcomeUnknown | OrderRejected | AuthenticationError)


@pytest.mark.parametrize(
    ("status", "body", "submitting", "expected"),
    [
        (401, alpaca_body(40110000, "request is not authorized"), False, AuthenticationError),
        (401, alpaca_body(40110000, "request is not authorized"), True, AuthenticationError),
        (403, alpaca_body(40310000, "insufficient buying power"), True, OrderRejected),
        (403, alpaca_body(40310000, "forbidden"), False, AuthenticationError),
        (422, alpaca_body(40010001, "client_order_id must be unique"), True, OrderOutcomeUnknown),
        (422, alpaca_body(42210000, "qty must be > 0"), True, OrderRejected),
        (422, alpaca_body(42210000, "qty must be > 0"), False, BrokerError),
        (404, alpaca_body(40410000, "not found"), False, BrokerError),
        (429, alpaca_body(42910000, "rate limit exceeded"), True, RateLimited),
        (500, "<html>oops</html>", True, OrderOutcomeUnknown),
        (502, "", True, OrderOutcomeUnknown),
        (503, "<html>oops</html>", False, BrokerUnavailable),
        (504, "not json at all", False, BrokerUnavailable),
    ],
)
def test_status_table(status: int, body: str, submitting: bool, expected: type) -> None:
    out = translate(api_error(status, body), client_order_id=CID if submitting else None)
    assert type(out) is expected


def test_html_bodies_do_not_break_translation() -> None:
    exc = api_error(500, "<html><body>Bad Gateway</body></html>")
    with pytest.raises(json.JSONDecodeError):
        _ = exc.code  # the SDK's own accessor raises: we never use it
    assert "Bad Gateway" in str(translate(exc))


def test_retry_after_is_kept() -> None:
    out = translate(api_error(429, "{}", {"Retry-After": "7"}))
    assert isinstance(out, RateLimited) and out.retry_after == 7.0
    undated = translate(api_error(429, "{}", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert isinstance(undated, RateLimited) and undated.retry_after is None


@pytest.mark.parametrize(
    "exc",
    [
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("Connection aborted, RemoteDisconnected"),
        requests.exceptions.ChunkedEncodingError("broken"),
    ],
)
def test_transport_failures(exc: Exception) -> None:
    assert isinstance(translate(exc), BrokerUnavailable)
    unknown = translate(exc, client_order_id=CID)
    assert isinstance(unknown, OrderOutcomeUnknown) and unknown.client_order_id == CID


def test_our_own_errors_pass_through() -> None:
    original = OrderRejected("no")
    assert translate(original) is original


def test_rejection_carries_code_and_status() -> None:
    out = translate(
        api_error(403, alpaca_body(40310000, "insufficient buying power")), client_order_id=CID
    )
    assert isinstance(out, OrderRejected)
    assert (out.code, out.status, out.client_order_id) == ("40310000", 403, CID)


def test_a_connection_error_quoting_a_token_url_is_masked() -> None:
    """requests names the URL (``url: /?token=...``); the message keeps the kind, not the token."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: refused
    url = f"http://u:URLPW-errors-1@127.0.0.1:{port}/v2/orders?token=TOKEN-errors-1&x=1"
    with pytest.raises(requests.ConnectionError) as raised:
        requests.get(url, timeout=5)
    assert "TOKEN-errors-1" in str(raised.value)  # what the library says
    for cid in (None, CID):
        error = translate(raised.value, client_order_id=cid)
        text = str(error) + repr(error)
        assert "TOKEN-errors-1" not in text and "URLPW-errors-1" not in text
        assert "token=***" in text


def test_a_secret_cut_by_the_message_limit_leaves_no_part_behind() -> None:
    from tradebot.masking import register

    secret = "REGISTERED-errors-secret-2"
    register(secret)
    body = "x" * 190 + secret  # the 200-character limit falls inside the secret
    error = translate(api_error(500, body))
    text = str(error)
    assert not any(secret[:n] in text for n in range(6, len(secret) + 1)), text
