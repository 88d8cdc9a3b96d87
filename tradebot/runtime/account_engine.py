"""One account's engine: everything that trades for one account of the config.

With several accounts (``accounts:``, issue 22) the bot shares what must be shared (the AlphaHub
listener, its de-duplication, gaps and backfill, the signal journal worker, the journal, the
config watcher, the status board; :mod:`.components`) and builds one :class:`AccountEngine` per
account, by :func:`build_account`, from that account's slice of the config
(:meth:`~tradebot.config.model.Config.account_view`): its broker, its planning context (the
book rebuilt from its own rows), its executor (every row it writes names the account; every
client order id carries its tag), its circuit breaker, its followers (the re-check, the chaser,
the exit manager, the pick-up of signals other processes journaled), its kill switch, its busy
lock and its own signal loop with its own queue.

Each signal, once its journal write is started, is handed to every account that follows its
algorithm (:func:`route`), and each account plans and executes its signals one at a time, in
arrival order, on its own task: one account's slow or hanging broker never delays another's
orders. A signal for an algorithm no account follows goes to the first account, which journals
every leg skipped ``algo_unknown`` as one account always did.

With one account there is one engine, and the bot is what it was before accounts existed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from tradebot.broker.base import Broker
from tradebot.config.model import Config, Mode
from tradebot.core.book import PositionBook
from tradebot.core.orders import ExitTerms, IntentRole, OrderIntent
from tradebot.core.risk import DayState
from tradebot.core.signal import Signal
from tradebot.execution.chaser import Chaser
from tradebot.execution.circuit import BrokerCircuit, Circuit
from tradebot.execution.executor import Executor
from tradebot.execution.exit_manager import ExitManager
from tradebot.execution.limits_in_force import LimitsInForce
from tradebot.journal.interface import Journal
from tradebot.runtime.broker_reach import BrokerReach
from tradebot.runtime.close_cancel import CloseCanceler
from tradebot.runtime.config_watch import ConfigWatcher
from tradebot.runtime.context import PlanningContext, daily_loss_limited
from tradebot.runtime.followers import Follower, Followers
from tradebot.runtime.leadership import ForeignSignals
from tradebot.runtime.observer import (
    BotEvent,
    BrokerCircuitChanged,
    ErrorRecorded,
    OrdersSettled,
    OrderSubmitting,
)
from tradebot.runtime.recheck import UnknownOutcomes
from tradebot.runtime.record_writer import RecordWriter
from tradebot.runtime.signals import SignalLoop, journal_signal
from tradebot.runtime.status_feed import StatusFeed

#: (what the engine needs to say, tell, wait on and stop on): the bot's, shared by the accounts
Say = Callable[[str], None]
Notify = Callable[[BotEvent], None]
Claimed = Callable[[Sequence[str]], set[str]]


class AccountView:
    """The account's view of the config in force (:meth:`Config.account_view`), made again only
    when a live edit replaced the config (the signal loop reads it once per signal)."""

    def __init__(self, watcher: ConfigWatcher, name: str) -> None:
        self._watcher = watcher
        self._name = name
        self._source: Config | None = None
        self._view: Config | None = None

    def __call__(self) -> Config:
        current = self._watcher.current
        if current is not self._source or self._view is None:
            self._view = current.account_view(self._name)
            self._source = current
        return self._view


@dataclass(frozen=True, slots=True)
class AccountEngine:
    """One account's parts, built and connected, not started (the bot supervises them)."""

    name: str
    mode: Mode
    broker: Broker
    context: PlanningContext
    executor: Executor
    circuit: BrokerCircuit
    recheck: UnknownOutcomes
    chaser: Chaser
    exits: ExitManager
    signals: SignalLoop
    followers: Followers
    busy: asyncio.Lock  # held while one of this account's signals is handled
    #: the signals this account's recovery plans (journaled before the listener started)
    earlier: frozenset[int]
    #: the account's view of the config in force
    config: Callable[[], Config]
    #: the account the journal's reads are asked for (None: one account, every row is its own)
    whose: str | None
    #: with other writers on the journal: which legs this account's plans already claimed
    planned: Claimed | None

    def follows(self, algo_id: int) -> bool:
        """Whether this account follows ``algo_id`` in the config in force."""
        return algo_id in self.config().algorithms


def routed(config: Config, algo_id: int) -> tuple[str, ...]:
    """The accounts of ``config`` a signal of ``algo_id`` goes to: every one that follows it;
    none does, the first account alone (it journals the legs skipped ``algo_unknown``, as one
    account does: the signal is on record as refused once)."""
    following = tuple(n for n, a in config.accounts.items() if algo_id in a.algorithms)
    return following or tuple(config.accounts)[:1]


def route(engines: Sequence[AccountEngine], algo_id: int) -> tuple[AccountEngine, ...]:
    """The engines a signal of ``algo_id`` goes to (:func:`routed`, by the config in force)."""
    following = tuple(e for e in engines if e.follows(algo_id))
    return following or tuple(engines[:1])


async def record_signals(
    queue: asyncio.Queue[Signal], journal: Journal, engines: Sequence[AccountEngine]
) -> None:
    """The signal journal worker the accounts share: each signal the listener queues is
    journaled once, in arrival order, and handed with its write to the signal loop of every
    account it goes to (:func:`route`, :func:`~tradebot.runtime.signals.journal_signal`). Run
    it as a task; with one account it is that account's :meth:`SignalLoop.record`."""
    while True:
        signal = await queue.get()
        await journal_signal(journal, signal, [e.signals for e in route(engines, signal.algo_id)])


@dataclass(frozen=True, slots=True)
class AccountInputs:
    """What every account's engine is built from, besides its own config and broker."""

    journal: Journal  # this account's view of the journal (see .account_journal)
    records: RecordWriter
    watcher: ConfigWatcher
    feed: StatusFeed
    queue: asyncio.Queue[Signal]  # the listener's (drained at the stop)
    say: Say
    notify: Notify
    stopping: asyncio.Event
    now: Callable[[], datetime]
    max_age: timedelta
    pick_up_every: float | None  # other processes journal signals here: the leader plans theirs
    planned: Claimed | None  # with other writers: which legs a plan already claimed


def build_account(
    name: str,
    broker: Broker,
    *,
    mode: Mode,
    kill_switch: Path | None,
    busy: asyncio.Lock,
    book: PositionBook,
    earlier: frozenset[int],
    inputs: AccountInputs,
    handles: Callable[[int], bool],
    whose: str | None,
) -> AccountEngine:
    """Construct the account ``name``'s engine (see the module docstring); nothing here asks the
    broker anything. ``book``: its book rebuilt from its rows; ``earlier``: the unplanned
    signals its recovery plans; ``handles``: whether a signal of that algorithm comes to it
    (:func:`route`), for the pick-up of signals other processes journaled; ``whose``: the
    account the journal's reads and the kill switch are asked for (None: the one account)."""
    journal, now_of = inputs.journal, inputs.now
    # with several accounts, every line an account's parts print names it (a signal two
    # accounts follow is told twice: each account's own orders and skips)
    say = inputs.say if whose is None else said_by(inputs.say, name)
    notify = tagged(inputs.notify, name)  # every event this account causes names it
    config = AccountView(inputs.watcher, name)
    view = config()
    ctx = PlanningContext(
        broker,
        journal,
        kill_switch=kill_switch,
        track_pnl=daily_loss_limited(view),
        reach=BrokerReach(notify),
        account=whose,
    )
    # the account's circuit breaker: the executor asks it before each order; it probes as a
    # follower; the re-check waits while it is open (tradebot/execution/circuit.py)
    circuit = BrokerCircuit(
        Circuit(failures=view.broker.circuit.failures, probe_every=view.broker.circuit.probe_every),
        journal,
        broker.account,
        notify=lambda change: notify(BrokerCircuitChanged(change, now_of(), account=name)),
    )
    executor = Executor(
        journal,
        broker,
        book,
        on_submit=_submitting(notify, now_of, name),
        circuit=circuit,
        account=name,
    )
    recheck = UnknownOutcomes(
        executor,
        journal,
        busy=busy,
        stopping=inputs.stopping,
        interval=view.journal.recheck_interval,
        max_age=inputs.max_age,
        now=now_of,
        say=say,
        on_settled=lambda settled: notify(OrdersSettled(settled, account=name)),
        may_act=circuit.allows,
    )
    # what an order decided earlier obeys when it leaves: the config in force, today's state
    limits = LimitsInForce(
        rules=lambda: config().planning,
        day=lambda: _today(ctx, config(), now_of()),
        market=ctx.market_for,
        now=now_of,
        sent=lambda algo_id: ctx.count_orders((algo_id,)),
    )
    # limit_then_market: follows each chase limit, cancels it and sends the rest at market
    chaser = Chaser(
        executor,
        busy=busy,
        stopping=inputs.stopping,
        max_age=inputs.max_age,
        now=now_of,
        limits=limits,
        say=say,
        may_act=functools.partial(_may_chase, ctx),
    )
    # exits: placed once entries that could not carry them as bracket legs have filled
    exits = ExitManager(
        executor,
        busy=busy,
        stopping=inputs.stopping,
        now=now_of,
        say=say,
        may_act=functools.partial(_may_place_exits, ctx),
        alert=lambda detail, algo_id: notify(ErrorRecorded(detail, algo_id, account=name)),
        terms=lambda algo_id: _exits_of(config(), algo_id),
    )
    planned = None if inputs.planned is None else _claimed_by(inputs.planned, name)
    signals = SignalLoop(
        inputs.queue,
        executor,
        ctx,
        inputs.records,
        config=config,
        busy=busy,
        stopping=inputs.stopping,
        now=now_of,
        say=say,
        notify=notify,
        on_signal=inputs.feed.note_signal,
        planned=planned,
        in_the_way=CloseCanceler(executor, say=say),
        max_age=inputs.max_age,
    )
    following: list[Follower] = [circuit, recheck, chaser, exits]
    if inputs.pick_up_every is not None:  # the leader plans the signals standbys journaled
        following.append(
            ForeignSignals(
                journal,
                signals,
                busy=busy,
                stopping=inputs.stopping,
                interval=inputs.pick_up_every,
                max_age=inputs.max_age,
                now=now_of,
                planned=planned or (lambda keys: set()),
                handles=handles,
            )
        )
    followers = Followers(
        following,
        stopping=inputs.stopping,
        on_error=lambda detail: notify(ErrorRecorded(detail, account=name)),
    )
    return AccountEngine(
        name,
        mode,
        broker,
        ctx,
        executor,
        circuit,
        recheck,
        chaser,
        exits,
        signals,
        followers,
        busy,
        earlier,
        config,
        whose,
        planned,
    )


def said_by(say: Say, account: str) -> Say:
    """``say``, each text beginning with the account it is about (``account main: ...``)."""
    return lambda text: say(f"account {account}: {text}")


def tagged(notify: Notify, account: str) -> Notify:
    """``notify``, each event that names an account naming ``account``."""

    def tell(event: BotEvent) -> None:
        if getattr(event, "account", account) != account:
            event = cast(BotEvent, dataclasses.replace(cast(Any, event), account=account))
        notify(event)

    return tell


def _claimed_by(planned: Claimed, account: str) -> Claimed:
    """``planned`` (the shared journal's ``planned_legs``) asked for ``account``'s claims: a leg
    one account planned is still the others' to plan."""
    ask = cast(Callable[..., set[str]], planned)
    return functools.partial(ask, account=account)


def _may_chase(ctx: PlanningContext, intent: OrderIntent) -> bool:
    """The kill switch, for a chase's cancel: halted, nothing is canceled; reduce-only, only the
    chase of a close goes on (read each time, as the signals read it). Its remainder is judged
    by the limits in force, the kill switch among them (:class:`LimitsInForce`)."""
    switch = ctx.kill_switch()
    return not (switch.halted or (switch.reduce_only and intent.role is IntentRole.OPEN))


async def _today(ctx: PlanningContext, config: Config, now: datetime) -> DayState:
    """Today's state as a plan would read it under ``config`` (a daily-loss limit added by a
    live edit binds at once: its P&L is loaded)."""
    await ctx.follow_config(config)
    return await ctx.day_state(now)


def _exits_of(config: Config, algo_id: int) -> ExitTerms | None:
    """The algorithm's exits in ``config`` (what a close that left shares held attaches
    again); None: none configured, or the algorithm is gone."""
    algo = config.planning.algorithms.get(algo_id)
    return algo.exits if algo is not None else None


def _may_place_exits(ctx: PlanningContext, intent: OrderIntent) -> bool:
    """The kill switch, for exits: halted, none are placed; reduce-only allows them (they
    only ever reduce a position)."""
    return not ctx.kill_switch().halted


def _submitting(
    notify: Notify, now: Callable[[], datetime], account: str
) -> Callable[[OrderIntent], None]:
    """The executor's submit hook: observers hear when an order is about to leave, and which
    (metrics)."""

    def submitting(intent: OrderIntent) -> None:
        notify(OrderSubmitting(now(), intent, account=account))

    return submitting
