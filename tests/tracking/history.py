"""Generated histories of one algorithm, written through the real journal API: opens and closes
traded at market, by limit or by a chased limit and its market remainder (partial fills at
prices off the signal's), skipped for a reason, missed (backfill, too old), closed by a stop or
a take-profit first, config changes and listener gaps, and the sizing rules the journal
records at a start or a reload (:data:`RULE_SETS`: an allocation changed, the algorithm
removed, rules a journal must refuse, a start that recorded none)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.execution.fixed_planner import make_signal
from tradebot.core.events import OrderFilled
from tradebot.core.ids import client_order_id, exit_id, remainder_id
from tradebot.core.order_shape import MARKET, ChaseTerms, Limit, Stop
from tradebot.core.orders import (
    ExitFill,
    ExitKind,
    IntentRole,
    OrderIntent,
    Plan,
    SkippedLeg,
    SkipReason,
    TimeInForce,
)
from tradebot.core.signal import Leg, Side, SignalSource, parse_leg_key
from tradebot.journal.interface import Journal

ALGO = 5
START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SYMBOLS = ("AAA", "BBB", "CCC")
HOWS = ("market", "limit", "chased", "skip", "missed")
REASONS = (SkipReason.RISK_LIMIT, SkipReason.STALE, SkipReason.ALGO_UNKNOWN)
#: the rules a start or reload records (``tradebot.tracking.sizing.rules_of``'s shape), by index
RULE_SETS: tuple[dict[str, Any], ...] = (
    {str(ALGO): {"strategy": "allocation", "params": {"pct": "10", "max_positions": 4}}},
    {str(ALGO): {"strategy": "allocation", "params": {"pct": "25", "max_positions": 5}}},
    {str(ALGO): {"strategy": "fixed_notional", "params": {"notional": "3000"}}, "99": {}},
    {"99": {"strategy": "fixed_shares", "params": {"shares": "5"}}},  # the algorithm removed
    # what a journal must refuse: code no config chose, and params that fit no strategy
    {str(ALGO): {"strategy": "tests.tracking.untrusted_strategy:Untrusted", "params": {}}},
    {str(ALGO): {"strategy": "allocation", "params": {"pct": "-3", "max_positions": 4}}},
)


@dataclass
class Clock:
    at: datetime = START

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=30)
        return self.at


@dataclass
class State:
    held: dict[str, Decimal] = field(default_factory=dict)
    entry: dict[str, tuple[str, Leg]] = field(default_factory=dict)  # symbol -> last entry
    closed_by: dict[str, ExitFill] = field(default_factory=dict)
    n: int = 0

    def coid(self) -> str:
        self.n += 1
        return f"tb-{self.n}"


def _intent(
    coid: str, leg: Leg, side: Side, qty: Decimal, how: str, role: IntentRole
) -> OrderIntent:
    price: Any = MARKET
    if how == "limit":
        price = Limit(leg.price)
    elif how == "chased":
        price = Limit(leg.price, ChaseTerms(chase_after=30, chase_pct=Decimal("0.5")))
    return OrderIntent(
        client_order_id=coid,
        algo_id=ALGO,
        symbol=leg.symbol,
        side=side,
        qty=qty,
        price=price,
        time_in_force=TimeInForce.DAY,
        role=role,
        leg_ids=(leg.id,),
        reference_price=leg.price,
    )


def _fill(
    journal: Journal,
    clock: Clock,
    state: State,
    intent: OrderIntent,
    qty: Decimal,
    price: Decimal,
    done: Decimal = Decimal(0),
) -> None:
    if qty <= 0:
        return
    clock()
    journal.record_event(
        OrderFilled(
            client_order_id=intent.client_order_id,
            broker_order_id="b",
            at=clock.at,
            symbol=intent.symbol,
            side=intent.side,
            qty=qty,
            price=price,
            cum_qty=done + qty,
            order_qty=intent.qty,
            partial=done + qty < intent.qty,
        )
    )
    signed = qty if intent.side is Side.BUY else -qty
    state.held[intent.symbol] = state.held.get(intent.symbol, Decimal(0)) + signed


def _trade(
    journal: Journal,
    clock: Clock,
    state: State,
    signal_id: int,
    intent: OrderIntent,
    how: str,
    share: Decimal,
    price: Decimal,
) -> None:
    """Fill ``share`` of the intent (a chased limit: half, then the rest by its remainder)."""
    first = (intent.qty * share).quantize(Decimal("0.0001"))
    if how != "chased":
        _fill(journal, clock, state, intent, first, price)
        return
    half = (first / 2).quantize(Decimal("0.0001"))
    _fill(journal, clock, state, intent, half, price)
    rest = dataclasses.replace(
        intent,
        client_order_id=remainder_id(intent.client_order_id),
        qty=intent.qty - half,
        price=MARKET,
    )
    journal.record_plan(signal_id, Plan((rest,)))
    _fill(journal, clock, state, rest, first - half, price + Decimal("0.05"))


def play(
    journal: Journal,
    clock: Clock,
    ops: Sequence[tuple[Any, ...]],
    in_force: dict[str, int | None] | None = None,
) -> None:
    """Run ``ops`` through ``journal``, which must read ``clock`` (rows and signals agree);
    ``in_force`` gets each open leg's key -> the index of the :data:`RULE_SETS` in force when
    it arrived (None: no rules recorded yet, or a start that recorded none)."""
    state = State()
    rules: int | None = None
    for op in ops:
        kind = op[0]
        if kind == "rules":
            clock()
            rules = op[1]
            data = {"applied": [f"algorithms.{ALGO}"], "rules": RULE_SETS[op[1]]}
            journal.record_config(f"config reloaded: algorithms.{ALGO}", data)
            continue
        if kind == "start":
            clock()
            rules = op[1]
            journal.record_start("started", {} if rules is None else {"rules": RULE_SETS[rules]})
            continue
        if kind == "gap":
            clock()
            journal.record_gap("connection lost", algo_id=ALGO)
            continue
        if kind == "config":
            clock()
            journal.record_config(f"config reloaded: algorithms.{ALGO}.params", {"applied": []})
            continue
        if kind == "exit":
            _, symbol, take_profit, price = op
            held = state.held.get(symbol, Decimal(0))
            found = state.entry.get(symbol)
            if not held or found is None:
                continue
            entry, entry_leg = found
            exit_kind = ExitKind.TAKE_PROFIT if take_profit else ExitKind.STOP_LOSS
            side = Side.SELL if held > 0 else Side.BUY
            stop = OrderIntent(
                client_order_id=exit_id(entry, exit_kind),
                algo_id=ALGO,
                symbol=symbol,
                side=side,
                qty=abs(held),
                price=Limit(price) if take_profit else Stop(price),
                time_in_force=TimeInForce.GTC,
                role=IntentRole.EXIT,
                leg_ids=(entry_leg.id,),
                reference_price=price,
            )
            clock()
            if journal.record_plan(None, Plan((stop,))):
                _fill(journal, clock, state, stop, abs(held), price)
                state.closed_by[symbol] = ExitFill(
                    stop.client_order_id, exit_kind, abs(held), price, clock.at
                )
            continue
        _, symbol, side, price, how, qty, share, fill_price = op
        held = state.held.get(symbol, Decimal(0))
        is_open = kind == "open"
        if not is_open and held:
            side = "sell" if held > 0 else "buy"
        spec = ((symbol, side, str(price)),)
        signal = make_signal(
            ALGO,
            opens=spec if is_open else (),
            closes=() if is_open else spec,
            received_at=clock(),
            leg_time=clock.at,
        )
        leg = signal.legs[0]
        if is_open and in_force is not None:
            in_force[leg.id.key] = rules
        if how == "missed":
            signal = dataclasses.replace(signal, source=SignalSource.BACKFILL)
            skip = SkippedLeg(leg.id, SkipReason.MISSED_STALE, "too old", leg=leg)
            journal.record_signal_and_plan(signal, Plan((), (skip,)))
            continue
        if how == "skip":
            reason = REASONS[qty % len(REASONS)]
            skip = SkippedLeg(leg.id, reason, "generated", leg=leg)
            journal.record_signal_and_plan(signal, Plan((), (skip,)))
            continue
        if not is_open and not held:
            exit_fill = state.closed_by.get(symbol)
            skip = SkippedLeg(leg.id, SkipReason.NOT_HELD, "nothing held", leg=leg, exit=exit_fill)
            journal.record_signal_and_plan(signal, Plan((), (skip,)))
            continue
        order_qty = Decimal(qty) if is_open else abs(held)
        role = IntentRole.OPEN if is_open else IntentRole.CLOSE
        intent = _intent(state.coid(), leg, Side(side), order_qty, how, role)
        signal_id, _ = journal.record_signal_and_plan(signal, Plan((intent,)))
        if is_open:
            state.entry[symbol] = (intent.client_order_id, leg)
            state.closed_by.pop(symbol, None)
        _trade(journal, clock, state, signal_id, intent, how, share, fill_price)


_PRICE = st.integers(min_value=2000, max_value=4000).map(lambda c: Decimal(c) / 100)
_LEG = st.tuples(
    st.sampled_from(("open", "close")),
    st.sampled_from(SYMBOLS),
    st.sampled_from(("buy", "sell")),
    _PRICE,
    st.sampled_from(HOWS),
    st.integers(min_value=1, max_value=60),
    st.sampled_from((Decimal(1), Decimal(1), Decimal("0.5"), Decimal(0), Decimal("0.333"))),
    _PRICE,
)
OPS = st.lists(
    st.one_of(
        _LEG,
        _LEG,
        _LEG,
        st.tuples(st.just("exit"), st.sampled_from(SYMBOLS), st.booleans(), _PRICE),
        st.tuples(st.sampled_from(("config", "gap"))),
        st.tuples(st.just("rules"), st.integers(min_value=0, max_value=len(RULE_SETS) - 1)),
        st.tuples(
            st.just("start"), st.none() | st.integers(min_value=0, max_value=len(RULE_SETS) - 1)
        ),
    ),
    max_size=25,
)


#: a second account, beside the default one every other write here is
SECOND = "b"


def second_account(journal: Journal, clock: Clock, keys: Sequence[str], how: Sequence[int]) -> None:
    """The second account's decisions about some of the journal's legs, written through the
    journal (its skips, its orders and their fills, kept in the summary as they are written):
    per leg, 0 a skip, 1 a missed leg, 2 an order filled, 3 an order left unfilled."""
    for key, n in zip(keys, how, strict=False):
        leg = parse_leg_key(key)
        clock()
        if n < 2:
            reason = SkipReason.RISK_LIMIT if n == 0 else SkipReason.MISSED_STALE
            journal.record_plan(None, Plan((), (SkippedLeg(leg, reason, "b"),)), account=SECOND)
            continue
        coid = client_order_id("acct", (leg,), "open", account=SECOND)
        intent = OrderIntent(
            client_order_id=coid,
            algo_id=leg.algo_id,
            symbol=leg.symbol,
            side=leg.side,
            qty=Decimal(2),
            price=MARKET,
            time_in_force=TimeInForce.DAY,
            role=IntentRole.OPEN,
            leg_ids=(leg,),
            reference_price=Decimal(30),
        )
        journal.record_plan(None, Plan((intent,)), account=SECOND)
        if n == 2:
            two = Decimal(2)
            fill = OrderFilled(
                client_order_id=coid,
                broker_order_id="b2",
                at=clock(),
                symbol=leg.symbol,
                side=leg.side,
                qty=two,
                price=Decimal(31),
                cum_qty=two,
                order_qty=two,
                partial=False,
            )
            journal.record_event(fill, account=SECOND)
