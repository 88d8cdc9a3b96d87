"""Signals and legs: the AlphaHub ``new_signals`` payload parsed into domain values.

This is the one place where a raw payload becomes a :class:`Signal`; nothing after it sees a
dict. Pure: no I/O, no clock reads (``received_at`` comes in as an argument).

Normalisation (ALPHAHUB.md §5): keys and string values are trimmed, keys lower-cased, symbols
upper-cased, timestamps accepted as ``2021-04-26T14:30:00``, ``2021-04-26 T14:30:00`` or
``2021-04-26 14:30:00`` (optionally with fractions, ``Z`` or an offset), prices become ``Decimal``.
What is not unambiguous is rejected leg by leg, with a reason; one bad leg never loses the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from tradebot.exceptions import InvalidSignal


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell: the direction a fill moves a position."""
        return 1 if self is Side.BUY else -1

    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class LegKind(StrEnum):
    OPEN = "open"
    CLOSE = "close"


class SignalSource(StrEnum):
    """How a signal reached the bot: pushed over the websocket, or read back from AlphaHub's
    signal history after a lapse (:mod:`tradebot.runtime.backfill`)."""

    LIVE = "live"
    BACKFILL = "backfill"


@dataclass(frozen=True, slots=True, order=True)
class LegId:
    """A leg's identity (DESIGN.md): the same leg arriving twice is traded once."""

    algo_id: int
    kind: LegKind
    symbol: str
    side: Side
    timestamp: datetime  # timezone-aware, UTC
    #: a stable text form, e.g. ``16:open:JBHT:buy:2021-04-26T14:30:01Z`` (computed once: it is
    #: part of every client order id and journal row)
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # isoformat omits zero microseconds, as the key always has: ...:00Z, ...:00.250000Z
        ts = self.timestamp.astimezone(UTC).replace(tzinfo=None).isoformat()
        key = f"{self.algo_id}:{self.kind}:{self.symbol}:{self.side}:{ts}Z"
        object.__setattr__(self, "key", key)

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Leg:
    """One tradable instruction: open or close ``symbol`` for algorithm ``algo_id``."""

    algo_id: int
    kind: LegKind
    symbol: str
    side: Side
    price: Decimal
    timestamp: datetime  # timezone-aware, UTC
    #: the leg's identity, made once (de-dup, planning and the journal all ask for it)
    id: LegId = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ident = LegId(self.algo_id, self.kind, self.symbol, self.side, self.timestamp)
        object.__setattr__(self, "id", ident)


@dataclass(frozen=True, slots=True)
class RejectedLeg:
    """A leg (or a whole group) that could not be parsed, with the reason and what arrived."""

    algo_id: int
    kind: LegKind | None
    index: int | None  # position in its list; None when the whole group was unusable
    reason: str
    raw: str  # the offending JSON, for the journal


@dataclass(frozen=True, slots=True)
class Signal:
    """A parsed ``new_signals`` push for one algorithm."""

    algo_id: int
    received_at: datetime  # timezone-aware, UTC
    close_legs: tuple[Leg, ...]
    open_legs: tuple[Leg, ...]
    rejected: tuple[RejectedLeg, ...] = ()
    raw: str = field(default="", compare=False)
    source: SignalSource = SignalSource.LIVE

    @property
    def legs(self) -> tuple[Leg, ...]:
        """All legs, closes first (they free buying power)."""
        return self.close_legs + self.open_legs


# -- parsing -----------------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})\s*[Tt ]\s*"
    r"(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?$"
)
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-/]{0,15}$")
_MAX_RAW = 2000  # characters of an offending leg kept for the journal


def parse_timestamp(value: object, zone: tzinfo) -> datetime:
    """Parse an AlphaHub leg timestamp; naive ones are read in ``zone``. Returns UTC."""
    if not isinstance(value, str):
        raise InvalidSignal(f"timestamp must be a string, got {type(value).__name__}")
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        raise InvalidSignal(f"timestamp {value.strip()[:40]!r} is not an ISO date and time")
    text = f"{match['date']}T{match['time']}"
    zone_text = match["zone"]
    if zone_text:
        text += "+00:00" if zone_text in ("Z", "z") else zone_text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidSignal(f"timestamp {value.strip()[:40]!r}: {exc}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before the first UTC instant
        raise InvalidSignal(f"timestamp {value.strip()[:40]!r} is out of range") from None


def parse_price(value: object) -> Decimal:
    """A positive, finite price as ``Decimal`` (floats go through ``str`` so 216.08 stays exact)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InvalidSignal(f"price must be a number, got {type(value).__name__}")
    try:
        price = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):  # ValueError: an int too long to print
        raise InvalidSignal(f"price {str(value)[:40]!r} is not a number") from None
    if not price.is_finite() or price <= 0:
        raise InvalidSignal(f"price must be positive, got {price}")
    return price


def _normalised_keys(raw: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            continue
        name = key.strip().lower()
        if name in out and out[name] != value:
            raise InvalidSignal(f"key {name!r} appears twice with different values")
        out[name] = value
    return out


def parse_leg(algo_id: int, kind: LegKind, raw: object, zone: tzinfo) -> Leg:
    """Parse one leg object; raises :class:`InvalidSignal` with the reason."""
    if not isinstance(raw, Mapping):
        raise InvalidSignal(f"leg must be an object, got {type(raw).__name__}")
    fields = _normalised_keys(raw)
    symbol_raw = fields.get("symbol")
    if not isinstance(symbol_raw, str) or not symbol_raw.strip():
        raise InvalidSignal("missing symbol")
    symbol = symbol_raw.strip().upper()
    if not _SYMBOL.match(symbol):
        raise InvalidSignal(f"symbol {symbol[:20]!r} is not a ticker")
    side_raw = fields.get("side")
    if not isinstance(side_raw, str) or side_raw.strip().lower() not in ("buy", "sell"):
        raise InvalidSignal(f"unknown side {str(side_raw)[:20]!r} (expected buy or sell)")
    side = Side(side_raw.strip().lower())
    if "price" not in fields:
        raise InvalidSignal("missing price")
    price = parse_price(fields["price"])
    if "timestamp" not in fields:
        raise InvalidSignal("missing timestamp")
    timestamp = parse_timestamp(fields["timestamp"], zone)
    return Leg(algo_id, kind, symbol, side, price, timestamp)


def _raw_text(value: object) -> str:
    try:
        text = json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:_MAX_RAW]


def parse_signal(
    algo_id: int,
    payload: object,
    *,
    received_at: datetime,
    zone: tzinfo = UTC,
    raw: str | None = None,
) -> Signal:
    """Turn a ``new_signals`` payload into a :class:`Signal`.

    Raises :class:`InvalidSignal` only when the payload as a whole is unusable (not an object).
    Bad legs, a bad group, and a leg repeated within the payload are kept in ``Signal.rejected``.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    if not isinstance(payload, Mapping):
        raise InvalidSignal(f"new_signals payload must be an object, got {type(payload).__name__}")
    rejected: list[RejectedLeg] = []
    fields: dict[LegKind, object] = {}
    for kind in (LegKind.CLOSE, LegKind.OPEN):
        # keys are trimmed and lower-cased; " open" and "open" must then agree
        found = [v for k, v in payload.items() if isinstance(k, str) and k.strip().lower() == kind]
        if any(v != found[0] for v in found[1:]):
            reason = f"key {str(kind)!r} appears twice with different values"
            rejected.append(RejectedLeg(algo_id, kind, None, reason, _raw_text(found)))
        elif found:
            fields[kind] = found[0]
    seen: set[LegId] = set()
    groups: dict[LegKind, list[Leg]] = {LegKind.CLOSE: [], LegKind.OPEN: []}
    for kind in (LegKind.CLOSE, LegKind.OPEN):
        items = fields.get(kind)
        if items is None:
            continue
        if not isinstance(items, list):
            reason = f"{kind} must be a list, got {type(items).__name__}"
            rejected.append(RejectedLeg(algo_id, kind, None, reason, _raw_text(items)))
            continue
        for index, item in enumerate(items):
            try:
                leg = parse_leg(algo_id, kind, item, zone)
            except InvalidSignal as exc:
                rejected.append(RejectedLeg(algo_id, kind, index, str(exc), _raw_text(item)))
                continue
            if leg.id in seen:
                reason = "the same leg appears twice in this signal"
                rejected.append(RejectedLeg(algo_id, kind, index, reason, _raw_text(item)))
                continue
            seen.add(leg.id)
            groups[kind].append(leg)
    return Signal(
        algo_id=algo_id,
        received_at=received_at.astimezone(UTC),
        close_legs=tuple(groups[LegKind.CLOSE]),
        open_legs=tuple(groups[LegKind.OPEN]),
        rejected=tuple(rejected),
        raw=raw if raw is not None else _raw_text(payload),
    )
