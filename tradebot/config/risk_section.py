"""``risk:`` and ``algorithms.ID.risk:``: limits that can only make the bot trade less.

The planner obeys them, as the core's :class:`~tradebot.core.rules.RiskLimits` (same names, same
meaning) built by :mod:`.planning`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, field_validator

from tradebot.config.frozen import Frozen
from tradebot.config.numbers import MAX_DOLLARS, MAX_SHARES, WEEK, Finite, FiniteDecimal
from tradebot.core.rules import ReferencePricePolicy

# The keys both levels have, each range written once; the account's level gives them a default
# (GlobalRiskConfig), an algorithm's inherits when it says nothing.
CollarPct = Annotated[
    FiniteDecimal,
    Field(
        gt=0,
        le=100,
        description="percent; a leg whose price is further than this from the broker's reference"
        " price is skipped (price_off_market); limit prices stay within it too",
    ),
]
ReferencePrice = Annotated[
    ReferencePricePolicy,
    Field(
        description="without a reference price from the broker: required (skip the leg) or"
        " signal_if_unavailable (use the signal's price)"
    ),
]
ReferenceMaxAge = Annotated[
    Finite,
    Field(
        gt=0,
        le=WEEK,
        description="seconds; an older reference price counts as none while the market is open"
        " (closed: one from before the latest session does)",
    ),
]

#: the numeric limits, where the stricter value is the smaller one
_NUMERIC_LIMITS = (
    "max_order_notional",
    "max_position_notional",
    "max_algo_exposure",
    "max_symbol_exposure",
    "max_orders_per_day",
    "max_daily_loss",
    "max_signal_age",
    "price_collar_pct",
    "reference_max_age",
    "max_order_qty",
)


class RiskConfig(Frozen):
    """Limits that can only make the bot trade less. ``None`` means no limit.

    Under ``risk:`` they are the account's limits; under ``algorithms.ID.risk:`` they tighten
    them for one algorithm and can never loosen them (see :meth:`tightened_by`). Counts and losses
    are checked twice: for the account against the global value, and for the algorithm against
    the stricter of the two.
    """

    max_order_notional: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_DOLLARS, description="largest value of one order (closes are shrunk too)"
    )
    max_position_notional: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_DOLLARS, description="per algorithm per symbol"
    )
    max_algo_exposure: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_DOLLARS, description="gross notional an algorithm may hold"
    )
    max_symbol_exposure: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_DOLLARS, description="notional the account may hold net in one symbol"
    )
    max_orders_per_day: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="orders a day: account-wide (global), per algorithm (override)",
    )
    max_daily_loss: FiniteDecimal | None = Field(
        None,
        gt=0,
        le=MAX_DOLLARS,
        description="realised loss today after which only closes are sent",
    )
    max_signal_age: Finite | None = Field(
        None, gt=0, le=WEEK, description="seconds; older legs are skipped as stale"
    )
    price_collar_pct: CollarPct | None = None
    reference_price: ReferencePrice | None = None
    reference_max_age: ReferenceMaxAge | None = None
    max_order_qty: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_SHARES, description="most shares in one order (closes are shrunk too)"
    )
    allow_symbols: tuple[str, ...] | None = Field(
        None, description="open only these symbols (closes are never blocked)"
    )
    deny_symbols: tuple[str, ...] = Field((), description="never open these symbols")

    @field_validator("allow_symbols", "deny_symbols", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(str(v).strip().upper() for v in value)
        return value

    def tightened_by(self, override: RiskConfig) -> RiskConfig:
        """The effective limits when ``override`` applies on top of these: the stricter of each.

        A missing value inherits, a looser one has no effect (``config check`` warns about it),
        allow lists intersect and deny lists add up.
        """
        values: dict[str, Any] = {}
        for name in _NUMERIC_LIMITS:
            mine, theirs = getattr(self, name), getattr(override, name)
            values[name] = theirs if mine is None else mine if theirs is None else min(mine, theirs)
        allow, extra = self.allow_symbols, override.allow_symbols
        if allow is None or extra is None:
            values["allow_symbols"] = extra if allow is None else allow
        else:
            values["allow_symbols"] = tuple(s for s in extra if s in allow)
        values["deny_symbols"] = tuple(dict.fromkeys(self.deny_symbols + override.deny_symbols))
        values["reference_price"] = _stricter_policy(self.reference_price, override.reference_price)
        return RiskConfig(**values)

    def loosened_by(self, override: RiskConfig) -> tuple[str, ...]:
        """The fields where ``override`` asks for more than these limits allow (and is ignored)."""
        looser = [
            name
            for name in _NUMERIC_LIMITS
            if getattr(self, name) is not None
            and getattr(override, name) is not None
            and getattr(override, name) > getattr(self, name)
        ]
        allow, extra = self.allow_symbols, override.allow_symbols
        if allow is not None and extra is not None and any(s not in allow for s in extra):
            looser.append("allow_symbols")
        if (
            self.reference_price is ReferencePricePolicy.REQUIRED
            and override.reference_price is ReferencePricePolicy.SIGNAL_IF_UNAVAILABLE
        ):
            looser.append("reference_price")
        return tuple(looser)


def _stricter_policy(
    mine: ReferencePricePolicy | None, theirs: ReferencePricePolicy | None
) -> ReferencePricePolicy | None:
    """``required`` wins over ``signal_if_unavailable``; a missing value inherits."""
    if ReferencePricePolicy.REQUIRED in (mine, theirs):
        return ReferencePricePolicy.REQUIRED
    return theirs if mine is None else mine


class GlobalRiskConfig(RiskConfig):
    """``risk:``, the account's limits: the same keys, and the kill switch.

    The collar, reference-price policy and age always have a value here (an algorithm's own
    ``risk`` inherits them when it says nothing): the signal's price is never trusted by default.
    A collar cannot be switched off, only widened (up to 100%).
    """

    #: a signal price more than 5% from the market is not believed
    price_collar_pct: CollarPct = Decimal(5)
    reference_price: ReferencePrice = ReferencePricePolicy.REQUIRED
    #: 15 minutes
    reference_max_age: ReferenceMaxAge = 900.0
    kill_switch_file: str | None = Field(
        "tradebot.halt",
        description="while this file exists the bot sends nothing; null: no kill switch file",
    )

    @field_validator("kill_switch_file")
    @classmethod
    def _switch_path(cls, value: str | None) -> str | None:
        # "" would silently mean "no kill switch": only an explicit null turns it off
        if value is not None and not value.strip():
            raise ValueError("is empty; name a file (default tradebot.halt), or null for none")
        return value
