"""When an entry's exits go out after its fill, and for how many shares. Pure, no I/O.

The exit manager (:mod:`.exits`) reads the journal and the broker and carries out what these
functions answer; keeping the rules here lets them be checked on their own, and over every
interleaving.

* :func:`entry_outcome`: whether an entry (for a chased ``limit_then_market`` limit: the limit
  and its market remainder together) is over, and what it filled, from its journal rows.
* :func:`exit_cover`: the shares its exits may cover: the whole-share part of what it filled,
  never more than the algorithm's ledger holds nor what the account holds in that direction,
  less what live exits already cover there (no exit may ever sell what is not held: no order
  crosses zero).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tradebot.core.quantity import round_quantity
from tradebot.execution.chase import ENDED_WITHOUT_REMAINDER
from tradebot.journal.records import FILL_STATUSES, FINAL_STATUSES, Entry, Status

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    """What an entry came to, so far. ``over``: no more of it can fill."""

    over: bool
    filled: Decimal = ZERO
    notional: Decimal = ZERO

    @property
    def average_price(self) -> Decimal | None:
        return self.notional / self.filled if self.filled else None


def entry_outcome(
    entry_id: str, planned: Decimal, rows: Iterable[Entry], remainder: str | None
) -> EntryOutcome:
    """``rows``: every journal row of the entry's id (and of ``remainder``, its chase's market
    remainder id, for a chased limit).

    A plain entry is over once it has a final outcome (or filled all it was planned for). A
    chased limit is over once it is final and its chase is: it ended by itself (no cancel of
    ours on record), filled completely, its remainder is final, or the chase ended without one.
    """
    filled = notional = ZERO
    final: set[str] = set()
    chase_steps: set[str] = set()
    remainder_known = False
    limit_filled = ZERO
    for row in rows:
        coid = row.client_order_id
        if row.status in FILL_STATUSES and row.qty is not None and row.price is not None:
            filled += row.qty
            notional += row.qty * row.price
            if coid == entry_id:
                limit_filled += row.qty
        if row.status in FINAL_STATUSES and coid is not None:
            final.add(coid)
        if row.status is Status.CHASE:
            chase_steps.add(str((row.data or {}).get("step", "")))
        elif row.status is Status.INTENT and coid == remainder:
            remainder_known = True
    entry_over = entry_id in final or limit_filled >= planned
    if remainder is None or not entry_over:
        return EntryOutcome(entry_over, filled, notional)
    if limit_filled >= planned or "cancel" not in chase_steps:
        over = True  # filled, or ended without our cancel: no remainder follows
    elif remainder_known:
        over = remainder in final
    else:
        over = bool(chase_steps & ENDED_WITHOUT_REMAINDER)
    return EntryOutcome(over, filled, notional)


@dataclass(frozen=True, slots=True)
class Cover:
    """How many shares the exits cover, and why not more (empty when all of them)."""

    qty: Decimal
    why_less: tuple[str, ...] = ()


def exit_cover(
    filled: Decimal,
    direction: int,
    *,
    ledger: Decimal,
    account: Decimal,
    covered_for_algo: Decimal,
    covered_in_account: Decimal,
    symbol: str,
) -> Cover:
    """The exits' quantity for an entry that filled ``filled`` in ``direction`` (+1 long, -1
    short). ``ledger``/``account``: the algorithm's and the account's signed holdings now;
    ``covered_*``: shares live exits on that side already cover (the algorithm's own, and all
    of the account's)."""
    why: list[str] = []
    qty = round_quantity(filled, fractional=False)
    if qty < filled:
        why.append(
            f"the fractional rest {filled - qty} is left without exits (Alpaca takes"
            " fractional stop orders for a day only)"
        )
    held = max(ledger * direction, ZERO) - covered_for_algo
    if held < qty:
        why.append(f"the algorithm's ledger leaves {max(held, ZERO)} {symbol} to cover")
        qty = round_quantity(held, fractional=False)
    in_account = max(account * direction, ZERO) - covered_in_account
    if in_account < qty:
        why.append(
            f"the account holds {max(in_account, ZERO)} {symbol} not already held for exits"
            " in that direction (other algorithms' positions net with it)"
        )
        qty = round_quantity(in_account, fractional=False)
    return Cover(max(qty, ZERO), tuple(why))
