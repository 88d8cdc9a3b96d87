"""From a strategy's raw quantity to an order quantity: explicit rounding, always down.

Whole shares unless fractions are allowed for the algorithm, the order and the asset. Rounding
is always toward zero, so it can never push an order past a limit, and a quantity that rounds
to zero is never sent: the leg is skipped with the reason.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from tradebot.core.account import AssetInfo
from tradebot.core.orders import TimeInForce
from tradebot.core.signal import Side

ZERO = Decimal(0)
WHOLE = Decimal(1)
#: Alpaca: order quantities carry at most 9 decimals
FRACTION_STEP = Decimal("0.000000001")
#: Alpaca: a fractional order must be worth at least $1
MIN_FRACTIONAL_NOTIONAL = Decimal(1)
#: beyond this a quantity is absurd anyway; rounding it to 9 decimals would overflow Decimal
_HUGE = Decimal(10) ** 15


def why_whole_shares(
    allow_fractional: bool, time_in_force: TimeInForce, side: Side, asset: AssetInfo | None
) -> str | None:
    """Why an open must be in whole shares, or ``None`` when fractions are fine."""
    if not allow_fractional:
        return "allow_fractional is off"
    if time_in_force is not TimeInForce.DAY:
        # Alpaca: fractional orders must be time_in_force day
        return f"fractional orders need time_in_force day, not {time_in_force}"
    if side is Side.SELL:
        # Alpaca: fractional shares cannot be sold short
        return "short positions open in whole shares"
    if asset is not None and not asset.fractionable:
        return f"{asset.symbol} is not fractionable"
    return None


def round_quantity(raw: Decimal, *, fractional: bool) -> Decimal:
    """``raw`` rounded down to whole shares or to Alpaca's 9 decimals; 0 for anything not > 0.

    The result is in plain form (``12``, ``0.5``), never ``1.2E+1`` or ``12.000000000``.
    """
    if not raw.is_finite() or raw <= 0:
        return ZERO
    if raw >= _HUGE:
        return raw.to_integral_value(rounding=ROUND_DOWN)
    qty = raw.quantize(FRACTION_STEP if fractional else WHOLE, rounding=ROUND_DOWN)
    return qty.quantize(WHOLE) if is_whole(qty) else qty.normalize()


def is_whole(qty: Decimal) -> bool:
    return qty == qty.to_integral_value()
