"""``algorithms.ID.exits:``: the exits attached to every entry of an algorithm
(docs/trading.md, "Exits")."""

from __future__ import annotations

from pydantic import Field, model_validator

from tradebot.config.frozen import Frozen
from tradebot.config.numbers import FiniteDecimal
from tradebot.core.orders import ExitTerms


class ExitsConfig(Frozen):
    """An algorithm's ``exits:``: take-profit, stop-loss or trailing stop, each a percent of the
    entry's fill price (docs/trading.md#exits-take-profit-stop-loss-trailing-stop)."""

    take_profit_pct: FiniteDecimal | None = Field(
        None, gt=0, le=1000, description="percent beyond the entry price for the take-profit"
    )
    stop_loss_pct: FiniteDecimal | None = Field(
        None, gt=0, lt=100, description="percent against the entry price for the stop-loss"
    )
    trailing_stop_pct: FiniteDecimal | None = Field(
        None, gt=0, lt=100, description="percent the trailing stop follows the best price by"
    )

    @model_validator(mode="after")
    def _one_linked_set(self) -> ExitsConfig:
        if self.take_profit_pct is None and self.stop_loss_pct is None:
            if self.trailing_stop_pct is None:
                raise ValueError("exits needs take_profit_pct, stop_loss_pct or trailing_stop_pct")
        elif self.trailing_stop_pct is not None:
            raise ValueError(
                "trailing_stop_pct cannot be combined with take_profit_pct or stop_loss_pct:"
                " Alpaca cannot link a trailing stop to other exits, and two unlinked exits"
                " could both sell"
            )
        return self

    def terms(self) -> ExitTerms:
        return ExitTerms(self.take_profit_pct, self.stop_loss_pct, self.trailing_stop_pct)
