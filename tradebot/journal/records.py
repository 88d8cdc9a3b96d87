"""The journal's record types: frozen values read back from (and written to) the journal.

Every row of the journal is one :class:`Entry`. Its ``status`` says what kind of record it is
(the vocabulary is :class:`Status`); ``algo_id``, ``symbol`` and ``client_order_id`` are set where
they apply; ``data`` keeps the full record (raw frame, intent fields, broker fields) as JSON with
every Decimal written as text, so nothing is rounded through a float.

Time is stored as integer microseconds since the Unix epoch, UTC (see :mod:`.schema` for why);
:func:`to_micros` and :func:`from_micros` are the only conversions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, assert_never

from tradebot.core.ids import DEFAULT_ACCOUNT, check_account
from tradebot.core.market import PriceSource
from tradebot.core.order_shape import (
    MARKET,
    Attached,
    Bracket,
    ChaseTerms,
    Limit,
    Oco,
    OrderClass,
    OrderPrice,
    OrderType,
    Oto,
    Stop,
    TrailingStop,
)
from tradebot.core.orders import ExitTerms, IntentRole, OrderIntent, TimeInForce, shape_prices
from tradebot.core.signal import LegId, LegKind, Side


class Status(StrEnum):
    """What one journal row records. ``tradebot journal --status`` filters on these."""

    START = "start"
    STOP = "stop"
    CONFIG = "config"  # a configuration was loaded or changed
    GAP = "gap"  # the listener may have missed frames
    ERROR = "error"
    SIGNAL = "signal"  # a raw frame as received, with its parsed and rejected legs in data
    LEG = "leg"  # one parsed leg of a signal
    LEG_REJECTED = "leg_rejected"  # a leg that could not be parsed
    PLAN = "plan"  # the planner's decision for one signal (summary)
    INTENT = "intent"  # an order about to be sent: the write-ahead record
    SKIPPED = "skipped"  # a leg that produced no order, with the reason
    SUBMITTED = "submitted"  # the broker answered a submission
    ACCEPTED = "accepted"
    PARTIAL = "partial"  # a partial fill
    FILLED = "filled"  # the fill that completes the order
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"  # tradebot gave up on an intent without it reaching the broker
    DRIFT = "drift"  # our net position differs from the broker's
    RECOVERY = "recovery"  # what start-up recovery found and did
    CHASE = "chase"  # a limit_then_market limit is being chased: its cancel was asked for
    EXIT = "exit"  # exits placed after a fill or left out; an order canceled for a close


#: the ``account`` of a row no single account caused: what is received (a signal, its legs),
#: what the listener saw (gaps) and the process's own life (start, stop, config)
SHARED_ACCOUNT = ""
SHARED_STATUSES = frozenset(
    {
        Status.START,
        Status.STOP,
        Status.CONFIG,
        Status.GAP,
        Status.SIGNAL,
        Status.LEG,
        Status.LEG_REJECTED,
    }
)


def row_account(status: Status, account: str) -> str:
    """The ``account`` a row of ``status`` is written with: :data:`SHARED_ACCOUNT` for the
    shared kinds (:data:`SHARED_STATUSES`), whatever the writer said; else ``account``, which
    must be an account's name (a ValueError otherwise: no row is written for no account).

    The one rule for the column (docs/journal.md, "Accounts"): every row an account causes
    (its plan, intents, skipped legs, the broker's answers about its orders, drift, recovery)
    names it; a journal from before accounts is wholly the ``default`` account's."""
    return SHARED_ACCOUNT if status in SHARED_STATUSES else check_account(account)


#: statuses that end an order: an intent with one of these has a final outcome
FINAL_STATUSES = frozenset(
    {Status.FILLED, Status.CANCELED, Status.REJECTED, Status.EXPIRED, Status.FAILED}
)
FILL_STATUSES = frozenset({Status.PARTIAL, Status.FILLED})


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, UTC. Refuses naive datetimes (they have no instant)."""
    if moment.tzinfo is None:
        raise ValueError("journal timestamps must be timezone-aware")
    delta = (moment if moment.tzinfo is UTC else moment.astimezone(UTC)) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def dec_text(value: Decimal | None) -> str | None:
    """A Decimal as exact canonical text (``10``, ``0.5``, ``216.08``): never exponent form."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal row as read back."""

    id: int
    at: datetime
    status: Status
    algo_id: int | None
    symbol: str | None
    client_order_id: str | None
    signal_id: int | None  # the SIGNAL row this record descends from, when known
    leg: str | None  # LegId.key
    side: str | None
    qty: Decimal | None
    price: Decimal | None
    detail: str
    data: dict[str, Any]
    account: str = DEFAULT_ACCOUNT  # the account that caused it; "" when shared (row_account)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (Decimals as text, time as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "at": iso(self.at),
            "status": str(self.status),
            "algo_id": self.algo_id,
            "symbol": self.symbol,
            "client_order_id": self.client_order_id,
            "signal_id": self.signal_id,
            "leg": self.leg,
            "side": self.side,
            "qty": dec_text(self.qty),
            "price": dec_text(self.price),
            "detail": self.detail,
            "data": self.data,
            "account": self.account,
        }


@dataclass(frozen=True, slots=True)
class FillFact:
    """One of our fills as the review needs it: no row decoding beyond these columns."""

    key: tuple[int, int]  # (ts in microseconds, row id): where the next page starts
    at: datetime
    algo_id: int
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    intent_price: Decimal | None  # the price on the order's INTENT row (the signal's)


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One row of an order's life, undecoded, for the review: an INTENT (with its data and its
    first leg's signal price), a fill (with its intent's price) or an outcome. Values are as
    stored (text decimals, microseconds), so a damaged row is skipped alone."""

    id: int
    ts: int
    status: str
    algo_id: Any
    symbol: Any
    client_order_id: Any
    side: Any
    qty: Any
    price: Any
    data: Any  # an intent's JSON text; None for other rows
    signal_price: Any  # an intent's: the price on the LEG row of its first leg
    intent_price: Any  # a fill's: the price on its order's INTENT row (the reference price)
    account: Any = DEFAULT_ACCOUNT  # as stored

    @property
    def key(self) -> tuple[int, int]:
        return (self.ts, self.id)


def iso(moment: datetime) -> str:
    """``2026-11-24T06:34:14.123456Z``: fixed width, sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AppliedFill:
    """A fill the journal recorded for the first time: apply it to the position book."""

    client_order_id: str
    algo_id: int
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class StoredIntent:
    """An intent read back from the journal, with the signal time it serves."""

    entry_id: int
    signal_id: int | None
    signal_received_at: datetime | None
    intent: OrderIntent


def intent_data(intent: OrderIntent) -> dict[str, Any]:
    """Everything needed to rebuild the intent exactly (used by recovery to re-send it).

    The journal's format is flat and predates the intent's shape types: ``order_type`` and
    ``limit_price`` (null unless a limit; an oco's is its take-profit), ``chase`` (``after``,
    ``pct``), ``order_class`` (absent for a simple order) and the shape's other prices
    (:func:`~tradebot.core.orders.shape_prices`). :func:`intent_from_entry` reads it back.
    """
    chase = intent.chase
    return {
        "order_type": str(intent.order_type),
        "time_in_force": str(intent.time_in_force),
        "role": str(intent.role),
        "legs": [leg_id_data(leg) for leg in intent.leg_ids],
        "reference_price": dec_text(intent.reference_price),
        "price_source": str(intent.price_source),
        "limit_price": dec_text(intent.limit_price),
        "extended_hours": intent.extended_hours,
        "attempt": intent.attempt,
        "notes": list(intent.notes),
        **(
            {"chase": {"after": chase.chase_after, "pct": dec_text(chase.chase_pct)}}
            if chase is not None
            else {}
        ),
        **({"exits": _exits_data(intent.exits)} if intent.exits is not None else {}),
        **(
            {"order_class": str(intent.order_class)}
            if intent.order_class is not OrderClass.SIMPLE
            else {}
        ),
        **{name: dec_text(value) for name, value in shape_prices(intent).items()},
        **({"parent": intent.parent} if intent.parent is not None else {}),
    }


def _exits_data(exits: ExitTerms) -> dict[str, str]:
    return {
        name: text
        for name, value in (
            ("take_profit_pct", exits.take_profit_pct),
            ("stop_loss_pct", exits.stop_loss_pct),
            ("trailing_stop_pct", exits.trailing_stop_pct),
        )
        if (text := dec_text(value)) is not None
    }


def _exits_from(d: dict[str, Any] | None) -> ExitTerms | None:
    if d is None:
        return None
    return ExitTerms(
        take_profit_pct=dec(d.get("take_profit_pct")),
        stop_loss_pct=dec(d.get("stop_loss_pct")),
        trailing_stop_pct=dec(d.get("trailing_stop_pct")),
    )


def intent_from_entry(entry: Entry) -> OrderIntent:
    d = entry.data
    assert entry.client_order_id and entry.algo_id is not None and entry.symbol
    assert entry.side and entry.qty is not None
    return OrderIntent(
        client_order_id=entry.client_order_id,
        algo_id=entry.algo_id,
        symbol=entry.symbol,
        side=Side(entry.side),
        qty=entry.qty,
        price=_price_from(d),
        time_in_force=TimeInForce(d["time_in_force"]),
        role=IntentRole(d["role"]),
        leg_ids=tuple(leg_id_from(x) for x in d["legs"]),
        reference_price=Decimal(d["reference_price"]),
        extended_hours=bool(d.get("extended_hours", False)),
        attempt=int(d.get("attempt", 0)),
        notes=tuple(d.get("notes", ())),
        # intents journaled before reference prices existed were sized at the signal's price
        price_source=PriceSource(d.get("price_source", PriceSource.SIGNAL)),
        exits=_exits_from(d.get("exits")),
        attached=_attached_from(d),
        parent=d.get("parent"),
    )


def _price_from(d: dict[str, Any]) -> OrderPrice:
    order_type = OrderType(d["order_type"])
    match order_type:
        case OrderType.MARKET:
            return MARKET
        case OrderType.LIMIT:
            return Limit(Decimal(d["limit_price"]), _chase_from(d.get("chase")))
        case OrderType.STOP:
            return Stop(Decimal(d["stop_price"]))
        case OrderType.TRAILING_STOP:
            return TrailingStop(Decimal(d["trail_pct"]))
        case OrderType.LIMIT_THEN_MARKET:
            raise ValueError("limit_then_market is journaled as a limit with chase terms")
        case _:
            assert_never(order_type)


def _attached_from(d: dict[str, Any]) -> Attached | None:
    order_class = OrderClass(d.get("order_class", OrderClass.SIMPLE))
    match order_class:
        case OrderClass.SIMPLE:
            return None
        case OrderClass.BRACKET:
            return Bracket(Decimal(d["take_profit_price"]), Decimal(d["stop_loss_price"]))
        case OrderClass.OTO:
            return Oto(dec(d.get("take_profit_price")), dec(d.get("stop_loss_price")))
        case OrderClass.OCO:
            return Oco(Decimal(d["take_profit_price"]), Decimal(d["stop_loss_price"]))
        case _:
            assert_never(order_class)


def _chase_from(d: dict[str, Any] | None) -> ChaseTerms | None:
    if d is None:
        return None
    return ChaseTerms(chase_after=float(d["after"]), chase_pct=Decimal(d["pct"]))


def leg_id_data(leg: LegId) -> dict[str, Any]:
    return {
        "algo_id": leg.algo_id,
        "kind": str(leg.kind),
        "symbol": leg.symbol,
        "side": str(leg.side),
        "timestamp": iso(leg.timestamp),
    }


def leg_id_from(d: dict[str, Any]) -> LegId:
    stamp = datetime.strptime(d["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return LegId(int(d["algo_id"]), LegKind(d["kind"]), d["symbol"], Side(d["side"]), stamp)
