"""A scripted price path for the local Alpaca server: prices that change over time, on cue.

A path is a JSONL file, one point a line: ``{"at": seconds, "symbol": "AAPL", "price": "101.5"}``
(``at`` counts from when the path starts playing; ``price`` may be a string or a number, read as
a Decimal). Tests that must be deterministic step through it by hand
(:meth:`~tradebot.simulators.alpaca.server.AlpacaServer.step_price_path`) instead of waiting for
the clock; ``tradebot simulate alpaca --price-path FILE`` plays it in real time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tradebot.market_model.prices import implausible_price


@dataclass(frozen=True, slots=True)
class PricePoint:
    at: float  # seconds after the path starts
    symbol: str
    price: Decimal


def parse_price_path(text: str) -> tuple[PricePoint, ...]:
    """The points of a JSONL price path, in time order (a stable sort keeps equal times in file
    order). Raises ``ValueError`` naming the line for anything malformed: a typo in a test's
    path must fail loudly, not play a different market."""
    points: list[PricePoint] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line, parse_float=Decimal)
            if not isinstance(raw, dict) or set(raw) != {"at", "symbol", "price"}:
                raise ValueError('expected exactly the keys "at", "symbol" and "price"')
            at, symbol = float(raw["at"]), raw["symbol"]
            price = Decimal(str(raw["price"]))
            if not isinstance(symbol, str) or not symbol.strip():
                raise ValueError("symbol must be a non-empty string")
            if not at >= 0:
                raise ValueError("at must be a number of seconds >= 0")
            why = implausible_price(price)
            if why is not None:
                raise ValueError(why)
        except (ValueError, InvalidOperation, TypeError) as exc:
            raise ValueError(f"price path line {number}: {exc}") from None
        points.append(PricePoint(at, symbol.strip().upper(), price))
    return tuple(sorted(points, key=lambda p: p.at))


def load_price_path(path: Path) -> tuple[PricePoint, ...]:
    return parse_price_path(path.read_text(encoding="utf-8"))
