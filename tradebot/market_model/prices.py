"""What a share price can be: the tick it trades on and the bounds of a plausible price.

Pure values, shared by the bot's price checks (:mod:`tradebot.core.market` re-exports them) and
the simulated markets, which refuse a price no stock trades at.
"""

from __future__ import annotations

from decimal import Decimal

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
