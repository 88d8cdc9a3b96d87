"""Commands that go to a broker, and the plan that carries them.

An :class:`OrderIntent` is the ``SubmitOrder`` command: immutable, with a deterministic client
order id, made durable in the journal before it leaves the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradebot.core.market import PriceSource
from tradebot.core.signal import HeldLeg, Leg, LegId, RejectedLeg, Side


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    #: a configuration choice, never an intent's type: the order goes out as a limit that
    #: carries :class:`ChaseTerms`, and :mod:`tradebot.execution.chaser` finishes it at market
    LIMIT_THEN_MARKET = "limit_then_market"
    #: exit orders only (never planned from a leg): a stop-loss, and a trailing stop
    STOP = "stop"
    TRAILING_STOP = "trailing_stop"


class OrderClass(StrEnum):
    """Alpaca's order classes. ``bracket``: an entry with a take-profit and a stop-loss leg;
    ``oto``: an entry with one of them; ``oco``: a take-profit limit whose stop-loss leg is
    canceled when it fills (and the other way round), for a position already held."""

    SIMPLE = "simple"
    BRACKET = "bracket"
    OTO = "oto"
    OCO = "oco"


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
class ChaseTerms:
    """When a ``limit_then_market`` limit is chased: ``after`` seconds of the market being able
    to fill it, or the reference price ``pct`` percent past the limit (see the chaser)."""

    after: float
    pct: Decimal


@dataclass(frozen=True, slots=True)
class ExitTerms:
    """An algorithm's ``exits``: percentages relative to the entry's fill price (> 0 each).

    ``trailing_stop_pct`` is never combined with the other two (the config refuses it): Alpaca
    cannot link a trailing stop to another exit, and two unlinked exits could both sell.
    """

    take_profit_pct: Decimal | None = None
    stop_loss_pct: Decimal | None = None
    trailing_stop_pct: Decimal | None = None

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
    """One order to send. ``qty`` is always positive; ``side`` gives the direction."""

    client_order_id: str
    algo_id: int
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    role: IntentRole
    leg_ids: tuple[LegId, ...]  # the legs this order serves (several when netted)
    #: the price the order was sized and checked at: the broker's reference price (or the
    #: signal's, standing in where ``price_source`` says so); also the basis for slippage
    reference_price: Decimal
    limit_price: Decimal | None = None
    extended_hours: bool = False
    attempt: int = 0  # > 0 only for a deliberate re-send after a final failure
    notes: tuple[str, ...] = ()
    price_source: PriceSource = PriceSource.REFERENCE
    chase: ChaseTerms | None = None  # a limit_then_market limit: when to finish it at market
    #: an entry (role OPEN) whose position is protected by exits: bracket legs when
    #: ``order_class`` is BRACKET/OTO, else exit orders sent once the entry has filled
    exits: ExitTerms | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    #: BRACKET/OTO/OCO: the take-profit leg's limit price and the stop-loss leg's stop price
    #: (absolute; an OCO's own limit price is its take-profit)
    take_profit_price: Decimal | None = None
    stop_loss_price: Decimal | None = None
    stop_price: Decimal | None = None  # a STOP order's trigger
    trail_pct: Decimal | None = None  # a TRAILING_STOP order's distance from the high-water mark
    #: an EXIT that travels as a leg of another order (a bracket's or an OCO's): the parent's
    #: client order id. It is journaled, never submitted by itself.
    parent: str | None = None

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise ValueError(f"order quantity must be positive, got {self.qty}")
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise ValueError("a limit order needs a limit price")
        if self.order_type is OrderType.LIMIT_THEN_MARKET:
            raise ValueError("limit_then_market goes out as a limit with chase terms")
        if self.chase is not None and self.order_type is not OrderType.LIMIT:
            raise ValueError("only a limit order is chased")
        if self.order_type is OrderType.STOP and self.stop_price is None:
            raise ValueError("a stop order needs a stop price")
        if self.order_type is OrderType.TRAILING_STOP and self.trail_pct is None:
            raise ValueError("a trailing stop needs trail_pct")
        if self.order_class in (OrderClass.BRACKET, OrderClass.OCO) and (
            self.take_profit_price is None or self.stop_loss_price is None
        ):
            raise ValueError(f"an {self.order_class} order needs both exit prices")
        if self.order_class is OrderClass.OTO and (
            (self.take_profit_price is None) == (self.stop_loss_price is None)
        ):
            raise ValueError("an oto order has exactly one exit price")
        if self.order_class is OrderClass.OCO and self.limit_price != self.take_profit_price:
            raise ValueError("an oco order is its take-profit limit")
        if self.parent is not None and self.role is not IntentRole.EXIT:
            raise ValueError("only an exit travels as a leg of another order")

    @property
    def notional(self) -> Decimal:
        """Value of the order at the reference price, or at its limit price when that is higher."""
        return self.qty * max(self.reference_price, self.limit_price or self.reference_price)

    @property
    def signed_qty(self) -> Decimal:
        return self.qty * self.side.sign


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
