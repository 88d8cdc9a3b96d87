"""``algorithms.ID:``: how one AlphaHub algorithm's legs are sized, ordered and limited.

The planner obeys this section, as the core's :class:`~tradebot.core.rules.AlgorithmRules` built
by :mod:`.planning`; its ``risk:`` is :class:`~tradebot.config.risk_section.RiskConfig` and its
``exits:`` is :class:`~tradebot.config.exits_section.ExitsConfig`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import (
    Field,
    PrivateAttr,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tradebot.config.exits_section import ExitsConfig
from tradebot.config.frozen import Frozen
from tradebot.config.numbers import Finite, FiniteDecimal
from tradebot.config.risk_section import RiskConfig
from tradebot.config.strategy import StrategyNotFound, resolve_strategy
from tradebot.core.order_shape import OrderType
from tradebot.core.orders import TimeInForce
from tradebot.core.rules import CloseNotHeld, MarketClosedPolicy
from tradebot.core.sizing import SizingStrategy

#: what an algorithm's entries can go out as. ``stop`` and ``trailing_stop`` are exit orders only
#: (``core/orders.py``): the planner gives an entry no stop price, so every signal of an
#: algorithm written with them would fail planning. Exits are configured under ``exits:``.
ENTRY_ORDER_TYPES = (OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT_THEN_MARKET)


class AlgorithmConfig(Frozen):
    """One AlphaHub algorithm: how its legs are sized, ordered and limited.

    ``strategy`` is resolved and ``params`` validated against the strategy's ``Params`` when the
    config is loaded; :attr:`sizer` is the ready strategy instance the planner calls.
    """

    name: str = ""
    enabled: StrictBool = True
    strategy: str = Field(..., description="a module in strategies/ or 'package.module:Class'")
    params: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_offset_pct: FiniteDecimal = Field(
        Decimal(0),
        ge=0,
        le=10,
        description="limit orders: how far past the reference price (buy above, sell below),"
        " percent",
    )
    chase_after: Finite = Field(
        60.0,
        gt=0,
        le=86400,
        description="limit_then_market: seconds of the market being open before what the limit"
        " has not filled is canceled and sent at market",
    )
    chase_pct: FiniteDecimal = Field(
        Decimal("0.33"),
        ge=0,
        le=10,
        description="limit_then_market: percent the reference price may move past the limit"
        " (a buy: above it; a sell: below it) before the rest is sent at market",
    )
    allow_short: StrictBool = False
    allow_fractional: StrictBool = False
    on_close_not_held: CloseNotHeld = CloseNotHeld.SKIP
    market_closed: MarketClosedPolicy = MarketClosedPolicy.QUEUE
    risk: RiskConfig = RiskConfig()
    #: take-profit / stop-loss / trailing stop attached to every entry (docs/trading.md, "Exits")
    exits: ExitsConfig | None = None

    _sizer: SizingStrategy[Any] = PrivateAttr()

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        try:
            resolve_strategy(value)
        except StrategyNotFound as exc:
            raise ValueError(str(exc)) from None
        return value.strip()

    @field_validator("params")
    @classmethod
    def _params_fit_strategy(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        strategy = info.data.get("strategy")
        if strategy is None:  # the strategy itself is wrong; that error is reported instead
            return value
        # A ValidationError raised here keeps its locations: algorithms.ID.params.KEY
        validated = resolve_strategy(strategy).Params.model_validate(value)
        return validated.model_dump()

    @field_validator("order_type", mode="before")
    @classmethod
    def _entry_order_type(cls, value: Any) -> Any:
        if isinstance(value, str) and value in ENTRY_ORDER_TYPES:
            return value
        allowed = ", ".join(f"'{t}'" for t in ENTRY_ORDER_TYPES[:-1])
        message = f"should be {allowed} or '{ENTRY_ORDER_TYPES[-1]}'"
        if value in (OrderType.STOP, OrderType.TRAILING_STOP):
            message += (
                f" ({value} orders are exits, never entries: see exits.stop_loss_pct and"
                " exits.trailing_stop_pct)"
            )
        raise ValueError(message)

    @model_validator(mode="after")
    def _chase_needs_a_day_order(self) -> AlgorithmConfig:
        # the limit waits and the rest goes at market in the same session: opening/closing
        # auction and immediate-or-cancel orders cannot wait to be chased
        chasable = (TimeInForce.DAY, TimeInForce.GTC)
        if self.order_type is OrderType.LIMIT_THEN_MARKET and self.time_in_force not in chasable:
            raise ValueError(
                f"order_type limit_then_market needs time_in_force day or gtc,"
                f" not {self.time_in_force}"
            )
        return self

    @model_validator(mode="after")
    def _short_take_profit_above_zero(self) -> AlgorithmConfig:
        # a short's take-profit is below its entry: 100% or more would be a price of zero
        exits = self.exits
        if self.allow_short and exits is not None and (exits.take_profit_pct or 0) >= 100:
            raise ValueError(
                "exits.take_profit_pct must be under 100 with allow_short: a short's"
                " take-profit is that far below its entry price"
            )
        return self

    def model_post_init(self, context: Any, /) -> None:
        # params are validated a second time here, once per load: the field validator above
        # must return plain data, and only it can report errors at algorithms.ID.params.KEY
        self._sizer = resolve_strategy(self.strategy).from_params(self.params)

    @property
    def sizer(self) -> SizingStrategy[Any]:
        """The strategy instance, built from :attr:`params` when this config was validated."""
        return self._sizer
