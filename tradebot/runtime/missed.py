"""What a missed history leg was: a close, an open, or too ambiguous to trade. Pure, no I/O.

AlphaHub's history is flat (docs/alphahub.md#signal-history): no leg says whether it opened or
closed a position. Legs with the same timestamp form one signal, judged by the rules of a live
signal (:func:`tradebot.core.signal.judge`), closes first. Oldest first, per signal:

1. **Contradictions.** Legs of one symbol that disagree (side, price or weight) are all refused
   as ``contradictory``, as the open legs of a live signal would be: the history cannot say
   which was an open and which a close, so every leg of the symbol is compared with every other.
   What the algorithm holds in that symbol afterwards is unknown, so its later missed legs are
   ambiguous.
2. **Kinds**, against the algorithm's own ledger as projected through the missed legs before:
   a leg on a symbol the algorithm does not hold is an **open** (its side is the direction, its
   ``weight`` kept); a leg whose side reduces what it holds is a **close**; anything else is
   **ambiguous** and never traded: a leg that would add to a held position (pyramiding is not
   something AlphaHub's signals do: more likely the ledger and AlphaHub disagree), or identical
   legs of one symbol at one time (a flip's close and open look alike there, and so does a
   repeat).
3. **Weights**: the opens' weights must not add up to more than 1, as live.

A ``hold`` leg is not a trade.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tradebot.alphahub.history import HistoryLeg
from tradebot.core.orders import SkippedLeg, SkipReason
from tradebot.core.signal import (
    Candidate,
    Leg,
    LegKind,
    Refusal,
    RejectedLeg,
    Side,
    Signal,
    SignalSource,
    contradiction_reason,
    disagreements,
    judge,
    refused,
)

#: what the algorithm holds in a symbol after a signal that contradicted itself on it
UNKNOWN = 2


@dataclass(frozen=True, slots=True)
class Recovered:
    """The missed legs of one timestamp: a signal to plan, and the legs never to trade."""

    timestamp: datetime
    #: source BACKFILL; its ``rejected`` are the legs its group rules refused (journaled, never
    #: traded); it may have no legs when all were ambiguous or refused
    signal: Signal
    ambiguous: tuple[SkippedLeg, ...] = ()


@dataclass(frozen=True, slots=True)
class Classified:
    recovered: tuple[Recovered, ...] = ()
    holds: tuple[HistoryLeg, ...] = field(default=())


def classify(
    algo_id: int,
    missed: Sequence[HistoryLeg],
    holdings: Mapping[str, Decimal],
    *,
    received_at: datetime,
) -> Classified:
    """Classify ``missed`` (legs of ``algo_id`` the journal lacks) against ``holdings`` (the
    algorithm's ledger, symbol -> signed quantity)."""
    position = {s: _sign(q) for s, q in holdings.items() if q != 0}
    holds = tuple(leg for leg in missed if leg.side is None)
    by_time: dict[datetime, list[HistoryLeg]] = {}
    for item in sorted((x for x in missed if x.side is not None), key=lambda x: x.timestamp):
        by_time.setdefault(item.timestamp, []).append(item)
    out: list[Recovered] = []
    for stamp, group in by_time.items():
        kinded = [(item, _as_leg(item, position)) for item in group]
        contradicted = disagreements(leg for _, leg in kinded)
        per_symbol = Counter(leg.symbol for _, leg in kinded)
        closes: list[Candidate] = []
        opens: list[Candidate] = []
        ambiguous: list[SkippedLeg] = []
        rejected: list[RejectedLeg] = []
        for item, leg in kinded:
            held = position.get(leg.symbol, 0)
            candidate = Candidate(leg, None, item.raw)
            if leg.symbol in contradicted:
                reason = contradiction_reason(leg.symbol, contradicted[leg.symbol])
                rejected.append(refused(candidate, reason, Refusal.CONTRADICTORY))
            elif held == UNKNOWN:
                why = f"an earlier signal of the history contradicted itself on {leg.symbol}"
                ambiguous.append(_ambiguous(leg, why, held))
            elif per_symbol[leg.symbol] > 1:
                why = f"{per_symbol[leg.symbol]} legs for {leg.symbol} at the same time"
                ambiguous.append(_ambiguous(leg, why, held))
            elif held == 0:
                opens.append(candidate)
            elif leg.kind is LegKind.CLOSE:
                closes.append(candidate)
            else:
                ambiguous.append(_ambiguous(leg, f"it would add to the {leg.symbol} held", held))
        # the projection: what AlphaHub's algorithm holds after this signal (it opened what our
        # weights rule refuses: the rule is ours, not the algorithm's)
        for candidate in closes:
            position.pop(candidate.leg.symbol, None)
        for candidate in opens:
            position[candidate.leg.symbol] = candidate.leg.side.sign
        for symbol in contradicted:
            position[symbol] = UNKNOWN
        kept_closes, kept_opens = judge(algo_id, closes, opens, rejected)
        raw = json.dumps([json.loads(x.raw) if _is_json(x.raw) else x.raw for x in group])
        signal = Signal(
            algo_id,
            received_at,
            kept_closes,
            kept_opens,
            rejected=tuple(rejected),
            raw=raw,
            source=SignalSource.BACKFILL,
        )
        out.append(Recovered(stamp, signal, tuple(ambiguous)))
    return Classified(tuple(out), holds)


def _as_leg(item: HistoryLeg, position: Mapping[str, int]) -> Leg:
    """``item`` as a leg of the kind the ledger suggests: a close when it reduces the holding,
    else an open (with its weight, which a close ignores)."""
    assert item.side is not None and item.price is not None
    held = position.get(item.symbol, 0)
    if held not in (0, UNKNOWN) and held != item.side.sign:
        return Leg(item.algo_id, LegKind.CLOSE, item.symbol, item.side, item.price, item.timestamp)
    return Leg(
        item.algo_id,
        LegKind.OPEN,
        item.symbol,
        item.side,
        item.price,
        item.timestamp,
        item.weight,
    )


def _ambiguous(leg: Leg, why: str, held: int) -> SkippedLeg:
    holding = {1: "long", -1: "short", UNKNOWN: "an unknown position"}.get(held, "nothing")
    detail = (
        f"history leg {leg.side} {leg.symbol} is neither clearly an open nor a close ({why}; "
        f"algorithm {leg.algo_id} holds {holding} in {leg.symbol}); not traded"
    )
    return SkippedLeg(leg.id, SkipReason.BACKFILL_AMBIGUOUS, detail, leg=leg)


def _sign(qty: Decimal) -> int:
    return Side.BUY.sign if qty > 0 else Side.SELL.sign


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
