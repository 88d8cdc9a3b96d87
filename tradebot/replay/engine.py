"""Replay: the real planner and the sim broker over a timeline of signals, in simulated time.

For each signal, oldest first, at its timestamp on a simulated clock (no sleep, no wall clock):

1. The sim market moves to the prices known by then: the ``--prices`` file's up to that time,
   or, without one, the signal's own leg prices (the signal's price is the market's when it is
   sent). Moving it fills resting limits and triggers exits, as in the sim broker live.
2. The account, the assets and the reference prices are read from the sim broker, the day's
   order counts and realised P&L from what the replay did that day (UTC), and the signal is
   planned by the bot's own planner (:func:`tradebot.runtime.signals.planner_for`, the one call
   of :func:`~tradebot.core.planner.plan` in the running bot) against the replay's book.
3. The plan's orders go to the sim broker in the executor's order (closes, opens, exits; an
   exit with a parent travels as its parent's leg), and every fill, now or later, changes the
   book (:class:`~tradebot.core.book.PositionBook`: positions change only from fills).
4. The chaser of ``limit_then_market`` runs as live (:mod:`.chases`, with the live chaser's
   rules): a chase limit that rests is followed from when it was sent, and at every simulated
   instant (a signal, a ``--prices`` row, and the instant a chase's timer runs out) a limit
   whose chase is due (``chase_after`` seconds gone, or the price ``chase_pct`` past it) is
   canceled and exactly its unfilled rest sent at market under the remainder's id, unless a
   later signal named the symbol or the limits in force refuse it. Chases due at an instant act
   after the market moved and before that instant's signal is planned.

What is not replayed: the kill switch, exits placed after an entry's fills (the exit manager),
and anything the broker or AlphaHub did on the day beyond the history's legs. The sim broker
is built from ``broker.sim`` whatever ``broker.name`` says, with its price table emptied and
``fill_delay`` 0 (a limit it can fill fills at once; one it cannot rests until a price reaches
it or its chase ends it): no broker credential is read and no connection is opened.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from tradebot.broker.sim import SimBroker
from tradebot.config.model import Config
from tradebot.core.account import AccountSnapshot
from tradebot.core.book import PositionBook
from tradebot.core.orders import IntentRole, OrderIntent, Plan
from tradebot.core.risk import DayState
from tradebot.core.signal import Side
from tradebot.exceptions import OrderRejected
from tradebot.execution.limits_in_force import LimitsInForce
from tradebot.replay.chases import Chases
from tradebot.replay.outcome import Tally
from tradebot.replay.prices_file import PricePoint
from tradebot.replay.timeline import Arrival
from tradebot.runtime.signals import planner_for

#: the account id client order ids carry in a replay when the config sets none
REPLAY_ACCOUNT = "replay"
_SEND_ORDER = (IntentRole.CLOSE, IntentRole.OPEN, IntentRole.EXIT)


@dataclass(frozen=True, slots=True)
class Step:
    """One signal as replayed: what the planner was given and what it planned."""

    arrival: Arrival
    account: AccountSnapshot
    plan: Plan


@dataclass
class Replayed:
    tally: Tally
    #: symbol -> the last price the replay knew (the marks of open positions at the end)
    marks: dict[str, Decimal]
    steps: list[Step] = field(default_factory=list)
    #: every order sent to the sim broker, in order (chased remainders included)
    sent: list[OrderIntent] = field(default_factory=list)


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at


@dataclass
class _Tracked:
    """An order whose fills are still to come (polled from the sim broker)."""

    algo_id: int
    symbol: str
    side: Side
    filled: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)  # filled x average price so far


class _Replay:
    def __init__(self, config: Config, broker: SimBroker, clock: _Clock) -> None:
        self.config, self.broker, self.clock = config, broker, clock
        self.book = PositionBook()
        self.tally = Tally()
        self.marks: dict[str, Decimal] = {}
        self.open: dict[str, _Tracked] = {}
        self.orders_on: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.pnl_on: dict[date, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.steps: list[Step] = []
        self.sent: list[OrderIntent] = []
        self.legs: Counter[tuple[int, str]] = Counter()  # (algo, symbol) -> legs seen so far
        # what a remainder obeys when it leaves, as the running bot binds it (components.py)
        limits = LimitsInForce(
            rules=lambda: config.planning,
            day=self._day_now,
            market=broker.reference_prices,
            now=clock.now,
        )
        self.chases = Chases(broker, limits, clock.at, lambda a, s: self.legs[a, s])

    def move(self, symbol: str, price: Decimal) -> None:
        self.marks[symbol] = price
        self.broker.set_price(symbol, price, at=self.clock.at)

    def _day(self, today: date) -> DayState:
        return DayState(
            orders_today=dict(self.orders_on[today]), realised_pnl=dict(self.pnl_on[today])
        )

    async def _day_now(self) -> DayState:
        return self._day(self.clock.at.date())

    async def chase(self) -> None:
        """The chases due now act (:mod:`.chases`); their remainders go out."""
        if not self.chases.following:
            return
        await self.poll()  # the book and the limits' fills as the broker shows them now
        remainders = await self.chases.step(self.clock.at, self.book)
        for remainder in remainders:
            self.tally.chased[remainder.algo_id] += 1
            await self._send(remainder, self.clock.at.date())
        if remainders:
            await self.poll()

    async def signal(self, arrival: Arrival) -> None:
        now, signal = arrival.at, arrival.signal
        for skipped in arrival.ambiguous:
            self.tally.skip(signal.algo_id, str(skipped.reason))
        for leg in signal.legs:  # journaled live before anything is planned (a LEG row each)
            self.legs[leg.algo_id, leg.symbol] += 1
        symbols = list(dict.fromkeys(leg.symbol for leg in signal.legs))
        account = await self.broker.account()
        market = await self.broker.reference_prices(symbols)
        assets = {s: await self.broker.asset(s) for s in symbols}
        today = now.date()
        day = self._day(today)
        planner = planner_for(self.config, account, now, day=day, market=market, assets=assets)
        plan = planner(signal, self.book)
        self.steps.append(Step(arrival, account, plan))
        for skipped in plan.skipped:
            self.tally.skip(signal.algo_id, str(skipped.reason))
        for role in _SEND_ORDER:
            for intent in plan.intents:
                if intent.role is role and intent.parent is None:
                    await self._send(intent, today)
        await self.poll()

    async def _send(self, intent: OrderIntent, today: date) -> None:
        # counted as the journal counts them: an intent, whether the broker takes it or not
        self.tally.order(intent.algo_id)
        self.orders_on[today][intent.algo_id] += 1
        self.sent.append(intent)
        try:
            snapshot = await self.broker.submit(intent)
        except OrderRejected:
            self.tally.rejected[intent.algo_id] += 1
            return
        self.open[intent.client_order_id] = _Tracked(intent.algo_id, intent.symbol, intent.side)
        for leg in snapshot.legs:
            self.open[leg.client_order_id] = _Tracked(intent.algo_id, leg.symbol, leg.side)
        self.chases.follow(intent, snapshot)

    async def poll(self) -> None:
        """Apply every fill since the last poll to the book and the tally."""
        for cid in list(self.open):
            tracked = self.open[cid]
            snap = await self.broker.get_order(cid)
            if snap is None:
                continue
            if snap.filled_qty > tracked.filled and snap.filled_avg_price is not None:
                paid = snap.filled_qty * snap.filled_avg_price
                qty = snap.filled_qty - tracked.filled
                price = (paid - tracked.paid) / qty
                tracked.filled, tracked.paid = snap.filled_qty, paid
                self.book.apply_fill(tracked.algo_id, tracked.symbol, tracked.side, qty)
                at = self.clock.at
                made = self.tally.fill(
                    tracked.algo_id, tracked.symbol, qty * tracked.side.sign, price, at
                )
                self.pnl_on[at.date()][tracked.algo_id] += made
            if snap.status.is_final:
                del self.open[cid]


async def replay(
    config: Config, arrivals: Sequence[Arrival], prices: Sequence[PricePoint] = ()
) -> Replayed:
    """Replay ``arrivals`` (oldest first) with ``config``; ``prices``: the market, oldest first
    (empty: the signals' own prices)."""
    if not arrivals:
        return Replayed(Tally(), {})
    clock = _Clock(arrivals[0].at)
    sim = config.broker.sim.model_copy(update={"fill_delay": 0.0, "prices": {}})
    account_id = config.broker.account_id or REPLAY_ACCOUNT
    async with SimBroker(sim, account_id=account_id, now=clock.now) as broker:
        run = _Replay(config, broker, clock)
        tape = _Tape(prices)
        for arrival in arrivals:
            await _until(run, tape, arrival.at)
            clock.at = arrival.at
            if not prices:
                for leg in arrival.signal.legs:
                    run.move(leg.symbol, leg.price)
            await run.poll()
            await run.chase()  # due now: the market moved before the signal was sent
            await run.signal(arrival)
            await run.chase()  # the chase limits just sent: their timers start now
        await _until(run, tape, None)  # later prices still fill and mark; timers run out
        return Replayed(run.tally, run.marks, run.steps, run.sent)


class _Tape:
    """The ``--prices`` rows not yet played, oldest first."""

    def __init__(self, prices: Sequence[PricePoint]) -> None:
        self._rows = iter(prices)
        self.next: PricePoint | None = next(self._rows, None)

    def pop(self) -> PricePoint:
        row = self.next
        assert row is not None
        self.next = next(self._rows, None)
        return row


async def _until(run: _Replay, tape: _Tape, upto: datetime | None) -> None:
    """Play, oldest first, the instants up to a signal at ``upto`` (None: every one left): each
    ``--prices`` row timed up to it (a fill it causes happens then), and each instant before
    it at which a chase's timer runs out (one due at ``upto`` acts with that signal). At each
    instant, the chases due act after the market moved."""
    clock = run.clock
    while True:
        row = None if tape.next is None else tape.next.at
        if row is not None and upto is not None and row > upto:
            row = None
        timer = run.chases.due(clock.at)
        if timer is not None and upto is not None and timer >= upto:
            timer = None
        if row is None and timer is None:
            return
        at = min(t for t in (row, timer) if t is not None)
        clock.at = max(clock.at, at)
        while tape.next is not None and tape.next.at <= at:
            point = tape.pop()
            run.move(point.symbol, point.price)
            await run.poll()  # a fill the move caused happened then
        await run.chase()


def run_replay(
    config: Config, arrivals: Sequence[Arrival], prices: Sequence[PricePoint] = ()
) -> Replayed:
    """:func:`replay` on an event loop of its own (the CLI's entry)."""
    return asyncio.run(replay(config, arrivals, prices))
