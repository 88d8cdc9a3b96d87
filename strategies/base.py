"""What a strategy module imports: the sizing protocol and two helpers for the ``basis`` text.

The protocol itself (:class:`SizingStrategy`, :class:`StrategyParams`, :class:`SizingContext`,
:class:`Sizing`) is defined in :mod:`tradebot.core.sizing`, where the planner that calls it lives;
it is re-exported here so that a strategy needs one import line (``from strategies.base import
...``), as the built-ins show.
"""

from __future__ import annotations

from decimal import Decimal

from tradebot.core.sizing import Sizing, SizingContext, SizingStrategy, StrategyParams

__all__ = ["Sizing", "SizingContext", "SizingStrategy", "StrategyParams", "money", "shares_for"]


def shares_for(notional: Decimal, price: Decimal) -> Decimal:
    """How many shares ``notional`` buys at ``price`` (zero for a non-positive notional)."""
    return notional / price if notional > 0 else Decimal(0)


def money(value: Decimal) -> str:
    """A money amount for a ``basis`` text: two decimals, thousands separated."""
    return f"{value:,.2f}"
