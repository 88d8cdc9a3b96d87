"""Per-algorithm positions in one account.

Each algorithm has its own ledger per symbol; the broker holds the net, which is always the sum
of the ledgers. Ledgers change only from fills (:meth:`PositionBook.apply_fill`), never from what
was sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

from tradebot.core.signal import Side

_ZERO = Decimal(0)


class PositionBook:
    """Signed quantities per (algorithm, symbol): positive long, negative short."""

    __slots__ = ("_ledgers", "_net")

    def __init__(self, positions: Mapping[tuple[int, str], Decimal] | None = None) -> None:
        self._ledgers: dict[int, dict[str, Decimal]] = {}
        self._net: dict[str, Decimal] = {}
        for (algo_id, symbol), qty in (positions or {}).items():
            self._add(algo_id, symbol, qty)

    def _add(self, algo_id: int, symbol: str, delta: Decimal) -> None:
        if delta == 0:
            return
        ledger = self._ledgers.setdefault(algo_id, {})
        new = ledger.get(symbol, _ZERO) + delta
        if new == 0:
            ledger.pop(symbol, None)
            if not ledger:
                del self._ledgers[algo_id]
        else:
            ledger[symbol] = new
        net = self._net.get(symbol, _ZERO) + delta
        if net == 0:
            self._net.pop(symbol, None)
        else:
            self._net[symbol] = net

    def apply_fill(self, algo_id: int, symbol: str, side: Side, qty: Decimal) -> None:
        """Record a fill of ``qty`` (positive) for ``algo_id``."""
        if qty <= 0:
            raise ValueError(f"fill quantity must be positive, got {qty}")
        self._add(algo_id, symbol, qty * side.sign)

    def qty(self, algo_id: int, symbol: str) -> Decimal:
        """The algorithm's own signed position in ``symbol`` (0 when flat)."""
        return self._ledgers.get(algo_id, {}).get(symbol, _ZERO)

    def net(self, symbol: str) -> Decimal:
        """The account-wide position the broker should show: the sum of the ledgers."""
        return self._net.get(symbol, _ZERO)

    def holdings(self, algo_id: int) -> Mapping[str, Decimal]:
        """The algorithm's open positions (non-zero only), symbol -> signed quantity."""
        return dict(self._ledgers.get(algo_id, {}))

    def algorithms(self) -> tuple[int, ...]:
        return tuple(sorted(self._ledgers))

    def net_positions(self) -> Mapping[str, Decimal]:
        return dict(self._net)

    def __iter__(self) -> Iterator[tuple[int, str, Decimal]]:
        for algo_id in sorted(self._ledgers):
            for symbol, qty in sorted(self._ledgers[algo_id].items()):
                yield algo_id, symbol, qty

    def copy(self) -> PositionBook:
        return PositionBook({(a, s): q for a, s, q in self})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PositionBook) and self._ledgers == other._ledgers

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PositionBook({ {(a, s): str(q) for a, s, q in self} })"
