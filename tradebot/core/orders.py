"""Commands that go to a broker, and the plan that carries them.

An :class:`OrderIntent` is the ``SubmitOrder`` command: immutable, with a deterministic client
order id, made durable in the journal before it leaves the process.

Its shape is two sum types (:mod:`tradebot.core.order_shape`), each kind a frozen dataclass
that refuses in its own constructor what it cannot be (a limit always has a positive price, an
oto exactly one exit):

* ``price`` (:data:`OrderPrice`), how it trades: :class:`Market`, :class:`Limit` (with its
  :class:`ChaseTerms` when chased), :class:`Stop`, :class:`TrailingStop`;
* ``attached`` (:data:`Attached` or None), the exit legs that travel with it: :class:`Bracket`,
  :class:`Oto` (on an entry), :class:`Oco` (an exit that is its take-profit limit).

The intent itself checks only what joins them (a bracket/oto entry is a market or limit order,
an oco is its own take-profit limit), a positive quantity, and that only an exit has a parent.

**Adding an order kind.** Every place that reads a shape matches on it with
``typing.assert_never`` in the default branch, so mypy (strict, in ``scripts/check``) names each
place a new kind has not handled. Today's list:

* ``core/order_shape.py``: the class (its ``order_type``: a member of ``OrderType``; an
  attached kind's ``order_class``: a member of ``OrderClass``), its place in ``OrderPrice`` or
  ``Attached``, and ``shape_refusal`` (what may travel together);
* here: :func:`shape_prices` (the flat names its prices have in the journal and the plan's
  JSON);
* ``core/exits.py``: :func:`~tradebot.core.exits.bracket_refusal` (can such an entry carry a
  bracket) and ``_placed_at`` (an exit's reference price); an attached kind is built in
  ``with_exits``/``after_fill_exits``;
* ``journal/records.py``: ``_price_from`` / ``_attached_from`` (read back from the journal's
  flat format, keyed by ``order_type`` / ``order_class``; the format itself does not change);
* ``journal/review.py``: ``live_exits`` (how a live exit's level reads);
* ``broker/alpaca/orders.py``: ``on_tick`` (its prices on Alpaca's tick, the one rounding of a
  request) and ``prepare``'s checks of Alpaca's limits;
* ``broker/alpaca/sdk.py``: ``order_request`` (the alpaca-py request);
* ``broker/sim.py``: ``_accept`` (a price kind's trigger) and ``_add_legs`` (an attached kind's
  legs), and the fill and trigger rules of the simulated market;
* where the local Alpaca server (``simulators/alpaca``) does not accept it yet, there too, so
  the adapter can be tested against it;
* an entry kind the planner may choose: the config's ``order_type`` choices
  (``config/algorithms_section.py`` ``ENTRY_ORDER_TYPES``) and ``core/order_writer.py``
  ``_intent``; the rest of the list in ``docs/extending.md`` ("Add an order kind") reads the
  kind by its name (the journal's summaries, the local Alpaca server, the followers);
* tests: ``tests/core/test_order_shape.py`` (what it refuses) and
  ``tests/journal/test_intent_rows.py`` (a row of it reads back and writes identically).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import assert_never

from tradebot.core.market import PriceSource
from tradebot.core.order_shape import (
    Attached,
    Bracket,
    ChaseTerms,
    Limit,
    Market,
    Oco,
    OrderClass,
    OrderPrice,
    OrderType,
    Oto,
    Stop,
    TrailingStop,
    shape_refusal,
)
from tradebot.core.signal import HeldLeg, Leg, LegId, RejectedLeg, Side


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"
    IOC = "ioc"
    FOK = "fok"


class IntentRole(StrEnum):
    """Which group an intent belongs to. Closes go out before opens."""

    CLOSE = "close"
    OPEN = "open"
    #: a take-profit, stop-loss or trailing stop protecting an entry (:class:`ExitTerms`);
    #: never part of a signal's close/open groups: it goes with its entry (a bracket leg) or
    #: after the entry has filled
    EXIT = "exit"


class ExitKind(StrEnum):
    """Which exit an order is; also the suffix of its client order id (``<entry>-tp``)."""

    TAKE_PROFIT = "tp"
    STOP_LOSS = "sl"
    TRAILING_STOP = "ts"

    @property
    def label(self) -> str:
        """How the exit is named to a person: ``take-profit``, ``stop-loss``, ``trailing stop``."""
        return _EXIT_LABELS[self]


_EXIT_LABELS = {
    ExitKind.TAKE_PROFIT: "take-profit",
    ExitKind.STOP_LOSS: "stop-loss",
    ExitKind.TRAILING_STOP: "trailing stop",
}


@dataclass(frozen=True, slots=True)
class ExitTerms:
    """An algorithm's ``exits``: percentages relative to the entry's fill price (> 0 each).

    ``trailing_stop_pct`` is never combined with the other two (the config refuses it): Alpaca
    cannot link a trailing stop to another exit, and two unlinked exits could both sell.
    """

    take_profit_pct: Decimal | None
    stop_loss_pct: Decimal | None
    trailing_stop_pct: Decimal | None

    def __post_init__(self) -> None:
        values = (self.take_profit_pct, self.stop_loss_pct, self.trailing_stop_pct)
        if all(v is None for v in values):
            raise ValueError("exits need at least one of take_profit_pct, stop_loss_pct, ...")
        if any(v is not None and not (v > 0) for v in values):
            raise ValueError("exit percentages must be > 0")
        if self.trailing_stop_pct is not None and (
            self.take_profit_pct is not None or self.stop_loss_pct is not None
        ):
            raise ValueError("trailing_stop_pct cannot be combined with the other exits")


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One order to send. ``qty`` is always positive; ``side`` gives the direction.

    Its shape is ``price`` (how it trades) and ``attached`` (the exit legs that travel with it),
    each valid by construction; what the whole checks is only what joins them.
    """

    client_order_id: str
    algo_id: int
    symbol: str
    side: Side
    qty: Decimal
    price: OrderPrice
    time_in_force: TimeInForce
    role: IntentRole
    leg_ids: tuple[LegId, ...]  # the legs this order serves (several when netted)
    #: the price the order was sized and checked at: the broker's reference price (or the
    #: signal's, standing in where ``price_source`` says so); also the basis for slippage
    reference_price: Decimal
    extended_hours: bool = False
    attempt: int = 0  # > 0 only for a deliberate re-send after a final failure
    notes: tuple[str, ...] = ()
    price_source: PriceSource = PriceSource.REFERENCE
    #: an entry (role OPEN) whose position is protected by exits: bracket legs when
    #: ``attached`` is a Bracket/Oto, else exit orders sent once the entry has filled
    exits: ExitTerms | None = None
    attached: Attached | None = None
    #: an EXIT that travels as a leg of another order (a bracket's or an OCO's): the parent's
    #: client order id. It is journaled, never submitted by itself.
    parent: str | None = None

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise ValueError(f"order quantity must be positive, got {self.qty}")
        if (why := shape_refusal(self.price, self.attached)) is not None:
            raise ValueError(why)
        if self.parent is not None and self.role is not IntentRole.EXIT:
            raise ValueError("only an exit travels as a leg of another order")

    @property
    def order_type(self) -> OrderType:
        """The price's kind, as the journal and a person name it (``market``, ``limit`` ...)."""
        return self.price.order_type

    @property
    def order_class(self) -> OrderClass:
        return OrderClass.SIMPLE if self.attached is None else self.attached.order_class

    @property
    def limit_price(self) -> Decimal | None:
        """The limit price of a limit order (an oco's is its take-profit), else None."""
        return self.price.limit if isinstance(self.price, Limit) else None

    @property
    def chase(self) -> ChaseTerms | None:
        """A ``limit_then_market`` limit's chase terms, else None."""
        return self.price.chase if isinstance(self.price, Limit) else None

    @property
    def notional(self) -> Decimal:
        """Value of the order at the reference price, or at its limit price when that is higher."""
        return self.qty * max(self.reference_price, self.limit_price or self.reference_price)

    @property
    def signed_qty(self) -> Decimal:
        return self.qty * self.side.sign


def shape_prices(intent: OrderIntent) -> dict[str, Decimal]:
    """The shape's prices besides the limit, under the flat names the journal and the plan's
    JSON give them (only those the order has): ``take_profit_price`` and ``stop_loss_price``
    (attached legs; an oco's take-profit is also its limit), ``stop_price``, ``trail_pct``."""
    out: dict[str, Decimal] = {}
    match intent.attached:
        case Bracket(take_profit=tp, stop_loss=sl) | Oco(take_profit=tp, stop_loss=sl):
            out |= {"take_profit_price": tp, "stop_loss_price": sl}
        case Oto(take_profit=tp, stop_loss=sl):
            out |= {
                name: price
                for name, price in (("take_profit_price", tp), ("stop_loss_price", sl))
                if price is not None
            }
        case None:
            pass
        case _:
            assert_never(intent.attached)
    match intent.price:
        case Stop(stop=stop):
            out["stop_price"] = stop
        case TrailingStop(trail_pct=pct):
            out["trail_pct"] = pct
        case Market() | Limit():
            pass
        case _:
            assert_never(intent.price)
    return out


class SkipReason(StrEnum):
    """Why a leg produced no order. The text beside it says the specifics."""

    INVALID = "invalid"  # the leg could not be parsed (or a rule of its signal refused it)
    CONTRADICTORY = "contradictory"  # another leg of its signal disagrees on its symbol
    HOLD = "hold"  # the leg says "keep the position": nothing to send
    ALGO_UNKNOWN = "algo_unknown"
    ALGO_DISABLED = "algo_disabled"
    NOT_HELD = "not_held"  # a close for a symbol the algorithm does not hold
    ALREADY_HELD = "already_held"
    SIZED_TO_ZERO = "sized_to_zero"
    SHORT_NOT_ALLOWED = "short_not_allowed"
    NOT_SHORTABLE = "not_shortable"
    NOT_TRADABLE = "not_tradable"
    SYMBOL_NOT_ALLOWED = "symbol_not_allowed"
    RISK_LIMIT = "risk_limit"
    STALE = "stale"  # the signal is older than the configured maximum age
    MISSED_STALE = "missed_stale"  # recovered from the signal history, too old to trade
    BACKFILL_AMBIGUOUS = "backfill_ambiguous"  # a history leg neither clearly open nor close
    BACKFILL_JOURNAL = "backfill_journal"  # recovered under alphahub.backfill: journal only
    KILL_SWITCH = "kill_switch"
    MARKET_CLOSED = "market_closed"
    NETTED = "netted"  # absorbed into another order for the same symbol
    DUPLICATE = "duplicate"
    BROKER_UNAVAILABLE = "broker_unavailable"  # account or asset could not be read to size it
    PRICE_OFF_MARKET = "price_off_market"  # the leg's price is implausible or outside the collar
    NO_REFERENCE_PRICE = "no_reference_price"  # no market price from the broker to check it by


@dataclass(frozen=True, slots=True)
class ExitFill:
    """An exit of an algorithm's entry that filled: what closed its position before a close leg
    came (a planning input, and what a ``not_held`` skip names)."""

    client_order_id: str
    kind: ExitKind
    qty: Decimal
    price: Decimal
    at: datetime

    def describe(self) -> str:
        return (
            f"its {self.kind.label} {self.client_order_id} filled {self.qty} @ {self.price}"
            f" at {self.at.isoformat(timespec='seconds')}"
        )

    def data(self) -> dict[str, str]:
        return {
            "client_order_id": self.client_order_id,
            "kind": str(self.kind),
            "qty": str(self.qty),
            "price": str(self.price),
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SkippedLeg:
    """A leg that produced no order (or less than it asked for), and why."""

    leg_id: LegId | None  # None for a leg that never parsed, and for a hold leg
    reason: SkipReason
    detail: str
    leg: Leg | None = None
    rejected: RejectedLeg | None = None
    held: HeldLeg | None = None
    exit: ExitFill | None = None  # not_held: the algorithm's exit that closed the position

    @property
    def key(self) -> str | None:
        """The skipped leg's identity as text, when it has one (a rejected leg has none)."""
        if self.leg_id is not None:
            return self.leg_id.key
        return self.held.key if self.held is not None else None

    @property
    def symbol(self) -> str | None:
        if self.leg_id is not None:
            return self.leg_id.symbol
        return self.held.symbol if self.held is not None else None


def rejected_skip(rejected: RejectedLeg) -> SkippedLeg:
    """How a rejected leg is skipped: ``invalid`` or ``contradictory``, with its reason. The one
    rule, for a planned signal and for a recovered one journaled without planning."""
    return SkippedLeg(None, SkipReason(str(rejected.refusal)), rejected.reason, rejected=rejected)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with one signal: the intents in sending order (closes, then opens)."""

    intents: tuple[OrderIntent, ...] = ()
    skipped: tuple[SkippedLeg, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def closes(self) -> tuple[OrderIntent, ...]:
        return tuple(i for i in self.intents if i.role is IntentRole.CLOSE)

    @property
    def opens(self) -> tuple[OrderIntent, ...]:
        return tuple(i for i in self.intents if i.role is IntentRole.OPEN)

    @property
    def exits(self) -> tuple[OrderIntent, ...]:
        """Exit orders: bracket legs (journaled, never sent alone) and exits sent by themselves."""
        return tuple(i for i in self.intents if i.role is IntentRole.EXIT)
