"""``percent_of_equity``: each open leg gets a fixed percentage of the account's equity."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from strategies.base import Sizing, SizingContext, SizingStrategy, StrategyParams, money, shares_for
from tradebot.core.signal import Leg


class PercentOfEquityParams(StrategyParams):
    pct: Decimal = Field(gt=0, le=100, description="percent of account equity per open leg")


class PercentOfEquity(SizingStrategy[PercentOfEquityParams]):
    Params = PercentOfEquityParams

    def size(self, leg: Leg, ctx: SizingContext) -> Sizing:
        pct = self.params.pct
        notional = ctx.account.equity * pct / 100
        qty = shares_for(notional, leg.price)
        return Sizing(
            qty,
            f"{pct}% of equity {money(ctx.account.equity)} = {money(notional)}"
            f" at {leg.price} = {qty:.4f} shares",
        )
