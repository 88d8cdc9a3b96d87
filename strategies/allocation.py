"""``allocation``: a share of equity for the algorithm, split evenly across its positions.

With ``pct: 30`` and ``max_positions: 3`` every open leg gets 10% of equity. An algorithm that
already holds ``max_positions`` symbols (after the signal's closes) gets nothing for a further
open: the leg is skipped rather than letting the algorithm outgrow its allocation.

A leg with a ``weight`` (docs/alphahub.md#signals: the fraction of the algorithm's funds for that
open, as AlphaHub's own trader honours it) gets that fraction of the allocation instead of the even
split: ``weight: 0.5`` with ``pct: 30`` is 15% of equity. The parser has already checked that
the weight is in (0, 1] and that a signal's weights add up to at most 1.
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
        equity = money(ctx.account.equity)
        if leg.weight is None:
            notional = ctx.account.equity * pct / 100 / slots
            how = f"{pct}% of equity {equity} / {slots} positions"
        else:
            notional = ctx.account.equity * pct / 100 * leg.weight
            how = f"{pct}% of equity {equity} x the leg's weight {leg.weight}"
        qty = shares_for(notional, leg.price)
        return Sizing(qty, f"{how} = {money(notional)} at {leg.price} = {qty:.4f} shares")
