"""Send a leg again, on purpose, after its order ended without (fully) filling.

An order that was rejected, canceled, expired, or recorded as failed leaves its legs untraded, and
re-planning the same legs gives the same client order id, which the journal refuses as a
duplicate: tradebot never re-sends on its own. A person may decide to (the buying power is back,
the market is open again). Then:

* the new order gets ``<original id>-a<n>`` (:func:`~tradebot.core.ids.resend_id`), n one past
  the highest attempt on record for it: deterministic, so a crash during the re-send and a second
  ``tradebot resend`` still make one order;
* it asks for what the original did not fill, with the same legs, type and prices;
* its intent is journaled (durable) before it is sent, with a note naming the original and how
  it ended, so ``tradebot explain`` shows both;
* a re-send is refused while an earlier re-send of the same order is still live or filled;
* it is the original's account's order (its id keeps the account's prefix,
  :func:`~tradebot.core.ids.account_of`): its rows name that account, and it is sized against
  that account's positions; the caller sends it through that account's broker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from decimal import Decimal

from tradebot.broker.base import Broker
from tradebot.core.ids import account_of, attempt_of, resend_id
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import IntentRole, OrderIntent, Plan
from tradebot.exceptions import ResendRefused
from tradebot.execution.executor import Executor, OrderOutcome
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import FILL_STATUSES, FINAL_STATUSES, Status, intent_from_entry

#: outcomes after which a person may send the leg again
RESENDABLE = frozenset({Status.REJECTED, Status.CANCELED, Status.EXPIRED, Status.FAILED})


@dataclass(frozen=True, slots=True)
class Resend:
    original: OrderIntent
    outcome: str  # how the original ended, with the reason on record
    intent: OrderIntent  # the new order


def _base(client_order_id: str) -> str:
    return client_order_id.rsplit("-a", 1)[0] if attempt_of(client_order_id) else client_order_id


def plan_resend(journal: Journal, client_order_id: str) -> Resend:
    """The re-send of ``client_order_id``, or :class:`ResendRefused` saying why not."""
    rows = journal.entries(EntryFilter(client_order_ids=(client_order_id,), newest_first=False))
    intents = [r for r in rows if r.status is Status.INTENT]
    if not intents:
        raise ResendRefused(f"no order {client_order_id} in the journal")
    original = intent_from_entry(intents[0])
    if original.role is IntentRole.EXIT:
        # an exit is sized from what the ledger held when it was placed; sent again by hand it
        # could sell shares no longer held (the bot places exits itself, after each fill)
        raise ResendRefused(f"{client_order_id} is an exit: exits are not sent again by hand")
    finals = [r for r in rows if r.status in FINAL_STATUSES]
    if not finals:
        raise ResendRefused(
            f"{client_order_id} has no final outcome yet; it may still fill (see `tradebot "
            "explain`, or start the bot so recovery settles it)"
        )
    final = finals[-1]
    if final.status not in RESENDABLE:
        raise ResendRefused(f"{client_order_id} ended {final.status}: nothing to send again")
    filled = sum(
        (r.qty for r in rows if r.status in FILL_STATUSES and r.qty is not None), Decimal(0)
    )
    remaining = original.qty - filled
    if remaining <= 0:
        raise ResendRefused(f"{client_order_id} filled in full before it ended")
    # every earlier attempt of the same order: refuse if one is live or filled
    base = _base(client_order_id)
    same_order = [
        r
        for r in journal.entries(EntryFilter(legs=(original.leg_ids[0].key,), newest_first=False))
        if r.status is Status.INTENT and r.client_order_id and _base(r.client_order_id) == base
    ]
    attempts = [attempt_of(r.client_order_id or "") for r in same_order]
    later = [
        r.client_order_id
        for r in same_order
        if r.client_order_id
        and attempt_of(r.client_order_id) > attempt_of(client_order_id)
        and _outcome(journal, r.client_order_id) not in RESENDABLE
    ]
    if later:
        raise ResendRefused(f"{client_order_id} was already sent again as {later[-1]}")
    attempt = max(attempts) + 1
    outcome = f"{final.status}: {final.detail}" if final.detail else str(final.status)
    note = f"re-send of {client_order_id} (ended {outcome}), attempt {attempt}"
    intent = replace(
        original,
        client_order_id=resend_id(client_order_id, attempt),
        qty=remaining,
        attempt=attempt,
        notes=(*original.notes, note),
        # a bracket's legs would come back under ids no intent names: the re-sent entry is
        # plain, and its exits go after its fill (execution/exit_manager.py)
        attached=None,
    )
    return Resend(original, outcome, intent)


def _outcome(journal: Journal, client_order_id: str) -> Status | None:
    rows = journal.entries(EntryFilter(client_order_ids=(client_order_id,), newest_first=False))
    finals = [r.status for r in rows if r.status in FINAL_STATUSES]
    return finals[-1] if finals else None


async def resend(
    journal: Journal, broker: Broker, client_order_id: str, *, wait: float = 10.0
) -> tuple[Resend, OrderOutcome, OrderSnapshot | None]:
    """Journal and send the re-send; then follow the order for up to ``wait`` seconds.
    ``broker``: the broker of the original's account (:func:`account_of`).

    Returns the re-send, the submission's outcome, and the last snapshot seen (None when it was
    not sent). What is still open when ``wait`` runs out is settled by the next start's recovery.
    """
    planned = await asyncio.to_thread(plan_resend, journal, client_order_id)
    signal_id = journal.entries(
        EntryFilter(client_order_ids=(client_order_id,), statuses=(Status.INTENT,))
    )[0].signal_id
    account = account_of(client_order_id)
    book = journal.rebuild_book(account=account)
    executor = Executor(journal, broker, book, account=account)
    result = await executor.execute(Plan(intents=(planned.intent,)), signal_id=signal_id)
    (outcome,) = result.outcomes or (OrderOutcome(planned.intent, None, "not sent"),)
    snapshot = outcome.snapshot
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    cid = planned.intent.client_order_id
    while snapshot is not None and not snapshot.status.is_final and loop.time() < deadline:
        await asyncio.sleep(0.2)
        found = await broker.get_order(cid)
        if found is not None:
            snapshot = found
    if snapshot is not None:
        await executor.record_snapshot(snapshot, "lookup")
    return planned, outcome, snapshot
