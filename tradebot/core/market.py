"""Reference prices: the broker's view of the market that sizing and every limit use. Pure values.

A signal's price is a claim, not a fact (DESIGN.md): a leg priced at $0.0001 for a $190 stock
would otherwise size to millions of shares and slip under every notional limit. So the caller
asks the broker for each symbol's price once per signal (one multi-symbol request) and hands the
answer to the planner as :class:`MarketPrices`. The planner sizes and checks every leg at that
price, and skips a leg whose own price is further from it than ``risk.price_collar_pct``.

Where the signal's price may stand in for a missing reference (the ``sim`` broker, which is its
own market, or ``risk.reference_price: signal_if_unavailable``), the plan says so on the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

#: No US stock trades below one hundredth of a cent (Reg NMS: the smallest increment under $1).
MIN_PRICE = Decimal("0.0001")
#: No US stock trades anywhere near $10,000,000 a share (BRK.A, the dearest, is under $1,000,000):
#: a price above it is a garbled number, never a market.
MAX_PRICE = Decimal(10_000_000)
_CENT = Decimal("0.01")


def price_tick(price: Decimal) -> Decimal:
    """Alpaca's price increment at ``price``: a cent at or above $1, 0.0001 below (the
    sub-penny rule). Every limit, stop and exit price tradebot writes is on this tick."""
    return _CENT if price >= 1 else MIN_PRICE


def implausible_price(price: Decimal) -> str | None:
    """Why ``price`` cannot be a share price (not finite, below a tick, absurdly high), or None.

    Applied to every price, the signal's and the broker's, whatever else is known.
    """
    if not isinstance(price, Decimal) or not price.is_finite():
        return f"price {price} is not a finite number"
    if price < MIN_PRICE:
        return f"price {price} is below {MIN_PRICE}, the smallest tick a US stock trades at"
    if price > MAX_PRICE:
        return f"price {price} is above {MAX_PRICE:,}, more than any share costs"
    return None


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
    """

    prices: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    signal_stands_in: bool = False
    unavailable: str | None = None
    origin: str = "the broker"

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


NO_PRICES = MarketPrices.failed("no market data was asked for")


def off_market(signal_price: Decimal, reference: Decimal, collar_pct: Decimal) -> Decimal | None:
    """How far (percent) ``signal_price`` is from ``reference`` when beyond ``collar_pct``."""
    distance = abs(signal_price - reference) / reference * 100
    return distance if distance > collar_pct else None
