"""``tradebot run``: listener -> planner -> executor -> broker -> journal, recovery beside it.

Two steps, two places:

1. **Building** (:func:`tradebot.runtime.components.build`): open the journal (refusing a foreign
   or damaged file), record the start, and construct every component from the journal alone
   (the position book rebuilt from it, the signals it holds unplanned), with its dependencies
   passed in. Nothing here asks the broker anything.
2. **Supervising** (:class:`Bot`, here), under one TaskGroup. First the listener, the signal
   journal worker, the status board and the record writer start: the bot is on AlphaHub and
   every signal is journaled as it arrives (durable on arrival) and queued. Beside them the
   broker is opened and the account recovered
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
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from tradebot import __version__
from tradebot.alphahub.listener import Listener
from tradebot.broker.base import Broker
from tradebot.broker.factory import make_broker
from tradebot.clock import utcnow
from tradebot.config.model import Config, Mode
from tradebot.core.exits import exit_kind_of
from tradebot.core.orders import IntentRole
from tradebot.exceptions import FatalError, TradebotError, TransientError
from tradebot.journal.interface import Journal
from tradebot.journal.opener import configured, tenure_for
from tradebot.journal.records import AppliedFill, StoredIntent
from tradebot.journal.tenure import Tenure
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
    """One account, one journal, the algorithms of one config file."""

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
    ) -> None:
        """``broker``: one to use instead of the config's (the demo drives its sim market)."""
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
        return self._parts.signals.handled if self._parts is not None else 0

    async def wait_handled(self, count: int) -> None:
        """Wait until ``count`` signals have been handled since start (demo, tests)."""
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
            settings = self._settings
            chosen = self._broker or make_broker(
                settings.config.broker, self.mode, now=settings.now
            )
            parts = await build(journal, chosen, settings, shared)  # asks the broker nothing
            self._listening(parts.listener)
            try:
                await self._supervise(parts, journal, tenure, chosen, shared)
            except BaseExceptionGroup as group:
                raise _first_tradebot_error(group) from None
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(journal.record_stop, "tradebot stopped")
            journal.close()

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
        chosen: Broker,
        shared: Shared,
    ) -> None:
        """Every long-running task under one TaskGroup; the stop in the documented order.

        The listener and the signal journal worker start first, then the broker is opened and
        the account recovered beside them (:meth:`_recover`); the rest starts once that is
        done. A stop while recovering stops the listener and leaves every signal received
        journaled, unplanned, for the next start."""
        async with asyncio.TaskGroup() as tg:
            # what brings new signals in: stopped first
            intake = [tg.create_task(parts.listener.run(), name="listener")]
            # journals each signal as it arrives, before the loop plans it (runtime/signals.py)
            recorder = tg.create_task(parts.signals.record(), name="signal-journal")
            # the heartbeat, "recovering" until recovery is done (runtime/status_feed.py)
            background = [
                tg.create_task(parts.feed.run(), name="status"),
                tg.create_task(parts.records.run(), name="records"),
            ]
            async with contextlib.AsyncExitStack() as stack:
                recovered = await self._recover(parts, chosen, shared, stack)
                if recovered is not None:
                    broker = self._in_use = chosen
                    self._ready(parts, recovered, broker, tenure)
                    intake.append(tg.create_task(parts.backfill.run(), name="backfill"))
                    events: asyncio.Task[None] | None = tg.create_task(
                        parts.executor.consume_events(
                            on_fills=self._fills_recorded, on_events=parts.followers.notice
                        ),
                        name="broker-events",
                    )
                    background += self._background(tg, parts, tenure)
                    signals: asyncio.Task[None] | None = tg.create_task(
                        parts.signals.run(), name="signals"
                    )
                    await self._stop.wait()
                else:
                    events, signals = None, None
                self._say("stopping: no new signals are accepted")
                for task in intake:
                    task.cancel()
                recorder.cancel()  # a write in progress finishes; journal_waiting does the rest
                async with self._busy:  # the signal in hand finishes; nothing new starts
                    if signals is not None:
                        signals.cancel()
                await asyncio.wait({recorder})  # a signal being journaled is queued, on record
                await parts.signals.journal_waiting(journal)
                if events is not None:
                    await self._settle(journal, events)
                for task in background:
                    task.cancel()
                await asyncio.wait(background)  # ended while the broker is still open
                await parts.records.drain()
                parts.feed.final("stopped")

    async def _recover(
        self,
        parts: Components,
        chosen: Broker,
        shared: Shared,
        stack: contextlib.AsyncExitStack,
    ) -> Recovered | None:
        """Open the broker and recover the account, while the listener listens: a broker that
        hangs or fails (a TransientError) is tried again until it answers; None when the stop
        came first. Wrong credentials and other fatal errors raise."""
        parts.feed.state = RECOVERING
        self._observers.notice(Recovering("waiting for the broker"))
        me = asyncio.current_task()
        assert me is not None
        interrupted, active = False, True

        def interrupt(_: object) -> None:  # the stop came: this waiting ends (cancelled)
            nonlocal interrupted
            if active:
                interrupted = True
                me.cancel()

        stopper = asyncio.get_running_loop().create_task(self._stop.wait())
        stopper.add_done_callback(interrupt)
        try:
            entered = False
            delay = RETRY_FIRST
            while True:
                try:
                    if not entered:
                        await stack.enter_async_context(chosen)
                        entered = True
                    return await recover_account(parts, chosen, self._settings, shared)
                except TransientError as exc:
                    self._say(
                        f"recovering (waiting for the broker): {exc}; listening meanwhile, "
                        f"trying again in {delay:g}s"
                    )
                    self._observers.notice(Recovering(f"waiting for the broker: {exc}"))
                await asyncio.sleep(delay)  # the retry's schedule, not a synchronisation
                delay = min(delay * 2, RETRY_MAX)
        except asyncio.CancelledError:
            if interrupted and me.uncancel() == 0:
                return None
            raise
        finally:
            active = False  # a callback already queued must not cancel what follows
            stopper.cancel()

    def _ready(
        self, parts: Components, recovered: Recovered, broker: Broker, tenure: Tenure
    ) -> None:
        """Recovery is done: the banner, Started, ``ready``; the signal loop plans from now."""
        self._parts = parts
        parts.feed.state = RUNNING
        settings = self._settings
        self._say(
            banner(
                settings.config,
                self.mode,
                broker.name,
                recovered.account,
                self.journal_path,
                settings.kill_switch,
                role=tenure.role(),
            )
        )
        self._observers.notice(
            Started(self.mode, broker.name, recovered.account.account_id, recovered.report)
        )
        self.ready.set()

    def _background(
        self, tg: asyncio.TaskGroup, parts: Components, tenure: Tenure
    ) -> list[asyncio.Task[None]]:
        """The tasks started once recovery is done, cancelled last at the stop."""
        background = [
            tg.create_task(parts.watcher.run(), name="config-watcher"),
            tg.create_task(parts.lapses.run(), name="lapses"),
            tg.create_task(
                watch_kill_switch(
                    parts.context.kill_switch,
                    parts.signals.note_kill_switch,
                    interval=self._settings.watch_interval,
                ),
                name="kill-switch",
            ),
            tg.create_task(parts.context.keep_account_fresh(self._settings.now), name="account"),
            # the re-check, the chaser, the exit manager, the pick-up of foreign signals
            tg.create_task(parts.followers.run(), name="followers"),
            # keeps the journal's tenure: a lost lease is fatal (NotLeader), not _plugged
            tg.create_task(tenure.keep(), name="tenure"),
        ]
        background += [
            tg.create_task(self._plugged(name, factory), name=name) for name, factory in self._tasks
        ]
        return background

    def _fills_recorded(self, fills: tuple[AppliedFill, ...]) -> None:
        """The broker's event stream made ``fills`` durable: today's P&L (daily-loss limit) and
        the account are read again, and the observers are told."""
        assert self._parts is not None
        self._parts.context.fills_recorded()
        book = self._parts.executor.book
        for fill in fills:
            kind = exit_kind_of(fill.client_order_id)
            if kind is not None:  # no signal asked for it: say so where a person is looking
                self._say(
                    f"exit: {kind.label} {fill.client_order_id} filled {fill.side}"
                    f" {fill.qty} {fill.symbol} @ {fill.price}; algorithm {fill.algo_id} now"
                    f" holds {book.qty(fill.algo_id, fill.symbol)} {fill.symbol}"
                )
        self._observers.notice(FillsRecorded(fills))

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
