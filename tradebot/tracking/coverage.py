"""The coverage audit: per algorithm and day, did the journal get every leg AlphaHub sent? Pure.

A leg is known by its identity without open/close, ``(algo, symbol, side, time)``
(:attr:`~tradebot.alphahub.history.HistoryLeg.identity`): the history does not carry the kind.
Each trade leg of the history (a ``hold`` is not a trade and is not counted) is, by what the
journal decided about it (:class:`JournalLeg`):

* ``live``: received on the websocket (its signal's ``source`` is ``live``);
* ``backfill``: recovered from the history after a lapse, in time to be planned (traded, or
  skipped for a reason of its own: that is the skips' business, not coverage's);
* ``late``: recovered from the history, but too old to trade (skipped ``missed_stale``);
* ``archived``: decided, but its rows were moved to an archive file (``tradebot journal
  archive``): the journal keeps the leg's identity (its tombstone), not what became of it, so it
  counts as received and is shown apart;
* ``missed``: the journal has no decision on it at all.

The ratio of a day is ``(live + backfill + archived) / history``; a day with no history legs is
covered. A day below 100% names its ``late`` and ``missed`` legs. A journaled leg the history
does not list (``extra``) is counted on its own and never raises the ratio.

When an algorithm's history could not be read (no access, offline, the endpoint odd), its days
come from the journal alone: ``history``, ``missed`` and the ratio are None, and the reason is
kept (:attr:`AlgoCoverage.unavailable`) for every surface to say.

Days are UTC dates of the legs' own timestamps (a US session falls inside one UTC date).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the client (requests, websockets) loads only when a history is read
    from tradebot.alphahub.history import HistoryLeg

#: ``(algo, symbol, side, time)``: a leg without its kind, as the history knows it
Identity = tuple[int, str, str, datetime]


class Fate(StrEnum):
    """What became of one history leg, as the journal tells it."""

    LIVE = "live"
    BACKFILL = "backfill"
    LATE = "late"  # recovered from the history too old to trade: skipped missed_stale
    ARCHIVED = "archived"  # decided, its rows moved to an archive file (only its tombstone left)
    MISSED = "missed"  # the journal has no decision on it


@dataclass(frozen=True, slots=True)
class JournalLeg:
    """One leg the journal holds a decision on, reduced to what coverage needs."""

    identity: Identity
    fate: Fate  # LIVE, BACKFILL or LATE: the journal never holds a MISSED leg


@dataclass(frozen=True, slots=True)
class NamedLeg:
    """A leg a day below 100% names: ``16 sell VRTX 2021-04-26T14:30:00+00:00 (missed)``."""

    identity: Identity
    fate: Fate

    def __str__(self) -> str:
        algo, symbol, side, at = self.identity
        return f"{algo} {side} {symbol} {at.isoformat()} ({self.fate})"


@dataclass(frozen=True, slots=True)
class DayCoverage:
    algo_id: int
    day: date
    live: int = 0
    backfill: int = 0
    late: int = 0
    archived: int = 0
    #: None: the history was not read (journal only)
    history: int | None = None
    missed: int | None = None
    #: journaled legs the history does not list (0 when it was not read)
    extra: int = 0
    #: the late and missed legs, oldest first
    named: tuple[NamedLeg, ...] = ()

    @property
    def ratio(self) -> Decimal | None:
        """``(live + backfill) / history``; 1 with no history legs; None without the history."""
        if self.history is None:
            return None
        if self.history == 0:
            return Decimal(1)
        return Decimal(self.history - self.late - (self.missed or 0)) / Decimal(self.history)


@dataclass(frozen=True, slots=True)
class AlgoCoverage:
    algo_id: int
    days: tuple[DayCoverage, ...]
    #: why the history was not read (None: it was): the days are the journal's side only
    unavailable: str | None = None

    @property
    def ratio(self) -> Decimal | None:
        """The period's ratio: every day's legs together (None without the history)."""
        if self.unavailable is not None:
            return None
        history = sum(d.history or 0 for d in self.days)
        if history == 0:
            return Decimal(1)
        lost = sum((d.missed or 0) + d.late for d in self.days)
        return Decimal(history - lost) / Decimal(history)

    @property
    def named(self) -> tuple[NamedLeg, ...]:
        return tuple(leg for d in self.days for leg in d.named)


@dataclass(frozen=True, slots=True)
class Coverage:
    since: datetime
    until: datetime
    algorithms: tuple[AlgoCoverage, ...] = field(default=())


def audit(
    algorithms: Sequence[int],
    journal: Iterable[JournalLeg],
    history: Mapping[int, Sequence[HistoryLeg]],
    unavailable: Mapping[int, str],
    *,
    since: datetime,
    until: datetime,
) -> Coverage:
    """Coverage of ``algorithms`` for legs timed in ``since``..``until`` (end excluded).

    ``history`` holds the legs read per algorithm; an algorithm in ``unavailable`` (with the
    reason) is audited from the journal alone. Legs outside the period are ignored."""
    fates: dict[Identity, Fate] = {}
    for leg in journal:
        if since <= leg.identity[3] < until:
            # a leg with several rows counts once: live if any row says so, else late if it was
            # skipped missed_stale (its signal's leg row says backfill too), else backfill
            fates[leg.identity] = min(fates.get(leg.identity, leg.fate), leg.fate, key=_rank)
    out: list[AlgoCoverage] = []
    for algo_id in sorted(set(algorithms)):
        mine = {i: f for i, f in fates.items() if i[0] == algo_id}
        if algo_id in unavailable:
            days = _journal_only(algo_id, mine)
            out.append(AlgoCoverage(algo_id, days, unavailable[algo_id]))
            continue
        legs = {
            leg.identity: leg
            for leg in history.get(algo_id, ())
            if leg.side is not None and leg.algo_id == algo_id and since <= leg.timestamp < until
        }
        out.append(AlgoCoverage(algo_id, _against_history(algo_id, legs, mine)))
    return Coverage(since, until, tuple(out))


def _rank(fate: Fate) -> int:
    return (Fate.LIVE, Fate.LATE, Fate.BACKFILL, Fate.ARCHIVED, Fate.MISSED).index(fate)


def _day(identity: Identity) -> date:
    return identity[3].date()  # identities are UTC (the parser's and the journal's)


def _journal_only(algo_id: int, fates: Mapping[Identity, Fate]) -> tuple[DayCoverage, ...]:
    days: dict[date, dict[Fate, int]] = {}
    for identity, fate in fates.items():
        counts = days.setdefault(_day(identity), {})
        counts[fate] = counts.get(fate, 0) + 1
    return tuple(
        DayCoverage(
            algo_id,
            day,
            live=c.get(Fate.LIVE, 0),
            backfill=c.get(Fate.BACKFILL, 0),
            late=c.get(Fate.LATE, 0),
            archived=c.get(Fate.ARCHIVED, 0),
        )
        for day, c in sorted(days.items())
    )


def _against_history(
    algo_id: int, history: Mapping[Identity, HistoryLeg], fates: Mapping[Identity, Fate]
) -> tuple[DayCoverage, ...]:
    per_day: dict[date, list[tuple[Identity, Fate]]] = {}
    for identity in history:
        per_day.setdefault(_day(identity), []).append((identity, fates.get(identity, Fate.MISSED)))
    extra: dict[date, int] = {}
    for identity in fates:
        if identity not in history:
            extra[_day(identity)] = extra.get(_day(identity), 0) + 1
    out: list[DayCoverage] = []
    for day in sorted(set(per_day) | set(extra)):
        legs = sorted(per_day.get(day, []), key=lambda x: (x[0][3], x[0][1], x[0][2]))
        count = {f: sum(1 for _, g in legs if g is f) for f in Fate}
        named = tuple(NamedLeg(i, f) for i, f in legs if f in (Fate.LATE, Fate.MISSED))
        out.append(
            DayCoverage(
                algo_id,
                day,
                live=count[Fate.LIVE],
                backfill=count[Fate.BACKFILL],
                late=count[Fate.LATE],
                archived=count[Fate.ARCHIVED],
                history=len(legs),
                missed=count[Fate.MISSED],
                extra=extra.get(day, 0),
                named=named,
            )
        )
    return tuple(out)


def ratio_text(ratio: Decimal | None) -> str:
    """``100%``, ``66.67%``; ``unknown`` without the history."""
    if ratio is None:
        return "unknown"
    return f"{(ratio * 100).quantize(Decimal('0.01')).normalize():f}%"


def summary_line(coverage: Coverage, *, most: int = 5) -> str:
    """One line for the daily summary: each algorithm's ratio, the legs it lacks (at most
    ``most`` named, the rest counted), or why its history was not read."""
    parts: list[str] = []
    for algo in coverage.algorithms:
        if algo.unavailable is not None:
            got = sum(d.live + d.backfill + d.late for d in algo.days)
            parts.append(
                f"algorithm {algo.algo_id} history {algo.unavailable}; journal {got} leg(s)"
            )
            continue
        text = f"algorithm {algo.algo_id} {ratio_text(algo.ratio)}"
        named = algo.named
        if named:
            shown = "; ".join(str(n) for n in named[:most])
            more = f"; {len(named) - most} more" if len(named) > most else ""
            text += f" (lacking {shown}{more})"
        parts.append(text)
    return "history coverage: " + (", ".join(parts) or "no algorithm")
