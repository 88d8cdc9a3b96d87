"""The legs AlphaHub sent that the journal never received, as legs of the algorithm's result.

``tradebot track``'s algorithm result is every leg AlphaHub sent in the period: the journal's,
plus the history's legs the journal holds no decision on (not received live, not backfilled, not
archived). Which those are is the coverage audit's matching, in one place
(:func:`~tradebot.tracking.coverage_sources.audit_read`: its ``missed`` legs); the history is
read by the coverage's reader (:func:`~tradebot.tracking.coverage_sources.read_history`) or from
a saved history FILE (:mod:`tradebot.replay.history_file`, what ``tradebot replay
--save-history`` writes).

Each algorithm's history is compared from its first leg in the journal (the journal's own side
starts there: before it, the bot did not follow the algorithm, or an archive holds the rows)
until the period's end.

The history is flat: no leg says open or close. Legs never received are classified as a
backfill classifies what it recovers (:func:`tradebot.runtime.missed.classify`), against the
algorithm's position as its legs project it, the journal's and the history's, oldest first by
their signals' times. A leg it cannot call (ambiguous), or that a rule of its signal refuses
(contradictory legs, weights past 1), is left out and counted, as the journal leaves such legs
out of the algorithm's result. The others become :class:`~tradebot.tracking.facts.LegFact` of
fate ``missed`` at their signal's price and time: the chain's first ledger trades them, its
``missed`` step removes them, so the ``missed`` part values them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from tradebot.config.alphahub_section import AlphaHubConfig
from tradebot.core.signal import LegKind, Refusal, parse_leg_key
from tradebot.journal.interface import Journal
from tradebot.journal.records import to_micros
from tradebot.tracking.coverage import Fate as CoverageFate
from tradebot.tracking.coverage_sources import HistoryRead, audit_read, read_history
from tradebot.tracking.facts import Fate, LegFact, Period

if TYPE_CHECKING:  # the replay package imports the runtime's, which imports this one
    from tradebot.alphahub.history import HistoryLeg
    from tradebot.replay.history_file import History

#: (algorithms, from when) -> their history, or why it could not be read
HistoryReader = Callable[[Sequence[int], datetime], HistoryRead]
#: why an algorithm's history is not compared when the journal holds no leg of it
NO_START = "not read: the journal holds no leg of it to start from"
#: the reason a leg never received carries in its LegFact
NEVER_RECEIVED = "never_received"


@dataclass(frozen=True, slots=True)
class HistorySide:
    """What AlphaHub's history adds to one algorithm's period."""

    reason: str | None = None  # why it was not read (None: it was)
    since: datetime | None = None  # compared from (the algorithm's first leg in the journal)
    legs: tuple[LegFact, ...] = ()  # never received, fate MISSED
    left_out: int = 0  # never received, neither clearly an open nor a close (or refused)
    unreadable: int = 0  # legs of the answer that could not be parsed

    @property
    def read(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class Unread:
    """A reader that reads nothing and says ``reason`` (``not read (--offline)``): nothing is
    compared, so :func:`never_received` does not even order the journal's legs for it."""

    reason: str

    def __call__(self, algorithms: Sequence[int], since: datetime) -> HistoryRead:
        return HistoryRead(unavailable=dict.fromkeys(algorithms, self.reason))


def unread(reason: str) -> HistoryReader:
    """:class:`Unread`: a reader that reads nothing and says ``reason``."""
    return Unread(reason)


def from_alphahub(settings: AlphaHubConfig) -> HistoryReader:
    """AlphaHub's history endpoint (one login, one read per algorithm; blocking)."""
    return lambda algorithms, since: read_history(settings, algorithms, since)


def from_file(history: History, name: str) -> HistoryReader:
    """A saved history FILE (``tradebot replay --save-history``); an algorithm it lacks is said."""

    def read(algorithms: Sequence[int], since: datetime) -> HistoryRead:
        out = HistoryRead()
        for algo_id in algorithms:
            if algo_id in history.legs:
                out.legs[algo_id] = list(history.legs[algo_id])
                out.bad[algo_id] = history.bad.get(algo_id, 0)
            else:
                out.unavailable[algo_id] = f"not read: {name} holds no history of it"
        return out

    return read


def never_received(
    journal: Journal,
    periods: Mapping[int, Period],
    reader: HistoryReader,
    *,
    until: datetime,
) -> dict[int, HistorySide]:
    """Each algorithm's legs AlphaHub sent before ``until`` (never later than now: a leg stamped
    in the future was not sent) that the journal never received, from its first leg in the
    journal; or why its history was not compared."""
    if isinstance(reader, Unread):
        # nothing to compare: an algorithm with a leg to start from is told the reader's
        # reason (as the audit of an unread history says it), without ordering its legs
        return {
            a: HistorySide(reader.reason if _has_start(p) else NO_START) for a, p in periods.items()
        }
    received = {a: _received(p) for a, p in periods.items()}
    starts = {a: legs[0][0] if legs else None for a, legs in received.items()}
    out = {a: HistorySide(NO_START) for a in starts}
    wanted = sorted(a for a, s in starts.items() if s is not None)
    if not wanted:
        return out
    since = min(s for s in starts.values() if s is not None)
    read = reader(wanted, since)
    coverage = audit_read(journal, read, wanted, since, until)
    for algo in coverage.algorithms:
        algo_id, start = algo.algo_id, starts[algo.algo_id]
        if algo.unavailable is not None:
            out[algo_id] = HistorySide(algo.unavailable)
            continue
        history = {leg.identity: leg for leg in read.legs.get(algo_id, ())}
        assert start is not None  # only algorithms with a start were read
        lacking = [
            history[n.identity]
            for n in algo.named
            if n.fate is CoverageFate.MISSED and n.identity[3] >= start
        ]
        legs, left_out = _as_legs(algo_id, received[algo_id], lacking)
        out[algo_id] = HistorySide(None, start, legs, left_out, read.bad.get(algo_id, 0))
    return out


def _has_start(period: Period) -> bool:
    """Whether :func:`_received` would hold a leg (one whose key is a leg's)."""
    return next(_keyed(period), None) is not None


def _received(period: Period) -> list[tuple[datetime, LegFact]]:
    """The journal's legs with their signals' times, oldest signal first."""
    return sorted(_keyed(period), key=lambda x: (x[0], x[1].seq))


def _keyed(period: Period) -> Iterator[tuple[datetime, LegFact]]:
    """The journal's legs whose key is a leg's, with their signals' times, as listed."""
    for leg in period.legs:
        try:
            stamp = parse_leg_key(leg.key).timestamp
        except ValueError:
            continue  # not a leg's key: the journal is input too
        yield stamp, leg


def as_legs(period: Period, lacking: Sequence[HistoryLeg]) -> tuple[tuple[LegFact, ...], int]:
    """The legs never received, classified against the algorithm's position (module docstring),
    as LegFacts of fate MISSED; and how many were left out. Pure."""
    return _as_legs(period.algo_id, _received(period), lacking)


def _as_legs(
    algo_id: int, received: Sequence[tuple[datetime, LegFact]], lacking: Sequence[HistoryLeg]
) -> tuple[tuple[LegFact, ...], int]:
    if not lacking:
        return (), 0
    # lazily: the runtime package imports the tracking package (the coverage gauge)
    from tradebot.runtime.missed import classify

    groups: dict[datetime, list[HistoryLeg]] = {}
    for item in sorted(lacking, key=lambda x: x.timestamp):
        if item.side is not None and item.price is not None:
            groups.setdefault(item.timestamp, []).append(item)
    position: dict[str, Decimal] = {}  # symbol -> the side's sign (+1 long, -1 short)
    unknown: set[str] = set()  # contradicted in the history: what is held is not known
    at, seq, i = 0, 0, 0
    out: list[LegFact] = []
    left_out = 0
    for stamp, group in groups.items():
        while i < len(received) and received[i][0] <= stamp:
            leg = received[i][1]
            _project(position, leg.symbol, leg.is_open, Decimal(1 if leg.buy else -1))
            unknown.discard(leg.symbol)
            if (leg.at, leg.seq) > (at, seq):
                at, seq = leg.at, leg.seq
            i += 1
        callable_ = [x for x in group if x.symbol not in unknown]
        left_out += len(group) - len(callable_)
        found = classify(algo_id, callable_, position, received_at=stamp)
        # after the journal's legs that came before it (a backfilled leg's row is written later
        # than its signal), so the chain replays them in the order the projection took
        when = max(to_micros(stamp), at)
        for recovered in found.recovered:
            signal = recovered.signal
            left_out += len(signal.rejected) + len(recovered.ambiguous)
            for kept in signal.legs:
                sign = Decimal(kept.side.sign)
                out.append(
                    LegFact(
                        kept.id.key,
                        when,
                        seq,
                        kept.symbol,
                        kept.kind is LegKind.OPEN,
                        sign > 0,
                        kept.price,
                        Fate.MISSED,
                        NEVER_RECEIVED,
                        weight=kept.weight,
                    )
                )
                _project(position, kept.symbol, kept.kind is LegKind.OPEN, sign)
            # the projection classify makes: a symbol its legs contradicted on is unknown from
            # then on (every contradiction it refuses is one, each symbol having one leg left);
            # an open our weights rule refuses, the algorithm opened all the same
            for refused in signal.rejected:
                ident = refused.leg_id
                if ident is None:
                    continue
                if refused.refusal is Refusal.CONTRADICTORY:
                    unknown.add(ident.symbol)
                else:
                    _project(position, ident.symbol, True, Decimal(ident.side.sign))
    return tuple(out), left_out


def _project(position: dict[str, Decimal], symbol: str, is_open: bool, sign: Decimal) -> None:
    """The algorithm's position after a leg: an open holds its side, a close holds nothing."""
    if is_open:
        position[symbol] = sign
    else:
        position.pop(symbol, None)
