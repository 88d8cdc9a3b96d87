"""``fixed_shares``: the same number of shares for every open leg."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from strategies.base import Sizing, SizingContext, SizingStrategy, StrategyParams
from tradebot.core.signal import Leg


class FixedSharesParams(StrategyParams):
    # at most the most shares any config key takes (tradebot/config/numbers.py MAX_SHARES)
    shares: Decimal = Field(
        gt=0, le=10**9, description="per open leg (fractions need allow_fractional)"
    )


class FixedShares(SizingStrategy[FixedSharesParams]):
    Params = FixedSharesParams

    def size(self, leg: Leg, ctx: SizingContext) -> Sizing:
        return Sizing(self.params.shares, f"fixed {self.params.shares} shares")
