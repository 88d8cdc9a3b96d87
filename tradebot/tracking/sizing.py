"""How the algorithm's own ledger sizes an open leg: the config's strategy for that algorithm,
at the leg's signal price, in fractional shares (the raw quantity, never rounded), against a
stated equity.

The journal records that the config changed (CONFIG rows name what was applied), not the rules
before the change, so every leg is sized by the current config, and the output says so when the
period saw a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradebot.core.account import AccountSnapshot
from tradebot.core.signal import Leg, LegKind, Side
from tradebot.core.sizing import SizingContext
from tradebot.journal.records import from_micros
from tradebot.tracking.chain import Sizer
from tradebot.tracking.facts import LegFact

_ZERO = Decimal(0)


def config_sizer(config: Any, algo_id: int, equity: Decimal) -> Sizer | None:
    """The algorithm's strategy from ``config`` at ``equity`` (None: not in the config)."""
    algo = None if config is None else config.algorithms.get(algo_id)
    if algo is None:
        return None
    strategy = algo.sizer
    account = AccountSnapshot("track", equity, equity, equity)

    def size(leg: LegFact, holdings: Mapping[str, Decimal]) -> Decimal | None:
        at = from_micros(leg.at) if leg.at else datetime.now(UTC)
        side = Side.BUY if leg.buy else Side.SELL
        the_leg = Leg(algo_id, LegKind.OPEN, leg.symbol, side, leg.price, at, leg.weight)
        try:
            sizing = strategy.size(the_leg, SizingContext(account, dict(holdings)))
        except Exception:  # a user's strategy: one leg it cannot size is said, not fatal
            return None
        qty = sizing.qty
        return qty if isinstance(qty, Decimal) and qty.is_finite() and qty >= 0 else None

    return size


def allocation(config: Any, algo_id: int, equity: Decimal) -> Decimal | None:
    """The money the algorithm's rules give it, the base of the basis points: ``pct`` of equity
    (``allocation``, ``percent_of_equity``), or the notional of ``fixed_notional``; None for
    rules that state no amount."""
    algo = None if config is None else config.algorithms.get(algo_id)
    if algo is None:
        return None
    params = algo.sizer.params
    pct = getattr(params, "pct", None)
    if isinstance(pct, Decimal):
        return equity * pct / 100
    notional = getattr(params, "notional", None)
    if isinstance(notional, Decimal):
        return notional
    return None
