"""What a missed history leg was: a close, an open, or too ambiguous to trade. Pure, no I/O.

AlphaHub's history is flat (ALPHAHUB.md §7): no leg says whether it opened or closed a position.
Each missed leg is classified against the algorithm's own ledger, as projected through the
missed legs before it (oldest first):

* a leg on a symbol the algorithm does not hold is an **open** (its side is the direction);
* a leg whose side reduces what the algorithm holds in the symbol is a **close**;
* anything else is **ambiguous** and never traded: a leg that would add to a held position
  (pyramiding is not something AlphaHub's signals do: more likely the ledger and AlphaHub
  disagree), or two legs for one symbol at one timestamp.

Legs with the same timestamp form one signal, closes first, as live signals do. A ``hold`` leg
is not a trade.
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
from tradebot.core.signal import Leg, LegKind, Side, Signal, SignalSource


@dataclass(frozen=True, slots=True)
class Recovered:
    """The missed legs of one timestamp: a signal to plan, and the legs never to trade."""

    timestamp: datetime
    signal: Signal  # source BACKFILL; may have no legs when all were ambiguous
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
        per_symbol = Counter(leg.symbol for leg in group)
        closes: list[Leg] = []
        opens: list[Leg] = []
        ambiguous: list[SkippedLeg] = []
        for item in group:
            assert item.side is not None and item.price is not None
            held = position.get(item.symbol, 0)
            reduces = held != 0 and held != item.side.sign
            kind = LegKind.CLOSE if reduces else LegKind.OPEN
            leg = Leg(algo_id, kind, item.symbol, item.side, item.price, item.timestamp)
            if per_symbol[item.symbol] > 1:
                why = f"{per_symbol[item.symbol]} legs for {item.symbol} at the same time"
                ambiguous.append(_ambiguous(leg, why, held))
            elif held == 0:
                opens.append(leg)
            elif reduces:
                closes.append(leg)
            else:
                ambiguous.append(_ambiguous(leg, f"it would add to the {item.symbol} held", held))
        # the projection: what AlphaHub's algorithm holds after this signal
        for leg in closes:
            position.pop(leg.symbol, None)
        for leg in opens:
            position[leg.symbol] = leg.side.sign
        raw = json.dumps([json.loads(x.raw) if _is_json(x.raw) else x.raw for x in group])
        signal = Signal(
            algo_id,
            received_at,
            tuple(closes),
            tuple(opens),
            raw=raw,
            source=SignalSource.BACKFILL,
        )
        out.append(Recovered(stamp, signal, tuple(ambiguous)))
    return Classified(tuple(out), holds)


def _ambiguous(leg: Leg, why: str, held: int) -> SkippedLeg:
    holding = {1: "long", -1: "short"}.get(held, "nothing")
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
