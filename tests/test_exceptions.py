"""Every tradebot error is masked when it is made: its text, repr and traceback carry no secret."""

from __future__ import annotations

import traceback

import pytest

from tradebot.exceptions import (
    AuthenticationError,
    ConnectionLost,
    OrderOutcomeUnknown,
    OrderRejected,
    TradebotError,
)
from tradebot.masking import register


@pytest.mark.parametrize(
    "make",
    [
        lambda m: TradebotError(m),
        lambda m: ConnectionLost(m),
        lambda m: AuthenticationError(m),
        lambda m: OrderOutcomeUnknown(m, "tb1-A-o-1"),
        lambda m: OrderRejected(m, client_order_id="tb1-A-o-1", code="403"),
    ],
)
def test_messages_are_masked(make: object) -> None:
    register("REGISTERED-exception-key")
    message = "failed at ws://u:URLPW-exc@h/?api_token=TOKEN-exc, REGISTERED-exception-key"
    try:
        raise make(message)  # type: ignore[operator]
    except TradebotError as exc:
        texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for text in texts:
        assert "URLPW-exc" not in text and "TOKEN-exc" not in text
        assert "REGISTERED-exception-key" not in text
    assert texts[0] == "failed at ws://***@h/?api_token=***, ***"
