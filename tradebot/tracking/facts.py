"""What the tracker knows about one algorithm's period, as plain values (pure: no I/O).

:mod:`tradebot.tracking.journal_facts` reads them from a journal; :mod:`tradebot.tracking.chain`
turns them into the chain of ledgers from the algorithm's result to the account's. Times are
microseconds since the epoch (the journal's), ``seq`` the row id that breaks ties, so every
ledger replays in the order the journal wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple


class Fate(StrEnum):
    """What became of a leg the algorithm sent."""

    TRADED = "traded"  # an order was sent for it
    SKIPPED = "skipped"  # journaled, no order (``reason`` says why)
    #: never received live: read back from the history too late to trade, or never received
    #: at all (AlphaHub's history has it, the journal not: :mod:`.history_legs`)
    MISSED = "missed"
    CLOSED_BY_EXIT = "closed_by_exit"  # a close the bot's stop/take-profit had already done


#: skip reasons that mean the leg was never received in time (backfill), not refused by a rule
MISSED_REASONS = frozenset({"missed_stale", "backfill_ambiguous", "backfill_journal"})


class Style(StrEnum):
    """How an order was executed (the execution part is split by these)."""

    MARKET = "market"
    LIMIT = "limit"
    CHASED_REMAINDER = "chased_remainder"  # a limit_then_market's market remainder


class Fill(NamedTuple):
    """One fill (immutable; a named tuple, as :class:`LegFact`: a million rows make 250,000)."""

    at: int
    seq: int
    qty: Decimal  # signed: + bought, - sold
    price: Decimal
    fee: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Order:
    """One order sent for a leg: its planned (signed) quantity and its fills."""

    client_order_id: str
    style: Style
    planned: Decimal  # signed
    fills: tuple[Fill, ...] = ()


class LegFact(NamedTuple):
    """One leg of the algorithm, priced at its signal. Immutable; a named tuple rather than a
    frozen dataclass because a million rows make 125,000 of them, each a third of the cost to
    make (a frozen dataclass sets every field through ``object.__setattr__``)."""

    key: str
    at: int
    seq: int
    symbol: str
    is_open: bool
    buy: bool
    price: Decimal  # the signal's price
    fate: Fate
    reason: str = ""  # a skip's reason
    orders: tuple[Order, ...] = ()
    weight: Decimal | None = None


class ExitFill(NamedTuple):
    """A fill of a stop or take-profit the bot placed for an entry (or of no leg's order)."""

    symbol: str
    fill: Fill


@dataclass(frozen=True, slots=True)
class Period:
    """Everything about one algorithm the chain needs."""

    algo_id: int
    legs: tuple[LegFact, ...]
    exits: tuple[ExitFill, ...] = ()
    #: the algorithm's fills the legs do not account for (an order whose leg is not journaled)
    unattributed: tuple[ExitFill, ...] = ()
    marks: dict[str, Decimal] = field(default_factory=dict)
    since: int | None = None  # only P&L realised at or after this counts
    damaged: int = 0  # leg and skip rows that could not be read (left out)
