"""Snapshots of the broker account the planner sizes against. Plain values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account as the broker last reported it."""

    account_id: str  # the broker's account number (part of every client order id)
    equity: Decimal
    buying_power: Decimal
    cash: Decimal
    currency: str = "USD"
    shorting_enabled: bool = True
    trading_blocked: bool = False
    #: the equity at the previous trading day's close (Alpaca's ``last_equity``: "Equity as of
    #: previous trading day at 16:00:00 ET"); None when the broker does not say
    last_equity: Decimal | None = None

    @property
    def day_pnl(self) -> Decimal | None:
        """Today's change in equity: the equity against the previous close (None: unknown)."""
        return None if self.last_equity is None else self.equity - self.last_equity


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """What the broker allows for one symbol."""

    symbol: str
    tradable: bool = True
    shortable: bool = False
    easy_to_borrow: bool = False
    fractionable: bool = False


@dataclass(frozen=True, slots=True)
class MarketClock:
    """The broker's market clock."""

    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime
