"""Domain values turned into journal rows (pure: no I/O, the time comes in as an argument)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradebot.core.ids import DEFAULT_ACCOUNT, account_of
from tradebot.core.orders import OrderIntent, SkippedLeg
from tradebot.core.signal import HeldLeg, Leg, LegKind, Refusal, RejectedLeg, Side, Signal
from tradebot.journal.records import Status, dec_text, intent_data, iso, row_account, to_micros
from tradebot.masking import mask

INSERT = (
    "INSERT INTO entries (ts, status, algo_id, symbol, client_order_id, signal_id, leg, side, "
    "qty, price, cum_qty, detail, data, account) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: :data:`INSERT` unless a unique guard already holds the row (one INTENT per client order id,
#: one fill per (client order id, cum_qty)): then nothing, and the cursor's ``rowcount`` is 0
INSERT_IF_ABSENT = INSERT + " ON CONFLICT DO NOTHING"


@dataclass(frozen=True, slots=True)
class Row:
    """One row to insert. ``data`` is serialised with Decimals as text."""

    at: datetime
    status: Status
    detail: str = ""
    algo_id: int | None = None
    symbol: str | None = None
    client_order_id: str | None = None
    signal_id: int | None = None
    leg: str | None = None
    side: str | None = None
    qty: Decimal | None = None
    price: Decimal | None = None
    cum_qty: Decimal | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    account: str = DEFAULT_ACCOUNT  # written as :func:`~.records.row_account` says

    def params(self) -> tuple[Any, ...]:
        return (
            to_micros(self.at),
            str(self.status),
            self.algo_id,
            self.symbol,
            self.client_order_id,
            self.signal_id,
            self.leg,
            self.side,
            dec_text(self.qty),
            dec_text(self.price),
            dec_text(self.cum_qty),
            # the last gate before disk: whatever a message quoted, no secret. Only free text
            # is masked: the data of order rows is read back by recovery (legs, timestamps),
            # and a registered value that happens to occur in it must never rewrite it
            mask(self.detail),
            mask(dumps(self.data)) if self.status in NARRATIVE_STATUSES else dumps(self.data),
            row_account(self.status, self.account),
        )


#: rows whose data is only ever shown to a person (what happened around the orders), never
#: parsed back into orders, legs or fills: masked whole before they are written
NARRATIVE_STATUSES = frozenset(
    {Status.START, Status.STOP, Status.CONFIG, Status.GAP, Status.ERROR, Status.RECOVERY}
)


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return dec_text(value)
    if isinstance(value, datetime):
        return iso(value)
    return str(value)  # enums, SecretStr (which prints masked), paths


#: what :func:`json.dumps` makes for every call with these arguments, made once
_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), sort_keys=True)


def dumps(data: Mapping[str, Any]) -> str:
    """``data`` as compact JSON, keys sorted, Decimals and times as text."""
    return _ENCODER.encode(data)


def leg_data(leg: Leg) -> dict[str, Any]:
    data = {
        "symbol": leg.symbol,
        "side": str(leg.side),
        "price": dec_text(leg.price),
        "timestamp": iso(leg.timestamp),
    }
    if leg.weight is not None:
        data["weight"] = dec_text(leg.weight)
    return data


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def leg_from_data(algo_id: int, kind: LegKind, d: Mapping[str, Any]) -> Leg:
    weight = None if d.get("weight") is None else Decimal(d["weight"])
    side, price = Side(d["side"]), Decimal(d["price"])
    return Leg(algo_id, kind, d["symbol"], side, price, _stamp(d["timestamp"]), weight)


def held_data(leg: HeldLeg) -> dict[str, Any]:
    return {
        "kind": str(leg.kind),
        "symbol": leg.symbol,
        "price": dec_text(leg.price),
        "timestamp": iso(leg.timestamp),
    }


def held_from_data(algo_id: int, d: Mapping[str, Any]) -> HeldLeg:
    price = None if d.get("price") is None else Decimal(d["price"])
    return HeldLeg(algo_id, LegKind(d["kind"]), d["symbol"], price, _stamp(d["timestamp"]))


def signal_rows(signal: Signal) -> tuple[Row, list[Row]]:
    """The SIGNAL row, and the LEG / LEG_REJECTED rows that hang off it."""
    at = signal.received_at
    head = Row(
        at,
        Status.SIGNAL,
        f"{len(signal.close_legs)} close, {len(signal.open_legs)} open, "
        + (f"{len(signal.held)} hold, " if signal.held else "")
        + f"{len(signal.rejected)} rejected",
        algo_id=signal.algo_id,
        data={
            "raw": signal.raw,
            "received_at": iso(at),
            "close_legs": [leg_data(leg) for leg in signal.close_legs],
            "open_legs": [leg_data(leg) for leg in signal.open_legs],
            "rejected": [rejected_data(r) for r in signal.rejected],
            "source": str(signal.source),
        }
        | ({"held_legs": [held_data(h) for h in signal.held]} if signal.held else {}),
    )
    legs = [
        Row(
            at,
            Status.LEG,
            f"{leg.kind} {leg.side} {leg.symbol} @ {leg.price}",
            algo_id=leg.algo_id,
            symbol=leg.symbol,
            leg=leg.id.key,
            side=str(leg.side),
            price=leg.price,
            data={"kind": str(leg.kind), "source": str(signal.source)},
        )
        for leg in signal.legs
    ]
    legs += [rejected_row(at, r) for r in signal.rejected]
    return head, legs


def rejected_row(at: datetime, r: RejectedLeg) -> Row:
    """A LEG_REJECTED row; a leg a rule of its signal refused keeps its identity in ``leg``, so
    the journal can be asked whether a leg was decided (the backfill asks)."""
    ident = r.leg_id
    if ident is None:
        return Row(at, Status.LEG_REJECTED, r.reason, algo_id=r.algo_id, data=rejected_data(r))
    return Row(
        at,
        Status.LEG_REJECTED,
        r.reason,
        algo_id=r.algo_id,
        symbol=ident.symbol,
        leg=ident.key,
        side=str(ident.side),
        data=rejected_data(r),
    )


def rejected_data(r: RejectedLeg) -> dict[str, Any]:
    kind = None if r.kind is None else str(r.kind)
    data = {"kind": kind, "index": r.index, "reason": r.reason, "raw": r.raw}
    if r.refusal is not Refusal.INVALID:
        data["refusal"] = str(r.refusal)
    return data


def intent_row(at: datetime, intent: OrderIntent, signal_id: int | None) -> Row:
    """The INTENT row: its account is the one its client order id names (core/ids.py)."""
    return Row(
        at,
        Status.INTENT,
        f"{intent.role} {intent.side} {intent.qty} {intent.symbol} {intent.order_type}",
        algo_id=intent.algo_id,
        symbol=intent.symbol,
        client_order_id=intent.client_order_id,
        signal_id=signal_id,
        leg=intent.leg_ids[0].key,
        side=str(intent.side),
        qty=intent.qty,
        price=intent.reference_price,
        data=intent_data(intent),
        account=account_of(intent.client_order_id),
    )


def skipped_row(
    at: datetime, skip: SkippedLeg, signal_id: int | None, account: str = DEFAULT_ACCOUNT
) -> Row:
    leg_id = skip.leg_id
    source = leg_id or skip.rejected or skip.held
    algo_id = source.algo_id if source else None
    return Row(
        at,
        Status.SKIPPED,
        f"{skip.reason}: {skip.detail}",
        algo_id=algo_id,
        symbol=skip.symbol,
        signal_id=signal_id,
        leg=skip.key,
        side=str(leg_id.side) if leg_id else None,
        price=skip.leg.price if skip.leg else None,
        data={
            "reason": str(skip.reason),
            "detail": skip.detail,
            **({"exit": skip.exit.data()} if skip.exit is not None else {}),
        },
        account=account,
    )
