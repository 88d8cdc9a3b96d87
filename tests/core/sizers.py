"""Misbehaving user strategies, named in test configs as ``tests.core.sizers:Class``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradebot.core.signal import Leg
from tradebot.core.sizing import Sizing, SizingContext, SizingStrategy, StrategyParams


class Explodes(SizingStrategy[StrategyParams]):
    """Raises for the symbol BAD, sizes 3 shares otherwise."""

    def size(self, leg: Leg, ctx: SizingContext) -> Sizing:
        if leg.symbol == "BAD":
            raise ZeroDivisionError("no price")
        return Sizing(Decimal(3), "three")


class ReturnsFloat(SizingStrategy[StrategyParams]):
    """Returns a float quantity: a bug the planner must not turn into an order."""

    def size(self, leg: Leg, ctx: SizingContext) -> Any:
        return Sizing(2.5, "float")  # type: ignore[arg-type]


class Negative(SizingStrategy[StrategyParams]):
    def size(self, leg: Leg, ctx: SizingContext) -> Sizing:
        return Sizing(Decimal(-4), "minus four")
