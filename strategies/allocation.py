"""``allocation``: a share of equity for the algorithm, split evenly across its positions.

With ``pct: 30`` and ``max_positions: 3`` every open leg gets 10% of equity. An algorithm that
already holds ``max_positions`` symbols (after the signal's closes) gets nothing for a further
open: the leg is skipped rather than letting the algorithm outgrow its allocation.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from strategies.base import Sizing, SizingContext, SizingStrategy, StrategyParams, money, shares_for
from tradebot.core.signal import Leg


class AllocationParams(StrategyParams):
    pct: Decimal = Field(gt=0, le=100, description="percent of account equity for the algorithm")
    max_positions: int = Field(ge=1, le=1000, description="positions the allocation is split into")


class Allocation(SizingStrategy[AllocationParams]):
    Params = AllocationParams

    def size(self, leg: Leg, ctx: SizingContext) -> Sizing:
        pct, slots = self.params.pct, self.params.max_positions
        held = len(ctx.holdings) - (leg.symbol in ctx.holdings)
        if held >= slots:
            return Sizing(Decimal(0), f"already holds {held} of its {slots} positions")
        notional = ctx.account.equity * pct / 100 / slots
        qty = shares_for(notional, leg.price)
        return Sizing(
            qty,
            f"{pct}% of equity {money(ctx.account.equity)} / {slots} positions = {money(notional)}"
            f" at {leg.price} = {qty:.4f} shares",
        )
