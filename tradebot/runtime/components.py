"""Building the running bot: every component, from the config, the journal and the broker.

Step one of ``tradebot run`` (step two, supervising what is built here, is
:class:`~tradebot.runtime.bot.Bot`). :func:`build` constructs each component with exactly what
it uses, passed in by name, from the journal alone (the position book rebuilt from it, the
signals it holds unplanned): it asks the broker nothing, so the bot listens and journals signals
before the broker has answered. :func:`recover_account` is the start-up work that must finish
before any signal is planned: it reads the account, recovers
(:func:`tradebot.execution.recovery.recover`, on the executor's own book, planning only the
signals journaled before the listener started: those journaled since are the signal loop's, so
a signal has one path to its plan); the bot starts the account's signal loop only once it is
done. What is per account (``accounts:``, issue 22) is one
:class:`~tradebot.runtime.account_engine.AccountEngine` each (its broker, executor, planning
context, circuit breaker, followers, signal loop, busy lock, kill switch; with several accounts
its journal is :mod:`.account_journal`'s view, its own rows and the shared ones); the listener,
the record writer, the lapse watcher, the backfill, the config watcher and the status board are
shared (after a lapse the watcher compares every account's positions with its own broker; the
backfill's book is the first account's). A config of one account builds one engine on the
journal itself: the bot it was before accounts existed. The journal and the broker go to
whoever reads or writes them, never fetched from another component's attributes. Information
flows one way:

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from tradebot.alphahub.gaps import Gap
from tradebot.alphahub.listener import DroppedInput, Listener
from tradebot.alphahub.session import StateChange
from tradebot.broker.base import Broker
from tradebot.config.model import Config, Mode
from tradebot.core.account import AccountSnapshot
from tradebot.core.orders import Plan
from tradebot.core.signal import Signal
from tradebot.exceptions import ConfigError
from tradebot.execution.chaser import Chaser
from tradebot.execution.executor import Executor
from tradebot.execution.exit_manager import ExitManager
from tradebot.execution.recovery import RecoveryReport, recover
from tradebot.journal.interface import Journal
from tradebot.journal.tenure import Tenure
from tradebot.runtime.account_engine import AccountEngine, AccountInputs, build_account, routed
from tradebot.runtime.account_journal import account_journal
from tradebot.runtime.backfill import Backfiller
from tradebot.runtime.channel import Channel
from tradebot.runtime.close_cancel import orders_in_way
from tradebot.runtime.config_watch import ConfigChange, ConfigWatcher, Loader
from tradebot.runtime.context import PlanningContext
from tradebot.runtime.followers import Followers
from tradebot.runtime.killswitch import read_kill_switch
from tradebot.runtime.lapses import Compared, LapseWatcher
from tradebot.runtime.observer import (
    BotEvent,
    ConfigReloaded,
    ConnectionChanged,
    DriftFound,
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
    #: each account's mode, by name (an account not named: ``mode``)
    modes: Mapping[str, Mode] = field(default_factory=dict)

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
    """The running bot's parts, built and connected, not started: what the accounts share,
    and one :class:`~.account_engine.AccountEngine` per account of the config."""

    journal: Journal  # the whole journal (every account's rows)
    records: RecordWriter
    listener: Listener
    lapses: LapseWatcher
    backfill: Backfiller | NoBackfill
    watcher: ConfigWatcher
    feed: StatusFeed
    #: one per account, in the config's order (one for a config of one account)
    engines: tuple[AccountEngine, ...]

    # the first account's parts: a config of one account's, as before accounts existed

    @property
    def first(self) -> AccountEngine:
        return self.engines[0]

    @property
    def context(self) -> PlanningContext:
        return self.first.context

    @property
    def executor(self) -> Executor:
        return self.first.executor

    @property
    def recheck(self) -> UnknownOutcomes:
        return self.first.recheck

    @property
    def chaser(self) -> Chaser:
        return self.first.chaser

    @property
    def exits(self) -> ExitManager:
        return self.first.exits

    @property
    def signals(self) -> SignalLoop:
        return self.first.signals

    @property
    def followers(self) -> Followers:
        return self.first.followers

    @property
    def earlier(self) -> frozenset[int]:
        """The signals journaled unplanned before the listener started: recovery's to plan
        (those journaled since are the signal loop's: one path per signal)."""
        return self.first.earlier


@dataclass(frozen=True, slots=True)
class Recovered:
    """What start-up recovery found: the account as it read it, and its report."""

    account: AccountSnapshot
    report: RecoveryReport


async def build(
    journal: Journal, brokers: Mapping[str, Broker], settings: Settings, shared: Shared
) -> Components:
    """Construct every component from the journal alone: nothing here asks the broker anything,
    so a broker that hangs at start keeps nobody from listening (see the module docstring).
    ``brokers``: each account's, by name (the config's accounts, in its order)."""
    config, now_of, say, notify = settings.config, settings.now, shared.say, shared.notify
    max_age = timedelta(seconds=config.journal.recovery_max_age)
    now = now_of()
    names = list(config.accounts)
    several = len(names) > 1
    records = RecordWriter(journal, notify=notify)
    reactions = _Reactions(records, say, notify)
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
    watcher = ConfigWatcher(
        settings.config_path,
        config,
        settings.load,
        interval=settings.watch_interval,
        on_change=reactions.config_changed,
        on_invalid=reactions.config_invalid,
    )
    engines: list[AccountEngine] = []
    kill_switch = settings.kill_switch
    feed = StatusFeed(
        journal,
        listener,
        config,
        mode=settings.mode,
        broker=", ".join(dict.fromkeys(b.name for b in brokers.values())),
        account="",  # known once recovery has read it (recover_account)
        journal_path=settings.journal_path,
        # one account: the switch it obeys; several: the global one, each obeys its own too
        kill_switch=(
            (lambda: read_kill_switch(kill_switch))
            if several
            else (lambda: engines[0].context.kill_switch())
        ),
        out=settings.out,
        interval=settings.status_interval,
        every=config.journal.heartbeat_every,
        standing=shared.tenure.standing,
    )
    for name in names:
        # with several accounts, each reads and writes its own rows (.account_journal)
        own = account_journal(journal, name) if several else journal
        whose = name if several else None
        handles = functools.partial(_handles, watcher, name)
        # what recovery plans is fixed now, before the listener starts (see Components.earlier)
        unplanned = await asyncio.to_thread(functools.partial(own.unplanned_signals, account=whose))
        earlier = frozenset(u.signal_id for u in unplanned if handles(u.signal.algo_id))
        # the journal is the only source of positions; recovery brings this book up to date
        book = await asyncio.to_thread(functools.partial(own.rebuild_book, account=whose))
        inputs = AccountInputs(
            journal=own,
            records=records,
            watcher=watcher,
            feed=feed,
            queue=listener.queue,
            say=say,
            notify=notify,
            stopping=shared.stopping,
            now=now_of,
            max_age=max_age,
            pick_up_every=shared.tenure.pick_up_every,
            planned=shared.tenure.planned,
        )
        engines.append(
            build_account(
                name,
                brokers[name],
                mode=settings.modes.get(name, settings.mode),
                kill_switch=kill_switch,
                # one account: the bot's lock (its stop takes it); several: one each
                busy=asyncio.Lock() if several else shared.busy,
                book=book,
                earlier=earlier,
                inputs=inputs,
                handles=handles,
                whose=whose,
            )
        )
    first = engines[0]
    lapses = LapseWatcher(
        journal,
        [Compared(e.name, e.executor.journal, e.broker, e.executor.book) for e in engines],
        gaps=gaps.subscribe(),
        history=lambda: listener.gaps,
        connections=config.alphahub.connections,
        say=say,
        now=now_of,
        notify=notify,
    )
    routes = _Routes(journal, watcher, {e.name: e for e in engines})
    backfill = make_backfiller(
        config,
        journal,
        first.executor.book,
        listener,
        gaps=gaps,
        on_error=records.error,
        say=say,
        now=now_of,
        notify=notify,
        holdings=routes.holdings if several else None,
        record=routes.record if several else None,
    )
    return Components(journal, records, listener, lapses, backfill, watcher, feed, tuple(engines))


class _Routes:
    """What the backfill asks of the accounts a signal goes to (several accounts)."""

    def __init__(
        self, journal: Journal, watcher: ConfigWatcher, engines: Mapping[str, AccountEngine]
    ) -> None:
        self._journal = journal
        self._watcher = watcher
        self._engines = engines

    def holdings(self, algo_id: int) -> Mapping[str, Decimal]:
        """The algorithm's positions in the first account it goes to (they tell a history
        leg's kind: an open or a close)."""
        (name, *_) = routed(self._watcher.current, algo_id)
        return self._engines[name].executor.book.holdings(algo_id)

    def record(self, signal: Signal, plan: Plan) -> None:
        """The signal journaled once, with ``plan`` (its legs not traded) for every account it
        goes to: none of them finds it unplanned later (recovery, the leader's poll)."""
        first, *others = routed(self._watcher.current, signal.algo_id)
        signal_id, _ = self._journal.record_signal_and_plan(signal, plan, account=first)
        for name in others:
            self._journal.record_plan(signal_id, plan, account=name)


def _handles(watcher: ConfigWatcher, name: str, algo_id: int) -> bool:
    """Whether a signal of ``algo_id`` goes to the account ``name`` (:func:`routed`)."""
    return name in routed(watcher.current, algo_id)


async def recover_account(engine: AccountEngine, settings: Settings, shared: Shared) -> Recovered:
    """Start-up recovery for one account (:func:`tradebot.execution.recovery.recover`), run
    while the listener already listens; the bot starts its signal loop once it is done.
    Raises what the broker raises (a TransientError: the caller tries again)."""
    config, ctx, journal = engine.config(), engine.context, engine.executor.journal
    now = settings.now()
    account = await ctx.refresh_account(now)
    day = await ctx.day_state(now)
    # reference prices for every signal recovery may plan, in one request
    pending = [
        u
        for u in await asyncio.to_thread(
            functools.partial(journal.unplanned_signals, account=engine.whose)
        )
        if u.signal_id in engine.earlier
    ]
    market = await ctx.market_for(symbols_of(u.signal for u in pending))
    report = await recover(
        journal,
        engine.broker,
        now=now,
        max_age=timedelta(seconds=config.journal.recovery_max_age),
        planner=planner_for(config, account, now, day=day, market=market, planned=engine.planned),
        defer=orders_in_way(journal),
        book=engine.executor.book,
        earlier=engine.earlier,
        account=engine.whose,
    )
    prefix = "recovery: " if engine.whose is None else f"recovery of account {engine.name}: "
    for line in report.lines():
        shared.say(f"{prefix}{line}")
    if report.drifts:
        shared.notify(DriftFound(report.drifts, account=engine.name))
    for signal_id, signal in report.deferred:  # closes with orders in their way, canceled first
        engine.signals.defer(signal_id, signal)
    await engine.signals.resume(now)  # positions a close stripped of their exits, still held
    return Recovered(account, report)


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
