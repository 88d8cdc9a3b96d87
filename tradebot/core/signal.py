"""Signals and legs: the AlphaHub ``new_signals`` payload parsed into domain values.

This is the one place where a raw payload becomes a :class:`Signal`; nothing after it sees a
dict. Pure: no I/O, no clock reads (``received_at`` comes in as an argument).

Normalisation (docs/alphahub.md#signals): keys and string values are trimmed, keys lower-cased,
symbols upper-cased, timestamps accepted as ``2021-04-26T14:30:00``, ``2021-04-26 T14:30:00`` or
``2021-04-26 14:30:00`` (optionally with fractions, ``Z`` or an offset), prices become ``Decimal``.
What is not unambiguous is rejected leg by leg, with a reason; one bad leg never loses the others.

Hostile input is refused, never repaired:

- Only ASCII is normalised. Trimming removes ASCII whitespace only, and a symbol must be ASCII
  letters, digits, ``.`` and ``/`` *before* it is upper-cased: Unicode case mapping would turn
  ``"ß"`` into ``SS`` and ``"ﬁ"`` into ``FI``, real tickers made out of junk.
- A field named twice in one leg (``{"symbol": "RKA", "symbol": "RKB"}``, or ``"symbol"`` and
  ``" Symbol"``), or a key repeated anywhere inside the leg, rejects that leg: which value was
  meant cannot be known. ``open`` or ``close`` named twice in the payload rejects that whole group
  (both copies are journaled); the other group is unaffected. Repeats are seen only in values
  decoded by :func:`tradebot.core.strict_json.loads`, which every frame goes through.
- Prices are JSON numbers or plain decimal text (``"216.08"``; not ``"1_000"``, ``"1e3"`` or
  ``"NaN"``) between :data:`MIN_PRICE` and :data:`MAX_PRICE`.
- A timestamp more than :data:`FUTURE_TOLERANCE` after the signal was received is rejected.

``side: "hold"`` means "keep the position" (docs/alphahub.md#signals): such a leg becomes a
:class:`HeldLeg`, never a :class:`Leg`, so nothing can trade it; the planner skips it with the
reason ``hold``. An open leg may carry ``weight``, a fraction of the algorithm's allocation in
(0, 1] (the ``allocation`` strategy uses it); a close always flattens, so its weight is ignored.

A key of the payload other than ``open`` and ``close`` (``"opne"``) is rejected with its name, and a
payload with no leg at all is rejected as such: every frame leaves a record.

**One judge for a signal's legs** (:func:`judge`), whichever path brings them: the legs of a live
frame, and the legs of one algorithm with one timestamp in AlphaHub's signal history
(:mod:`tradebot.runtime.missed`). Its rules, in order:

1. *Contradictions* (:func:`disagreements`): legs that disagree on one symbol are all refused,
   with the reason ``contradictory`` (:attr:`Refusal.CONTRADICTORY`): two open legs (or two close
   legs) of one symbol with one timestamp whose side, price or weight differ; or a close of a
   symbol stamped after an open of it (the bot sends closes first, so it would end holding what
   the algorithm closed). Legs of one symbol at different times are a sequence, not a
   contradiction: the later one is the algorithm's newer word.
   A close and an open of one symbol are otherwise a flip or a re-entry, not a contradiction
   (the close flattens, whatever its side says; the open sets the direction). An exact copy of a
   leg is one leg: the copy is rejected as a repeat, the leg itself stands.
2. *Weights*: the open legs' weights must not add up to more than the whole allocation; when
   they do, every weighted open of the signal is refused.

A leg a rule refused keeps its identity (:attr:`RejectedLeg.leg_id`), so the journal records
that this leg was decided and no later path (the backfill, another process) trades it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Any

from tradebot.core.market import MAX_PRICE, MIN_PRICE, implausible_price
from tradebot.core.strict_json import duplicate_keys
from tradebot.exceptions import InvalidSignal

#: a leg stamped further than this after the signal's arrival is refused: clocks differ by
#: seconds, not minutes, and a leg from the future is junk or a replay with a forged stamp
FUTURE_TOLERANCE = timedelta(seconds=120)
HOLD = "hold"
#: why a hold leg sends nothing, as the plan and the journal say it
HOLD_DETAIL = "the signal says keep the position; nothing is sent"


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


def _leg_key(algo_id: int, kind: LegKind, symbol: str, side: str, timestamp: datetime) -> str:
    """A leg's identity as text: ``16:open:JBHT:buy:2021-04-26T14:30:01Z``."""
    # isoformat omits zero microseconds, as the key always has: ...:00Z, ...:00.250000Z
    ts = timestamp.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{algo_id}:{kind}:{symbol}:{side}:{ts}Z"


@dataclass(frozen=True, slots=True, order=True)
class LegId:
    """A leg's identity (docs/design.md#signal-identity): the same leg arriving twice is traded
    once."""

    algo_id: int
    kind: LegKind
    symbol: str
    side: Side
    timestamp: datetime  # timezone-aware, UTC
    #: a stable text form, e.g. ``16:open:JBHT:buy:2021-04-26T14:30:01Z`` (computed once: it is
    #: part of every client order id and journal row)
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = _leg_key(self.algo_id, self.kind, self.symbol, self.side, self.timestamp)
        object.__setattr__(self, "key", key)

    def __str__(self) -> str:
        return self.key


def parse_leg_key(key: str) -> LegId:
    """:attr:`LegId.key`'s inverse; raises ValueError for text that is not a leg's key."""
    parts = key.split(":", 4)
    if len(parts) != 5 or not parts[4].endswith("Z"):
        raise ValueError(f"not a leg key: {key[:80]!r}")
    algo, kind, symbol, side, stamp = parts
    when = datetime.fromisoformat(stamp[:-1]).replace(tzinfo=UTC)
    ident = LegId(int(algo), LegKind(kind), symbol, Side(side), when)
    # read, but not written so (016:..., a zone in the stamp) or not a ticker ("a", "ß"): the
    # journal is input too, and another text must never be taken for this leg
    if ident.key != key or not _SYMBOL.fullmatch(symbol) or len(symbol) > _MAX_SYMBOL:
        raise ValueError(f"not a leg key: {key[:80]!r}")
    return ident


@dataclass(frozen=True, slots=True)
class Leg:
    """One tradable instruction: open or close ``symbol`` for algorithm ``algo_id``."""

    algo_id: int
    kind: LegKind
    symbol: str
    side: Side
    price: Decimal
    timestamp: datetime  # timezone-aware, UTC
    #: open legs only: the fraction of the algorithm's allocation for this open, in (0, 1];
    #: None means the strategy's default (an even split). Not part of the leg's identity.
    weight: Decimal | None = None
    #: the leg's identity, made once (de-dup, planning and the journal all ask for it)
    id: LegId = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ident = LegId(self.algo_id, self.kind, self.symbol, self.side, self.timestamp)
        object.__setattr__(self, "id", ident)


@dataclass(frozen=True, slots=True)
class HeldLeg:
    """A ``side: "hold"`` leg: keep the position. Valid, journaled, never an order."""

    algo_id: int
    kind: LegKind
    symbol: str
    price: Decimal | None  # informative only; validated when present
    timestamp: datetime  # timezone-aware, UTC
    #: identity for de-duplication and the journal, e.g. ``16:open:JBHT:hold:2021-04-26T14:30:01Z``
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = _leg_key(self.algo_id, self.kind, self.symbol, HOLD, self.timestamp)
        object.__setattr__(self, "key", key)


class Refusal(StrEnum):
    """Why a leg was refused, as the plan's skip reason of the same name says it."""

    INVALID = "invalid"  # it could not be parsed, or a rule of its signal refused it
    CONTRADICTORY = "contradictory"  # another leg of its signal disagrees with it on its symbol


@dataclass(frozen=True, slots=True)
class RejectedLeg:
    """A leg (or a whole group) that could not be parsed, with the reason and what arrived."""

    algo_id: int
    kind: LegKind | None
    index: int | None  # position in its list; None when the whole group was unusable
    reason: str
    raw: str  # the offending JSON, for the journal
    #: the leg's identity when it parsed and a rule of its signal refused it (weights, a
    #: contradiction): the journal keeps it, so no later path trades the leg
    leg_id: LegId | None = None
    refusal: Refusal = Refusal.INVALID


@dataclass(frozen=True, slots=True)
class Signal:
    """A parsed ``new_signals`` push for one algorithm."""

    algo_id: int
    received_at: datetime  # timezone-aware, UTC
    close_legs: tuple[Leg, ...]
    open_legs: tuple[Leg, ...]
    rejected: tuple[RejectedLeg, ...] = ()
    raw: str = field(default="", compare=False)
    held: tuple[HeldLeg, ...] = ()  # "hold" legs: valid, never traded
    source: SignalSource = SignalSource.LIVE

    @property
    def legs(self) -> tuple[Leg, ...]:
        """All tradable legs, closes first (they free buying power)."""
        return self.close_legs + self.open_legs

    @property
    def leg_count(self) -> int:
        """Every leg that arrived: tradable, held and rejected."""
        return len(self.close_legs) + len(self.open_legs) + len(self.held) + len(self.rejected)


# -- parsing -----------------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})\s*[Tt ]\s*"
    r"(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?$",
    re.ASCII,  # \d and \s: ASCII digits and spaces only (no "２０２１")
)
_SYMBOL = re.compile(r"[A-Z0-9]+(?:[./][A-Z0-9]+)*", re.ASCII)
_MAX_SYMBOL = 15
_DECIMAL_TEXT = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?", re.ASCII)
_SPACE = " \t\r\n\f\v"  # trimming is ASCII-only: nothing non-ASCII is ever normalised away
_MAX_RAW = 2000  # characters of an offending leg kept for the journal


def parse_timestamp(value: object, zone: tzinfo) -> datetime:
    """Parse an AlphaHub leg timestamp; naive ones are read in ``zone``. Returns UTC."""
    if not isinstance(value, str):
        raise InvalidSignal(f"timestamp must be a string, got {type(value).__name__}")
    match = _TIMESTAMP.match(value.strip(_SPACE))
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


def _decimal(value: object, name: str) -> Decimal:
    """A finite ``Decimal`` from a JSON number or plain decimal text (``"216.08"``).

    Text is held to ``digits[.digits]``: Python's ``Decimal`` would also take ``"1_000"``,
    ``"1e3"``, ``" NaN"`` and non-ASCII digits, none of which a price feed means.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InvalidSignal(f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip(_SPACE)
        if not _DECIMAL_TEXT.fullmatch(text):
            raise InvalidSignal(f"{name} {value[:40]!r} is not a plain decimal number")
        return Decimal(text)
    try:
        # floats go through str so 216.08 stays 216.08, not its binary expansion
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):  # ValueError: an int too long to print
        raise InvalidSignal(f"{name} {str(value)[:40]!r} is not a number") from None
    if not number.is_finite():
        raise InvalidSignal(f"{name} must be finite, got {number}")
    return number


def parse_price(value: object) -> Decimal:
    """A price in [MIN_PRICE, MAX_PRICE] as ``Decimal``."""
    price = _decimal(value, "price")
    if price <= 0:
        raise InvalidSignal(f"price must be positive, got {_short(price)}")
    if implausible_price(price) is not None:  # the one sanity rule, shared with the market
        raise InvalidSignal(f"price {_short(price)} is outside {MIN_PRICE}..{MAX_PRICE}")
    return price


def parse_weight(value: object) -> Decimal:
    """An open leg's ``weight``: a fraction of the algorithm's allocation, in (0, 1]."""
    weight = _decimal(value, "weight")
    if not 0 < weight <= 1:
        raise InvalidSignal(f"weight must be in (0, 1], got {_short(weight)}")
    return weight


def _short(number: Decimal) -> str:
    text = str(number)
    return text if len(text) <= 40 else f"{text[:37]}..."


@lru_cache(maxsize=1024)  # a feed uses a handful of key spellings; this runs for every key
def _key(key: object) -> str | None:
    """A field name as the parser compares it, or None for a key that can name no field."""
    if not isinstance(key, str) or not key.isascii():
        return None  # never lower-case non-ASCII: "\u212a" (Kelvin) lower-cases to "k"
    return key.strip(_SPACE).lower()


def _text_value(value: object) -> str | None:
    """A trimmed ASCII string, or None when ``value`` is no string or holds non-ASCII."""
    if not isinstance(value, str):
        return None
    text = value.strip(_SPACE)
    return text if text.isascii() else None


def _leg_fields(raw: Mapping[Any, Any]) -> dict[str, Any]:
    for key, values in duplicate_keys(raw):
        shown = ", ".join(_excerpt(v) for v in values[:3])
        raise InvalidSignal(f"key {key[:20]!r} appears {len(values)} times ({shown})")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _key(key)
        if name is None:
            continue
        if name in out:
            raise InvalidSignal(f"field {name[:20]!r} appears twice (as differently spaced keys)")
        out[name] = value
    return out


def _excerpt(value: object) -> str:
    return _raw_text(value)[:30]


def parse_symbol(value: object) -> str:
    """An ASCII ticker: letters, digits, ``.`` and ``/`` between them, upper-cased."""
    if not isinstance(value, str) or not value.strip(_SPACE):
        raise InvalidSignal("missing symbol")
    text = value.strip(_SPACE)
    if not text.isascii():  # checked before upper(): "ß".upper() == "SS"
        raise InvalidSignal(f"symbol {text[:20]!r} is not ASCII")
    symbol = text.upper()
    if len(symbol) > _MAX_SYMBOL or not _SYMBOL.fullmatch(symbol):
        raise InvalidSignal(
            f"symbol {symbol[:20]!r} is not a ticker (letters, digits, '.' and '/', "
            f"at most {_MAX_SYMBOL} characters)"
        )
    return symbol


def parse_leg(
    algo_id: int,
    kind: LegKind,
    raw: object,
    zone: tzinfo,
    *,
    not_after: datetime | None = None,
) -> Leg | HeldLeg:
    """Parse one leg object; raises :class:`InvalidSignal` with the reason.

    A ``hold`` leg comes back as a :class:`HeldLeg`. ``not_after``: the latest acceptable
    timestamp (the arrival time plus :data:`FUTURE_TOLERANCE`); None checks nothing.
    """
    if not isinstance(raw, Mapping):
        raise InvalidSignal(f"leg must be an object, got {type(raw).__name__}")
    fields = _leg_fields(raw)
    symbol = parse_symbol(fields.get("symbol"))
    side_text = _text_value(fields.get("side"))
    side = None if side_text is None else side_text.lower()
    if side not in ("buy", "sell", HOLD):
        shown = str(fields.get("side"))[:20]
        raise InvalidSignal(f"unknown side {shown!r} (expected buy, sell or hold)")
    if "timestamp" not in fields:
        raise InvalidSignal("missing timestamp")
    timestamp = parse_timestamp(fields["timestamp"], zone)
    if not_after is not None and timestamp > not_after:
        ahead = (timestamp - not_after + FUTURE_TOLERANCE).total_seconds()
        raise InvalidSignal(
            f"timestamp {timestamp.isoformat()} is {ahead:.0f} s in the future (more than "
            f"{FUTURE_TOLERANCE.total_seconds():.0f} s after the signal arrived)"
        )
    if side == HOLD:
        price = parse_price(fields["price"]) if fields.get("price") is not None else None
        return HeldLeg(algo_id, kind, symbol, price, timestamp)
    if "price" not in fields:
        raise InvalidSignal("missing price")
    price = parse_price(fields["price"])
    weight = None
    if kind is LegKind.OPEN and fields.get("weight") is not None:
        weight = parse_weight(fields["weight"])
    return Leg(algo_id, kind, symbol, Side(side), price, timestamp, weight)


def _raw_text(value: object) -> str:
    try:
        text = json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:_MAX_RAW]


def _groups(
    algo_id: int, payload: Mapping[Any, Any], rejected: list[RejectedLeg]
) -> dict[LegKind, object]:
    """The ``close`` and ``open`` values; a group named twice is rejected whole, and any other
    key is rejected by name (a misspelled ``"opne"`` must not vanish without a record)."""
    # keys the decoder saw more than once at the payload's own level (not inside its legs)
    repeated: dict[str, list[Any]] = getattr(payload, "duplicates", {})
    fields: dict[LegKind, object] = {}
    for kind in (LegKind.CLOSE, LegKind.OPEN):
        # keys are trimmed and lower-cased, so " open" and "open" both name the open group
        found = [v for k, v in payload.items() if _key(k) == kind]
        found += [v for k, vs in repeated.items() if _key(k) == kind for v in vs[:-1]]
        if len(found) > 1:
            reason = f"key {str(kind)!r} appears {len(found)} times: which list is meant is unknown"
            rejected.append(RejectedLeg(algo_id, kind, None, reason, _raw_text(found)))
        elif found:
            fields[kind] = found[0]
    groups = {str(kind) for kind in LegKind}
    for key, value in payload.items():
        name = _key(key)
        if name not in groups:
            shown = (name if name is not None else str(key))[:40]
            reason = f"unknown key {shown!r}: a signal has only 'open' and 'close'"
            rejected.append(RejectedLeg(algo_id, None, None, reason, _raw_text({key: value})))
    return fields


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
    Bad legs, a bad group, an unknown key, a leg repeated within the payload, a payload with no
    leg at all, and the legs :func:`judge` refuses (contradictions, weights adding up to more
    than the whole allocation) are kept in ``Signal.rejected``.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    if not isinstance(payload, Mapping):
        raise InvalidSignal(f"new_signals payload must be an object, got {type(payload).__name__}")
    rejected: list[RejectedLeg] = []
    fields = _groups(algo_id, payload, rejected)
    not_after = received_at + FUTURE_TOLERANCE
    seen: dict[str, Leg | HeldLeg] = {}
    groups: dict[LegKind, list[Candidate]] = {LegKind.CLOSE: [], LegKind.OPEN: []}
    held: list[HeldLeg] = []
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
                leg = parse_leg(algo_id, kind, item, zone, not_after=not_after)
            except InvalidSignal as exc:
                rejected.append(RejectedLeg(algo_id, kind, index, str(exc), _raw_text(item)))
                continue
            key = leg.key if isinstance(leg, HeldLeg) else leg.id.key
            earlier = seen.get(key)
            if earlier is not None and (isinstance(leg, HeldLeg) or earlier == leg):
                # an exact copy is one leg: the copy is noted, the leg stands
                reason = "the same leg appears twice in this signal"
                rejected.append(RejectedLeg(algo_id, kind, index, reason, _raw_text(item)))
                continue
            seen.setdefault(key, leg)  # the same identity at another price or weight: judged
            if isinstance(leg, HeldLeg):
                held.append(leg)
            else:
                groups[kind].append(Candidate(leg, index, _raw_text(item)))
    closes, opens = judge(algo_id, groups[LegKind.CLOSE], groups[LegKind.OPEN], rejected)
    if not (closes or opens or held or rejected):
        reason = "the signal has no legs: its open and close are missing or empty"
        rejected.append(RejectedLeg(algo_id, None, None, reason, _raw_text(payload)))
    return Signal(
        algo_id=algo_id,
        received_at=received_at.astimezone(UTC),
        close_legs=closes,
        open_legs=opens,
        rejected=tuple(rejected),
        raw=raw if raw is not None else _raw_text(payload),
        held=tuple(held),
    )


# -- the group rules: one judge for a signal's legs, live or from the history -----------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A parsed leg offered to :func:`judge`, with where it came from (for a rejection)."""

    leg: Leg
    index: int | None  # its position in its list (live) or in the history's answer
    raw: str  # its JSON, for the journal


def _terms(leg: Leg) -> tuple[Side, Decimal, Decimal | None]:
    """What two legs of one symbol must agree on: side, price and weight."""
    return (leg.side, leg.price, leg.weight)


def disagreements(legs: Iterable[Leg]) -> dict[str, str]:
    """The symbols on which ``legs`` disagree: two legs of the symbol with one timestamp whose
    side, price or weight differ; each with a description of the legs (``buy @ 10, sell @ 10``).

    Legs with different timestamps are a sequence, not a contradiction (the later one is the
    algorithm's newer word). Live, it is asked of a signal's closes and of its opens apart (a
    close and an open of one symbol are a flip or a re-entry); the history, which has no
    open/close, asks it of all the legs of one time together.
    """
    by_moment: dict[tuple[str, datetime], list[Leg]] = {}
    for leg in legs:
        by_moment.setdefault((leg.symbol, leg.timestamp), []).append(leg)
    out: dict[str, str] = {}
    for (symbol, _), same in by_moment.items():
        terms = list(dict.fromkeys(_terms(leg) for leg in same))
        if len(terms) > 1 and symbol not in out:
            out[symbol] = ", ".join(_describe(*t) for t in terms[:4])
    return out


def _describe(side: Side, price: Decimal, weight: Decimal | None) -> str:
    text = f"{side} @ {_short(price)}"
    return text if weight is None else f"{text} weight {_short(weight)}"


def _closed_after_opened(closes: Sequence[Leg], opens: Sequence[Leg]) -> dict[str, str]:
    """Symbols with a close stamped after an open: closes go first, so the bot would end
    holding what the algorithm closed."""
    first_open: dict[str, datetime] = {}
    for leg in opens:
        first_open[leg.symbol] = min(leg.timestamp, first_open.get(leg.symbol, leg.timestamp))
    out: dict[str, str] = {}
    for leg in closes:
        opened = first_open.get(leg.symbol)
        if opened is not None and leg.timestamp > opened:
            out[leg.symbol] = (
                f"a close at {leg.timestamp.isoformat()} after an open at {opened.isoformat()}"
            )
    return out


def contradiction_reason(symbol: str, what: str) -> str:
    """The reason given for every leg of a contradiction on ``symbol``."""
    return (
        f"the legs of this signal contradict each other on {symbol} ({what}): which is meant "
        "is unknown, so none of them is traded"
    )


def judge(
    algo_id: int,
    closes: Sequence[Candidate],
    opens: Sequence[Candidate],
    rejected: list[RejectedLeg],
) -> tuple[tuple[Leg, ...], tuple[Leg, ...]]:
    """One signal's group rules (module docstring): the closes and opens that stand; every
    refused leg is added to ``rejected``, with its identity."""
    bad = disagreements(c.leg for c in closes) | disagreements(c.leg for c in opens)
    crossed = _closed_after_opened([c.leg for c in closes], [c.leg for c in opens])
    bad |= {s: w for s, w in crossed.items() if s not in bad}
    for candidate in (*closes, *opens):
        what = bad.get(candidate.leg.symbol)
        if what is not None:
            reason = contradiction_reason(candidate.leg.symbol, what)
            rejected.append(refused(candidate, reason, Refusal.CONTRADICTORY))
    kept_closes = tuple(c.leg for c in closes if c.leg.symbol not in bad)
    kept_opens = [c for c in opens if c.leg.symbol not in bad]
    return kept_closes, _within_allocation(kept_opens, rejected)


def refused(candidate: Candidate, reason: str, refusal: Refusal = Refusal.INVALID) -> RejectedLeg:
    """``candidate`` refused by a rule of its signal: a rejection that keeps its identity."""
    leg = candidate.leg
    return RejectedLeg(
        leg.algo_id, leg.kind, candidate.index, reason, candidate.raw, leg.id, refusal
    )


def _within_allocation(opens: Sequence[Candidate], rejected: list[RejectedLeg]) -> tuple[Leg, ...]:
    """The open legs, unless their weights add up to more than the whole allocation.

    Each weight is a fraction of one allocation; weights summing past 1 cannot all be honoured,
    and which to shrink is not ours to guess, so every weighted open of the signal is refused.
    """
    total = sum((c.leg.weight for c in opens if c.leg.weight is not None), Decimal(0))
    if total <= 1:
        return tuple(c.leg for c in opens)
    reason = f"the weights of this signal's open legs add up to {_short(total)}, more than 1"
    rejected.extend(refused(c, reason) for c in opens if c.leg.weight is not None)
    return tuple(c.leg for c in opens if c.leg.weight is None)
