"""Turning an algorithm's move from one holding to another into orders that never cross zero.

Two zero lines matter: the algorithm's own ledger (a flip is "flatten, then open": two orders)
and the account's net position at the broker, which several algorithms share (an order that
would take it from long to short is split at zero; Alpaca will not flip a position in one order).
"""

from __future__ import annotations

from decimal import Decimal

CLOSE_STEP = "close"
OPEN_STEP = "open"


def ledger_steps(held: Decimal, target: Decimal) -> list[tuple[str, Decimal]]:
    """The signed quantity steps from ``held`` to ``target`` for one algorithm and symbol.

    A step toward zero is a ``close`` step, one away from it an ``open`` step. A flip is two
    steps, so no step takes the ledger across zero. Opposite legs on one symbol were already
    netted into ``target``: this yields at most one order per side of zero.
    """
    if target == held:
        return []
    if held and target and (held > 0) != (target > 0):
        return [(CLOSE_STEP, -held), (OPEN_STEP, target)]
    return [(CLOSE_STEP if abs(target) < abs(held) else OPEN_STEP, target - held)]


def split_at_zero(net: Decimal, delta: Decimal) -> list[tuple[Decimal, bool]]:
    """``delta`` in pieces that never take ``net`` across zero, each with "reduces |net|"."""
    after = net + delta
    if net == 0 or after == 0 or (net > 0) == (after > 0):
        return [(delta, abs(after) < abs(net))]
    return [(-net, True), (after, False)]
