"""What the journal says of the exits still live: which exclude each other, and how many shares
they hold. Shared by the exit manager (:mod:`.exits`) and the close's re-protection
(:mod:`.close_exits`)."""

from __future__ import annotations

from decimal import Decimal

from tradebot.core.ids import exit_id
from tradebot.core.orders import ExitKind, IntentRole, OrderIntent
from tradebot.core.signal import Side
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status

#: the ``exit`` row step of a cancel asked for by a close (runtime/close_cancel.py)
CANCEL_FOR_CLOSE = "cancel_for_close"

_ZERO = Decimal(0)


def exit_group(intent: OrderIntent) -> str:
    """The exits that exclude each other: a bracket's legs, an oco and its stop leg."""
    return intent.parent if intent.parent is not None else intent.client_order_id


def covered_by_live_exits(
    journal: Journal, symbol: str, side: Side, algo_id: int
) -> tuple[Decimal, Decimal]:
    """Shares live exits on ``side`` of ``symbol`` cover: the algorithm's, the account's (one
    per group: the exits of a group sell the same shares)."""
    groups: dict[str, tuple[int, Decimal]] = {}
    for stored in journal.unresolved_intents(symbols=(symbol,)):
        intent = stored.intent
        if intent.role is IntentRole.EXIT and intent.side == side:
            groups[exit_group(intent)] = (intent.algo_id, intent.qty)
    mine = sum((q for a, q in groups.values() if a == algo_id), _ZERO)
    return mine, sum((q for _, q in groups.values()), _ZERO)


#: an ``exit`` row's steps that settle an entry's exits without exit orders
SETTLED_WITHOUT = ("none", "superseded")


def exits_settled(journal: Journal, entry_id: str) -> bool:
    """Whether the exits derived from ``entry_id`` are on record, or a row says why there are
    none (a restart must not place them a second time)."""
    ids = tuple(exit_id(entry_id, kind) for kind in ExitKind)
    if journal.entries(EntryFilter(statuses=(Status.INTENT,), client_order_ids=ids, limit=1)):
        return True
    rows = journal.entries(EntryFilter(statuses=(Status.EXIT,), client_order_ids=(entry_id,)))
    return any((r.data or {}).get("step") in SETTLED_WITHOUT for r in rows)
