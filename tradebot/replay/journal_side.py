"""What the journal did over a replay's period, in the replay's columns (:class:`Tally`).

Read only: the caller opens the journal with ``readonly=True`` and this module only reads it.
Orders are the journal's intents (a chased remainder: an intent whose id is
:func:`~tradebot.core.ids.remainder_id`'s of another), fills its fills (average cost, every
earlier fill counted for the cost of what was held when the period starts, as ``tradebot
report`` does), skips its skipped legs by their recorded reason.
"""

from __future__ import annotations

from datetime import datetime

from tradebot.core.ids import remainder_id
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.queries import fill_of
from tradebot.journal.records import Status, to_micros
from tradebot.replay.outcome import Tally

_FILLS = frozenset({"partial", "filled"})


def journal_tally(journal: Journal, since: datetime, until: datetime) -> Tally:
    """The journal's orders, fills and skips in ``[since, until)``."""
    tally = Tally()
    start = to_micros(since)
    for row in journal.order_history(since=since, until=until, all_fills=True):
        inside = row.ts >= start
        if not isinstance(row.algo_id, int):
            continue  # a damaged row: the review leaves it out too
        if row.status == "intent" and inside:
            tally.order(row.algo_id)
            if _remainder(row.client_order_id):
                tally.chased[row.algo_id] += 1
        elif row.status == "rejected" and inside:
            tally.rejected[row.algo_id] += 1
        elif row.status in _FILLS:
            fill = fill_of(row)
            if fill is None:
                continue
            signed = fill.qty if fill.side == "buy" else -fill.qty
            if inside:
                tally.fill(fill.algo_id, fill.symbol, signed, fill.price, fill.at)
            else:  # before the period: only the cost of what was held when it starts
                tally.positions[fill.algo_id, fill.symbol].fill(signed, fill.price)
    skipped = EntryFilter(statuses=(Status.SKIPPED,), since=since, until=until, newest_first=False)
    for entry in journal.iter_entries(skipped):
        if entry.algo_id is not None:
            tally.skip(entry.algo_id, str(entry.data.get("reason", "unknown")))
    return tally


def _remainder(client_order_id: object) -> bool:
    """A chased limit's market remainder: its id is the remainder id of its limit's."""
    cid = client_order_id
    return isinstance(cid, str) and len(cid) > 2 and cid == remainder_id(cid[:-2])
