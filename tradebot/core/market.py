"""Reference prices: the broker's view of the market that sizing and every limit use. Pure values.

A signal's price is a claim, not a fact (docs/design.md#hostile-input): a leg priced at $0.0001 for
a $190 stock would otherwise size to millions of shares and slip under every notional limit. So the
caller asks the broker for each symbol's price once per signal (one multi-symbol request) and hands
the answer to the planner as :class:`MarketPrices`. The planner sizes and checks every leg at that
price, and skips a leg whose own price is further from it than ``risk.price_collar_pct``.

Where the signal's price may stand in for a missing reference (the ``sim`` broker, which is its
own market, or ``risk.reference_price: signal_if_unavailable``), the plan says so on the order.

A reference is only worth anything while it is current: each price carries the time its source
traded (or quoted) at it, and :func:`stale_reference` refuses one older than
``risk.reference_max_age`` while the market is open, or from before the latest session while it
is closed. A stale reference counts as no reference. A price the user typed (``tradebot plan
--price``) has no age.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from tradebot.market_model.prices import MAX_PRICE as MAX_PRICE
from tradebot.market_model.prices import MIN_PRICE as MIN_PRICE
from tradebot.market_model.prices import implausible_price as implausible_price
from tradebot.market_model.prices import price_tick as price_tick

#: US equities trade on New York time: a session is a New York trading day
_NEW_YORK = ZoneInfo("America/New_York")


class PriceSource(StrEnum):
    """Where the price an order was sized and checked at came from."""

    REFERENCE = "reference"  # the broker's price (``tradebot plan``: or one given by --price)
    SIGNAL = "signal"  # the signal's own price, standing in for a missing reference


@dataclass(frozen=True, slots=True)
class MarketPrices:
    """Reference prices for a signal's symbols, read from the broker just before planning.

    ``prices``: symbol -> the broker's price; a symbol missing from it has no reference.
    ``signal_stands_in``: the broker is its own market (``sim``) and has no opinion on a symbol
    it has no price for, so the signal's price may stand in (shown on the order).
    ``unavailable``: why the lookup failed altogether (shown in the skips), when it did.
    ``origin``: who gave the prices, for the skips' details.
    ``as_of``: symbol -> when the source last traded (or quoted) at its price, timezone-aware;
    a price without a time cannot be judged fresh and is refused (:func:`stale_reference`).
    ``typed_by_user``: the prices were typed by the user (``tradebot plan --price``): no age.
    """

    prices: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    signal_stands_in: bool = False
    unavailable: str | None = None
    origin: str = "the broker"
    as_of: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))
    typed_by_user: bool = False

    @classmethod
    def failed(cls, reason: str) -> MarketPrices:
        """No reference at all: the broker could not be asked (``reason`` says why)."""
        return cls(unavailable=reason)

    def price(self, symbol: str) -> Decimal | None:
        """The broker's price for ``symbol``, or None (none given, or not a plausible price)."""
        price = self.prices.get(symbol)
        if price is None or implausible_price(price) is not None:
            return None
        return price

    def missing(self, symbol: str) -> str:
        """Why there is no reference price for ``symbol`` (for a skip's detail)."""
        if self.unavailable is not None:
            return f"no reference price for {symbol}: {self.unavailable}"
        price = self.prices.get(symbol)
        if price is not None:
            return f"{self.origin}'s price for {symbol} is unusable: {implausible_price(price)}"
        return f"{self.origin} has no price for {symbol}"


def latest_session_day(next_open: datetime) -> date:
    """The New York trading day before the session that opens at ``next_open``: the latest
    session while the market is closed (Saturday's and Monday morning's is Friday).

    Weekends are skipped; exchange holidays are not known here (the broker's clock names only the
    next session), so after a holiday the day before it looks one session older than it is and its
    prices are refused: a missed trade, never a trade on an old price.
    """
    day = next_open.astimezone(_NEW_YORK).date() - timedelta(days=1)
    while day.weekday() >= 5:  # Saturday, Sunday
        day -= timedelta(days=1)
    return day


def stale_reference(
    market: MarketPrices,
    symbol: str,
    now: datetime,
    max_age: float | None,
    *,
    market_open: bool | None,
    next_open: datetime | None,
) -> str | None:
    """Why ``symbol``'s reference price is too old to size and check a leg at, or None.

    ``max_age`` (``risk.reference_max_age``, seconds; None: no limit) bounds the age while the
    market is open, or when the clock is unknown (``market_open`` None: judged as open, the
    strictest). While it is closed, a price from the latest session (the New York trading day
    before ``next_open``, :func:`latest_session_day`) is fresh too, however old: on Saturday,
    Friday's trades are the market's price; Thursday's are not. A price typed by the user has
    no age. A time ahead of ``now`` (clocks that disagree) counts as no age.
    """
    if max_age is None or market.typed_by_user or symbol not in market.prices:
        return None
    as_of = market.as_of.get(symbol)
    if as_of is None or as_of.tzinfo is None:
        return f"{market.origin}'s price for {symbol} carries no time ({_age_limit(max_age)})"
    age = (now - as_of).total_seconds()
    if age <= max_age:
        return None
    limit = _age_limit(max_age)  # text for a refusal only: a fresh price is the hot path
    old = f"reference price for {symbol} is {age_text(age)} old"
    if market_open is False and next_open is not None:
        session = latest_session_day(next_open)
        start = datetime.combine(session, time(0), tzinfo=_NEW_YORK)
        if as_of >= start:
            return None
        return f"{old}: from before the latest session, {session:%a %Y-%m-%d} ({limit})"
    return f"{old} ({limit})"


def _age_limit(max_age: float) -> str:
    return f"risk.reference_max_age {age_text(max_age)}"


def age_text(seconds: float) -> str:
    """A duration as its two largest units: ``5d 2h``, ``15m``, ``1m 30s``, ``45s``."""
    if seconds < 60:
        return f"{round(max(seconds, 0), 1):g}s"
    left, counts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        counts.append((count, unit))
    first = next(i for i, (count, _) in enumerate(counts) if count)
    return " ".join(f"{count}{unit}" for count, unit in counts[first : first + 2] if count)


def off_market(signal_price: Decimal, reference: Decimal, collar_pct: Decimal) -> Decimal | None:
    """How far (percent) ``signal_price`` is from ``reference`` when beyond ``collar_pct``."""
    distance = abs(signal_price - reference) / reference * 100
    return distance if distance > collar_pct else None
