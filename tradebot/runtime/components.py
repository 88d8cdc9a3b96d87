"""Building the running bot: every component, from the config, the journal and the broker.

Step one of ``tradebot run`` (step two, supervising what is built here, is
:class:`~tradebot.runtime.bot.Bot`). :func:`build` constructs each component with exactly what
it uses, passed in by name, from the journal alone (the position book rebuilt from it, the
signals it holds unplanned): it asks the broker nothing, so the bot listens and journals signals
before the broker has answered. :func:`recover_account` is the start-up work that must finish
before any signal is planned: it reads the account, recovers
(:func:`tradebot.execution.recovery.recover`, on the executor's own book, planning only the
signals journaled before the listener started: those journaled since are the signal loop's, so
a signal has one path to its plan); the bot starts the signal loop only once it is done. It is
per account: the one account today, each account's own when there are several. The journal and
the broker go to whoever reads or writes them, never fetched from another component's
attributes. Information flows one way:

* the listener publishes closed gaps to a :class:`~.channel.Channel`; the lapse watcher and the
  backfill each read a subscription of their own, and the listener's gap history, read-only;
* synchronous callbacks (the listener's, the config watcher's, the kill-switch check) ask the
  :class:`~.records.RecordWriter` for journal writes and tell the observers;
* the broker's event stream (``Executor.consume_events(on_fills=..., on_events=...)``) tells
  the planning context when fills were recorded, and the followers (:mod:`.followers`: the
  re-check, the chaser, the exit manager, the pick-up of signals other processes journaled)
  which orders' events are durable, by explicit calls.

Nothing here starts a task: the :class:`Components` are inert until the bot supervises them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from tradebot.alphahub.gaps import Gap
from tradebot.alphahub.listener import DroppedInput, Listener
from tradebot.alphahub.session import StateChange
from tradebot.broker.base import Broker
from tradebot.config.model import Config, Mode
from tradebot.core.account import AccountSnapshot
from tradebot.core.orders import ExitTerms, IntentRole, OrderIntent
from tradebot.core.risk import DayState
from tradebot.exceptions import ConfigError
from tradebot.execution.chaser import Chaser
from tradebot.execution.circuit import BrokerCircuit, Circuit
from tradebot.execution.executor import Executor
from tradebot.execution.exit_manager import ExitManager
from tradebot.execution.limits_in_force import LimitsInForce
from tradebot.execution.recovery import RecoveryReport, recover
from tradebot.journal.interface import Journal
from tradebot.journal.tenure import Tenure
from tradebot.runtime.backfill import Backfiller
from tradebot.runtime.broker_reach import BrokerReach
from tradebot.runtime.channel import Channel
from tradebot.runtime.close_cancel import CloseCanceler, orders_in_way
from tradebot.runtime.config_watch import ConfigChange, ConfigWatcher, Loader
from tradebot.runtime.context import PlanningContext, daily_loss_limited
from tradebot.runtime.followers import Follower, Followers
from tradebot.runtime.lapses import LapseWatcher
from tradebot.runtime.leadership import ForeignSignals
from tradebot.runtime.observer import (
    BotEvent,
    BrokerCircuitChanged,
    ConfigReloaded,
    ConnectionChanged,
    DriftFound,
    ErrorRecorded,
    OrdersSettled,
    OrderSubmitting,
)
from tradebot.runtime.paths import config_relative
from tradebot.runtime.recheck import UnknownOutcomes
from tradebot.runtime.record_writer import RecordWriter
from tradebot.runtime.recovered import NoBackfill, make_backfiller, reclaim_recovered
from tradebot.runtime.signals import SignalLoop, planner_for, symbols_of
from tradebot.runtime.status_feed import StatusFeed
from tradebot.tracking.sizing import rules_record

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Settings:
    """What the bot knows before the journal and the broker are open."""

    config: Config
    config_path: Path
    mode: Mode
    journal_path: Path
    load: Loader
    now: Callable[[], datetime]
    out: TextIO
    status_interval: float
    watch_interval: float

    @property
    def kill_switch(self) -> Path | None:
        path = self.config.risk.kill_switch_file
        return config_relative(self.config_path, path) if path else None


@dataclass(frozen=True, slots=True)
class Shared:
    """What the supervisor and the components share: how they talk to the outside and to it."""

    say: Callable[[str], None]  # one line for the person watching the output
    notify: Callable[[BotEvent], None]  # the observers
    busy: asyncio.Lock  # held while one signal is handled
    stopping: asyncio.Event  # set when the stop begins
    tenure: Tenure  # how this process holds the journal (alone, or leased among several)


@dataclass(frozen=True, slots=True)
class Components:
    """The running bot's parts, built and connected, not started."""

    context: PlanningContext
    executor: Executor
    records: RecordWriter
    listener: Listener
    lapses: LapseWatcher
    backfill: Backfiller | NoBackfill
    recheck: UnknownOutcomes
    chaser: Chaser
    exits: ExitManager
    watcher: ConfigWatcher
    feed: StatusFeed
    signals: SignalLoop
    followers: Followers  # the re-check, the chaser, the exit manager (and foreign signals)
    #: the signals journaled unplanned before the listener started: recovery's to plan (those
    #: journaled since are the signal loop's: one path per signal)
    earlier: frozenset[int]


@dataclass(frozen=True, slots=True)
class Recovered:
    """What start-up recovery found: the account as it read it, and its report."""

    account: AccountSnapshot
    report: RecoveryReport


async def build(journal: Journal, broker: Broker, settings: Settings, shared: Shared) -> Components:
    """Construct every component from the journal alone: nothing here asks the broker anything,
    so a broker that hangs at start keeps nobody from listening (see the module docstring)."""
    config, now_of, say, notify = settings.config, settings.now, shared.say, shared.notify
    max_age = timedelta(seconds=config.journal.recovery_max_age)
    ctx = PlanningContext(
        broker,
        journal,
        kill_switch=settings.kill_switch,
        track_pnl=daily_loss_limited(config),
        reach=BrokerReach(notify),
    )
    now = now_of()
    # what recovery plans is fixed now, before the listener starts (see Components.earlier)
    earlier = frozenset(u.signal_id for u in await asyncio.to_thread(journal.unplanned_signals))
    # the journal is the only source of positions; recovery brings this book up to date
    book = await asyncio.to_thread(journal.rebuild_book)
    records = RecordWriter(journal, notify=notify)
    reactions = _Reactions(records, say, notify)
    # the account's circuit breaker: the executor asks it before each order; it probes as a
    # follower; the re-check waits while it is open (tradebot/execution/circuit.py)
    circuit = BrokerCircuit(
        Circuit(
            failures=config.broker.circuit.failures, probe_every=config.broker.circuit.probe_every
        ),
        journal,
        broker.account,
        notify=lambda change: notify(BrokerCircuitChanged(change, now_of())),
    )
    executor = Executor(
        journal, broker, book, on_submit=_submitting(notify, now_of), circuit=circuit
    )
    gaps: Channel[Gap] = Channel()
    listener = Listener(
        config.alphahub,
        config.subscribed_algorithms,
        on_gap=gaps.publish,
        on_state=reactions.state,
        on_bad_input=reactions.bad_input,
    )
    # legs an earlier run recovered by backfill stay claimed across the restart (see there)
    window = timedelta(seconds=config.alphahub.dedup_window)
    await asyncio.to_thread(reclaim_recovered, journal, listener, now - window)
    lapses = LapseWatcher(
        journal,
        broker,
        book,
        gaps=gaps.subscribe(),
        history=lambda: listener.gaps,
        connections=config.alphahub.connections,
        say=say,
        now=now_of,
        notify=notify,
    )
    backfill = make_backfiller(
        config,
        journal,
        book,
        listener,
        gaps=gaps,
        on_error=records.error,
        say=say,
        now=now_of,
        notify=notify,
    )
    recheck = UnknownOutcomes(
        executor,
        journal,
        busy=shared.busy,
        stopping=shared.stopping,
        interval=config.journal.recheck_interval,
        max_age=max_age,
        now=now_of,
        say=say,
        on_settled=lambda settled: notify(OrdersSettled(settled)),
        may_act=circuit.allows,
    )
    watcher = ConfigWatcher(
        settings.config_path,
        config,
        settings.load,
        interval=settings.watch_interval,
        on_change=reactions.config_changed,
        on_invalid=reactions.config_invalid,
    )
    # what an order decided earlier obeys when it leaves: the config in force, today's state
    limits = LimitsInForce(
        rules=lambda: watcher.current.planning,
        day=lambda: _today(ctx, watcher.current, now_of()),
        market=ctx.market_for,
        now=now_of,
        sent=lambda algo_id: ctx.count_orders((algo_id,)),
    )
    # limit_then_market: follows each chase limit, cancels it and sends the rest at market
    chaser = Chaser(
        executor,
        busy=shared.busy,
        stopping=shared.stopping,
        max_age=max_age,
        now=now_of,
        limits=limits,
        say=say,
        may_act=functools.partial(_may_chase, ctx),
    )
    # exits: placed once entries that could not carry them as bracket legs have filled
    exits = ExitManager(
        executor,
        busy=shared.busy,
        stopping=shared.stopping,
        now=now_of,
        say=say,
        may_act=functools.partial(_may_place_exits, ctx),
        alert=lambda detail, algo_id: notify(ErrorRecorded(detail, algo_id)),
        terms=lambda algo_id: _exits_of(watcher.current, algo_id),
    )
    feed = StatusFeed(
        journal,
        listener,
        config,
        mode=settings.mode,
        broker=broker.name,
        account="",  # known once recovery has read it (recover_account)
        journal_path=settings.journal_path,
        kill_switch=ctx.kill_switch,
        out=settings.out,
        interval=settings.status_interval,
        every=config.journal.heartbeat_every,
        standing=shared.tenure.standing,
    )
    signals = SignalLoop(
        listener.queue,
        executor,
        ctx,
        records,
        config=lambda: watcher.current,
        busy=shared.busy,
        stopping=shared.stopping,
        now=now_of,
        say=say,
        notify=notify,
        on_signal=feed.note_signal,
        planned=shared.tenure.planned,
        in_the_way=CloseCanceler(executor, say=say),
        max_age=max_age,
    )
    following: list[Follower] = [circuit, recheck, chaser, exits]
    every, planned = shared.tenure.pick_up_every, shared.tenure.planned
    if every is not None:  # other processes journal signals here: the leader plans theirs
        following.append(
            ForeignSignals(
                journal,
                signals,
                busy=shared.busy,
                stopping=shared.stopping,
                interval=every,
                max_age=max_age,
                now=now_of,
                planned=planned or (lambda keys: set()),
            )
        )
    followers = Followers(
        following,
        stopping=shared.stopping,
        on_error=lambda detail: notify(ErrorRecorded(detail)),
    )
    return Components(
        ctx,
        executor,
        records,
        listener,
        lapses,
        backfill,
        recheck,
        chaser,
        exits,
        watcher,
        feed,
        signals,
        followers,
        earlier,
    )


async def recover_account(
    parts: Components, broker: Broker, settings: Settings, shared: Shared
) -> Recovered:
    """Start-up recovery for the account (:func:`tradebot.execution.recovery.recover`), run
    while the listener already listens; the bot starts the signal loop once it is done.
    Raises what the broker raises (a TransientError: the caller tries again)."""
    config, ctx, journal = settings.config, parts.context, parts.executor.journal
    now = settings.now()
    account = await ctx.refresh_account(now)
    day = await ctx.day_state(now)
    # reference prices for every signal recovery may plan, in one request
    pending = [
        u
        for u in await asyncio.to_thread(journal.unplanned_signals)
        if u.signal_id in parts.earlier
    ]
    market = await ctx.market_for(symbols_of(u.signal for u in pending))
    report = await recover(
        journal,
        broker,
        now=now,
        max_age=timedelta(seconds=config.journal.recovery_max_age),
        planner=planner_for(
            config, account, now, day=day, market=market, planned=shared.tenure.planned
        ),
        defer=orders_in_way(journal),
        book=parts.executor.book,
        earlier=parts.earlier,
    )
    for line in report.lines():
        shared.say(f"recovery: {line}")
    if report.drifts:
        shared.notify(DriftFound(report.drifts))
    for signal_id, signal in report.deferred:  # closes with orders in their way, canceled first
        parts.signals.defer(signal_id, signal)
    await parts.signals.resume(now)  # positions a close stripped of their exits, still held
    parts.feed.board.account = account.account_id
    return Recovered(account, report)


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
    notify: Callable[[BotEvent], None], now: Callable[[], datetime]
) -> Callable[[OrderIntent], None]:
    """The executor's submit hook: observers hear when an order is about to leave, and which
    (metrics)."""

    def submitting(intent: OrderIntent) -> None:
        notify(OrderSubmitting(now(), intent))

    return submitting


class _Reactions:
    """The listener's and the config watcher's callbacks: synchronous, never blocking a reader;
    journal writes go to the record writer."""

    def __init__(
        self, records: RecordWriter, say: Callable[[str], None], notify: Callable[[BotEvent], None]
    ) -> None:
        self._records = records
        self._say = say
        self._notify = notify

    def state(self, change: StateChange) -> None:
        detail = f" ({change.detail})" if change.detail else ""
        log.info("alphahub connection %s: %s%s", change.connection, change.state, detail)
        self._notify(ConnectionChanged(change))

    def bad_input(self, bad: DroppedInput) -> None:
        algo = f" for algorithm {bad.algo_id}" if bad.algo_id is not None else ""
        self._say(f"dropped an unreadable frame{algo}: {bad.reason}")
        self._records.error(
            f"malformed input from AlphaHub dropped (connection {bad.connection}): "
            f"{bad.reason}; received: {bad.raw[:500]}",
            algo_id=bad.algo_id,
        )

    def config_changed(self, change: ConfigChange) -> None:
        detail = "config reloaded: " + (", ".join(change.changed) or "nothing applies live")
        if change.needs_restart:
            detail += f"; needs a restart: {', '.join(change.needs_restart)}"
        self._say(detail)
        data = {
            "applied": list(change.changed),
            "needs_restart": list(change.needs_restart),
            **rules_record(change.config),  # the rules in force from now on (track)
        }
        self._records.config(detail, data)
        self._notify(ConfigReloaded(change))

    def config_invalid(self, error: ConfigError) -> None:
        self._say(f"config edit rejected, previous config still in force:\n{error}")
        self._records.error(f"config edit rejected: {error}")
