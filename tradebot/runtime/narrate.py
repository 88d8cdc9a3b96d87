"""One short paragraph per signal on the bot's output: what was sent, what came back, and why
any leg was skipped. The journal has the full story (``tradebot explain``); this is the live view.
"""

from __future__ import annotations

from decimal import Decimal

from tradebot.core.market import PriceSource
from tradebot.core.orders import SkippedLeg
from tradebot.execution.executor import ExecutionResult, OrderOutcome


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _outcome(outcome: OrderOutcome) -> str:
    intent, snapshot = outcome.intent, outcome.snapshot
    head = f"{intent.side} {_qty(intent.qty)} {intent.symbol} {intent.order_type}"
    if intent.price_source is PriceSource.SIGNAL:  # no reference price: say it was not checked
        head += f" (sized at the signal's {intent.reference_price})"
    if snapshot is None:
        return f"{head}: {outcome.error or 'not sent'}"
    result = str(snapshot.status)
    if snapshot.filled_qty and snapshot.filled_avg_price is not None:
        result += f" {_qty(snapshot.filled_qty)} @ {snapshot.filled_avg_price}"
    return f"{head}: {result}  [{intent.client_order_id}]"


def _skip(skipped: SkippedLeg) -> str:
    if skipped.leg is not None:
        what = f"{skipped.leg.kind} {skipped.leg.side} {skipped.leg.symbol}"
    elif skipped.leg_id is not None:
        what = f"{skipped.leg_id.kind} {skipped.leg_id.side} {skipped.leg_id.symbol}"
    elif skipped.held is not None:
        what = f"{skipped.held.kind} hold {skipped.held.symbol}"
    elif skipped.rejected is not None and skipped.rejected.kind is not None:
        where = "" if skipped.rejected.index is None else f"[{skipped.rejected.index}]"
        what = f"rejected {skipped.rejected.kind}{where}"
    else:
        what = "unparsable leg"
    return f"{what}: {skipped.reason} ({skipped.detail})"


def narrate(algo_id: int, legs: int, result: ExecutionResult) -> str:
    """E.g. ``signal 7 from algorithm 16, 3 legs -> 2 orders, 1 skipped`` and one line each."""
    plan = result.plan
    ref = f"signal {result.signal_id}" if result.signal_id is not None else "signal"
    lines = [
        f"{ref} from algorithm {algo_id}, {legs} leg(s) -> {len(plan.intents)} order(s), "
        f"{len(plan.skipped)} skipped"
    ]
    lines += [f"  order   {_outcome(o)}" for o in result.outcomes]
    unsent = {o.intent.client_order_id for o in result.outcomes}
    lines += [
        f"  held    {i.side} {_qty(i.qty)} {i.symbol}: already journaled, not sent again"
        for i in plan.intents
        if i.client_order_id not in unsent
    ]
    lines += [f"  skipped {_skip(s)}" for s in plan.skipped]
    return "\n".join(lines)
