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

An order decided earlier that leaves later (a chased limit's market remainder) obeys the limits
in force when it leaves, by the same rules: :func:`refusal_at_leaving`, sharing
:func:`order_rooms` (the limits on one order's size) with the planner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from types import MappingProxyType

from tradebot.core.book import PositionBook
from tradebot.core.market import MarketPrices, off_market, price_tick, stale_reference
from tradebot.core.orders import OrderIntent, SkipReason
from tradebot.core.rules import PlanningRules, RiskLimits
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


#: limits on one order's size: they apply to every order, closes included
ORDER_SIZE_LIMITS = ("max_order_notional", "max_order_qty")


def order_rooms(
    risk: RiskLimits,
    side: Side,
    price: Decimal,
    *,
    held: Decimal,
    net: Decimal,
    elsewhere: Callable[[], Decimal | str],
) -> list[tuple[str, Decimal | None]]:
    """Each limit on how many shares one order on ``side`` at ``price`` may trade, by name.

    ``held``: the algorithm's signed position in the symbol before the order (a new open: 0);
    ``net``: the account's; ``elsewhere()``: the algorithm's gross exposure in its other symbols,
    or one it cannot value (asked only under ``max_algo_exposure``). A room of ``None`` means the
    limit cannot be checked (its name says why). The planner shrinks an open to these rooms;
    an order that leaves later (a chase's remainder) is refused when it does not fit them.
    """
    rooms: list[tuple[str, Decimal | None]] = []
    if risk.max_order_notional is not None:
        rooms.append(("max_order_notional", risk.max_order_notional / price))
    if risk.max_order_qty is not None:
        rooms.append(("max_order_qty", risk.max_order_qty))
    if risk.max_position_notional is not None:
        rooms.append(
            ("max_position_notional", max(risk.max_position_notional / price - abs(held), _ZERO))
        )
    if risk.max_algo_exposure is not None:
        other = elsewhere()
        if isinstance(other, str):
            return [(f"cannot check max_algo_exposure: no price for held {other}", None)]
        used = other + abs(held) * price
        rooms.append(("max_algo_exposure", max(risk.max_algo_exposure - used, _ZERO) / price))
    if risk.max_symbol_exposure is not None:
        rooms.append(
            ("max_symbol_exposure", symbol_room(net, side, risk.max_symbol_exposure / price))
        )
    return rooms


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an order may not leave: the limit (its name in config.yaml, or ``kill_switch``,
    ``no_reference_price``...) and the specifics."""

    limit: str
    detail: str


def reduces(held: Decimal, side: Side, qty: Decimal) -> bool:
    """Whether ``qty`` on ``side`` only reduces the position ``held`` (never crosses zero)."""
    return held * side.sign < 0 and qty <= abs(held)


def refusal_at_leaving(
    order: OrderIntent,
    *,
    book: PositionBook,
    rules: PlanningRules,
    day: DayState,
    market: MarketPrices,
    now: datetime,
) -> Refusal | None:
    """The limits in force when an order decided earlier leaves (a chased limit's remainder).

    The planner's limits, with the rules above: every order obeys the algorithm's config, the
    halted kill switch, orders per day, the largest order, and the price collar against a fresh
    reference (``order.reference_price``, the price it was planned at, may be no further from
    the market now than ``price_collar_pct``; with no reference now, nothing goes, unless the
    broker is its own market, the sim). An order that does not only reduce what its algorithm
    holds (``book``, fills so far applied) also obeys reduce-only, daily loss, the symbol lists
    and the position and exposure limits. The order is all or nothing: refused when it does not
    fit, never resized (sizing is the planner's, for a signal). Buying power is the broker's to
    enforce.
    """
    algo_id, symbol, qty = order.algo_id, order.symbol, order.qty
    algo = rules.algorithms.get(algo_id)
    if algo is None:
        return Refusal("algo_unknown", f"algorithm {algo_id} is not in the config")
    if not algo.enabled:
        return Refusal("algo_disabled", f"algorithm {algo_id} is disabled in the config")
    if day.halted:
        return Refusal("kill_switch", "kill switch is on: nothing is sent")
    risk, held = algo.risk, book.qty(algo_id, symbol)
    adds = not reduces(held, order.side, qty)
    if adds:
        blocked = opens_blocked(day, algo_id, rules.account_risk, risk)
        if blocked is not None:
            reason, detail = blocked
            return Refusal(
                "reduce_only" if reason is SkipReason.KILL_SWITCH else "max_daily_loss", detail
            )
        denied = symbol_blocked(risk, symbol)
        if denied is not None:
            listed = "deny_symbols" if symbol in risk.deny_symbols else "allow_symbols"
            return Refusal(listed, denied)
    left = orders_left(day, algo_id, rules.account_risk, risk)
    if left is not None and left[0] <= 0:
        return Refusal("max_orders_per_day", left[1])
    price = market.price(symbol)
    stale = None
    if price is not None:  # as old a reference as the planner would refuse is none (item 3)
        stale = stale_reference(
            market,
            symbol,
            now,
            risk.reference_max_age,
            market_open=day.market_open,
            next_open=day.next_open,
        )
        if stale is not None:
            price = None
    if price is None and market.signal_stands_in:
        price = order.reference_price  # the sim broker is its own market (as in the planner)
    if price is None:
        return Refusal("no_reference_price", stale or market.missing(symbol))
    collar = risk.price_collar_pct
    distance = None if collar is None else off_market(order.reference_price, price, collar)
    if distance is not None:
        return Refusal(
            "price_collar_pct",
            f"the market price {price} for {symbol} is {distance:.1f}% from"
            f" {order.reference_price}, the price the order was planned at; price_collar_pct"
            f" is {collar}",
        )
    rooms = order_rooms(
        risk,
        order.side,
        price,
        held=held,
        net=book.net(symbol),
        elsewhere=lambda: _gross_elsewhere(book, algo_id, symbol, market),
    )
    for name, room in rooms:
        if not adds and name not in ORDER_SIZE_LIMITS:
            continue
        if room is None:
            return Refusal("max_algo_exposure", name)
        if qty > room:
            room = room.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
            detail = f"{name}: {order.side} {qty} {symbol} at {price} is more than its room, {room}"
            return Refusal(name, detail)
    return None


def _gross_elsewhere(
    book: PositionBook, algo_id: int, symbol: str, market: MarketPrices
) -> Decimal | str:
    """The algorithm's gross holding value in its other symbols at ``market``; or one it cannot
    value."""
    gross, unvalued = _ZERO, []
    for other, qty in book.holdings(algo_id).items():
        if other == symbol:
            continue
        price = market.price(other)
        if price is None:
            unvalued.append(other)
        else:
            gross += abs(qty) * price
    return min(unvalued) if unvalued else gross
