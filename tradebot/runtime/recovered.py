"""What the running bot does with signals the backfill recovered (``alphahub.backfill``).

* ``trade``: each recovered signal goes into the listener's queue, behind the live ones already
  there, so the signal loop plans it like any other: its own ledger, every risk limit, the price
  collar, ``max_signal_age`` (for a recovered leg, ``journal.recovery_max_age`` when that is not
  set), the kill switch. A leg too old is journaled ``missed_stale`` and never traded.
* ``journal``: each recovered signal is journaled with every leg skipped ``backfill_journal``.
* ``off``: no history is read.

Either way a leg the classification (:mod:`.missed`) finds ambiguous is journaled
``backfill_ambiguous`` and never traded; a leg the signal's group rules refuse (contradictory
legs, weights adding up to more than 1) is journaled ``leg_rejected`` with its identity and
skipped (``contradictory`` or ``invalid``), exactly as live, and claimed, so no later path trades
it. Each backfill leaves one ``gap`` row saying what it found, or why it found nothing (the
history unavailable, every try failed). Every recovered signal carries ``source: backfill`` into
the journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from tradebot.alphahub.gaps import Gap
from tradebot.alphahub.listener import Listener
from tradebot.config.model import BackfillMode, Config
from tradebot.core.book import PositionBook
from tradebot.core.orders import Plan, SkippedLeg, SkipReason, rejected_skip
from tradebot.core.signal import Leg, LegKind, Signal, SignalSource, parse_leg_key
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status
from tradebot.journal.rows import leg_from_data
from tradebot.journal.tombstones import DECIDED  # the rows that are a decision on a leg
from tradebot.runtime.backfill import Backfiller, Found, identities
from tradebot.runtime.channel import Channel
from tradebot.runtime.missed import classify
from tradebot.runtime.observer import BackfillDelivered, BotEvent


class NoBackfill:
    """``alphahub.backfill: off``."""

    def gap_closed(self, gap: Gap) -> None:
        pass

    async def run(self) -> None:
        pass


def make_backfiller(
    config: Config,
    journal: Journal,
    book: PositionBook,
    listener: Listener,
    *,
    gaps: Channel[Gap],
    on_error: Callable[[str], None],
    say: Callable[[str], None],
    now: Callable[[], datetime],
    notify: Callable[[BotEvent], None] = lambda event: None,
    holdings: Holdings | None = None,
    record: Record | None = None,
) -> Backfiller | NoBackfill:
    """The backfill ``config`` asks for. It subscribes to ``gaps`` (closed gaps, as the listener
    publishes them) only when it reads the history: an unread subscription would only grow.
    ``on_error`` journals why the history cannot be read (once per run)."""
    mode = config.alphahub.backfill
    if mode is BackfillMode.OFF:
        return NoBackfill()
    sink = RecoveredSignals(
        journal,
        book,
        listener,
        mode,
        say=say,
        now=now,
        notify=notify,
        holdings=holdings,
        record=record,
    )

    async def unavailable(detail: str) -> None:
        on_error(detail)

    async def outcome(algo_id: int, detail: str) -> None:
        await asyncio.to_thread(journal.record_gap, detail, algo_id=algo_id)

    return Backfiller(
        listener,
        known=lambda keys: asyncio.to_thread(journaled_legs, journal, keys),
        deliver=sink,
        since=lambda algo_id: asyncio.to_thread(last_frame, journal, algo_id),
        say=say,
        on_unavailable=unavailable,
        on_nothing=outcome,
        gaps=gaps.subscribe(),
        now=now,
    )


def journaled_legs(journal: Journal, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` the journal holds a decision for: received (and so planned), rejected
    by its signal's rules (weights, a contradiction), or skipped by an earlier backfill;
    whichever connection, path or process brought it, and whether an archive moved its rows
    out since (:mod:`~tradebot.journal.tombstones`)."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit, with room
        chunk = tuple(keys[start : start + 500])
        where = EntryFilter(legs=chunk, statuses=DECIDED)
        found.update(e.leg for e in journal.entries(where) if e.leg is not None)
        found |= journal.archived_legs(chunk)  # decided in rows an archive moved out
    return found


def reclaim_recovered(journal: Journal, listener: Listener, since: datetime) -> int:
    """Claim again, at start, the legs an earlier run recovered by backfill, or refused by a
    rule of their signal (weights, a contradiction), since ``since``.

    The history has no open/close, so a recovered leg is claimed under both kinds while its run
    lasts; the listener's de-duplication is in memory. Without this, the same leg pushed again
    live after a restart, under the other kind, would be a new leg with a new client order id
    (the journal's guard by id would not see it) and be planned a second time. A refused leg is
    decided: pushed again in a frame that would let it through, it is not traded either.
    Returns how many legs were claimed."""
    claimed = 0
    refused = EntryFilter(statuses=(Status.LEG_REJECTED,), since=since, newest_first=False)
    for entry in journal.iter_entries(refused):
        if entry.leg is None:
            continue  # a leg that never parsed has no identity to claim
        try:
            ident = parse_leg_key(entry.leg)
        except ValueError:
            continue  # not ours to repair: the journal is input too
        listener.claim_legs((ident,))
        claimed += 1
    where = EntryFilter(statuses=(Status.SIGNAL,), since=since, newest_first=False)
    for entry in journal.iter_entries(where):
        if entry.data.get("source") != str(SignalSource.BACKFILL):
            continue
        if entry.algo_id is None:
            continue
        for data in (*entry.data.get("close_legs", ()), *entry.data.get("open_legs", ())):
            leg = leg_from_data(entry.algo_id, LegKind.OPEN, data)  # either kind: both claimed
            listener.claim_legs(identities(leg))
            claimed += 1
    return claimed


def last_frame(journal: Journal, algo_id: int) -> datetime | None:
    """Since when ``algo_id`` may have missed signals at start-up: its last journaled frame,
    else the previous run's start, else None (a first run has missed nothing of its own)."""
    frames = journal.entries(EntryFilter(algo_ids=(algo_id,), statuses=(Status.SIGNAL,), limit=1))
    if frames:
        return frames[0].at
    starts = journal.entries(EntryFilter(statuses=(Status.START,), limit=2))
    return starts[1].at if len(starts) > 1 else None


#: an algorithm's positions (symbol -> signed quantity)
Holdings = Callable[[int], Mapping[str, Decimal]]
#: journals a recovered signal with the plan of what is not traded
Record = Callable[[Signal, Plan], object]


class RecoveredSignals:
    """The bot's ``deliver`` for a :class:`~.backfill.Backfiller`."""

    def __init__(
        self,
        journal: Journal,
        book: PositionBook,
        listener: Listener,
        mode: BackfillMode,
        *,
        say: Callable[[str], None],
        now: Callable[[], datetime],
        notify: Callable[[BotEvent], None] = lambda event: None,
        holdings: Holdings | None = None,
        record: Record | None = None,
    ) -> None:
        """``holdings``: an algorithm's positions, which tell a history leg's kind (None:
        ``book``'s); ``record``: journals a recovered signal with the plan of its legs not
        traded (None: ``journal.record_signal_and_plan``; with several accounts, a plan for
        each account the signal goes to, so none of them finds it unplanned later)."""
        self._notify = notify
        self._holdings = holdings or book.holdings
        self._record = record or journal.record_signal_and_plan
        self._journal = journal
        self._book = book
        self._listener = listener
        self._mode = mode
        self._say = say
        self._now = now

    async def __call__(self, found: Found) -> None:
        algo_id = found.window.algo_id
        holdings = self._holdings(algo_id)
        result = classify(algo_id, found.missed, holdings, received_at=self._now())
        queued = ambiguous = refused = 0
        to_journal: list[tuple[Signal, Plan]] = []
        # Synchronous up to the first await (see Backfiller.backfill): claim, then queue.
        for recovered in result.recovered:
            signal, skipped = recovered.signal, list(recovered.ambiguous)
            ambiguous += len(skipped)
            refused += len(signal.rejected)
            # An ambiguous leg is not claimed: if AlphaHub pushes it again, live, its kind is
            # known and it is planned like any live leg. A refused one is decided: claimed.
            for leg in signal.legs:
                self._listener.claim_legs(identities(leg))
            for rejected in signal.rejected:
                if rejected.leg_id is not None:
                    self._listener.claim_legs(identities(rejected.leg_id))
            if self._mode is BackfillMode.JOURNAL:
                skipped += [_journal_only(leg) for leg in signal.legs]
            elif signal.legs:
                self._listener.queue.put_nowait(signal)  # planned, its refusals too
                queued += len(signal.legs)
                # the rest, journaled here: not traded
                signal = replace(signal, close_legs=(), open_legs=(), rejected=())
            skipped = [rejected_skip(r) for r in signal.rejected] + skipped
            if skipped:
                to_journal.append((signal, Plan(skipped=tuple(skipped))))
        for signal, plan in to_journal:
            await asyncio.to_thread(self._record, signal, plan)
        detail = _summary(found, queued, ambiguous, refused, self._mode)
        await asyncio.to_thread(self._journal.record_gap, detail, algo_id=algo_id)
        if found.missed or found.holds:
            self._say(detail)
        journaled = tuple(skip for _, plan in to_journal for skip in plan.skipped)
        if queued or journaled:
            self._notify(BackfillDelivered(algo_id, queued, journaled))


def _journal_only(leg: Leg) -> SkippedLeg:
    detail = "recovered from the signal history; alphahub.backfill is journal: not traded"
    return SkippedLeg(leg.id, SkipReason.BACKFILL_JOURNAL, detail, leg=leg)


def _summary(found: Found, queued: int, ambiguous: int, refused: int, mode: BackfillMode) -> str:
    w, missed = found.window, len(found.missed)
    parts = [
        f"backfill for algorithm {w.algo_id} ({w.describe()}): {found.in_window} history "
        f"leg(s) in the window, {missed} missed",
    ]
    if mode is BackfillMode.TRADE:
        parts.append(f"{queued} sent to the planner")
    else:
        parts.append(f"{missed - ambiguous - refused} journaled only (alphahub.backfill: journal)")
    if ambiguous:
        parts.append(f"{ambiguous} ambiguous, not traded")
    if refused:
        parts.append(
            f"{refused} rejected by their signal's rules (contradictory legs or weights over 1),"
            " not traded"
        )
    if found.holds:
        held = ", ".join(f"{h.symbol} at {h.timestamp.isoformat()}" for h in found.holds)
        parts.append(f"{len(found.holds)} hold (nothing to send: {held})")
    if found.bad:
        parts.append(f"{len(found.bad)} unreadable ({'; '.join(found.bad)[:300]})")
    return ", ".join(parts)
