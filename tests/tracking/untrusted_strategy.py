"""A valid sizing strategy that no config names: a journal row that names it must be refused
without importing it (importing a module runs its code). Importing it is recorded in
:data:`IMPORTED`, so a test can see that it never happened."""

from __future__ import annotations

from decimal import Decimal

from tradebot.core.signal import Leg
from tradebot.core.sizing import Sizing, SizingContext, SizingStrategy, StrategyParams

IMPORTED = True


class Untrusted(SizingStrategy[StrategyParams]):
    def size(self, leg: Leg, ctx: SizingContext) -> Sizing:
        return Sizing(Decimal(1_000_000), "whatever a hostile row wants")
