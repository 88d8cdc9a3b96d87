"""The engine: one signal in, a :class:`~tradebot.core.orders.Plan` out. Pure and deterministic.

``plan(signal, book, account, rules, now)`` reads no clock, file or network; everything comes
in as arguments, so the same inputs always give the same plan, client order ids included.
``rules`` is the config's slice the planner obeys (:class:`~tradebot.core.rules.PlanningRules`,
``Config.planning``), never the config itself.

The rules (docs/design.md), in the order they are applied:

1. The whole signal is skipped for an unknown or disabled algorithm, a halted kill switch, an
   account the broker has blocked, or a closed market under ``market_closed: skip``. Legs older
   than ``max_signal_age`` are skipped as stale.
   Every leg is then priced (:mod:`.market`): at the broker's reference price for its symbol,
   never at the signal's own claim. A leg whose price is not a plausible share price, or is
   further than ``price_collar_pct`` from the reference, is skipped (``price_off_market``); a leg
   with no reference is skipped (``no_reference_price``) unless the signal's price may stand in
   (the ``sim`` broker, or ``reference_price: signal_if_unavailable``), which its order notes.
   A reference older than ``reference_max_age`` (or, with the market closed, from before the
   latest session) counts as no reference (:func:`~tradebot.core.market.stale_reference`).
   Sizing, every notional limit and limit prices use that one price per symbol.
2. Closes first. A close flattens what *this algorithm's* ledger holds in the symbol, whatever
   the leg's side says (AlphaHub's close side is the side of the position it closes; a mismatch
   is noted on the order). A close for a symbol the algorithm does not hold is skipped
   (``not_held``, per ``on_close_not_held``).
3. Then opens, in signal order. An open for a symbol the algorithm already holds in the same
   direction is skipped as ``already_held``: no pyramiding, a repeated signal never doubles a
   position. An open against a holding flattens it first (two orders: ``close`` then ``open``).
   Shorts need ``allow_short``, an account with shorting enabled and, when asset information is
   given, a shortable asset. The strategy sizes the open; the quantity is rounded down
   (:mod:`.quantity`) and shrunk by the risk limits (:mod:`.risk`), never grown.
4. Per symbol, the legs become the fewest orders that take the algorithm from what it holds to
   its target (a close and a re-open net into one order, or none), split so that no order crosses
   zero, neither for the algorithm nor for the account's net position (:mod:`.order_writer`).
5. Orders that reduce the account's net position go in the ``close`` group, sent first; the rest
   in the ``open`` group. Orders beyond ``max_orders_per_day`` are dropped, the algorithm's
   opens before its closes.

Every leg ends up in an order, in ``Plan.skipped`` with a reason, or both (an order smaller than
the leg asked for). Client order ids come from the legs an order serves, the account and the
order's step (``close``/``open``, ``…2`` for the second half of a split), so a retry, a restart
or the same signal twice never makes a second, different order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from tradebot.core.account import AccountSnapshot, AssetInfo
from tradebot.core.book import PositionBook
from tradebot.core.ids import account_tag
from tradebot.core.market import (
    MarketPrices,
    PriceSource,
    implausible_price,
    off_market,
    stale_reference,
)
from tradebot.core.netting import CLOSE_STEP, OPEN_STEP
from tradebot.core.order_shape import ChaseTerms, OrderType
from tradebot.core.order_writer import Move, OrderStyle, within_count, write_orders
from tradebot.core.orders import (
    ExitFill,
    IntentRole,
    OrderIntent,
    Plan,
    SkippedLeg,
    SkipReason,
    TimeInForce,
    rejected_skip,
)
from tradebot.core.quantity import (
    MIN_FRACTIONAL_NOTIONAL,
    ZERO,
    is_whole,
    round_quantity,
    why_whole_shares,
)
from tradebot.core.risk import (
    NO_DAY_STATE,
    DayState,
    limit_price,
    opens_blocked,
    order_rooms,
    orders_left,
    symbol_blocked,
)
from tradebot.core.rules import (
    AlgorithmRules,
    CloseNotHeld,
    MarketClosedPolicy,
    PlanningRules,
    ReferencePricePolicy,
)
from tradebot.core.signal import HOLD_DETAIL, Leg, LegKind, Side, Signal, SignalSource
from tradebot.core.sizing import Sizing, SizingContext

__all__ = ["DayState", "plan"]

_NO_ASSETS: Mapping[str, AssetInfo] = MappingProxyType({})
_NO_MARKS: Mapping[str, Decimal] = MappingProxyType({})
_NO_EXITS: Mapping[str, ExitFill] = MappingProxyType({})


def plan(
    signal: Signal,
    book: PositionBook,
    account: AccountSnapshot,
    rules: PlanningRules,
    now: datetime,
    *,
    market: MarketPrices,
    assets: Mapping[str, AssetInfo] | None = None,
    day: DayState | None = None,
    marks: Mapping[str, Decimal] | None = None,
    exit_fills: Mapping[str, ExitFill] | None = None,
) -> Plan:
    """The orders ``signal`` calls for, and every leg skipped with its reason. Sends nothing.

    ``market``: the broker's reference prices for the signal's symbols (see :mod:`.market`).
    ``assets``: what the broker allows per symbol (tradable, shortable, fractionable); a symbol
    missing from it is not restricted. ``day``: today's counts and the kill switch. ``marks``:
    last prices of held symbols, to value an algorithm's exposure where ``market`` has no price
    for them. ``exit_fills``: per symbol, the exit of this algorithm that closed its position
    there (a close leg for it is skipped ``not_held`` naming it). ``now`` (timezone-aware) is
    only compared with leg timestamps.
    """
    day = NO_DAY_STATE if day is None else day
    skipped = [rejected_skip(r) for r in signal.rejected]
    skipped += [SkippedLeg(None, SkipReason.HOLD, HOLD_DETAIL, held=h) for h in signal.held]
    algo = rules.algorithms.get(signal.algo_id)
    if algo is None:
        detail = f"algorithm {signal.algo_id} is not in the config"
        return _skip_all(signal, skipped, SkipReason.ALGO_UNKNOWN, detail)
    blocked = _signal_blocked(signal.algo_id, algo, account, day)
    if blocked is not None:
        return _skip_all(signal, skipped, *blocked)
    builder = _PlanBuilder(
        signal,
        book,
        account,
        rules,
        algo,
        market,
        assets if assets is not None else _NO_ASSETS,
        day,
        marks if marks is not None else _NO_MARKS,
        skipped,
        exit_fills if exit_fills is not None else _NO_EXITS,
    )
    return builder.build(now)


def _skip_all(signal: Signal, skipped: list[SkippedLeg], reason: SkipReason, detail: str) -> Plan:
    skipped += [SkippedLeg(leg.id, reason, detail, leg) for leg in signal.legs]
    return Plan(skipped=tuple(skipped))


def _signal_blocked(
    algo_id: int, algo: AlgorithmRules, account: AccountSnapshot, day: DayState
) -> tuple[SkipReason, str] | None:
    if not algo.enabled:
        return SkipReason.ALGO_DISABLED, f"algorithm {algo_id} is disabled in the config"
    if day.halted:
        return SkipReason.KILL_SWITCH, "kill switch is on: nothing is sent"
    if account.trading_blocked:
        return SkipReason.RISK_LIMIT, "the broker reports trading blocked for this account"
    if day.market_open is False and algo.market_closed is MarketClosedPolicy.SKIP:
        return SkipReason.MARKET_CLOSED, "the market is closed (market_closed: skip)"
    return None


class _PlanBuilder:
    """The working state of one :func:`plan` call; discarded afterwards."""

    def __init__(
        self,
        signal: Signal,
        book: PositionBook,
        account: AccountSnapshot,
        rules: PlanningRules,
        algo: AlgorithmRules,
        market: MarketPrices,
        assets: Mapping[str, AssetInfo],
        day: DayState,
        marks: Mapping[str, Decimal],
        skipped: list[SkippedLeg],
        exit_fills: Mapping[str, ExitFill],
    ) -> None:
        self.signal, self.book, self.account = signal, book, account
        self.exit_fills = exit_fills
        self.algo_id, self.algo, self.sizer = signal.algo_id, algo, algo.sizer
        self.rules, self.risk = rules, algo.risk
        self.market, self.assets, self.day, self.marks = market, assets, day, marks
        self.skipped = skipped
        self.notes: list[str] = []
        # per symbol, in the order symbols first appear (closes first)
        self.held: dict[str, Decimal] = {}  # the book's holding
        self.unclosed: dict[str, Decimal] = {}  # the part of it no planned close takes away
        self.target: dict[str, Decimal] = {}
        self.close_legs: dict[str, list[Leg]] = {}
        self.open_legs: dict[str, list[Leg]] = {}
        self.step_notes: dict[tuple[str, str], list[str]] = {}  # (symbol, step) -> notes
        # the signal's latest plausible price per symbol: a stand-in where there is no reference
        self.claimed = {
            leg.symbol: leg.price for leg in signal.legs if implausible_price(leg.price) is None
        }
        # one price per symbol for every order and limit, set as its legs are priced (_priced)
        self.price: dict[str, Decimal] = {}
        self.price_note: dict[str, str] = {}  # symbol -> why the signal's price stands in
        self.holdings = dict(book.holdings(self.algo_id))  # projected, non-zero only
        # the projected holdings' values, and those with no price (:meth:`_gross_exposure`)
        self.values: dict[str, Decimal] | None = None
        self.unpriced: set[str] = set()
        self.buying_power = account.buying_power
        self.order_type, self.tif, self.extended = algo.order_type, algo.time_in_force, False
        self.chase: ChaseTerms | None = None
        if algo.order_type is OrderType.LIMIT_THEN_MARKET:
            # a limit at the reference price plus the offset, like any limit, that the chaser
            # finishes at market (the limit price is the market's, not the signal's)
            self.order_type = OrderType.LIMIT
            self.chase = ChaseTerms(chase_after=algo.chase_after, chase_pct=algo.chase_pct)
        if day.market_open is False:
            self._market_closed()

    def _market_closed(self) -> None:
        if self.algo.market_closed is MarketClosedPolicy.EXTENDED_HOURS:
            # Alpaca: extended-hours orders must be limit orders with time_in_force day
            self.order_type, self.tif, self.extended = OrderType.LIMIT, TimeInForce.DAY, True
            self.notes.append("market closed: extended-hours limit orders")
        else:
            self.notes.append("market closed: the broker queues these orders for the open")

    # -- the passes ------------------------------------------------------------------------------

    def build(self, now: datetime) -> Plan:
        max_age, stale, rule = self.risk.max_signal_age, SkipReason.STALE, "max_signal_age"
        if self.signal.source is SignalSource.BACKFILL:
            # A leg recovered from the history after a lapse is traded only while fresh, even
            # with no max_signal_age: then the bound on orders left by a crash applies.
            stale = SkipReason.MISSED_STALE
            if max_age is None:
                max_age, rule = self.rules.recovery_max_age, "journal.recovery_max_age"
        fresh: list[Leg] = []
        for leg in self.signal.legs:
            age = (now - leg.timestamp).total_seconds()
            if max_age is not None and age > max_age:
                detail = f"leg is {age:.0f}s old; {rule} is {max_age:g}s"
                self._skip(leg, stale, detail)
                continue
            refusal = self._priced(leg, now)
            if refusal is not None:
                self._skip(leg, *refusal)
            else:
                fresh.append(leg)
        for leg in fresh:
            if leg.kind is LegKind.CLOSE:
                self._close(leg)
        for leg in fresh:
            if leg.kind is LegKind.OPEN:
                self._open(leg)
        intents = self._limit_orders_per_day(self._orders())
        return Plan(tuple(intents), tuple(self.skipped), tuple(self.notes))

    def _priced(self, leg: Leg, now: datetime) -> tuple[SkipReason, str] | None:
        """Settle the price ``leg`` is sized and checked at, or say why it cannot be traded.

        Limits against a bad signal: they apply to closes too, like ``max_signal_age``.
        """
        symbol = leg.symbol
        why = implausible_price(leg.price)
        if why is not None:
            return SkipReason.PRICE_OFF_MARKET, f"the signal's {why}"
        reference = self.market.price(symbol)
        if reference is None:
            return self._signal_stands_in(leg, self.market.missing(symbol))
        stale = stale_reference(
            self.market,
            symbol,
            now,
            self.risk.reference_max_age,
            market_open=self.day.market_open,
            next_open=self.day.next_open,
        )
        if stale is not None:  # a stale reference is no reference
            return self._signal_stands_in(leg, stale)
        collar = self.risk.price_collar_pct
        distance = None if collar is None else off_market(leg.price, reference, collar)
        if distance is not None:
            return SkipReason.PRICE_OFF_MARKET, (
                f"signal price {leg.price} is {distance:.1f}% from the market price {reference}"
                f" for {symbol}; price_collar_pct is {collar}"
            )
        self.price[symbol] = reference
        return None

    def _signal_stands_in(self, leg: Leg, missing: str) -> tuple[SkipReason, str] | None:
        """No usable reference for the leg's symbol (``missing`` says why): the signal's price,
        where allowed, else a skip."""
        symbol = leg.symbol
        if self.market.signal_stands_in:
            why = f"{missing} (the sim broker is its own market)"
        elif self.risk.reference_price is ReferencePricePolicy.SIGNAL_IF_UNAVAILABLE:
            why = f"{missing} (reference_price: signal_if_unavailable)"
        else:
            return SkipReason.NO_REFERENCE_PRICE, f"{missing}; reference_price: required"
        self.price[symbol] = price = self.claimed[symbol]
        self.price_note[symbol] = f"priced at the signal's {price}: {why}"
        return None

    def _close(self, leg: Leg) -> None:
        symbol = leg.symbol
        current = self._current(symbol)
        if current == 0:
            policy = self.algo.on_close_not_held
            detail = f"algorithm {self.algo_id} holds no {symbol}"
            if symbol in self.close_legs:
                detail += " (an earlier close in this signal flattened it)"
            elif policy is CloseNotHeld.IGNORE:
                detail += " (on_close_not_held: ignore)"
            closed_by = None if symbol in self.close_legs else self.exit_fills.get(symbol)
            if closed_by is not None:
                detail += f": {closed_by.describe()}"
            self._skip(leg, SkipReason.NOT_HELD, detail, exit_fill=closed_by)
            return
        asset = self.assets.get(symbol)
        if asset is not None and not asset.tradable:
            self._skip(leg, SkipReason.NOT_TRADABLE, f"{symbol} is not tradable at the broker")
            return
        held_side = Side.BUY if current > 0 else Side.SELL
        if leg.side is not held_side:
            self._note(
                symbol,
                CLOSE_STEP,
                f"close leg says {leg.side}, but algorithm {self.algo_id} is"
                f" {_direction(current)} {abs(current)}: flattening what it holds",
            )
        refusal = self._flatten(symbol, current)
        if refusal is not None:
            self._skip(leg, SkipReason.RISK_LIMIT, refusal)
            return
        self.close_legs.setdefault(symbol, []).append(leg)

    def _open(self, leg: Leg) -> None:
        symbol, side = leg.symbol, leg.side
        current = self._current(symbol)
        if current != 0 and (current > 0) == (side is Side.BUY):
            detail = (
                f"algorithm {self.algo_id} is already {_direction(current)} {abs(current)}"
                f" {symbol} (no pyramiding)"
            )
            self._skip(leg, SkipReason.ALREADY_HELD, detail)
            return
        if current != 0:  # against the holding: flatten first, whatever happens to the open
            why_not = self._flatten(symbol, current)
            if why_not is not None:
                self._skip(leg, SkipReason.RISK_LIMIT, why_not)
                return
        self.open_legs.setdefault(symbol, []).append(leg)
        outcome: Decimal | tuple[SkipReason, str]
        if self.target[symbol] != 0:
            outcome = SkipReason.RISK_LIMIT, "no open past a flatten capped by the largest order"
        else:
            outcome = self._refuse_open(leg) or self._size(leg)
        if isinstance(outcome, Decimal):
            price = self._order_price(side, self.price[symbol])
            self.buying_power -= outcome * price
            self._set_target(symbol, outcome * side.sign)
            return
        reason, detail = outcome
        if current != 0:
            detail = f"flattened the {_direction(current)} position only: {detail}"
        else:
            self.open_legs[symbol].remove(leg)
        self._skip(leg, reason, detail)

    def _flatten(self, symbol: str, current: Decimal) -> str | None:
        """Plan the way from ``current`` to flat in one order, shrunk to ``max_order_notional``.

        Returns why not even part of it can be planned. Undoing an open planned earlier in this
        signal needs no order of its own, so no limit applies to it.
        """
        price, unclosed = self.price[symbol], self.unclosed[symbol]
        close_side = Side.SELL if current > 0 else Side.BUY
        if unclosed == 0:  # what is held now was planned by an earlier open in this signal
            self.buying_power += abs(current) * self._order_price(close_side.opposite(), price)
            self._set_target(symbol, ZERO)
            return None
        # else nothing was planned on top of the book's holding (no pyramiding): current == unclosed
        qty = abs(unclosed)
        # the close is one order from what the book holds: earlier closes count toward it
        closed = abs(self.held[symbol]) - qty
        caps: list[tuple[str, Decimal, Decimal]] = []  # (limit name, its value, room in shares)
        if self.risk.max_order_notional is not None:
            limit = self.risk.max_order_notional
            caps.append(("max_order_notional", limit, limit / self._order_price(close_side, price)))
        if self.risk.max_order_qty is not None:
            caps.append(("max_order_qty", self.risk.max_order_qty, self.risk.max_order_qty))
        for name, limit, shares in caps:
            room = round_quantity(shares - closed, fractional=not is_whole(self.held[symbol]))
            if room <= 0:
                if closed:
                    return f"{name} {limit} is used up by the earlier close of {symbol}"
                return f"{name} {limit} is less than one share of {symbol} at {price}"
            if room < qty:
                note = f"close capped by {name}: {qty} -> {room}"
                self._note(symbol, CLOSE_STEP, note)
                qty = room
        self.buying_power += qty * price
        self.unclosed[symbol] = unclosed - qty * close_side.opposite().sign
        self._set_target(symbol, self.unclosed[symbol])
        return None

    def _refuse_open(self, leg: Leg) -> tuple[SkipReason, str] | None:
        symbol = leg.symbol
        blocked = opens_blocked(self.day, self.algo_id, self.rules.account_risk, self.risk)
        if blocked is not None:
            return blocked
        denied = symbol_blocked(self.risk, symbol)
        if denied is not None:
            return SkipReason.SYMBOL_NOT_ALLOWED, denied
        asset = self.assets.get(symbol)
        if asset is not None and not asset.tradable:
            return SkipReason.NOT_TRADABLE, f"{symbol} is not tradable at the broker"
        if leg.side is Side.SELL:
            if not self.algo.allow_short:
                return SkipReason.SHORT_NOT_ALLOWED, (
                    f"opening a short needs allow_short for algorithm {self.algo_id}"
                )
            if not self.account.shorting_enabled:
                return SkipReason.SHORT_NOT_ALLOWED, "the account has shorting disabled"
            if asset is not None and not asset.shortable:
                return SkipReason.NOT_SHORTABLE, f"{symbol} is not shortable at the broker"
        return None

    def _size(self, leg: Leg) -> Decimal | tuple[SkipReason, str]:
        """The open's quantity (> 0), or why there is none."""
        symbol = leg.symbol
        price = self._order_price(leg.side, self.price[symbol])
        context = SizingContext(self.account, MappingProxyType(self.holdings))
        try:
            # the strategy sizes at the reference price, never at the signal's claim
            sizing = self.sizer.size(_at_price(leg, self.price[symbol]), context)
        except Exception as exc:  # a user's strategy: one bad leg never stops the others
            detail = f"strategy {self.algo.strategy} failed: {type(exc).__name__}: {exc}"
            return SkipReason.SIZED_TO_ZERO, detail[:300]
        if not isinstance(sizing, Sizing) or not isinstance(sizing.qty, Decimal):
            detail = f"strategy {self.algo.strategy} returned {sizing!r}, not a Sizing(Decimal)"
            return SkipReason.SIZED_TO_ZERO, detail[:300]
        whole_reason = why_whole_shares(
            self.algo.allow_fractional, self.tif, leg.side, self.assets.get(symbol)
        )
        fractional = whole_reason is None
        qty = round_quantity(sizing.qty, fractional=fractional)
        if qty <= 0:
            rounding = f"whole shares: {whole_reason}" if whole_reason else "9 decimals"
            return SkipReason.SIZED_TO_ZERO, f"{sizing.basis}; rounds down to 0 ({rounding})"
        self._note(symbol, OPEN_STEP, f"sized: {sizing.basis} -> {qty}")
        for name, room in self._rooms(leg, price):
            if room is None:
                return SkipReason.RISK_LIMIT, name
            if qty > room:
                capped = round_quantity(room, fractional=fractional)
                if capped <= 0:
                    return SkipReason.RISK_LIMIT, f"{name} leaves no room for {symbol}"
                self._note(symbol, OPEN_STEP, f"capped by {name}: {qty} -> {capped}")
                qty = capped
        if fractional and not is_whole(qty) and qty * price < MIN_FRACTIONAL_NOTIONAL:
            # Alpaca: fractional orders must be worth at least $1
            detail = f"{qty} shares at {price} is a fractional order under $1"
            return SkipReason.SIZED_TO_ZERO, detail
        return qty

    def _rooms(self, leg: Leg, price: Decimal) -> list[tuple[str, Decimal | None]]:
        """Each limit on this open's size as shares (``None``: it cannot be checked)."""
        symbol = leg.symbol
        rooms = order_rooms(
            self.risk,
            leg.side,
            price,
            held=ZERO,  # an open is sized from flat (no pyramiding; a flip flattens first)
            net=self._projected_net(symbol),
            elsewhere=lambda: self._gross_exposure(symbol),
        )
        return [*rooms, ("buying power", max(self.buying_power, ZERO) / price)]

    # -- orders ----------------------------------------------------------------------------------

    def _orders(self) -> list[OrderIntent]:
        moves = [
            Move(
                symbol=symbol,
                held=self.held[symbol],
                target=target,
                price=self.price[symbol],
                close_legs=self.close_legs.get(symbol, ()),
                open_legs=self.open_legs.get(symbol, ()),
                close_notes=self._notes_for(symbol, CLOSE_STEP),
                open_notes=self._notes_for(symbol, OPEN_STEP),
                price_source=(
                    PriceSource.SIGNAL if symbol in self.price_note else PriceSource.REFERENCE
                ),
            )
            for symbol, target in self.target.items()
        ]
        style = OrderStyle(
            account_id=account_tag(self.rules.account_id, self.account.account_id),
            account=self.rules.account,
            algo_id=self.algo_id,
            order_type=self.order_type,
            time_in_force=self.tif,
            extended_hours=self.extended,
            limit_offset_pct=self.algo.limit_offset_pct,
            price_collar_pct=self.risk.price_collar_pct,
            chase=self.chase,
            exits=self.algo.exits,
        )
        intents, cancelled = write_orders(moves, self.book.net, style)
        already = {s.leg_id for s in self.skipped}
        for move in cancelled:
            detail = (
                f"the legs on {move.symbol} cancel out: algorithm {self.algo_id} stays"
                f" {_direction(move.held)} {abs(move.held)}"
            )
            for leg in (*move.close_legs, *move.open_legs):
                if leg.id not in already:
                    self._skip(leg, SkipReason.NETTED, detail)
        return intents

    def _limit_orders_per_day(self, intents: list[OrderIntent]) -> list[OrderIntent]:
        left = orders_left(self.day, self.algo_id, self.rules.account_risk, self.risk)
        orders = [i for i in intents if i.role is not IntentRole.EXIT]  # legs go with them
        if left is None or len(orders) <= left[0]:
            return intents
        kept, dropped = within_count(intents, left[0], self.held.__getitem__)
        for intent in dropped:
            for leg_id in intent.leg_ids:
                self._skip_id(leg_id, SkipReason.RISK_LIMIT, f"max_orders_per_day: {left[1]}")
        return kept

    # -- helpers ---------------------------------------------------------------------------------

    def _current(self, symbol: str) -> Decimal:
        if symbol not in self.held:
            held = self.book.qty(self.algo_id, symbol)
            self.held[symbol] = self.target[symbol] = self.unclosed[symbol] = held
        return self.target[symbol]

    def _set_target(self, symbol: str, qty: Decimal) -> None:
        self.target[symbol] = qty
        if qty:
            self.holdings[symbol] = qty
        else:
            self.holdings.pop(symbol, None)
        if self.values is not None:
            self._revalue(symbol, qty)

    def _projected_net(self, symbol: str) -> Decimal:
        return self.book.net(symbol) + self.target[symbol] - self.held[symbol]

    def _gross_exposure(self, excluding: str) -> Decimal | str:
        """The algorithm's gross holding value in other symbols; or one it cannot value.

        Each holding is valued at the price its orders use, else the broker's reference price,
        else its mark: never at a signal's claim. The values are worked out once, at the first
        call, and kept in step with the holdings (:meth:`_set_target`): every price is settled
        before the first open is sized (:meth:`build`), so a value changes only with its
        quantity. They are summed in the holdings' order, as valuing each afresh would.
        """
        if self.values is None:
            self._value_holdings()
        values, unpriced = self.values, self.unpriced
        assert values is not None
        if unpriced and (len(unpriced) > 1 or excluding not in unpriced):
            return min(symbol for symbol in unpriced if symbol != excluding)
        if excluding not in values:  # always, today: an open is sized from flat
            return sum(values.values(), ZERO)
        return sum((value for symbol, value in values.items() if symbol != excluding), ZERO)

    def _value_holdings(self) -> None:
        # _revalue's rule (MarketPrices.price inlined): this runs over every holding
        own, quoted, marks = self.price.get, self.market.prices.get, self.marks.get
        self.values, self.unpriced = values, unpriced = {}, set()
        for symbol, qty in self.holdings.items():
            price = own(symbol)
            if not price:
                quote = quoted(symbol)
                price = quote if quote and implausible_price(quote) is None else marks(symbol)
            if price is None:
                unpriced.add(symbol)
            else:
                values[symbol] = abs(qty) * price

    def _revalue(self, symbol: str, qty: Decimal) -> None:
        """Keep ``symbol``'s value (:meth:`_gross_exposure`) in step with its new holding."""
        assert self.values is not None
        if not qty:
            self.values.pop(symbol, None)
            self.unpriced.discard(symbol)
            return
        price = self.price.get(symbol) or self.market.price(symbol) or self.marks.get(symbol)
        if price is None:
            self.unpriced.add(symbol)
        else:
            self.values[symbol] = abs(qty) * price

    def _order_price(self, side: Side, price: Decimal) -> Decimal:
        """The price an order is valued at: the higher of the reference and its limit price.

        A sell limit sits below the reference, but what it may fill at (and what it is worth)
        is still the market's price: never value an order below the reference.
        """
        if self.order_type is not OrderType.LIMIT:
            return price
        limit = limit_price(side, price, self.algo.limit_offset_pct, self.risk.price_collar_pct)[0]
        return max(limit, price)

    def _notes_for(self, symbol: str, step: str) -> list[str]:
        stand_in = self.price_note.get(symbol)
        return ([stand_in] if stand_in else []) + self.step_notes.get((symbol, step), [])

    def _note(self, symbol: str, step: str, text: str) -> None:
        self.step_notes.setdefault((symbol, step), []).append(text)

    def _skip(
        self, leg: Leg, reason: SkipReason, detail: str, exit_fill: ExitFill | None = None
    ) -> None:
        self.skipped.append(SkippedLeg(leg.id, reason, detail, leg, exit=exit_fill))

    def _skip_id(self, leg_id: object, reason: SkipReason, detail: str) -> None:
        leg = next(leg for leg in self.signal.legs if leg.id == leg_id)
        if not any(s.leg_id == leg.id and s.reason is reason for s in self.skipped):
            self._skip(leg, reason, detail)


def _at_price(leg: Leg, price: Decimal) -> Leg:
    """``leg`` priced at ``price``: ``dataclasses.replace(leg, price=price)``, its identity carried
    over rather than worked out again (the price is no part of it; ``replace`` re-runs
    ``Leg.__post_init__``: a tenth of a plan's time in benchmarks/plan.py)."""
    priced = object.__new__(Leg)
    for name in Leg.__slots__:
        object.__setattr__(priced, name, getattr(leg, name))
    object.__setattr__(priced, "price", price)
    return priced


def _direction(qty: Decimal) -> str:
    return "long" if qty > 0 else "short" if qty < 0 else "flat"
