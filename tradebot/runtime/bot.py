"""``tradebot run``: recovery first, then listener -> planner -> executor -> broker -> journal.

Lifecycle:

1. Open the journal (refusing a foreign or damaged file) and the broker; record the start.
2. Recover (:func:`tradebot.execution.recovery.recover`): rebuild positions from the journal,
   settle every intent left without an outcome by asking the broker, re-plan fresh signals that
   were journaled but never planned, record and print any drift. Nothing is accepted before this.
3. Print the banner (mode, account, algorithms and their sizing), then run under one TaskGroup:
   the listener, the broker's event stream, the config watcher, the status board, the re-check
   of orders whose outcome is unknown (:mod:`tradebot.runtime.recheck`) and the signal loop.
   Signals are handled one at a time, in arrival order, so each plan sees the book the previous
   one left.
4. Stop (Ctrl-C, SIGTERM, :meth:`Bot.request_stop`): the listener stops, the signal being
   handled finishes (its orders are answered or recorded as unknown for the next recovery),
   signals still queued are journaled unplanned (the next start plans them if still fresh), fill
   events get a moment to arrive, the journal records the stop and closes. A second request
   cancels at once; intents already durable are settled by the next start's recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from tradebot import __version__
from tradebot.alphahub.gaps import Gap
from tradebot.alphahub.listener import DroppedInput, Listener
from tradebot.alphahub.session import StateChange
from tradebot.broker.base import Broker
from tradebot.broker.factory import make_broker
from tradebot.clock import utcnow
from tradebot.config.model import Config, Mode
from tradebot.core.book import PositionBook
from tradebot.core.orders import Plan, SkippedLeg, SkipReason
from tradebot.core.planner import plan
from tradebot.core.signal import Signal
from tradebot.exceptions import ConfigError, TradebotError, TransientError
from tradebot.execution.executor import Executor, Step
from tradebot.execution.recovery import recover
from tradebot.journal.interface import Journal
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.banner import banner
from tradebot.runtime.config_watch import ConfigChange, ConfigWatcher, Loader
from tradebot.runtime.context import PlanningContext, daily_loss_limited
from tradebot.runtime.killswitch import HaltMode, KillSwitchState
from tradebot.runtime.lapses import LapseWatcher
from tradebot.runtime.narrate import narrate
from tradebot.runtime.paths import config_relative
from tradebot.runtime.recheck import UnknownOutcomes
from tradebot.runtime.recovered import make_backfiller
from tradebot.runtime.status_feed import StatusFeed

log = logging.getLogger(__name__)


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
        self._broker = broker
        self.config_path = config_path
        self.mode = mode
        self.journal_path = config_relative(config_path, config.journal.path)
        self._load = load
        self._now = now
        self._out = out if out is not None else sys.stdout
        self._status_interval = status_interval
        self._watch_interval = watch_interval
        self._stop_grace = stop_grace
        self._stop = asyncio.Event()
        self._busy = asyncio.Lock()  # held while one signal is being handled
        # journal writes asked for by synchronous callbacks, done off the loop by one task
        self._records: asyncio.Queue[Callable[[Journal], object]] = asyncio.Queue()
        self._fills_recorded = False
        self._held: Signal | None = None  # taken from the queue, not yet being handled
        self._halt_mode = HaltMode.RUNNING
        self.ready = asyncio.Event()  # set once recovery is done and the listener is starting
        self.handled = 0  # signals handled since start
        self._progress = asyncio.Event()

    # -- control ----------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop accepting signals and shut down cleanly (idempotent)."""
        self._stop.set()

    async def wait_handled(self, count: int) -> None:
        """Wait until ``count`` signals have been handled since start (demo, tests)."""
        while self.handled < count:
            await self._progress.wait()

    def _say(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    # -- run --------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until stopped. Raises AuthenticationError, ConfigError, JournalError, BrokerError."""
        journal = await asyncio.to_thread(open_journal, self.journal_path)
        try:
            await asyncio.to_thread(
                journal.record_start,
                f"tradebot {__version__} started in {self.mode} mode",
                {"mode": str(self.mode), "config": str(self.config_path)},
            )
            chosen = self._broker or make_broker(self.config.broker, self.mode, now=self._now)
            async with chosen as broker:
                try:
                    await self._run(journal, broker)
                except BaseExceptionGroup as group:
                    # a task's fatal error (wrong credentials, journal failure) as itself, so the
                    # CLI can name it and pick its exit code
                    raise _first_tradebot_error(group) from None
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(journal.record_stop, "tradebot stopped")
            journal.close()

    async def _run(self, journal: Journal, broker: Broker) -> None:
        config = self.config
        kill_switch = (
            config_relative(self.config_path, config.risk.kill_switch_file)
            if config.risk.kill_switch_file
            else None
        )
        ctx = PlanningContext(
            broker, journal, kill_switch=kill_switch, track_pnl=daily_loss_limited(config)
        )
        now = self._now()
        account = await ctx.refresh_account(now)
        day = await ctx.day_state(now)
        # reference prices for every signal recovery may plan, in one request
        pending = await asyncio.to_thread(journal.unplanned_signals)
        market = await ctx.market_for(leg.symbol for u in pending for leg in u.signal.legs)

        def recovery_planner(signal: Signal, book: PositionBook) -> Plan:
            return plan(signal, book, account, config.planning, now, day=day, market=market)

        report = await recover(
            journal,
            broker,
            now=now,
            max_age=timedelta(seconds=config.journal.recovery_max_age),
            planner=recovery_planner,
        )
        for line in report.lines():
            self._say(f"recovery: {line}")
        executor = Executor(journal, broker, report.book, on_step=self._on_step)
        recheck = UnknownOutcomes(
            executor,
            busy=self._busy,
            stopping=self._stop,
            interval=config.journal.recheck_interval,
            max_age=timedelta(seconds=config.journal.recovery_max_age),
            now=self._now,
            say=self._say,
        )
        self._say(banner(config, self.mode, broker.name, account, self.journal_path, kill_switch))

        def gap_closed(gap: Gap) -> None:
            lapses.gaps.put_nowait(gap)
            backfill.gap_closed(gap)  # reads the history if no connection was subscribed

        listener = Listener(
            config.alphahub,
            config.subscribed_algorithms,
            on_gap=gap_closed,
            on_state=self._on_state,
            on_bad_input=self._on_bad_input,
        )
        lapses = LapseWatcher(
            journal,
            broker,
            report.book,
            listener,
            connections=config.alphahub.connections,
            say=self._say,
            now=self._now,
        )
        backfill = make_backfiller(
            config, journal, report.book, listener, say=self._say, now=self._now
        )
        watcher = ConfigWatcher(
            self.config_path,
            config,
            self._load,
            interval=self._watch_interval,
            on_change=self._on_config_change,
            on_invalid=self._on_config_invalid,
        )
        feed = StatusFeed(
            journal,
            listener,
            config,
            mode=self.mode,
            broker=broker.name,
            account=account.account_id,
            journal_path=self.journal_path,
            kill_switch=ctx.kill_switch,
            out=self._out,
            interval=self._status_interval,
        )
        self.ready.set()
        async with asyncio.TaskGroup() as tg:
            listening = tg.create_task(listener.run(), name="listener")
            backfilling = tg.create_task(backfill.run(), name="backfill")
            events = tg.create_task(executor.consume_events(), name="broker-events")
            background = [
                tg.create_task(watcher.run(), name="config-watcher"),
                tg.create_task(feed.run(), name="status"),
                tg.create_task(lapses.run(), name="lapses"),
                tg.create_task(self._write_records(journal), name="records"),
                tg.create_task(ctx.keep_account_fresh(self._now), name="account"),
                tg.create_task(recheck.run(), name="recheck"),
            ]
            signals = tg.create_task(
                self._signal_loop(listener, executor, ctx, watcher, feed), name="signals"
            )
            await self._stop.wait()
            self._say("stopping: no new signals are accepted")
            listening.cancel()
            backfilling.cancel()  # like the listener: nothing new enters the queue
            async with self._busy:  # the signal in hand finishes; nothing new starts
                signals.cancel()
            await self._journal_queued(journal, listener)
            await self._settle(journal, events)
            for task in background:
                task.cancel()
            await self._drain_records(journal)
            feed.final("stopped")

    # -- signals ----------------------------------------------------------------------------------

    async def _signal_loop(
        self,
        listener: Listener,
        executor: Executor,
        ctx: PlanningContext,
        watcher: ConfigWatcher,
        feed: StatusFeed,
    ) -> None:
        while True:
            # until its handling starts, a signal taken from the queue is "held": a stop that
            # wins the lock first journals it unplanned, ahead of those still queued
            self._held = signal = await listener.queue.get()
            async with self._busy:
                if self._stop.is_set():
                    return
                self._held = None
                feed.note_signal(signal)
                await self._handle(signal, executor, ctx, watcher.current)
            self.handled += 1
            self._progress.set()
            self._progress = asyncio.Event()

    async def _handle(
        self, signal: Signal, executor: Executor, ctx: PlanningContext, config: Config
    ) -> None:
        now = self._now()
        if self._fills_recorded:
            self._fills_recorded = False
            await ctx.fills_recorded()
        try:
            account = await ctx.account_for(now)
            assets = await ctx.assets_for([leg.symbol for leg in signal.legs], now)
            market = await ctx.market_for(leg.symbol for leg in signal.legs)
        except TransientError as exc:
            reason = f"broker unavailable while sizing: {exc}"
            log.error("signal for algorithm %s: %s", signal.algo_id, reason)
            skipped = tuple(
                SkippedLeg(leg.id, SkipReason.BROKER_UNAVAILABLE, reason, leg=leg)
                for leg in signal.legs
            )
            await executor.handle(signal, lambda s, b: Plan(skipped=skipped))
            return
        await ctx.follow_config(config)
        day = await ctx.day_state(now)
        self._note_kill_switch(ctx.switch)  # the state this plan obeys, not a second read

        def planner(s: Signal, book: PositionBook) -> Plan:
            return plan(
                s, book, account, config.planning, now, market=market, assets=assets, day=day
            )

        result = await executor.handle(signal, planner)
        self._say(narrate(signal.algo_id, signal.leg_count, result))
        # what the journal made durable: an intent it refused as a duplicate (a signal pushed
        # again after a restart) is not a new order and must not use up the day's allowance
        ctx.count_orders(o.intent.algo_id for o in result.outcomes)
        if result.outcomes:
            ctx.account_stale()

    def _note_kill_switch(self, state: KillSwitchState) -> None:
        if state.mode is not self._halt_mode:
            self._halt_mode = state.mode
            detail = f"kill switch: {state.mode}" + (f" ({state.reason})" if state.reason else "")
            self._say(detail)
            data = {"kill_switch": str(state.mode), "reason": state.reason}
            self._records.put_nowait(lambda j: j.record_config(detail, data))

    async def _journal_queued(self, journal: Journal, listener: Listener) -> None:
        """Signals received but not handled: on record, for the next start to plan if fresh."""
        held, self._held = self._held, None
        waiting = [held] if held is not None else []
        while not listener.queue.empty():
            waiting.append(listener.queue.get_nowait())
        for signal in waiting:
            await asyncio.to_thread(journal.record_signal, signal)
            self._say(f"signal for algorithm {signal.algo_id} journaled for the next start")

    async def _settle(self, journal: Journal, events: asyncio.Task[None]) -> None:
        """Give fills of orders just sent a moment to arrive, then stop the event stream."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._stop_grace
        while loop.time() < deadline and not events.done():
            open_orders = await asyncio.to_thread(journal.unresolved_intents)
            if not open_orders:
                break
            await asyncio.sleep(0.1)
        else:
            remaining = await asyncio.to_thread(journal.unresolved_intents)
            if remaining:
                self._say(
                    f"{len(remaining)} order(s) still open at the broker; the next start "
                    "settles them"
                )
        events.cancel()

    # -- callbacks (synchronous, never blocking the reader) ---------------------------------------

    def _on_step(self, step: str) -> None:
        if step == Step.FILL_RECORDED:
            self._fills_recorded = True

    def _on_state(self, change: StateChange) -> None:
        detail = f" ({change.detail})" if change.detail else ""
        log.info("alphahub connection %s: %s%s", change.connection, change.state, detail)

    def _on_bad_input(self, bad: DroppedInput) -> None:
        algo = f" for algorithm {bad.algo_id}" if bad.algo_id is not None else ""
        self._say(f"dropped an unreadable frame{algo}: {bad.reason}")
        detail = (
            f"malformed input from AlphaHub dropped (connection {bad.connection}): {bad.reason}; "
            f"received: {bad.raw[:500]}"
        )
        self._records.put_nowait(lambda j: j.record_error(detail, algo_id=bad.algo_id))

    def _on_config_change(self, change: ConfigChange) -> None:
        detail = "config reloaded: " + (", ".join(change.changed) or "nothing applies live")
        if change.needs_restart:
            detail += f"; needs a restart: {', '.join(change.needs_restart)}"
        self._say(detail)
        data = {"applied": list(change.changed), "needs_restart": list(change.needs_restart)}
        self._records.put_nowait(lambda j: j.record_config(detail, data))

    def _on_config_invalid(self, error: ConfigError) -> None:
        self._say(f"config edit rejected, previous config still in force:\n{error}")
        self._records.put_nowait(lambda j: j.record_error(f"config edit rejected: {error}"))

    async def _write_records(self, journal: Journal) -> None:
        while True:
            write = await self._records.get()
            await asyncio.to_thread(write, journal)

    async def _drain_records(self, journal: Journal) -> None:
        while not self._records.empty():
            await asyncio.to_thread(self._records.get_nowait(), journal)


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
