"""The executor: journal first, then send; record every answer; positions change only from fills.

For one signal: the signal is journaled, the plan (every intent) is made durable in one
transaction, then the closes go out concurrently, then the opens. Each intent is submitted once:
the broker adapter owns retries (:mod:`tradebot.broker.retry`, looking the order up by client
order id before anything is sent again), and one retry layer on top would multiply them. When
the broker gives up without an answer (:class:`OrderOutcomeUnknown`, or a transient error), the
intent is left unanswered, with an ERROR row, for the re-check and recovery to settle by client
order id; nothing here sends it again. With a circuit breaker (:mod:`.circuit`, the running bot's),
each such failure counts towards opening it, and while it is open no order leaves: the intent is
left unanswered the same way, with a ``broker_unavailable`` ERROR row (see there why).

Every journal write runs in a worker thread (``asyncio.to_thread``): an fsync never blocks the
event loop. ``on_step(name)`` is called at each step boundary (see :class:`Step`); it exists so
the crash tests can kill the process at a precise point, and costs nothing when unset; the
crash matrix's fault injection (:mod:`tradebot.faults`) is chained in front of it, and is nothing
at all unless its environment variable asks for it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from tradebot import faults
from tradebot.broker.base import Broker
from tradebot.core.book import PositionBook
from tradebot.core.events import OrderEvent, OrderFilled
from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import IntentRole, OrderIntent, Plan
from tradebot.core.signal import Signal
from tradebot.exceptions import FatalError, OrderOutcomeUnknown, OrderRejected, TransientError
from tradebot.execution.circuit import BrokerCircuit
from tradebot.execution.flatten import FLATTEN_TIMEOUT, FlattenWait, flattens_for
from tradebot.journal.interface import Journal
from tradebot.journal.records import AppliedFill

log = logging.getLogger(__name__)

Planner = Callable[[Signal, PositionBook], Plan]
StepHook = Callable[[str], None]
#: told of the fills each durable batch of broker events recorded for the first time
OnFills = Callable[[tuple[AppliedFill, ...]], None]
#: told of each batch of broker events once the journal has made it durable
OnEvents = Callable[[Sequence[OrderEvent]], None]


class Step(StrEnum):
    """The boundaries between receiving a signal and recording its fill."""

    SIGNAL_JOURNALED = "signal_journaled"
    PLAN_JOURNALED = "plan_journaled"
    BEFORE_SUBMIT = "before_submit"  # the intent is durable; the order has not left
    SUBMIT_RETURNED = "submit_returned"  # the broker answered; nothing recorded yet
    ACCEPTED_RECORDED = "accepted_recorded"
    FILL_RECEIVED = "fill_received"  # a fill event arrived; not recorded yet
    FILL_RECORDED = "fill_recorded"


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What happened to one intent when it was sent. ``error`` is None on success."""

    intent: OrderIntent
    snapshot: OrderSnapshot | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    signal_id: int | None
    plan: Plan
    outcomes: tuple[OrderOutcome, ...]

    @property
    def sent(self) -> tuple[OrderOutcome, ...]:
        return tuple(o for o in self.outcomes if o.snapshot is not None)


class Executor:
    """Sends plans through a broker, journaling every step. One per account; loop-bound.

    One per account because the position book is the account's: two executors would each apply
    the same fills to books of their own. Loop-bound because the book is mutated without locks,
    which is safe only while every change happens on one event loop (journal writes go to worker
    threads, book changes never do). ``journal``, ``broker`` and ``book`` are public for the
    code that drives this same executor outside the signal path: start-up recovery and the
    re-check settle orders through it (:func:`~tradebot.execution.recovery.settle`), and
    ``tradebot resend`` sends through it.
    """

    #: most broker events recorded in one transaction by :meth:`consume_events`
    max_batch = 500

    def __init__(
        self,
        journal: Journal,
        broker: Broker,
        book: PositionBook,
        *,
        on_step: StepHook | None = None,
        on_submit: Callable[[OrderIntent], None] | None = None,
        flatten_timeout: float = FLATTEN_TIMEOUT,
        circuit: BrokerCircuit | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        """``account``: the config's account this executor sends for (its rows carry it)."""
        self.journal = journal
        self.account = account
        #: the account's breaker: asked before each order, told what each submission got
        self.circuit = circuit
        self.broker = broker
        self.book = book
        self._on_step = faults.chain(on_step)
        #: told of each order about to leave, after its BEFORE_SUBMIT step (the latency metrics)
        self._on_submit = on_submit
        #: a flip's open waits for its flatten to fill (:mod:`.flatten`)
        self._flatten = FlattenWait(
            book,
            broker,
            lambda snapshot: self.record_snapshot(snapshot, "lookup"),
            timeout=flatten_timeout,
        )

    def _step(self, step: Step) -> None:
        if self._on_step is not None:
            self._on_step(str(step))

    def signal_journaled(self) -> None:
        """A signal was journaled by itself, ahead of its plan (the running bot journals each
        signal as it arrives): the ``signal_journaled`` step, for the step hook."""
        self._step(Step.SIGNAL_JOURNALED)

    async def handle(
        self, signal: Signal, planner: Planner, *, signal_id: int | None = None
    ) -> ExecutionResult:
        """Plan ``signal`` against the current book, journal signal and plan in one durable
        transaction, then send the new intents.

        Planning is pure and takes microseconds, so it goes first: the signal and every intent
        reach the disk with one fsync and one hop off the loop, the shortest way from frame to
        order that still puts each intent on disk before its order leaves. If the planner fails
        (a bug), the signal is still journaled, with the error, and left unplanned for the next
        start's recovery; the bot carries on with the next signal.

        ``signal_id``: the signal is already journaled under that id (the running bot journals
        each signal as it arrives, before anything it causes); only the plan is recorded.
        """
        # the planner sees the book as of now: the previous signal's orders answered, fills
        # applied as their events were recorded; signals are handled one at a time for this
        try:
            plan = planner(signal, self.book)
        except Exception as exc:
            log.exception("planning failed for a signal of algorithm %s", signal.algo_id)
            if signal_id is None:
                signal_id = await asyncio.to_thread(self.journal.record_signal, signal)
                self._step(Step.SIGNAL_JOURNALED)
            await asyncio.to_thread(
                self.journal.record_error,
                f"planning failed, nothing sent: {exc!r}",
                algo_id=signal.algo_id,
                signal_id=signal_id,
                account=self.account,
            )
            return ExecutionResult(signal_id, Plan(), ())
        if signal_id is not None:
            return await self.execute(plan, signal_id=signal_id)
        signal_id, new = await asyncio.to_thread(
            functools.partial(
                self.journal.record_signal_and_plan, signal, plan, account=self.account
            )
        )
        self._step(Step.SIGNAL_JOURNALED)
        self._step(Step.PLAN_JOURNALED)
        outcomes = await self.submit_all(new)
        return ExecutionResult(signal_id, plan, outcomes)

    async def execute(self, plan: Plan, *, signal_id: int | None = None) -> ExecutionResult:
        """Make every intent durable (one commit), then send closes, then opens.

        Returns once every intent was answered by the broker or recorded as failed; fills
        arrive later as events (:meth:`consume_events`) unless the answer already carried them.
        """
        new = await asyncio.to_thread(
            functools.partial(self.journal.record_plan, signal_id, plan, account=self.account)
        )
        self._step(Step.PLAN_JOURNALED)
        outcomes = await self.submit_all(new)
        return ExecutionResult(signal_id, plan, outcomes)

    async def submit_all(
        self, intents: Sequence[OrderIntent], *, working: Sequence[OrderIntent] = ()
    ) -> tuple[OrderOutcome, ...]:
        """Send already-durable intents: closes first (they free buying power), then opens,
        then exits.

        Orders within a group go out concurrently. An open against what its algorithm still
        holds (a flip) waits until the flatten before it has filled (:mod:`.flatten`); the
        flattens are the closes among ``intents`` and ``working`` (already at the broker, as
        recovery finds them). An exit with a ``parent`` is never sent: it travels as a leg of its
        parent's order, and its answers come in its parent's snapshot
        (:attr:`~tradebot.core.order_snapshot.OrderSnapshot.legs`).
        """
        outcomes: list[OrderOutcome] = []
        for role in (IntentRole.CLOSE, IntentRole.OPEN, IntentRole.EXIT):
            group = [i for i in intents if i.role is role and i.parent is None]
            if not group:
                continue
            send: Callable[[OrderIntent], Awaitable[OrderOutcome]] = self.submit
            if role is IntentRole.OPEN:
                send = functools.partial(self._open_when_flat, before=(*intents, *working))
            if len(group) == 1:  # the common case: no task to create and schedule
                outcomes.append(await send(group[0]))
                continue
            # gather, not a TaskGroup: one fatal error must not cancel siblings already on the
            # wire before their answers are journaled; it is raised, as itself, once all are in
            results = await asyncio.gather(*(send(i) for i in group), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            outcomes.extend(r for r in results if isinstance(r, OrderOutcome))
        return tuple(outcomes)

    async def _open_when_flat(
        self, intent: OrderIntent, *, before: Sequence[OrderIntent]
    ) -> OrderOutcome:
        """Submit an open once its algorithm no longer holds the other side of its symbol."""
        refused = await self._flatten.until_flat(intent, flattens_for(intent, before))
        if refused is None:
            return await self.submit(intent)
        log.warning("%s: %s", intent.client_order_id, refused)
        await asyncio.to_thread(self.journal.record_failed, intent.client_order_id, refused)
        return OrderOutcome(intent, None, refused)

    async def submit(self, intent: OrderIntent) -> OrderOutcome:
        """Send one durable intent and record the answer. Rejections are final, not raised."""
        coid = intent.client_order_id
        circuit = self.circuit
        if circuit is not None and not circuit.allows():
            # not sent, and not given up on: left unanswered for the re-check (see .circuit)
            detail = circuit.refusal()
            await asyncio.to_thread(
                self.journal.record_error,
                detail,
                algo_id=intent.algo_id,
                symbol=intent.symbol,
                client_order_id=coid,
            )
            log.warning("%s: %s", coid, detail)
            return OrderOutcome(intent, None, detail)
        self._step(Step.BEFORE_SUBMIT)
        if self._on_submit is not None:
            self._on_submit(intent)
        try:
            snapshot = await self.broker.submit(intent)
        except OrderRejected as exc:
            reason = str(exc) or "rejected by the broker"
            await asyncio.to_thread(self.journal.record_rejected, coid, reason)
            if circuit is not None:
                await circuit.answered()  # a refusal for the order's content is an answer
            return OrderOutcome(intent, None, f"rejected: {reason}")
        except (OrderOutcomeUnknown, TransientError) as exc:
            # The broker retried and gave up. Not final: the order may exist (or, after a
            # transient error, may not). The re-check and recovery look it up by client order
            # id and settle it; sending it again from here could make a second order.
            detail = f"no answer from the broker, outcome unknown: {exc}"
            await asyncio.to_thread(
                self.journal.record_error,
                detail,
                algo_id=intent.algo_id,
                symbol=intent.symbol,
                client_order_id=coid,
            )
            log.warning("%s: %s", coid, detail)
            if circuit is not None:
                await circuit.failed(exc)
            return OrderOutcome(intent, None, detail)
        except FatalError as exc:
            # the bot stops; the intent stays unresolved for recovery to settle by lookup
            await asyncio.to_thread(
                self.journal.record_error,
                f"submit failed, stopping: {exc}",
                algo_id=intent.algo_id,
                symbol=intent.symbol,
                client_order_id=coid,
            )
            raise
        self._step(Step.SUBMIT_RETURNED)
        await self.record_snapshot(snapshot, "submit")
        self._step(Step.ACCEPTED_RECORDED)
        if circuit is not None:
            await circuit.answered()
        return OrderOutcome(intent, snapshot)

    async def record_snapshot(self, snapshot: OrderSnapshot, source: str) -> None:
        """Journal what the broker showed of an order (``submit`` or ``lookup``); apply fills."""
        await self._journal_fills(
            functools.partial(
                self.journal.record_snapshot, snapshot, source=source, account=self.account
            )
        )

    async def _journal_fills(
        self, write: Callable[[], tuple[AppliedFill, ...]]
    ) -> tuple[AppliedFill, ...]:
        """Run a journal write that may add fills, then apply them to the book, as one unit.

        A cancellation that arrives meanwhile waits for the unit to finish before it goes on,
        so the book never lags behind fills already durable in the journal.
        """

        async def unit() -> tuple[AppliedFill, ...]:
            fills = await asyncio.to_thread(write)
            self._apply(fills)
            return fills

        task = asyncio.ensure_future(unit())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait({task})
            raise

    def _apply(self, fills: Sequence[AppliedFill]) -> None:
        # Positions change only here, from fills the journal has just made durable, never from
        # an intent or an acceptance: an accepted order may still be canceled or fill in part,
        # and a book built on hopes would plan closes for shares never bought. The journal
        # returns only fills new to it, so a fill reported twice moves the book once.
        for fill in fills:
            self.book.apply_fill(fill.algo_id, fill.symbol, fill.side, fill.qty)
        if fills:
            self._flatten.book_changed()

    async def apply_event(self, event: OrderEvent) -> tuple[AppliedFill, ...]:
        """Journal one broker event and apply any new fill to the book."""
        return await self.apply_events([event])

    async def apply_events(self, events: Sequence[OrderEvent]) -> tuple[AppliedFill, ...]:
        """Journal events in one durable transaction, then apply their new fills to the book."""
        # one step per fill event, before and after the write: the crash tests kill the process
        # between a fill arriving and its being durable, and check the next start recovers it
        fill_events = sum(isinstance(e, OrderFilled) for e in events)
        for _ in range(fill_events):
            self._step(Step.FILL_RECEIVED)
        fills = await self._journal_fills(
            functools.partial(self.journal.record_events, events, account=self.account)
        )
        for _ in range(fill_events):
            self._step(Step.FILL_RECORDED)
        return fills

    async def consume_events(
        self, on_fills: OnFills | None = None, on_events: OnEvents | None = None
    ) -> None:
        """Apply the broker's event stream until it ends (run it as a task; cancel to stop).

        Events that arrive while a write is in progress are recorded together in the next
        transaction (group commit, at most :attr:`max_batch`): one fsync for a burst of fills,
        and no wait at all for a lone event.

        ``on_fills`` is called after each durable batch with the fills the journal recorded for
        the first time (a duplicate event from a reconnecting stream announces nothing): the
        running bot must know at once, since a fill changes today's realised P&L (the daily-loss
        limit must see it before the next plan), buying power, and what its observers show.
        ``on_events`` is then called with the whole batch (the bot's followers wake on the
        events of their orders: :mod:`tradebot.runtime.followers`).
        """
        # The stream is read by a task of its own, into an unbounded queue, so it keeps being
        # drained while a write waits for its fsync, and what arrived meanwhile is there for the
        # next batch (that is the group commit). None marks the end of the stream.
        queue: asyncio.Queue[OrderEvent | None] = asyncio.Queue()

        async def read() -> None:
            try:
                async for event in self.broker.events():
                    queue.put_nowait(event)
            finally:
                queue.put_nowait(None)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(read())
            ended = False
            while not ended:
                first = await queue.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < self.max_batch and not queue.empty():
                    nxt = queue.get_nowait()
                    if nxt is None:
                        ended = True
                        break
                    batch.append(nxt)
                fills = await self.apply_events(batch)
                if fills and on_fills is not None:
                    on_fills(fills)
                if on_events is not None:
                    on_events(batch)
