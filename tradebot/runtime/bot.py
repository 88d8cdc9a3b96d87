"""``tradebot run``: listener -> planner -> executor -> broker -> journal, recovery beside it.

Two steps, two places:

1. **Building** (:func:`tradebot.runtime.components.build`): open the journal (refusing a foreign
   or damaged file), record the start, and construct every component from the journal alone
   (the position book rebuilt from it, the signals it holds unplanned), with its dependencies
   passed in. Nothing here asks the broker anything.
2. **Supervising** (:class:`Bot`, here), under one TaskGroup. First the listener, the signal
   journal worker, the status board and the record writer start: the bot is on AlphaHub and
   every signal is journaled as it arrives (durable on arrival) and queued. Beside them the
   broker is opened and the account recovered (each account beside the others, its own
   broker, as soon as it answers: one account's broker that hangs keeps no other waiting)
   (:func:`tradebot.runtime.components.recover_account`, per account:
   :func:`tradebot.execution.recovery.recover` rebuilds positions, settles every intent left
   without an outcome by asking the broker, re-plans fresh signals journaled unplanned before
   the listener started, records any drift). The signal loop plans nothing until that is done.
   A broker that hangs or fails at start (a TransientError) is tried again until it answers,
   while the bot says ``recovering (waiting for the broker)`` (output, status board state
   ``recovering``, the :class:`~tradebot.runtime.observer.Recovering` event: systemd's STATUS);
   wrong credentials stop the bot. Once recovered: the banner,
   :class:`~tradebot.runtime.observer.Started` (systemd's READY=1), :attr:`Bot.ready` and
   :attr:`Bot.parts` set, and the rest starts: the backfill, the broker's event stream, the
   config watcher, the lapse watcher, the kill-switch watcher, the account refresher, the
   followers (one task, :mod:`tradebot.runtime.followers`: the re-check of unknown outcomes,
   the chaser, the exit manager and, when other processes journal signals here, the pick-up of
   theirs; each woken by the events of its own orders, ticked otherwise), the keeper of the
   journal's tenure, any task added with :meth:`Bot.add_task`, and the signal loop, which plans
   the signals queued meanwhile in arrival order (one held longer than
   ``journal.recovery_max_age`` is journaled skipped as stale), then each new one as it
   arrives: one at a time, in arrival order, so each plan sees the book the previous one left.
   Recovery plans the signals journaled before the listener started, the signal loop those
   its journal worker recorded: one path per signal, so no leg is decided twice.

   With several accounts (``accounts:``), each account is one
   :class:`~tradebot.runtime.account_engine.AccountEngine`: its broker, executor, event stream,
   circuit breaker, followers, kill switch (the global one and its own), busy lock and signal
   loop; the journal worker journals each signal once and hands it to the loop of every account
   following its algorithm. Each account trades once its own recovery is done (its banner and
   ``Started`` name it); what the accounts share (the backfill, the config watcher, the lapse
   watcher, the tenure's keeper, added tasks) starts with the first, and ``ready`` is set with
   the last. An account whose broker refuses its credentials at start is tried again, said and
   reported as an error, while the others trade (one account: the bot stops, as before). The
   stop ends every account's loop, then journals what each still held.

Before building, the journal opener says how this process holds the journal it writes
(:func:`~tradebot.journal.opener.tenure_for`, a :class:`~tradebot.journal.tenure.Tenure`), and
the bot asks it the same questions whatever the backend: wait until this process may write
(standing by meanwhile: :func:`~tradebot.runtime.leadership.standing_by` listens and journals),
open the journal, keep the tenure while running (a lost one stops the bot: a FatalError), and
release it at the stop. A SQLite file is held alone (:class:`~tradebot.journal.tenure.SoleTenure`:
writable at once, nothing to keep). A PostgreSQL journal (``journal.url``) may be shared by
several processes (:mod:`tradebot.journal.lease`): the bot stands by until it holds the
leadership lease, writes fenced with its epoch, renews the lease (a lost lease stops it with
:class:`~tradebot.exceptions.NotLeader`), and its followers pick up the signals the standbys
journaled (:class:`~tradebot.runtime.leadership.ForeignSignals`).

Stop (Ctrl-C, SIGTERM, :meth:`Bot.request_stop`); while recovering, it ends the recovery where it is
(what it recorded stays on record, the next start's recovery goes on from there), and the signals
received are left journaled unplanned; otherwise, in this order: the listener and the backfill stop
(nothing new enters the queue); the signal being handled finishes (its orders are answered or
recorded as unknown for the next recovery); the signal held and those still queued stay journaled
unplanned (each signal is journaled as it arrives; one the journal worker had not reached yet is
journaled now), and the next start plans them if still fresh; fills of orders just sent get
``stop_grace`` seconds to arrive; the background tasks are cancelled; the journal writes still
queued are made; the journal records the stop and closes. A second request cancels at once; intents
already durable are settled by the next start's recovery.

A task that fails with a :class:`~tradebot.exceptions.TradebotError` (wrong credentials, the
journal failing) stops the bot, and :meth:`Bot.run` raises that error itself, not a group, so
the CLI can name it and pick its exit code. A follower's step is the exception: only a
:class:`~tradebot.exceptions.FatalError` of its own stops the bot; any other error is logged and
reported to the observers, and the other followers go on (:mod:`tradebot.runtime.followers`).

Plugging in (a dashboard, alerts, metrics): register an observer with
:meth:`Bot.observe` to be told of every :data:`~tradebot.runtime.observer.BotEvent` (signals
handled with their result, fills, lapses, drift, kill-switch changes, errors, the stop; see
:mod:`tradebot.runtime.observer` for the example), and add a task of your own with
:meth:`Bot.add_task`, supervised with the rest::

    bot = Bot(config, config_path, mode, load=load_config)
    bot.observe(dashboard)            # dashboard.notice(event) for every event
    bot.add_task("dashboard", dashboard.serve)
    await bot.run()

An added task that raises a :class:`~tradebot.exceptions.FatalError` stops the bot (a standby
that lost its lease must stop trading); any other exception is logged and reported to the
observers as an :class:`~tradebot.runtime.observer.ErrorRecorded`, and trading goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, TextIO

from tradebot import __version__
from tradebot.alphahub.listener import Listener
from tradebot.broker.base import Broker
from tradebot.broker.factory import make_broker
from tradebot.clock import utcnow
from tradebot.config.model import Config, Mode
from tradebot.core.exits import exit_kind_of
from tradebot.core.orders import IntentRole
from tradebot.exceptions import AuthenticationError, FatalError, TradebotError, TransientError
from tradebot.journal.interface import Journal
from tradebot.journal.opener import configured, tenure_for
from tradebot.journal.records import AppliedFill, StoredIntent
from tradebot.journal.tenure import Tenure
from tradebot.runtime.account_engine import AccountEngine, record_signals
from tradebot.runtime.banner import banner
from tradebot.runtime.components import (
    Components,
    Recovered,
    Settings,
    Shared,
    build,
    recover_account,
)
from tradebot.runtime.config_watch import Loader
from tradebot.runtime.killswitch import watch_kill_switch
from tradebot.runtime.leadership import connections_of, standing_by
from tradebot.runtime.liveness import RECOVERING, RUNNING
from tradebot.runtime.observer import (
    ErrorRecorded,
    FillsRecorded,
    Observer,
    Observers,
    Recovering,
    Started,
    Stopped,
)
from tradebot.runtime.paths import config_relative
from tradebot.runtime.status_feed import StandbyStatus
from tradebot.tracking.sizing import rules_record

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Awaitable[None]]

#: seconds between two tries to open the broker and recover, doubling up to RETRY_MAX
RETRY_FIRST, RETRY_MAX = 1.0, 30.0


class Bot:
    """The accounts of one config file (one, or several under ``accounts:``), one journal."""

    def __init__(
        self,
        config: Config,
        config_path: Path,
        mode: Mode,
        *,
        load: Loader,
        now: Callable[[], datetime] = utcnow,
        out: TextIO | None = None,
        status_interval: float = 60.0,
        watch_interval: float = 1.0,
        stop_grace: float = 5.0,
        broker: Broker | None = None,
        modes: Mapping[str, Mode] | None = None,
    ) -> None:
        """``broker``: one to use instead of the config's (the demo drives its sim market; a
        config of one account); ``modes``: each account's mode (``resolve_modes``), by name
        (None, or an account left out: ``mode``)."""
        self.config = config
        self.config_path = config_path
        self.mode = mode
        self.journal_path = config_relative(config_path, config.journal.path)
        self._settings = Settings(
            config,
            config_path,
            mode,
            self.journal_path,
            load,
            now,
            out if out is not None else sys.stdout,
            status_interval,
            watch_interval,
            dict(modes or {}),
        )
        self._broker = broker
        self._stop_grace = stop_grace
        self._stop = asyncio.Event()
        self._observers = Observers()
        self._busy = asyncio.Lock()  # held while one signal is handled
        self._tasks: list[tuple[str, TaskFactory]] = []
        self._parts: Components | None = None
        self._in_use: Broker | None = None
        self._journal_wrappers: list[Callable[[Journal], Journal]] = []
        self._running = False
        self._listener: Listener | None = None  # the one in use (standing by, then trading)
        #: set once recovery is done (the listener already listens): signals are planned
        self.ready = asyncio.Event()

    # -- control and plug-ins ---------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop accepting signals and shut down cleanly (idempotent)."""
        self._stop.set()

    def observe(self, observer: Observer) -> None:
        """Tell ``observer`` of every :data:`~tradebot.runtime.observer.BotEvent` from now on
        (register before :meth:`run` to see the start)."""
        self._observers.add(observer)

    def add_task(self, name: str, factory: TaskFactory) -> None:
        """Run ``factory()`` as a task under the bot's supervision, from the start of trading
        until the background tasks are cancelled at stop (see the module docstring for what
        its failure does). Call before :meth:`run`."""
        if self._running:
            raise RuntimeError("add_task() must be called before run()")  # a caller's bug
        self._tasks.append((name, factory))

    def wrap_journal(self, wrapper: Callable[[Journal], Journal]) -> None:
        """Hand every component ``wrapper(journal)`` instead of the journal (metrics time the
        commits through it). Call before :meth:`run`."""
        self._journal_wrappers.append(wrapper)

    @property
    def parts(self) -> Components | None:
        """The built components, for plug-ins that read state (None until recovery is done)."""
        return self._parts

    @property
    def broker(self) -> Broker | None:
        """The broker in use while running (the dashboard shows its positions)."""
        return self._in_use

    @property
    def handled(self) -> int:
        """Signals handled since start."""
        parts = self._parts
        return 0 if parts is None else sum(e.signals.handled for e in parts.engines)

    async def wait_handled(self, count: int) -> None:
        """Wait until ``count`` signals have been handled since start (demo, tests; with
        several accounts, by the first account)."""
        await self.ready.wait()
        assert self._parts is not None
        await self._parts.signals.wait_handled(count)

    def say(self, text: str) -> None:
        """One line on the bot's output (a plug-in's news, e.g. the dashboard's address)."""
        self._say(text)

    def _say(self, text: str) -> None:
        print(text, file=self._settings.out, flush=True)

    # -- run --------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until stopped. Raises AuthenticationError, ConfigError, JournalError, BrokerError."""
        self._running = True
        error: BaseException | None = None
        try:
            await self._run()
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._observers.notice(Stopped(error))

    async def _run(self) -> None:
        tenure = tenure_for(
            configured(self.config.journal.url, self.journal_path),
            failover_timeout=self.config.journal.failover_timeout,
            beat_every=self.config.journal.heartbeat_every,
            say=self._say,
            connections=self._connections,
        )
        try:
            if not await self._acquire(tenure):
                return  # stopped while standing by
            await self._trade(tenure)
        finally:
            await tenure.release()

    async def _acquire(self, tenure: Tenure) -> bool:
        """Until this process may write the journal: stand by (listen and journal)."""

        @contextlib.asynccontextmanager
        async def stand_by(journal: Journal) -> AsyncIterator[object]:
            async with standing_by(self.config, journal, self._say, listening=self._listening):
                status = StandbyStatus(  # a standby writes its status too (role standby)
                    self.config,
                    mode=self.mode,
                    journal_path=self.journal_path,
                    joined=self._joined,
                    every=self.config.journal.heartbeat_every,
                )
                async with asyncio.TaskGroup() as tg:
                    writer = tg.create_task(status.run(), name="standby-status")
                    try:
                        yield None
                    finally:
                        writer.cancel()
                if self._stop.is_set():
                    await asyncio.to_thread(status.write, "stopped")

        try:
            return await tenure.acquire(self._stop, stand_by)
        except BaseExceptionGroup as group:  # the listener's (wrong credentials): by itself
            raise _first_tradebot_error(group) from None

    async def _trade(self, tenure: Tenure) -> None:
        journal: Journal = await asyncio.to_thread(tenure.open)
        for wrap in self._journal_wrappers:  # plug-ins (metrics) see every write
            journal = wrap(journal)
        shared = Shared(self._say, self._observers.notice, self._busy, self._stop, tenure)
        try:
            await asyncio.to_thread(
                journal.record_start,
                f"tradebot {__version__} started in {self.mode} mode",
                # the rules each algorithm's legs are sized by from now on (tradebot track)
                {
                    "mode": str(self.mode),
                    "config": str(self.config_path),
                    **rules_record(self._settings.config),
                },
            )
            parts = await build(journal, self._brokers(), self._settings, shared)  # asks nothing
            self._listening(parts.listener)
            try:
                await self._supervise(parts, journal, tenure, shared)
            except BaseExceptionGroup as group:
                raise _first_tradebot_error(group) from None
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(journal.record_stop, "tradebot stopped")
            journal.close()

    def _brokers(self) -> dict[str, Broker]:
        """Each account's broker, not connected: from its own ``broker:`` section. With several
        accounts, each uses the credentials its section names, never the one pair of
        ``APCA_*`` variables (one account's keys would reach every account's broker)."""
        config, settings = self.config, self._settings
        if len(config.accounts) == 1:
            (name,) = config.accounts
            chosen = self._broker or make_broker(config.broker, self.mode, now=settings.now)
            return {name: chosen}
        return {
            name: make_broker(
                account.broker, settings.modes.get(name, self.mode), now=settings.now, environ={}
            )
            for name, account in config.accounts.items()
        }

    def _listening(self, listener: Listener | None) -> None:
        self._listener = listener

    def _joined(self, connection: int) -> frozenset[int]:
        """The algorithms this process's listener has joined on ``connection`` now."""
        listener = self._listener
        return frozenset() if listener is None else listener.joined(connection)

    def _connections(self) -> str:
        """This process's AlphaHub connections, for a shared journal's heartbeat."""
        return connections_of(self._listener, self.config.alphahub.connections)

    async def _supervise(
        self,
        parts: Components,
        journal: Journal,
        tenure: Tenure,
        shared: Shared,
    ) -> None:
        """Every long-running task under one TaskGroup; the stop in the documented order.

        The listener and the signal journal worker start first, then each account's broker is
        opened and the account recovered beside them (:meth:`_account`, one task per account);
        each account trades once its own recovery is done, and what the accounts share starts
        with the first. A stop while recovering stops the listener and leaves every signal
        received journaled, unplanned, for the next start."""
        run = _Run(parts, tenure)
        async with asyncio.TaskGroup() as tg:
            run.tg = tg
            # what brings new signals in: stopped first
            run.intake.append(tg.create_task(parts.listener.run(), name="listener"))
            # journals each signal as it arrives, once, and hands it to every account following
            # its algorithm, before their loops plan it (runtime/signals.py, account_engine.py)
            recorder = tg.create_task(
                record_signals(parts.listener.queue, journal, parts.engines),
                name="signal-journal",
            )
            # the heartbeat, "recovering" until recovery is done (runtime/status_feed.py)
            parts.feed.state = RECOVERING
            run.background += [
                tg.create_task(parts.feed.run(), name="status"),
                tg.create_task(parts.records.run(), name="records"),
            ]
            close = asyncio.Event()  # the accounts' brokers may close: every task has ended
            accounts = {
                engine.name: tg.create_task(
                    self._account(run, engine, shared, close), name=f"account-{engine.name}"
                )
                for engine in parts.engines
            }
            await self._stop.wait()
            self._say("stopping: no new signals are accepted")
            for task in run.intake:
                task.cancel()
            recorder.cancel()  # a write in progress finishes; journal_waiting does the rest
            for name, task in accounts.items():
                if name not in run.trading:  # still recovering: it ends where it is
                    task.cancel()
            for engine in parts.engines:
                async with engine.busy:  # the signal in hand finishes; nothing new starts
                    signals = run.trading.get(engine.name)
                    if signals is not None:
                        signals.loop.cancel()
            await asyncio.wait({recorder})  # a signal being journaled is queued, on record
            for engine in parts.engines:
                await engine.signals.journal_waiting(journal)
            await asyncio.gather(
                *(
                    self._settle(engine.executor.journal, tasks.events)
                    for engine in parts.engines
                    if (tasks := run.trading.get(engine.name)) is not None
                )
            )
            for task in run.background:
                task.cancel()
            if run.background:
                await asyncio.wait(run.background)  # ended while the brokers are still open
            close.set()
            await asyncio.wait(accounts.values())
            await parts.records.drain()
            parts.feed.final("stopped")

    async def _account(
        self, run: _Run, engine: AccountEngine, shared: Shared, close: asyncio.Event
    ) -> None:
        """One account: open its broker and recover it, while the listener listens (a broker
        that hangs or fails, a TransientError, is tried again until it answers); then its own
        tasks (the broker's event stream, the kill-switch watcher, the account refresher, the
        followers, the signal loop) start, and, with the first account recovered, what the
        accounts share. Its broker stays open until ``close``. Cancelled by a stop that comes
        while it recovers. Wrong credentials stop the bot (one account), or leave that account
        recovering, tried again, while the others trade (several: one account's revoked keys
        must not stop the others)."""
        async with contextlib.AsyncExitStack() as stack:
            recovered = await self._recover(engine, shared, stack, several=run.several)
            if self._stop.is_set():
                return
            self._account_ready(run, engine, recovered)
            tg = run.tg
            assert tg is not None
            events = tg.create_task(
                engine.executor.consume_events(
                    on_fills=functools.partial(self._fills_recorded, engine),
                    on_events=engine.followers.notice,
                ),
                name=f"broker-events-{engine.name}",
            )
            run.background += [
                tg.create_task(
                    watch_kill_switch(
                        engine.context.kill_switch,
                        engine.signals.note_kill_switch,
                        interval=self._settings.watch_interval,
                    ),
                    name=f"kill-switch-{engine.name}",
                ),
                tg.create_task(
                    engine.context.keep_account_fresh(self._settings.now),
                    name=f"account-{engine.name}-refresh",
                ),
                # the re-check, the chaser, the exit manager, the pick-up of foreign signals
                tg.create_task(engine.followers.run(), name=f"followers-{engine.name}"),
            ]
            loop = tg.create_task(engine.signals.run(), name=f"signals-{engine.name}")
            run.trading[engine.name] = _Trading(events, loop)
            await close.wait()

    async def _recover(
        self,
        engine: AccountEngine,
        shared: Shared,
        stack: contextlib.AsyncExitStack,
        *,
        several: bool,
    ) -> Recovered:
        """Open the account's broker and recover it: a broker that hangs or fails (a
        TransientError) is tried again until it answers. Wrong credentials and other fatal
        errors raise (with several accounts, wrong credentials are tried again too)."""
        name = engine.name
        self._observers.notice(Recovering("waiting for the broker", account=name))
        entered = False
        delay = RETRY_FIRST
        whose = "" if not several else f" (account {name})"
        while True:
            try:
                if not entered:
                    await stack.enter_async_context(engine.broker)
                    entered = True
                return await recover_account(engine, self._settings, shared)
            except TransientError as exc:
                self._say(
                    f"recovering (waiting for the broker{whose}): {exc}; listening meanwhile, "
                    f"trying again in {delay:g}s"
                )
                self._observers.notice(Recovering(f"waiting for the broker: {exc}", account=name))
            except AuthenticationError as exc:
                if not several:
                    raise
                detail = f"account {name}: the broker refused its credentials: {exc}"
                self._say(f"{detail}; the other accounts trade, trying again in {delay:g}s")
                self._observers.notice(ErrorRecorded(detail, account=name))
                self._observers.notice(Recovering(detail, account=name))
            await asyncio.sleep(delay)  # the retry's schedule, not a synchronisation
            delay = min(delay * 2, RETRY_MAX)

    def _account_ready(self, run: _Run, engine: AccountEngine, recovered: Recovered) -> None:
        """An account's recovery is done: its banner and Started; with the first, what the
        accounts share starts (:meth:`_shared_start`); with the last, ``ready``."""
        settings, parts = self._settings, run.parts
        run.recovered[engine.name] = recovered
        if not run.several:
            parts.feed.board.account = recovered.account.account_id
        else:
            parts.feed.board.account = ", ".join(
                f"{name}: {r.account.account_id}" for name, r in run.recovered.items()
            )
        self._say(
            banner(
                engine.config(),
                engine.mode,
                engine.broker.name,
                recovered.account,
                self.journal_path,
                settings.kill_switch,
                role=run.tenure.role(),
                name=engine.name if run.several else None,
            )
        )
        if self._parts is None:  # first: observers told Started read the parts (systemd)
            self._shared_start(run)
        self._observers.notice(
            Started(
                engine.mode,
                engine.broker.name,
                recovered.account.account_id,
                recovered.report,
                account=engine.name,
            )
        )
        if len(run.recovered) == len(parts.engines):
            parts.feed.state = RUNNING
            self.ready.set()

    def _shared_start(self, run: _Run) -> None:
        """The first account recovered: what every account shares starts (the backfill, the
        config watcher, the lapse watcher, the keeper of the journal's tenure, added tasks)."""
        parts, tg = run.parts, run.tg
        assert tg is not None
        self._parts = parts
        self._in_use = parts.first.broker
        if not run.several:
            parts.feed.state = RUNNING
        run.intake.append(tg.create_task(parts.backfill.run(), name="backfill"))
        run.background += [
            tg.create_task(parts.watcher.run(), name="config-watcher"),
            tg.create_task(parts.lapses.run(), name="lapses"),
            # keeps the journal's tenure: a lost lease is fatal (NotLeader), not _plugged
            tg.create_task(run.tenure.keep(), name="tenure"),
        ]
        run.background += [
            tg.create_task(self._plugged(name, factory), name=name) for name, factory in self._tasks
        ]

    def _fills_recorded(self, engine: AccountEngine, fills: tuple[AppliedFill, ...]) -> None:
        """The account's broker's event stream made ``fills`` durable: today's P&L (daily-loss
        limit) and the account are read again, and the observers are told."""
        engine.context.fills_recorded()
        book = engine.executor.book
        for fill in fills:
            kind = exit_kind_of(fill.client_order_id)
            if kind is not None:  # no signal asked for it: say so where a person is looking
                self._say(
                    f"exit: {kind.label} {fill.client_order_id} filled {fill.side}"
                    f" {fill.qty} {fill.symbol} @ {fill.price}; algorithm {fill.algo_id} now"
                    f" holds {book.qty(fill.algo_id, fill.symbol)} {fill.symbol}"
                )
        self._observers.notice(FillsRecorded(fills, account=engine.name))

    async def _plugged(self, name: str, factory: TaskFactory) -> None:
        """A task added with :meth:`add_task`: only a fatal error of its own stops the bot."""
        try:
            await factory()
        except FatalError:
            raise
        except Exception as exc:
            log.exception("task %s failed", name)
            self._observers.notice(ErrorRecorded(f"task {name} failed: {exc!r}"))

    async def _settle(self, journal: Journal, events: asyncio.Task[None]) -> None:
        """Give fills of orders just sent a moment to arrive, then stop the event stream."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._stop_grace
        while loop.time() < deadline and not events.done():
            open_orders = _not_exits(await asyncio.to_thread(journal.unresolved_intents))
            if not open_orders:
                break
            await asyncio.sleep(0.1)
        else:
            remaining = _not_exits(await asyncio.to_thread(journal.unresolved_intents))
            if remaining:
                self._say(
                    f"{len(remaining)} order(s) still open at the broker; the next start "
                    "settles them"
                )
        events.cancel()


class _Trading(NamedTuple):
    """An account's tasks the stop ends one by one: its broker's event stream, its loop."""

    events: asyncio.Task[None]
    loop: asyncio.Task[None]


class _Run:
    """What the supervisor and the accounts' tasks share while running."""

    def __init__(self, parts: Components, tenure: Tenure) -> None:
        self.parts = parts
        self.tenure = tenure
        self.several = len(parts.engines) > 1
        self.tg: asyncio.TaskGroup | None = None
        self.intake: list[asyncio.Task[None]] = []  # stopped first
        self.background: list[asyncio.Task[None]] = []  # cancelled last
        self.trading: dict[str, _Trading] = {}  # the accounts recovered, trading
        self.recovered: dict[str, Recovered] = {}


def _not_exits(intents: Sequence[StoredIntent]) -> list[StoredIntent]:
    """Orders expected to settle soon: resting exits (gtc, for days) are not waited for."""
    return [s for s in intents if s.intent.role is not IntentRole.EXIT]


def _first_tradebot_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first TradebotError in ``group`` (nested groups searched), else the group itself."""
    for error in group.exceptions:
        if isinstance(error, TradebotError):
            return error
        if isinstance(error, BaseExceptionGroup):
            found = _first_tradebot_error(error)
            if found is not error:
                return found
    return group
