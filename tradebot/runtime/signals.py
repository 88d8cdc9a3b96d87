"""The signal loop: one signal at a time, in arrival order, each planned against the book the
previous one left.

Every signal is journaled as it arrives, by a journal worker of its own (:meth:`SignalLoop.record`,
a task beside the loop): it takes each signal from the listener's queue, starts its write, and
hands it to the loop at once with the write (a future of its signal id), then waits for the
write before it takes the next. When the loop waits for signals, the worker also asks for the
signal's reference prices right behind the write, so the request does not wait for the loop's
own work on the signal. The loop gathers the signal's context while the write runs, and
awaits the id before anything the signal causes: the cancels in a close's way, the plan and its
orders. So a signal is on record before anything it causes leaves the process, and a broker
stuck in retries on one signal never delays the record of the next: a kill -9 then loses none of
them, the next start's recovery plans what is journaled and unplanned while it is fresh. A
signal the loop plans at once is written without an fsync of its own: the synced commit that
precedes whatever it causes (its plan's, its cancels') puts it on disk (:meth:`SignalLoop._record`).

Before each plan the loop gathers what the pure planner needs (:mod:`.context`): the account,
the assets and the broker's reference prices for the signal's symbols, today's orders and P&L,
the kill switch, the market clock. Reading them sends nothing and changes nothing. A broker that
cannot be reached for the account or the assets does not drop the signal: it is journaled with
every leg skipped ``broker_unavailable``.

At start the journal worker records every signal from the moment the listener starts, while
the account recovers; the bot starts :meth:`SignalLoop.run` once recovery is done, and the loop
plans those queued meanwhile in arrival order. One held longer than ``max_age``
(``journal.recovery_max_age``, the freshness rule recovery applies) is journaled with every leg
skipped as stale, never traded.

``busy`` is held while one signal is handled. The re-check of unknown outcomes takes it too, so
it never looks up an order whose submission is still in flight, and the stop takes it, so the
signal in hand finishes before anything is shut down.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tradebot.config.model import Config
from tradebot.core.account import AccountSnapshot, AssetInfo
from tradebot.core.book import PositionBook
from tradebot.core.market import MarketPrices
from tradebot.core.orders import ExitFill, Plan, SkippedLeg, SkipReason
from tradebot.core.planner import plan
from tradebot.core.risk import DayState
from tradebot.core.signal import Signal
from tradebot.exceptions import TransientError
from tradebot.execution.executor import ExecutionResult, Executor, Planner
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status
from tradebot.runtime.close_cancel import CloseCanceler, Gate
from tradebot.runtime.close_watch import CloseWatch
from tradebot.runtime.context import PlanningContext
from tradebot.runtime.killswitch import HaltMode, KillSwitchState
from tradebot.runtime.narrate import narrate
from tradebot.runtime.observer import BotEvent, KillSwitchChanged, SignalDeferred, SignalHandled
from tradebot.runtime.record_writer import RecordWriter

log = logging.getLogger(__name__)

#: why a leg journaled by two processes (two SIGNAL rows) is skipped under the second plan
ALREADY_PLANNED = "leg already planned by the leader"
#: why a signal queued while the bot recovered is not traded when its turn came too late
HELD_STALE = "received while recovering; too old to trade when recovery was done"


def planner_for(
    config: Config,
    account: AccountSnapshot,
    now: datetime,
    *,
    day: DayState,
    market: MarketPrices,
    assets: Mapping[str, AssetInfo] | None = None,
    planned: Callable[[Sequence[str]], set[str]] | None = None,
    exit_fills: Mapping[str, ExitFill] | None = None,
) -> Planner:
    """The pure planner with what it needs from the world bound in: the one call of
    :func:`~tradebot.core.planner.plan` in the running bot (live signals and recovery).

    ``planned``: with several processes on one journal, which leg identities a plan has already
    claimed (:meth:`~tradebot.journal.postgres.PostgresJournal.planned_legs`, one indexed read):
    those legs are left out of the plan and journaled as skipped duplicates, so a leg that two
    processes journaled under two SIGNAL rows is planned once. Without it, every leg is planned.
    ``exit_fills``: the exits that closed the algorithm's positions (a close for one is skipped
    naming the exit; :mod:`.close_cancel`).
    """

    def pure(signal: Signal, book: PositionBook) -> Plan:
        rules = config.planning
        return plan(
            signal,
            book,
            account,
            rules,
            now,
            market=market,
            assets=assets,
            day=day,
            exit_fills=exit_fills,
        )

    def planner(signal: Signal, book: PositionBook) -> Plan:
        if planned is not None and signal.legs:
            done = planned([leg.id.key for leg in signal.legs])
            if done:
                return _without(signal, done, book, pure)
        return pure(signal, book)

    return planner


def _without(signal: Signal, done: set[str], book: PositionBook, planner: Planner) -> Plan:
    """Plan ``signal`` without the legs in ``done``; those are skipped as duplicates."""
    rest = replace(
        signal,
        close_legs=tuple(leg for leg in signal.close_legs if leg.id.key not in done),
        open_legs=tuple(leg for leg in signal.open_legs if leg.id.key not in done),
    )
    dups = tuple(
        SkippedLeg(leg.id, SkipReason.DUPLICATE, ALREADY_PLANNED, leg=leg)
        for leg in signal.legs
        if leg.id.key in done
    )
    found = planner(rest, book) if rest.legs else Plan()
    return Plan(found.intents, found.skipped + dups, found.notes)


@dataclass(frozen=True, slots=True)
class Arrived:
    """A signal handed to the loop by the journal worker, with its write (its id, once
    durable) and, when the loop was free to use them at once, its reference prices already
    asked for (see :meth:`SignalLoop._record`)."""

    signal: Signal
    journaled: asyncio.Future[int]
    prices: asyncio.Task[MarketPrices] | None = None

    def on_record(self) -> bool:
        done = self.journaled.done() and not self.journaled.cancelled()
        return done and self.journaled.exception() is None


class SignalLoop:
    """Journals each signal as it arrives (:meth:`record`), then plans and executes them one at
    a time, in arrival order (:meth:`run`). See the module docstring."""

    def __init__(
        self,
        queue: asyncio.Queue[Signal],
        executor: Executor,
        ctx: PlanningContext,
        records: RecordWriter,
        *,
        config: Callable[[], Config],
        busy: asyncio.Lock,
        stopping: asyncio.Event,
        now: Callable[[], datetime],
        say: Callable[[str], None],
        notify: Callable[[BotEvent], None],
        on_signal: Callable[[Signal], None] = lambda signal: None,
        planned: Callable[[Sequence[str]], set[str]] | None = None,
        in_the_way: CloseCanceler | None = None,
        retry_interval: float = 1.0,
        alert_after: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_age: timedelta | None = None,
    ) -> None:
        """``queue``: the listener's (the backfill adds recovered signals behind the live ones);
        ``config``: the config in force now (a live edit applies from the next signal);
        ``on_signal``: told of each signal as its handling starts (the status board);
        ``in_the_way``: cancels what is in a close's way first, its algorithm's exits and orders
        still working in the symbol (:mod:`.close_cancel`); a signal
        whose cancels are not confirmed is retried every ``retry_interval`` seconds. A position
        whose orders were canceled for a close that has not gone out after ``alert_after``
        seconds is an ERROR (the observers alert a person; :mod:`.close_watch`).
        ``max_age``: a signal older than this when its turn comes (held while the bot
        recovered) is skipped as stale (None: never)."""
        self._max_age = max_age
        self._queue = queue
        self._executor = executor
        self._ctx = ctx
        self._records = records
        self._config = config
        self._busy = busy
        self._stopping = stopping
        self._now = now
        self._say = say
        self._notify = notify
        self._on_signal = on_signal
        self._planned = planned  # see planner_for
        #: being journaled or journaled by :meth:`record` (the write: a future of the signal's
        #: id), in arrival order, waiting to be planned
        self._ready: asyncio.Queue[Arrived] = asyncio.Queue()
        self._held: Arrived | None = None  # taken from _ready, not yet being handled
        self._waiting = False  # run() waits for its next signal
        self._owned: set[int] = set()  # journaled here, not planned yet (see owns)
        self._recording = 0  # journal writes of record() in flight
        self._halt_mode = HaltMode.RUNNING
        self._in_the_way = in_the_way
        self._retry_interval = retry_interval
        #: journaled, not planned: the cancels in their way are not confirmed yet (close_cancel)
        self._deferred: dict[int, Signal] = {}
        self._noted: set[int] = set()  # deferred signals whose wait is journaled
        self._watch = CloseWatch(
            executor.journal,
            executor.book,
            alert_after=alert_after,
            monotonic=monotonic,
            notify=notify,
            say=say,
        )
        self.handled = 0  # signals handled since start
        self._progress = asyncio.Event()

    async def wait_handled(self, count: int) -> None:
        while self.handled < count:
            await self._progress.wait()

    @property
    def waiting(self) -> bool:
        """Whether :meth:`run` waits for its next signal."""
        return self._waiting

    @property
    def deferred(self) -> tuple[int, ...]:
        """Signal ids waiting for the cancels in their way to be confirmed."""
        return tuple(self._deferred)

    @property
    def watching(self) -> tuple[tuple[int, str], ...]:
        """(algorithm, symbol) of positions whose orders a close canceled, until it goes out."""
        return self._watch.watching

    async def resume(self, now: datetime) -> None:
        """At start, after recovery: positions an earlier run's close stripped of their exits,
        and still held, are watched again (:meth:`CloseWatch.resume`)."""
        await self._watch.resume(now)

    def owns(self, signal_id: int) -> bool:
        """Whether this loop will plan the journaled signal ``signal_id`` itself (it journaled
        it and has not planned it yet, or is journaling a signal right now): the leader's poll
        for signals other processes journaled leaves such a signal alone."""
        return self._recording > 0 or signal_id in self._owned

    def defer(self, signal_id: int, signal: Signal) -> None:
        """Plan this journaled, unplanned signal on a later pass (recovery leaves such
        signals to the loop: their closes must cancel what is in their way first)."""
        self._deferred.setdefault(signal_id, signal)
        self._owned.add(signal_id)

    # -- the journal worker ------------------------------------------------------------------

    async def record(self) -> None:
        """Journal every signal the listener queues, in arrival order, as it arrives, and
        queue it for planning by its id: whatever the planning side is doing (a broker stuck
        in retries), the record of the next signal never waits for it. Run it as a task."""
        while True:
            signal = await self._queue.get()
            await self._record(signal)

    async def _record(self, signal: Signal) -> None:
        """:func:`journal_signal` for this loop alone (one account: see there)."""
        await journal_signal(self._executor.journal, signal, (self,))

    def accept(self, signal: Signal, writing: asyncio.Future[int], *, prefetch: bool) -> None:
        """Take ``signal``, whose journal write ``writing`` was just started (by the journal
        worker, :func:`journal_signal`), for planning in arrival order; ``prefetch``: ask for its
        reference prices now, behind the write (the loop plans it at once, :meth:`idle`)."""
        self._recording += 1
        prices = None
        if prefetch:  # its first step (the request) runs before the loop takes the signal
            prices = asyncio.ensure_future(
                self._ctx.market_for([leg.symbol for leg in signal.legs])
            )
        # first in line: the id is owned before the loop, awaiting the same write, resumes
        writing.add_done_callback(self._journaled)
        self._ready.put_nowait(Arrived(signal, writing, prices))

    def idle(self) -> bool:
        """Whether the loop waits for its next signal with nothing ahead of it (it will plan
        the next one at once: prices asked for now are the ones it plans with)."""
        return (
            self._waiting and not self._busy.locked() and self._ready.empty() and not self._deferred
        )

    def _journaled(self, writing: asyncio.Future[int]) -> None:
        self._recording -= 1
        if not writing.cancelled() and writing.exception() is None:
            self._owned.add(writing.result())
            self._executor.signal_journaled()

    # -- planning ------------------------------------------------------------------------------

    async def _next(self) -> Arrived | None:
        if not (self._deferred or self._watch.watching):
            return await self._ready.get()
        try:  # a deferred close is tried again, and watches looked at, every retry_interval
            return await asyncio.wait_for(self._ready.get(), self._retry_interval)
        except TimeoutError:
            return None

    async def run(self) -> None:
        while True:
            # until its handling starts, a signal taken from the queue is "held": a stop that
            # wins the lock first leaves it journaled unplanned, ahead of those still queued
            self._waiting = True
            try:
                self._held = taken = await self._next()
            finally:
                self._waiting = False
            async with self._busy:
                if self._stopping.is_set():
                    return
                self._held = None
                await self.retry_deferred()
                if taken is None:
                    continue
                if self._too_old(taken.signal):
                    await self._skip_stale(taken)
                else:
                    self._on_signal(taken.signal)
                    await self._handle_journaled(taken.signal, taken.journaled, taken.prices)
            self.handled += 1
            self._progress.set()
            self._progress = asyncio.Event()

    def _too_old(self, signal: Signal) -> bool:
        return self._max_age is not None and self._now() - signal.received_at > self._max_age

    async def _skip_stale(self, taken: Arrived) -> None:
        """Journal every leg of ``taken`` skipped as stale: it waited too long (while the bot
        recovered) to be traded at a price its algorithm saw."""
        if taken.prices is not None:
            taken.prices.cancel()
        signal = taken.signal
        signal_id = await asyncio.shield(taken.journaled)
        age = (self._now() - signal.received_at).total_seconds()
        assert self._max_age is not None
        reason = (
            f"{HELD_STALE} (received {age:.0f}s ago; journal.recovery_max_age is"
            f" {self._max_age.total_seconds():g}s)"
        )
        skipped = tuple(
            SkippedLeg(leg.id, SkipReason.STALE, reason, leg=leg) for leg in signal.legs
        )
        try:
            result = await self._execute(signal, lambda s, b: Plan(skipped=skipped), signal_id)
        finally:
            self._owned.discard(signal_id)
        self._say(f"signal #{signal_id} for algorithm {signal.algo_id}: {reason}")
        self._notify(SignalHandled(signal, result))

    async def handle(self, signal: Signal, *, signal_id: int | None = None) -> None:
        """Plan and execute ``signal``, journaled under ``signal_id`` (by :meth:`record`, or by
        another process sharing the journal): only the plan is recorded. Without an id it is
        journaled first: nothing it causes (a cancel, an order) leaves before it is durable."""
        if signal_id is None:
            signal_id = await asyncio.to_thread(self._executor.journal.record_signal, signal)
            self._executor.signal_journaled()
        journaled = asyncio.get_running_loop().create_future()
        journaled.set_result(signal_id)
        await self._handle_journaled(signal, journaled)

    async def _handle_journaled(
        self,
        signal: Signal,
        journaled: asyncio.Future[int],
        prices: asyncio.Task[MarketPrices] | None = None,
    ) -> None:
        """:meth:`handle` a signal whose write (``journaled``) may still be under way, with its
        reference prices when they were asked for as it arrived (``prices``)."""
        try:
            await self._handle(signal, journaled, prices)
        finally:
            if prices is not None and not prices.done():  # _handle failed early
                prices.cancel()
                await asyncio.wait({prices})
            if not journaled.done():  # _handle failed early: the write still ends on record
                await asyncio.wait({journaled})
            journal = self._executor.journal
            if journal.unsynced:  # ended without the plan's fsync (a failure, a stop)
                await asyncio.to_thread(journal.make_durable)
            if not journaled.cancelled() and journaled.exception() is None:
                signal_id = journaled.result()
                if signal_id not in self._deferred:
                    self._owned.discard(signal_id)

    async def _handle(
        self,
        signal: Signal,
        journaled: asyncio.Future[int],
        prices: asyncio.Task[MarketPrices] | None,
    ) -> None:
        # what the plan needs is read while the signal's write runs (nothing is sent); its id,
        # awaited before anything the signal causes, says the signal is on record
        now, ctx, config = self._now(), self._ctx, self._config()
        try:
            account = await ctx.account_for(now)
            symbols = [leg.symbol for leg in signal.legs]
            # two reads, side by side: a symbol's first asset lookup never delays its prices
            assets, market = await asyncio.gather(
                ctx.assets_for(symbols, now), prices or ctx.market_for(symbols)
            )
        except TransientError as exc:
            signal_id = await asyncio.shield(journaled)  # never cancel the worker's write
            reason = f"broker unavailable while sizing: {exc}"
            log.error("signal for algorithm %s: %s", signal.algo_id, reason)
            skipped = tuple(
                SkippedLeg(leg.id, SkipReason.BROKER_UNAVAILABLE, reason, leg=leg)
                for leg in signal.legs
            )
            result = await self._execute(signal, lambda s, b: Plan(skipped=skipped), signal_id)
            self._notify(SignalHandled(signal, result))
            return
        await ctx.follow_config(config)
        day = await ctx.day_state(now)
        # on record from here on: the signal may cause things (shielded: the write is the
        # journal worker's, and a cancel of this task must not cancel it)
        signal_id = await asyncio.shield(journaled)
        self.note_kill_switch(ctx.switch)  # the state this plan obeys, not a second read
        gate = Gate()
        if self._in_the_way is not None:
            gate = await self._in_the_way.before_plan(
                signal,
                halted=ctx.switch.halted,
                signal_id=signal_id,
                on_cancel=functools.partial(self._watch.canceled, signal_id),
            )
            if gate.deferred:
                await self._defer(signal, signal_id, gate)
                return
        planner = planner_for(
            config,
            account,
            now,
            day=day,
            market=market,
            assets=assets,
            planned=self._planned,
            exit_fills=gate.exit_fills,
        )
        result = await self._execute(signal, planner, signal_id)
        self._watch.went_out(result)
        self._say(narrate(signal.algo_id, signal.leg_count, result))
        # what the journal made durable: an intent it refused as a duplicate (a signal pushed
        # again after a restart) is not a new order and must not use up the day's allowance
        ctx.count_orders(o.intent.algo_id for o in result.outcomes)
        if any(o.snapshot is not None and o.snapshot.filled_qty > 0 for o in result.outcomes):
            # the broker's answer already carried fills (the journal recorded them with it):
            # the next plan must see their P&L, as it sees fills from the event stream
            ctx.fills_recorded()
        elif result.outcomes:
            ctx.account_stale()
        self._notify(SignalHandled(signal, result))

    async def _defer(self, signal: Signal, signal_id: int, gate: Gate) -> None:
        """Leave the signal journaled unplanned and try it again later: its close must not go
        out while an order it would race is still live at the broker."""
        self._deferred[signal_id] = signal
        if signal_id not in self._noted:
            self._noted.add(signal_id)
            ids = ", ".join(i.client_order_id for i in gate.unconfirmed)
            detail = (
                f"close of signal #{signal_id} waits: the broker has not confirmed the cancel"
                f" of exit(s) {ids}; it is tried again every {self._retry_interval:g}s"
            )
            data = {
                "step": "close_deferred",
                "exits": [i.client_order_id for i in gate.unconfirmed],
            }
            journal = self._executor.journal
            await asyncio.to_thread(
                journal.record_exit, gate.unconfirmed[0], detail, data, signal_id
            )
            self._say(detail)

    async def retry_deferred(self) -> None:
        """Plan the deferred signals still unplanned, then look at the positions whose orders a
        close canceled (the caller holds ``busy``)."""
        journal = self._executor.journal
        for signal_id, signal in list(self._deferred.items()):
            planned = await asyncio.to_thread(
                journal.entries,
                EntryFilter(statuses=(Status.PLAN,), signal_ids=(signal_id,), limit=1),
            )
            del self._deferred[signal_id]
            if planned:  # planned meanwhile (the leader's poll, say)
                self._owned.discard(signal_id)
                continue
            self._on_signal(signal)
            await self.handle(signal, signal_id=signal_id)
            if signal_id not in self._deferred:
                self.handled += 1
        await self._watch.check(self._deferred)

    async def _execute(self, signal: Signal, planner: Planner, signal_id: int) -> ExecutionResult:
        return await self._executor.handle(signal, planner, signal_id=signal_id)

    def note_kill_switch(self, state: KillSwitchState) -> None:
        """Journal and tell the observers a change of the kill switch, once: the state a plan
        obeys, and the watcher's reads (:func:`~tradebot.runtime.killswitch.watch_kill_switch`)."""
        if state.mode is not self._halt_mode:
            self._halt_mode = state.mode
            detail = f"kill switch: {state.mode}" + (f" ({state.reason})" if state.reason else "")
            self._say(detail)
            self._records.config(detail, {"kill_switch": str(state.mode), "reason": state.reason})
            self._notify(KillSwitchChanged(state))

    async def journal_waiting(self, journal: Journal) -> None:
        """At stop, once the loop and :meth:`record` have ended: signals received but not
        planned are on record, for the next start to plan if still fresh, in arrival order
        (the held one first); those the journal worker had not reached are journaled now."""
        held, self._held = self._held, None
        arrived = [held] if held is not None else []
        while not self._ready.empty():
            arrived.append(self._ready.get_nowait())
        for waiting_prices in [a.prices for a in arrived if a.prices is not None]:
            waiting_prices.cancel()  # nobody plans with them now
            await asyncio.wait({waiting_prices})
        unwritten = [a.signal for a in arrived if not a.on_record()]
        while not self._queue.empty():
            unwritten.append(self._queue.get_nowait())
        for signal in unwritten:
            await asyncio.to_thread(journal.record_signal, signal)
        await asyncio.to_thread(journal.make_durable)  # the held one may have been unsynced
        waiting = [a.signal for a in arrived if a.on_record()] + unwritten
        for signal in waiting:
            self._say(f"signal for algorithm {signal.algo_id} journaled for the next start")
            self._notify(SignalDeferred(signal))


async def journal_signal(journal: Journal, signal: Signal, loops: Sequence[SignalLoop]) -> None:
    """Start journaling ``signal`` (once, whichever accounts follow it), hand it to each of
    ``loops`` (:meth:`SignalLoop.accept`) with the write, and wait for the write: one signal at
    a time, in arrival order; a stop that cancels the caller meanwhile waits for the write too,
    so the signal is on record when the worker ends.

    When every loop waits for its next signal (each will plan this one at once), each loop's
    reference prices are asked for here too, right behind the write: the request goes out before
    the loop has even taken the signal, instead of after the loop's own work on it (the request
    and the write are the two waits the plan needs).

    Such a signal is also committed without its own fsync (``sync=False``): whatever it causes
    leaves after a synced commit of the same journal, which makes it durable with it (a
    write-ahead log is flushed in order): its plan's, before any order; for a close, the rows of
    the cancels in its way, before they leave (checked there, ``CloseCanceler._cancel``). A kill
    -9 keeps an unsynced commit (it is in the OS's cache); only a crash of the OS before that
    fsync loses it, and then nothing it caused had left the process, and the next start's
    backfill fetches it again. A signal that waits behind another is fsynced as it arrives (its
    plan could be far away); one whose handling ends without a synced commit (a failure, a stop)
    is fsynced then (:meth:`SignalLoop._handle_journaled`)."""
    loop = asyncio.get_running_loop()
    idle = bool(loops) and all(each.idle() for each in loops)
    # every loop plans it at once: its own commit need not wait for the disk (docstring)
    record = functools.partial(journal.record_signal, signal, sync=not idle)
    write = functools.partial(contextvars.copy_context().run, record)
    writing = loop.run_in_executor(None, write)  # submitted now, not by a task to come
    for each in loops:
        each.accept(signal, writing, prefetch=idle)
    try:
        await asyncio.shield(writing)
    except asyncio.CancelledError:
        await asyncio.wait({writing})
        raise


def symbols_of(signals: Iterable[Signal]) -> list[str]:
    return [leg.symbol for s in signals for leg in s.legs]
