"""A scripted trading day for algorithms 14, 16, 17 and 18, and the orders it must produce.

Sizing is by fixed shares (14, 16: 10 shares) and fixed notional (17, 18: $5,000), so the
expected quantities do not depend on the account's equity as the day goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.e2e.harness import leg


@dataclass(frozen=True)
class Push:
    algo_id: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Expected:
    algo_id: int
    symbol: str
    side: str
    qty: Decimal
    role: str  # "c" close group / "o" open group (the letter in the client order id)


def day(at: str) -> list[Push]:
    return [
        Push(
            16,
            {
                "close": [],
                "open": [
                    leg("JBHT", "buy", "168.56", at),
                    leg("ILMN", "buy", "414.60", at),
                    leg("CDNS", "sell", "142.94", at),
                ],
            },
        ),
        Push(14, {"open": [leg("VRTX", "buy", "216.08", at)]}),
        Push(17, {"open": [leg("AAPL", "buy", "189.50", at)]}),
        # 18 may not short: its CDNS leg is skipped
        Push(18, {"open": [leg("NVDA", "buy", "131.20", at), leg("CDNS", "sell", "142.94", at)]}),
        # 14 never held MSFT
        Push(14, {"close": [leg("MSFT", "sell", "415.30", at)]}),
        # closes before opens: JBHT and CDNS go out before MU
        Push(
            16,
            {
                "close": [leg("JBHT", "sell", "174.20", at), leg("CDNS", "buy", "139.05", at)],
                "open": [leg("MU", "buy", "88.40", at)],
            },
        ),
        # a flip: flatten, then open short (never one order across zero)
        Push(
            14,
            {
                "close": [leg("VRTX", "sell", "209.75", at)],
                "open": [leg("VRTX", "sell", "209.75", at)],
            },
        ),
        # 18 buys MU too (its own ledger), next to a malformed leg
        Push(
            18,
            {
                "open": [
                    leg("MU", "buy", "88.40", at),
                    {"price": "abc", "side": "buy", "symbol": "TSLA", "timestamp": at},
                ]
            },
        ),
        # 16 closes its MU: only its own 10 shares, not 18's
        Push(16, {"close": [leg("MU", "sell", "90.10", at)]}),
    ]


D = Decimal
EXPECTED_ORDERS = [
    Expected(16, "JBHT", "buy", D(10), "o"),
    Expected(16, "ILMN", "buy", D(10), "o"),
    Expected(16, "CDNS", "sell", D(10), "o"),
    Expected(14, "VRTX", "buy", D(10), "o"),
    Expected(17, "AAPL", "buy", D(26), "o"),
    Expected(18, "NVDA", "buy", D(38), "o"),
    Expected(16, "JBHT", "sell", D(10), "c"),
    Expected(16, "CDNS", "buy", D(10), "c"),
    Expected(16, "MU", "buy", D(10), "o"),
    Expected(14, "VRTX", "sell", D(10), "c"),
    Expected(14, "VRTX", "sell", D(10), "o"),
    Expected(18, "MU", "buy", D(56), "o"),
    Expected(16, "MU", "sell", D(10), "c"),
]

EXPECTED_SKIPS = {
    (18, "CDNS", "short_not_allowed"),
    (14, "MSFT", "not_held"),
    (18, None, "invalid"),
}

EXPECTED_LEDGERS = {
    (14, "VRTX"): D(-10),
    (16, "ILMN"): D(10),
    (17, "AAPL"): D(26),
    (18, "NVDA"): D(38),
    (18, "MU"): D(56),
}

EXPECTED_NET = {"VRTX": D(-10), "ILMN": D(10), "AAPL": D(26), "NVDA": D(38), "MU": D(56)}
