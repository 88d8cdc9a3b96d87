"""Risk limits for the planner: pure checks that can only make the bot trade less.

Two kinds, treated differently on purpose:

- limits against a *malfunctioning bot* or a *bad signal* apply to every order, closes included:
  the kill switch (halted), orders per day, the largest order (notional and quantity), the
  signal's age, and its price (plausible, and within the collar of the reference price);
- limits against *adding risk* never stop a close, which only ever reduces what an algorithm
  holds: reduce-only, daily loss, symbol allow/deny lists, position and exposure limits,
  buying power.

Per-algorithm limits are the global ones tightened (:attr:`.rules.AlgorithmRules.risk`); counts
and losses are checked for the algorithm against its effective limit and for the account against
the global one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from types import MappingProxyType

from tradebot.core.market import price_tick
from tradebot.core.orders import SkipReason
from tradebot.core.rules import RiskLimits
from tradebot.core.signal import Side

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class DayState:
    """What the planner must know about today; gathered by the caller (journal, kill switch, clock).

    The planner never reads a clock or a file: an empty ``DayState`` means no orders yet, no
    realised P&L, the kill switch off and the market state unknown (treated as open).
    """

    #: orders sent today, per algorithm
    orders_today: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    #: realised P&L today, per algorithm (negative: a loss)
    realised_pnl: Mapping[int, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    #: kill switch: nothing at all is sent
    halted: bool = False
    #: kill switch: closes are sent, opens are not
    reduce_only: bool = False
    #: the broker's clock; ``None`` when unknown (treated as open)
    market_open: bool | None = None
    #: while the market is closed, the broker's clock's next open (the latest session is the
    #: trading day before it: :func:`~tradebot.core.market.latest_session_day`); else ``None``
    next_open: datetime | None = None


NO_DAY_STATE = DayState()


def opens_blocked(
    day: DayState, algo_id: int, account_risk: RiskLimits, risk: RiskLimits
) -> tuple[SkipReason, str] | None:
    """Why no open may go out for ``algo_id`` today, or ``None``."""
    if day.reduce_only:
        return SkipReason.KILL_SWITCH, "kill switch is on reduce-only: closes only"
    own = day.realised_pnl.get(algo_id, _ZERO)
    if risk.max_daily_loss is not None and -own >= risk.max_daily_loss:
        return SkipReason.RISK_LIMIT, (
            f"algorithm {algo_id} lost {-own} today, max_daily_loss is {risk.max_daily_loss}:"
            " closes only"
        )
    if account_risk.max_daily_loss is not None:
        total = sum(day.realised_pnl.values(), _ZERO)
        if -total >= account_risk.max_daily_loss:
            return SkipReason.RISK_LIMIT, (
                f"the account lost {-total} today, risk.max_daily_loss is"
                f" {account_risk.max_daily_loss}: closes only"
            )
    return None


def symbol_blocked(risk: RiskLimits, symbol: str) -> str | None:
    """Why ``symbol`` may not be opened (the allow/deny lists), or ``None``."""
    if symbol in risk.deny_symbols:
        return f"{symbol} is in deny_symbols"
    if risk.allow_symbols is not None and symbol not in risk.allow_symbols:
        return f"{symbol} is not in allow_symbols"
    return None


def orders_left(
    day: DayState, algo_id: int, account_risk: RiskLimits, risk: RiskLimits
) -> tuple[int, str] | None:
    """How many more orders may go out today, and the limit that says so; ``None``: no limit."""
    left: tuple[int, str] | None = None
    if risk.max_orders_per_day is not None:
        sent = day.orders_today.get(algo_id, 0)
        left = (
            max(risk.max_orders_per_day - sent, 0),
            f"algorithm {algo_id} sent {sent} of its {risk.max_orders_per_day} orders today",
        )
    if account_risk.max_orders_per_day is not None:
        sent = sum(day.orders_today.values())
        account_left = max(account_risk.max_orders_per_day - sent, 0)
        if left is None or account_left < left[0]:
            left = (
                account_left,
                f"the account sent {sent} of its {account_risk.max_orders_per_day} orders today",
            )
    return left


def limit_price(
    side: Side, price: Decimal, offset_pct: Decimal, collar_pct: Decimal | None
) -> tuple[Decimal, str | None]:
    """A limit price ``offset_pct`` past the reference price (buy above, sell below), collared.

    ``price`` is the broker's reference price (:mod:`.market`), the same one sizing uses. The
    collar bounds how far a signal's price may be from it, and so also how far a limit price may
    be: the offset is held to ``collar_pct``, and the result is rounded toward the reference to a
    tick Alpaca accepts (cents; 1/100 cent below $1), so it never leaves the collar.
    """
    note = None
    if collar_pct is not None and offset_pct > collar_pct:
        note = f"limit offset {offset_pct}% held to the {collar_pct}% price collar"
        offset_pct = collar_pct
    raw = price * (1 + side.sign * offset_pct / 100)
    tick = price_tick(price)
    rounded = raw.quantize(tick, rounding=ROUND_DOWN if side is Side.BUY else ROUND_UP)
    if rounded <= 0:  # a sell below a sub-penny price: the smallest tick is the floor
        rounded = tick
    return rounded, note


def symbol_room(net: Decimal, side: Side, limit_qty: Decimal) -> Decimal:
    """How many shares ``side`` may add before |net| exceeds ``limit_qty`` (reducing is free)."""
    toward = net * side.sign  # > 0: the order grows the position, < 0: it first reduces it
    if toward >= 0:
        return max(limit_qty - toward, _ZERO)
    return -toward + limit_qty
