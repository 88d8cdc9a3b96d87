"""``fixed_notional``: the same dollar amount for every open leg."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from strategies.base import Sizing, SizingContext, SizingStrategy, StrategyParams, money, shares_for
from tradebot.core.signal import Leg


class FixedNotionalParams(StrategyParams):
    # at most the largest amount any config key takes (tradebot/config/numbers.py MAX_DOLLARS)
    notional: Decimal = Field(
        gt=0, le=10**12, description="dollars per open leg, at the reference price"
    )


class FixedNotional(SizingStrategy[FixedNotionalParams]):
    Params = FixedNotionalParams

    def size(self, leg: Leg, ctx: SizingContext) -> Sizing:
        notional = self.params.notional
        qty = shares_for(notional, leg.price)
        return Sizing(qty, f"{money(notional)} at {leg.price} = {qty:.4f} shares")
