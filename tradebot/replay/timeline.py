"""The history's legs as the signals the bot would have received, oldest first. Pure, no I/O.

AlphaHub's history is flat (no leg says open or close): each algorithm's legs are grouped by
timestamp and classified exactly as a backfill classifies missed legs
(:func:`tradebot.runtime.missed.classify`), against the algorithm's own position as the history
projects it. Each group becomes a :class:`~tradebot.core.signal.Signal` received at its
timestamp, as if pushed live then, with the ``hold`` legs of that time. Legs the
classification cannot call (``backfill_ambiguous``) are kept as skips of their own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from tradebot.core.orders import SkippedLeg
from tradebot.core.signal import HeldLeg, LegKind, Signal, SignalSource
from tradebot.replay.history_file import History, ReplayInputError
from tradebot.runtime.missed import classify


@dataclass(frozen=True, slots=True)
class Arrival:
    """One signal of the timeline and the legs of its timestamp too ambiguous to trade."""

    at: datetime
    signal: Signal
    ambiguous: tuple[SkippedLeg, ...] = ()


def timeline(
    history: History,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    known: Collection[int] | None = None,
) -> list[Arrival]:
    """Every signal of ``history`` with a leg in ``[since, until)``, oldest first (ties by
    algorithm id). ``known``: the algorithms the configs trade; a history algorithm not in it
    is refused (a replay of an algorithm nobody configured previews nothing). An empty period
    is refused too: there is nothing to compare."""
    if known is not None:
        unknown = sorted(set(history.legs) - set(known))
        if unknown:
            ids = ", ".join(str(a) for a in unknown)
            raise ReplayInputError(
                f"algorithm(s) {ids} in the history are not in the config: add them to"
                " algorithms: (or remove them from the history) to replay them"
            )
    out: list[Arrival] = []
    for algo_id in sorted(history.legs):
        legs = [
            leg
            for leg in history.legs[algo_id]
            if (since is None or leg.timestamp >= since)
            and (until is None or leg.timestamp < until)
        ]
        if not legs:
            continue
        found = classify(algo_id, legs, {}, received_at=legs[0].timestamp)
        # a hold leg ("keep the position") arrives with the signal of its time, or alone: live,
        # the planner lists it as skipped (hold), and so does the journal
        held: dict[datetime, list[HeldLeg]] = {}
        for hold in found.holds:
            leg = HeldLeg(algo_id, LegKind.OPEN, hold.symbol, None, hold.timestamp)
            held.setdefault(hold.timestamp, []).append(leg)
        for item in found.recovered:
            # received when AlphaHub stamped it: a live push, planned at once
            signal = replace(
                item.signal,
                received_at=item.timestamp,
                source=SignalSource.LIVE,
                held=tuple(held.pop(item.timestamp, ())),
            )
            out.append(Arrival(item.timestamp, signal, item.ambiguous))
        for stamp, holds in held.items():
            out.append(Arrival(stamp, Signal(algo_id, stamp, (), (), held=tuple(holds))))
    if not any(a.signal.legs or a.ambiguous or a.signal.rejected for a in out):
        window = f" between {since:%Y-%m-%d} and {until:%Y-%m-%d}" if since and until else ""
        raise ReplayInputError(f"the history holds no buy or sell leg{window}: nothing to replay")
    out.sort(key=lambda a: (a.at, a.signal.algo_id))
    return out
