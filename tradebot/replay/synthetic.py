"""A generated history in the history FILE's shape, for the benchmark and the tests. Pure.

Each algorithm holds up to ``positions`` symbols and, every weekday at 14:30 UTC, rotates some:
a close (the side that reduces what it holds) and an open of a symbol it does not hold, in one
signal, as AlphaHub's rotating algorithms do. Prices walk about 1% a day, seeded: the same
arguments always give the same history.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

SYMBOLS = tuple(f"S{n:03d}" for n in range(60))
_CENT = Decimal("0.01")


def generate(
    algorithms: tuple[int, ...],
    start: date,
    days: int,
    *,
    positions: int = 3,
    rotations: int = 1,
    seed: int = 7,
    shorts: bool = True,
) -> dict[int, list[dict[str, Any]]]:
    """algorithm id -> its legs as the history endpoint lists them (newest first)."""
    rng = random.Random(seed)  # noqa: S311 -- a repeatable test history, not a secret
    price = {s: Decimal(rng.randint(2000, 40000)) / 100 for s in SYMBOLS}
    held: dict[int, dict[str, str]] = {a: {} for a in algorithms}
    legs: dict[int, list[dict[str, Any]]] = {a: [] for a in algorithms}
    for offset in range(days):
        day = start + timedelta(days=offset)
        for symbol in SYMBOLS:
            move = Decimal(str(round(rng.gauss(0, 0.01), 4)))
            price[symbol] = max(Decimal(1), (price[symbol] * (1 + move)).quantize(_CENT))
        if day.weekday() >= 5:
            continue
        stamp = datetime.combine(day, time(14, 30), UTC)
        for algo in algorithms:
            mine = held[algo]
            out: list[dict[str, Any]] = []
            changes = rotations if len(mine) >= positions else positions - len(mine)
            for _ in range(changes):
                if len(mine) >= positions:
                    gone = rng.choice(sorted(mine))
                    side = "sell" if mine.pop(gone) == "buy" else "buy"
                    out.append(_leg(gone, side, price[gone], stamp))
                free = [s for s in SYMBOLS if s not in mine and all(x["symbol"] != s for x in out)]
                symbol = rng.choice(free)
                side = "sell" if shorts and rng.random() < 0.25 else "buy"
                mine[symbol] = side
                out.append(_leg(symbol, side, price[symbol], stamp))
            legs[algo].extend(out)
    return {a: list(reversed(legs[a])) for a in algorithms}


def _leg(symbol: str, side: str, price: Decimal, at: datetime) -> dict[str, Any]:
    return {
        "price": float(price),
        "side": side,
        "symbol": symbol,
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S"),
    }
