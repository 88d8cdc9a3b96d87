"""Whether the algorithm spoke about a symbol again after an order: the guard the chaser and the
exit manager share before they act on an old order's behalf.

A later leg of the same algorithm and symbol (a close, say) decided about the position since
the order was journaled: the rest of an old open (a chase's market remainder) or its exits
would undo what the newer signal planned. Read under the signal lock, so no plan is
half-written.
"""

from __future__ import annotations

from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status


def later_leg(journal: Journal, algo_id: int, symbol: str, after_id: int) -> str | None:
    """The key of a leg of ``algo_id`` on ``symbol`` journaled after row ``after_id``, if any."""
    later = journal.entries(
        EntryFilter(
            algo_ids=(algo_id,),
            symbols=(symbol,),
            statuses=(Status.LEG,),
            after_id=after_id,
            limit=1,
        )
    )
    return later[0].leg if later else None
