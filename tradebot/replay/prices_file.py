"""``--prices FILE``: market prices for a replay, a CSV of ``time,symbol,price`` rows.

::

    time,symbol,price
    2026-03-02T14:30:00Z,AAPL,189.50
    2026-03-02T20:59:00Z,AAPL,191.20

Times are ISO (a naive one is read in ``alphahub.timezone``, like a leg's); each price is the
sim market's price for its symbol from that time on: the reference the planner checks a signal
against, the price orders fill at, and what moves resting limits and exits. Without the file
the signal's own prices are the market (:mod:`tradebot.replay.engine`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tradebot.core.market import implausible_price
from tradebot.core.signal import parse_timestamp
from tradebot.exceptions import InvalidSignal
from tradebot.replay.history_file import ReplayInputError

HEADER = ("time", "symbol", "price")


@dataclass(frozen=True, slots=True)
class PricePoint:
    at: datetime
    symbol: str
    price: Decimal


def read_prices(path: Path, zone: tzinfo) -> tuple[PricePoint, ...]:
    """The file's prices, oldest first; :class:`ReplayInputError` naming the first bad line."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReplayInputError(f"{path}: cannot be read as CSV ({exc})") from None
    if not rows or tuple(c.strip().lower() for c in rows[0]) != HEADER:
        raise ReplayInputError(f"{path}: the first line must be {','.join(HEADER)}")
    points: list[PricePoint] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        points.append(_point(row, zone, f"{path}, line {number}"))
    points.sort(key=lambda p: p.at)
    return tuple(points)


def _point(row: list[str], zone: tzinfo, where: str) -> PricePoint:
    if len(row) != 3:
        raise ReplayInputError(f"{where}: expected time,symbol,price")
    when, symbol, text = (cell.strip() for cell in row)
    try:
        at = parse_timestamp(when, zone)
    except InvalidSignal as exc:
        raise ReplayInputError(f"{where}: {exc}") from None
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise ReplayInputError(f"{where}: {text[:40]!r} is not a price") from None
    why = implausible_price(price)
    if why is not None:
        raise ReplayInputError(f"{where}: {why}")
    if not symbol:
        raise ReplayInputError(f"{where}: no symbol")
    return PricePoint(at, symbol.upper(), price)
