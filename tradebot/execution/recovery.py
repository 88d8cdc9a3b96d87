"""Start-up recovery: settle everything a crash left open, before any new signal is planned.

1. Rebuild the position book from the journal's fills.
2. For every intent without a final outcome, ask the broker by client order id:

   * the broker has it: record what it shows (acceptance, fills not yet journaled, outcome);
   * the broker never got it (the crash came before the send): if its signal is still within
     ``max_age``, send it now with the same client order id (still exactly once); otherwise
     record it as failed, "not sent before crash; signal stale".

   Closes are settled before opens, as when they were first sent.
3. Signals journaled but never planned: re-plan and execute them when a ``planner`` is given and
   they are fresh; otherwise record each leg as skipped (stale / no planner), with the reason.
   The running bot listens while it recovers (:mod:`tradebot.runtime.bot`): the signals its
   journal worker records meanwhile are its signal loop's, never recovery's (``earlier``: the
   ids recovery may plan, those journaled unplanned before the listener started), so each
   signal has one path to its plan.
4. Compare each symbol's net position with the broker's; record every difference as DRIFT and
   report it. Drift is never traded away: a person decides.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tradebot.broker.base import Broker
from tradebot.core.book import PositionBook
from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.core.orders import IntentRole, OrderIntent, Plan, SkippedLeg, SkipReason
from tradebot.core.signal import Signal
from tradebot.execution.executor import Executor, Planner, StepHook
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status, StoredIntent, iso

log = logging.getLogger(__name__)

STALE_UNSENT = "not sent before crash; signal stale"
STALE_UNPLANNED = "not planned before crash; signal stale"
NO_PLANNER = "not planned before crash; no planner available at recovery"


@dataclass(frozen=True, slots=True)
class Drift:
    symbol: str
    journal: Decimal
    broker: Decimal

    def __str__(self) -> str:
        return f"{self.symbol}: journal net {self.journal}, broker {self.broker}"


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    book: PositionBook
    found: tuple[str, ...]  # client order ids the broker had
    resent: tuple[str, ...]  # sent at recovery (the broker never had them) and answered
    failed: tuple[tuple[str, str], ...]  # (client order id, reason)
    replanned: tuple[int, ...]  # signal ids planned and executed at recovery
    abandoned: tuple[int, ...]  # signal ids whose legs were recorded as skipped
    drifts: tuple[Drift, ...]
    pending: tuple[str, ...]  # symbols with orders still open (not compared)
    #: fresh signals left unplanned for the running bot: they close positions with orders
    #: still working there (exits, entries), and only the signal loop cancels those first
    #: (runtime/close_cancel.py)
    deferred: tuple[tuple[int, Signal], ...] = ()
    #: sent again at recovery, but not to the broker: (client order id, what the send got)
    unsent: tuple[tuple[str, str], ...] = ()

    @property
    def clean(self) -> bool:
        return not (
            self.found
            or self.resent
            or self.unsent
            or self.failed
            or self.replanned
            or self.abandoned
            or self.drifts
        )

    def lines(self) -> list[str]:
        """A short human summary, for the console at start-up."""
        out = [f"recovered {len(self.found)} order(s) from the broker"] if self.found else []
        out += [f"re-sent {coid} (never reached the broker)" for coid in self.resent]
        out += [unsent_line(coid, error) for coid, error in self.unsent]
        out += [f"failed {coid}: {reason}" for coid, reason in self.failed]
        out += [f"planned signal #{sid} at recovery" for sid in self.replanned]
        out += [f"signal #{sid} not traded: recorded as skipped" for sid in self.abandoned]
        out += [f"POSITION DRIFT {d} (not traded; review it)" for d in self.drifts]
        return out


@dataclass(frozen=True, slots=True)
class Settled:
    """What :func:`settle` did, by client order id."""

    found: tuple[str, ...] = ()  # the broker had them: recorded
    resent: tuple[str, ...] = ()  # the broker never got them: sent again, and it has them now
    failed: tuple[tuple[str, str], ...] = ()  # (client order id, reason)
    #: the broker never got them, and sending them again did not reach it either (every
    #: attempt failed: still unknown, looked up again later) or it refused them: (id, why)
    unsent: tuple[tuple[str, str], ...] = ()


def unsent_line(client_order_id: str, error: str) -> str:
    """What a re-send that did not reach the broker says, truthfully."""
    return f"re-send of {client_order_id} did not reach the broker: {error}"


def _fresh(received_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    # Freshness is the signal's age, not the intent's: an order sent late trades at a price
    # the algorithm never saw. An intent with no signal time on record is never fresh.
    return received_at is not None and now - received_at <= max_age


async def recover(
    journal: Journal,
    broker: Broker,
    *,
    now: datetime,
    max_age: timedelta,
    planner: Planner | None = None,
    on_step: StepHook | None = None,
    defer: Callable[[Signal, PositionBook], Awaitable[bool]] | None = None,
    book: PositionBook | None = None,
    earlier: Collection[int] | None = None,
    account: str | None = None,
) -> RecoveryReport:
    """Settle a crash's leftovers (see the module docstring).

    The report's ``book`` is the position book rebuilt from the journal and brought up to date
    with what recovery recorded: hand it to the running executor. ``book``: the book already
    rebuilt from the journal (the running executor's, built before recovery), brought up to
    date in place; None: rebuilt here. ``defer``: whether a fresh unplanned signal is left for
    the running bot instead (the report's ``deferred``). ``earlier``: the only unplanned signals
    recovery handles (by id: those journaled before the running bot's listener started; the
    ones journaled since are its signal loop's); None: every unplanned signal. ``account``: the
    config's account recovered (with several, each recovers its own: its intents, its book, the
    signals without a plan of its own, its broker's positions); None: the journal's one account.
    """
    owner = account or DEFAULT_ACCOUNT  # whose rows recovery writes
    # The journal is the only source of positions: the broker's are only compared with it
    # (step 4). Taking the broker's would silently adopt hand trades and other programs' orders.
    if book is None:
        book = await asyncio.to_thread(functools.partial(journal.rebuild_book, account=account))
    # A short-lived executor on the rebuilt book: settling records fills and may send orders,
    # exactly as the running bot would (same journal-first rules, same client order ids).
    executor = Executor(journal, broker, book, on_step=on_step, account=owner)
    unresolved = await asyncio.to_thread(
        functools.partial(journal.unresolved_intents, account=account)
    )
    settled = await settle(executor, unresolved, now, max_age, STALE_UNSENT)

    replanned: list[int] = []
    abandoned: list[int] = []
    deferred: list[tuple[int, Signal]] = []
    # After settling: the re-plan must see the book with every fill recovery just recorded,
    # or a close planned now could size against shares already sold.
    for unplanned in await asyncio.to_thread(
        functools.partial(journal.unplanned_signals, account=account)
    ):
        if earlier is not None and unplanned.signal_id not in earlier:
            continue  # journaled while the bot listened: its signal loop plans it (one path)
        signal = unplanned.signal
        fresh = _fresh(signal.received_at, now, max_age)
        if planner is not None and fresh and defer is not None and await defer(signal, book):
            deferred.append((unplanned.signal_id, signal))
            continue
        if planner is not None and fresh:
            await executor.execute(planner(signal, book), signal_id=unplanned.signal_id)
            replanned.append(unplanned.signal_id)
            continue
        reason = STALE_UNPLANNED if planner is not None else NO_PLANNER
        skips = tuple(SkippedLeg(leg.id, SkipReason.STALE, reason, leg=leg) for leg in signal.legs)
        await asyncio.to_thread(
            functools.partial(
                journal.record_plan, unplanned.signal_id, Plan(skipped=skips), account=owner
            )
        )
        abandoned.append(unplanned.signal_id)

    drifts, pending = await compare_positions(journal, broker, book, account=account)
    report = RecoveryReport(
        book,
        settled.found,
        settled.resent,
        settled.failed,
        tuple(replanned),
        tuple(abandoned),
        drifts,
        pending,
        tuple(deferred),
        settled.unsent,
    )
    summary = {
        "found": list(settled.found),
        "resent": list(settled.resent),
        "unsent": [c for c, _ in settled.unsent],
        "failed": [c for c, _ in settled.failed],
        "replanned": replanned,
        "abandoned": abandoned,
        "deferred": [sid for sid, _ in deferred],
        "pending": list(pending),
        "drift": [str(d) for d in drifts],
    }
    detail = "; ".join(report.lines()) or "nothing to recover"
    await asyncio.to_thread(
        functools.partial(journal.record_recovery, detail, summary, account=owner)
    )
    for line in report.lines():
        log.warning("recovery: %s", line)
    return report


async def settle(
    executor: Executor,
    intents: Sequence[StoredIntent],
    now: datetime,
    max_age: timedelta,
    stale_reason: str,
) -> Settled:
    """Settle intents whose outcome is not known, by asking the broker for each one by its
    client order id: record what it has; send again (same id: still exactly once) what it never
    got while the signal is fresh; record the rest as failed with ``stale_reason`` and the age.
    """
    # Resending under the same client order id is what makes this safe: if the lookup was
    # wrong (the order arrived after all), the broker makes no second order under that id
    # (Alpaca answers "client_order_id must be unique" and the adapter looks it up).
    # Everything is looked up first and sent after, closes before opens (submit_all), as when
    # the orders were first sent.
    # Exits: a leg (``parent`` set) is never sent by itself: the broker has it with its parent
    # or not at all. An exit sent alone protects a position, not a signal's moment: it is sent
    # again whatever the signal's age, as long as the ledger still holds what it would sell.
    found: list[str] = []
    working: list[OrderIntent] = []  # found still working at the broker: a flip's flatten, say
    to_send: list[OrderIntent] = []
    failed: list[tuple[str, str]] = []
    for stored in intents:
        coid = stored.intent.client_order_id
        snapshot = await executor.broker.get_order(coid)
        if snapshot is not None:
            await executor.record_snapshot(snapshot, "lookup")
            found.append(coid)
            if not snapshot.status.is_final:
                working.append(stored.intent)
        elif stored.intent.role is IntentRole.EXIT:
            why = await _exit_unsent(executor, stored.intent)
            if why is None:
                to_send.append(stored.intent)
            elif why:
                await asyncio.to_thread(executor.journal.record_failed, coid, why)
                failed.append((coid, why))
        elif _fresh(stored.signal_received_at, now, max_age):
            to_send.append(stored.intent)
        else:
            reason = f"{stale_reason} ({_age(stored, now)})"
            await asyncio.to_thread(executor.journal.record_failed, coid, reason)
            failed.append((coid, reason))
    outcomes = await executor.submit_all(to_send, working=working)
    # sent only when the broker has it: an answer (accepted, filled) says so; a send that
    # failed on every attempt, or was refused, did not reach it and says what it got
    resent = tuple(o.intent.client_order_id for o in outcomes if o.snapshot is not None)
    unsent = tuple(
        (o.intent.client_order_id, o.error or "no answer") for o in outcomes if o.snapshot is None
    )
    return Settled(tuple(found), resent, tuple(failed), unsent)


async def _exit_unsent(executor: Executor, intent: OrderIntent) -> str | None:
    """For an exit the broker does not have: None to send it, else why it never will be
    ("" for a leg whose parent may still bring it: left alone)."""
    if intent.parent is not None:
        never = f"leg of {intent.parent}, which ended without filling: never placed"
        parent = await executor.broker.get_order(intent.parent)
        if parent is not None:
            return never if parent.status.is_final and parent.filled_qty == 0 else ""
        gone = await asyncio.to_thread(
            executor.journal.entries,
            EntryFilter(client_order_ids=(intent.parent,), statuses=(Status.FAILED,), limit=1),
        )
        # the parent may still be sent (it is settled first, with the same id): then its
        # answer brings the legs; given up on, it never will
        return never if gone else ""
    held = executor.book.qty(intent.algo_id, intent.symbol) * intent.side.opposite().sign
    if held < intent.qty:
        return (
            f"not sent before crash; the algorithm holds {max(held, 0)} {intent.symbol}, less"
            f" than the exit's {intent.qty}"
        )
    return None


async def compare_positions(
    journal: Journal, broker: Broker, book: PositionBook, *, account: str | None = None
) -> tuple[tuple[Drift, ...], tuple[str, ...]]:
    """Differences between the journal's net positions and the broker's (open orders aside);
    ``account``: the config's account whose book and broker these are (None: the only one)."""
    owner = account or DEFAULT_ACCOUNT  # whose rows recovery writes
    # Open orders first: one that fills between these reads must not look like drift (read
    # last, a fill the broker shows but the book has not applied yet was reported as one).
    still_open = await asyncio.to_thread(
        functools.partial(journal.unresolved_intents, account=account)
    )
    # a resting exit (gtc, for days) is no fill on its way: its symbol is still compared
    pending = tuple(
        sorted({s.intent.symbol for s in still_open if s.intent.role is not IntentRole.EXIT})
    )
    theirs = await broker.positions()
    ours = book.net_positions()
    # A symbol with an order still open is left out: the difference may be a fill on its way.
    # Drift is recorded and shown, never traded away: the journal may be the one that is wrong
    # (a hand trade, a fill lost with a journal restored from backup), and only a person knows.
    drifts = []
    for symbol in sorted(set(theirs) | set(ours)):
        mine_qty, broker_qty = ours.get(symbol, Decimal(0)), theirs.get(symbol, Decimal(0))
        if mine_qty != broker_qty and symbol not in pending:
            await asyncio.to_thread(
                functools.partial(journal.record_drift, symbol, mine_qty, broker_qty, account=owner)
            )
            drifts.append(Drift(symbol, mine_qty, broker_qty))
    return tuple(drifts), pending


def _age(stored: StoredIntent, now: datetime) -> str:
    if stored.signal_received_at is None:
        return "no signal time on record"
    return f"received {iso(stored.signal_received_at)}, {now - stored.signal_received_at} ago"
