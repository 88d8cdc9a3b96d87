"""What a replay (or the journal) did over a period, in the columns ``tradebot replay`` shows.

One :class:`Tally` per source is fed orders, fills and skips as they happen; the same rules for
both, so the replay's column and the journal's compare like for like:

* P&L is average cost per algorithm and symbol (:class:`~tradebot.journal.summary.Position`,
  the journal's own rule): realised from the fills, plus the open positions at the end marked at
  the last known price of their symbol (the caller says which prices: the output names them);
  a position with no known price is listed as unmarked, never guessed.
* the largest position is the largest value one algorithm held in one symbol after any fill
  (quantity x that fill's price);
* the worst day is the day (UTC) with the lowest realised P&L;
* a chased remainder is the market order that finished a ``limit_then_market`` limit (an order
  of its own, counted among the orders too).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tradebot.journal.summary import Position

_ZERO = Decimal(0)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Largest:
    algo_id: int
    symbol: str
    qty: Decimal
    value: Decimal  # abs(qty) x the price of the fill that made it


@dataclass
class Tally:
    """Orders, fills and skips of one source, per algorithm, and the P&L they make."""

    orders: Counter[int] = field(default_factory=Counter)
    rejected: Counter[int] = field(default_factory=Counter)
    #: market remainders of chased ``limit_then_market`` limits (counted in ``orders`` too)
    chased: Counter[int] = field(default_factory=Counter)
    fills: Counter[int] = field(default_factory=Counter)
    skips: Counter[tuple[int, str]] = field(default_factory=Counter)  # (algo, reason)
    positions: dict[tuple[int, str], Position] = field(
        default_factory=lambda: defaultdict(Position)
    )
    realised: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    days: dict[tuple[int, date], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    largest: dict[int, Largest] = field(default_factory=dict)

    def order(self, algo_id: int) -> None:
        self.orders[algo_id] += 1

    def skip(self, algo_id: int, reason: str) -> None:
        self.skips[algo_id, reason] += 1

    def fill(
        self, algo_id: int, symbol: str, signed_qty: Decimal, price: Decimal, at: datetime
    ) -> Decimal:
        """Apply one fill; return the P&L it realised. ``at`` is timezone-aware."""
        position = self.positions[algo_id, symbol]
        made = position.fill(signed_qty, price)
        self.fills[algo_id] += 1
        self.realised[algo_id] += made
        self.days[algo_id, at.date()] += made
        value = abs(position.qty) * price
        best = self.largest.get(algo_id)
        if best is None or value > best.value:
            self.largest[algo_id] = Largest(algo_id, symbol, position.qty, value)
        return made

    def algorithms(self) -> set[int]:
        return (
            set(self.orders)
            | set(self.fills)
            | {a for a, _ in self.skips}
            | {a for a, _ in self.positions}
        )

    def summary(self, algo_id: int | None, marks: Mapping[str, Decimal]) -> dict[str, Any]:
        """The columns for one algorithm (None: all of them together), money as Decimal;
        ``marks``: symbol -> the price open positions are valued at."""

        def mine(algo: int) -> bool:
            return algo_id is None or algo == algo_id

        unrealised = _ZERO
        unmarked: set[str] = set()
        open_positions = 0
        for (algo, symbol), position in self.positions.items():
            if not mine(algo) or position.qty == 0:
                continue
            open_positions += 1
            mark = marks.get(symbol)
            if mark is None:
                unmarked.add(symbol)
            else:
                unrealised += (mark - position.cost) * position.qty
        realised = sum((v for a, v in self.realised.items() if mine(a)), _ZERO)
        days: dict[date, Decimal] = defaultdict(Decimal)
        for (algo, day), made in self.days.items():
            if mine(algo):
                days[day] += made
        worst = min(days.items(), key=lambda kv: (kv[1], kv[0]), default=None)
        largest = max(
            (v for a, v in self.largest.items() if mine(a)), key=lambda x: x.value, default=None
        )
        skips: Counter[str] = Counter()
        for (algo, reason), n in self.skips.items():
            if mine(algo):
                skips[reason] += n
        return {
            "algo_id": algo_id,
            "orders": sum(n for a, n in self.orders.items() if mine(a)),
            "rejected": sum(n for a, n in self.rejected.items() if mine(a)),
            "chased": sum(n for a, n in self.chased.items() if mine(a)),
            "fills": sum(n for a, n in self.fills.items() if mine(a)),
            "realised": realised.quantize(_CENT),
            "unrealised": unrealised.quantize(_CENT),
            "pnl": (realised + unrealised).quantize(_CENT),
            "open_positions": open_positions,
            "unmarked": sorted(unmarked),
            "largest_position": None
            if largest is None
            else {
                "algo_id": largest.algo_id,
                "symbol": largest.symbol,
                "qty": largest.qty,
                "value": largest.value.quantize(_CENT),
            },
            "worst_day": None
            if worst is None
            else {"day": worst[0], "pnl": worst[1].quantize(_CENT)},
            "skips": dict(sorted(skips.items())),
        }
