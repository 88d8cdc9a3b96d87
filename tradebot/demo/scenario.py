"""The scripted trading session the demo plays, step by step.

Each step pushes one AlphaHub frame (or injects one fault) and says what a person should see
happen. Leg timestamps are "now", so the signals are fresh for the risk limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Step:
    title: str
    algo_id: int
    payload: dict[str, Any] | None = None  # a new_signals payload to push
    times: int = 1  # pushes of the same frame (2: a duplicate push)
    #: "drop": cut one connection before pushing; "lapse": cut every connection and push while
    #: none is subscribed (only the signal history has it: the bot backfills after the rejoin)
    fault: str | None = None
    delivered: bool = True  # whether the bot should see a new signal from this step
    market: dict[str, str] | None = None  # where the market trades (default: at the legs' prices)
    #: (algorithm, symbol): the step ends when that ledger is flat (an exit fired at the broker)
    flat: tuple[int, str] | None = None


def _leg(symbol: str, side: str, at: str, price: str) -> dict[str, Any]:
    return {"price": float(price), "side": side, "symbol": symbol, "timestamp": at}


def market_prices(step: Step) -> dict[str, Decimal]:
    """symbol -> where the market trades during ``step``: its ``market``, else the prices of
    the well-formed legs (a signal normally agrees with the market)."""
    if step.market is not None:
        return {symbol: Decimal(price) for symbol, price in step.market.items()}
    prices: dict[str, Decimal] = {}
    for group in ("close", "open"):
        for leg in (step.payload or {}).get(group) or ():
            if "symbol" in leg:
                prices[leg["symbol"]] = Decimal(str(leg["price"]))
    return prices


def steps(now: Callable[[], datetime]) -> list[Step]:
    """The session. ``now`` stamps the legs (AlphaHub's naive UTC format)."""
    at = now().strftime("%Y-%m-%dT%H:%M:%S")
    return [
        Step(
            "Minotaur 3-Stock (16) opens three positions, one of them short",
            16,
            {
                "close": [],
                "open": [
                    _leg("JBHT", "buy", at, "168.56"),
                    _leg("ILMN", "buy", at, "414.60"),
                    _leg("CDNS", "sell", at, "142.94"),
                ],
            },
        ),
        Step("Minotaur 1-Stock (14) opens VRTX", 14, {"open": [_leg("VRTX", "buy", at, "216.08")]}),
        Step(
            "Minotaur Optimus 1 (17) opens AAPL, and AlphaHub pushes the frame twice",
            17,
            {"open": [_leg("AAPL", "buy", at, "189.50")]},
            times=2,
        ),
        Step(
            "One connection drops; The Optimizer (18) signals on the other one meanwhile",
            18,
            {"open": [_leg("NVDA", "buy", at, "131.20")]},
            fault="drop",
        ),
        Step(
            "Every connection drops; Minotaur Optimus 1 (17) closes AAPL while the bot is not "
            "subscribed: after the rejoin it reads AlphaHub's signal history and trades it",
            17,
            {"close": [_leg("AAPL", "sell", at, "190.10")]},
            fault="lapse",
        ),
        Step(
            "The Optimizer (18) sends a malformed leg (no symbol) next to a good one",
            18,
            {
                "open": [
                    {"price": 415.3, "side": "buy", "timestamp": at},
                    _leg("MU", "buy", at, "87.10"),
                ]
            },
        ),
        Step(
            "Minotaur 1-Stock (14) closes MSFT, which it never opened",
            14,
            {"close": [_leg("MSFT", "sell", at, "415.30")]},
        ),
        Step(
            "Minotaur 3-Stock (16) rotates: closes JBHT and covers CDNS (both at a profit), "
            "then opens MU",
            16,
            {
                "close": [_leg("JBHT", "sell", at, "174.20"), _leg("CDNS", "buy", at, "139.05")],
                "open": [_leg("MU", "buy", at, "88.40")],
            },
        ),
        Step(
            "Minotaur 1-Stock (14) flips VRTX from long to short at a loss (flatten, then open)",
            14,
            {
                "close": [_leg("VRTX", "sell", at, "209.75")],
                "open": [_leg("VRTX", "sell", at, "209.75")],
            },
        ),
        Step(
            "The Optimizer (18) opens AMD at 16.02 while it trades at 160.20 (a slipped decimal"
            " point): the leg is skipped as price_off_market, never sized at the wrong price",
            18,
            {"open": [_leg("AMD", "buy", at, "16.02")]},
            market={"AMD": "160.20"},
        ),
        Step(
            "NVDA falls 3.6% with no signal: The Optimizer's (18) NVDA entry went out as a"
            " bracket, and its stop-loss leg (3% below the entry) sells at the broker",
            18,
            market={"NVDA": "126.50"},
            delivered=False,
            flat=(18, "NVDA"),
        ),
        Step(
            "The Optimizer (18) closes NVDA: its stop-loss already sold it, so the close is"
            " skipped not_held, naming the exit; nothing is sold twice",
            18,
            {"close": [_leg("NVDA", "sell", at, "126.50")]},
        ),
    ]
