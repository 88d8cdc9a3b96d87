"""Fault knobs and fill scripts for the local Alpaca server, as plain values tests build."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

_POST, _ORDERS = "POST", "/v2/orders"


class FaultKind(StrEnum):
    STATUS = "status"  # answer with an HTTP error status (429 with Retry-After, 500, 503, 504)
    SLOW = "slow"  # answer, but only after ``delay`` seconds (longer than the client's timeout)
    DROP = "drop"  # process the request, then close the connection without answering
    HANG = "hang"  # hold the request unanswered until the server's release() (or its stop)


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted fault for the next ``times`` requests matching ``method`` and ``path``.

    ``process`` says whether the request takes effect before the fault answers: a 504 after the
    order was placed, or a slow answer to an order that exists. ``DROP`` always processes: it is
    the worst case, an order accepted whose answer never arrives. The constructors take
    ``method=``/``path=`` to aim at other routes (None matches any).
    """

    kind: FaultKind
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    process: bool = False
    method: str | None = "POST"
    path: str | None = "/v2/orders"
    times: int = 1

    @classmethod
    def rate_limited(
        cls,
        retry_after: str | None = "1",
        *,
        times: int = 1,
        method: str | None = _POST,
        path: str | None = _ORDERS,
    ) -> Fault:
        """HTTP 429 with ``Retry-After`` (None: without the header)."""
        return cls(
            FaultKind.STATUS,
            status=429,
            retry_after=retry_after,
            times=times,
            method=method,
            path=path,
        )

    @classmethod
    def error(
        cls,
        status: int = 500,
        *,
        process: bool = False,
        times: int = 1,
        method: str | None = _POST,
        path: str | None = _ORDERS,
    ) -> Fault:
        """An HTTP error (with an HTML body, as gateways send), before or after processing."""
        return cls(
            FaultKind.STATUS, status=status, process=process, times=times, method=method, path=path
        )

    @classmethod
    def slow(
        cls,
        delay: float,
        *,
        process: bool = True,
        times: int = 1,
        method: str | None = _POST,
        path: str | None = _ORDERS,
    ) -> Fault:
        return cls(
            FaultKind.SLOW, delay=delay, process=process, times=times, method=method, path=path
        )

    @classmethod
    def drop(
        cls, *, times: int = 1, method: str | None = _POST, path: str | None = _ORDERS
    ) -> Fault:
        return cls(FaultKind.DROP, process=True, times=times, method=method, path=path)

    @classmethod
    def hang(
        cls, *, times: int = 1, method: str | None = _POST, path: str | None = _ORDERS
    ) -> Fault:
        """Hold the request, unanswered and unprocessed, until ``AlpacaServer.release()``;
        ``AlpacaServer.wait_held`` tells a test it is being held."""
        return cls(FaultKind.HANG, times=times, method=method, path=path)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path == path
        )


@dataclass(frozen=True, slots=True)
class FillScript:
    """How market orders fill: after ``delay`` seconds, in ``parts`` equal fills ``delay`` apart.

    ``hold`` leaves orders open until a test fills or cancels them by hand. Limit orders follow
    the same script and fill at their limit price or better (the market model's rule,
    :mod:`tradebot.market_model.rules`). With ``limits_cross`` a limit order rests until the
    symbol's price trades through its limit (a buy: below it; a sell: above it; at the limit
    exactly it rests), and only then follows the script: a price path
    (:mod:`~tradebot.simulators.alpaca.prices`) then decides when it fills.
    """

    delay: float = 0.0
    parts: int = 1
    hold: bool = False
    limits_cross: bool = False

    def __post_init__(self) -> None:
        if self.parts < 1:
            raise ValueError("parts must be >= 1")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
