"""What the pure planner needs from the world, gathered before each signal.

* the account snapshot, kept fresh in the background (after orders, after fills, and every
  ``account_refresh`` seconds) so no signal waits for a broker round trip before it is planned;
  sizing by equity barely moves between two refreshes, and buying power is the broker's to
  enforce when the order arrives;
* asset information for the signal's symbols (cached for the day: tradable, shortable and
  fractionable flags change rarely, and the broker checks again when the order arrives);
* the broker's reference prices for the signal's symbols: asked for afresh for every signal,
  in one request for all its symbols, each with the time the source traded at it (a price is
  only worth anything while it is current: the planner refuses one older than
  ``risk.reference_max_age``, judged against the market clock's session);
* today's state: orders sent and P&L realised per algorithm, the kill switch, the market clock.

Lookups that fail for a transient reason degrade to "unknown" rather than dropping the signal:
an unknown asset is not restricted by the planner, and the broker still refuses what it must.
Reference prices that cannot be had, for whatever reason, become "no reference": the planner then
skips the legs (``no_reference_price``) unless the config lets the signal's price stand in. The
signal is journaled and the loop goes on; nothing is traded on a price nobody checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from tradebot.broker.base import Broker
from tradebot.config.model import Config
from tradebot.core.account import AccountSnapshot, AssetInfo
from tradebot.core.market import MarketPrices
from tradebot.core.risk import DayState
from tradebot.exceptions import TradebotError, TransientError
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status
from tradebot.journal.review import report
from tradebot.runtime.broker_reach import BrokerReach
from tradebot.runtime.killswitch import (
    KillSwitchState,
    read_account_kill_switch,
    read_kill_switch,
)
from tradebot.runtime.market_clock import ClockCache

log = logging.getLogger(__name__)

#: US equities trade on New York time; "today" for order counts and daily loss starts here
MARKET_ZONE = ZoneInfo("America/New_York")


def daily_loss_limited(config: Config) -> bool:
    """Whether any daily-loss limit is configured (then realised P&L must be tracked)."""
    return config.risk.max_daily_loss is not None or any(
        a.risk.max_daily_loss is not None for a in config.algorithms.values()
    )


def start_of_trading_day(now: datetime) -> datetime:
    """Midnight in New York on ``now``'s New York date, in UTC."""
    local = now.astimezone(MARKET_ZONE)
    return datetime.combine(local.date(), time(0), tzinfo=MARKET_ZONE).astimezone(UTC)


class PlanningContext:
    """Caches and counters the run loop reads before planning each signal."""

    def __init__(
        self,
        broker: Broker,
        journal: Journal,
        *,
        kill_switch: Path | None,
        track_pnl: bool,
        account_refresh: float = 15.0,
        account_min_interval: float = 2.0,
        price_timeout: float = 5.0,
        reach: BrokerReach | None = None,
        account: str | None = None,
    ) -> None:
        """``account``: the config's account planned for (its orders alone count towards its
        limits); None: the journal's one account."""
        self._broker = broker
        self._account_name = account
        self.reach = reach or BrokerReach()  # whether the broker answers (alerts)
        self._journal = journal
        self.kill_switch_path = kill_switch
        self._track_pnl = track_pnl
        self._account_refresh = account_refresh
        self._account_min_interval = account_min_interval
        self._price_timeout = price_timeout
        self.account: AccountSnapshot | None = None
        self._account_at: datetime | None = None
        self._account_wanted = asyncio.Event()
        self._assets: dict[str, AssetInfo] = {}
        self._assets_day: datetime | None = None
        self.clock = ClockCache(broker)
        self._day: datetime | None = None
        self.orders_today: Counter[int] = Counter()
        #: the kill switch as the last :meth:`day_state` read it (what that plan obeys)
        self.switch: KillSwitchState = read_kill_switch(None)
        self.pnl_today: dict[int, Decimal] = {}
        self._pnl_stale = False  # fills recorded since today's P&L was last read

    async def refresh_account(self, now: datetime) -> AccountSnapshot:
        """Read the account now (raises what the broker raises when it has no cached copy)."""
        try:
            self.account = await self._broker.account()
            self._account_at = now
            self.reach.answered(now)
        except TransientError as exc:
            self.reach.failed(now, exc)
            if self.account is None:
                raise
            log.warning(
                "account snapshot unavailable; sizing with the one from %s", self._account_at
            )
        return self.account

    @property
    def account_at(self) -> datetime | None:
        """When the broker last answered an account request (the health check reads it)."""
        return self._account_at

    async def account_for(self, now: datetime) -> AccountSnapshot:
        """The latest snapshot; only the very first signal waits for the broker."""
        if self.account is None:
            return await self.refresh_account(now)
        return self.account

    async def keep_account_fresh(self, now: Callable[[], datetime]) -> None:
        """Refresh the snapshot when asked (:meth:`account_stale`) or every few seconds.

        Requests that arrive within ``account_min_interval`` of a refresh are coalesced into
        the next one: a burst of orders and fills costs one account request, not two per order
        (Alpaca allows 200 requests a minute for everything).
        """
        while True:
            await asyncio.sleep(self._account_min_interval)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._account_refresh):
                    await self._account_wanted.wait()
            self._account_wanted.clear()
            try:
                await self.refresh_account(now())
            except TransientError as exc:
                log.warning("account refresh failed: %s", exc)

    async def assets_for(self, symbols: Iterable[str], now: datetime) -> Mapping[str, AssetInfo]:
        day = start_of_trading_day(now)
        if self._assets_day != day:
            self._assets.clear()
            self._assets_day = day
        missing = [s for s in dict.fromkeys(symbols) if s not in self._assets]
        if missing:
            found = await asyncio.gather(
                *(self._broker.asset(s) for s in missing), return_exceptions=True
            )
            for symbol, info in zip(missing, found, strict=True):
                if isinstance(info, AssetInfo):
                    self._assets[symbol] = info
                elif isinstance(info, TransientError):
                    log.warning("asset %s unavailable (%s); planning without it", symbol, info)
                elif isinstance(info, BaseException):
                    raise info
        return {s: self._assets[s] for s in symbols if s in self._assets}

    async def market_for(self, symbols: Iterable[str]) -> MarketPrices:
        """The broker's reference prices for ``symbols``: one request, never one per leg.

        Never raises a broker error: a lookup that fails (after the broker's own retries) gives
        no reference prices, with the reason, and the planner skips what it cannot check. A
        lookup still unanswered after ``price_timeout`` seconds is given up the same way: a hung
        market-data API holds a signal up for seconds, never for the length of every retry.
        """
        wanted = list(dict.fromkeys(symbols))
        if not wanted:
            return MarketPrices()
        try:
            async with asyncio.timeout(self._price_timeout):
                return await self._broker.reference_prices(wanted)
        except TimeoutError:
            reason = f"no answer within {self._price_timeout:g}s"
        except TradebotError as exc:
            reason = str(exc)
        log.warning("reference prices for %s unavailable: %s", ", ".join(wanted), reason)
        return MarketPrices.failed(f"the broker's market data is unavailable ({reason})")

    def kill_switch(self) -> KillSwitchState:
        """What this account obeys: with several accounts, the global switch and its own
        (``tradebot halt --account NAME``), the stricter winning; one account: the switch."""
        if self._account_name is not None:
            return read_account_kill_switch(self.kill_switch_path, self._account_name)
        return read_kill_switch(self.kill_switch_path)

    async def day_state(self, now: datetime) -> DayState:
        day = start_of_trading_day(now)
        if self._day != day:
            self._day = day
            self._pnl_stale = False
            await asyncio.to_thread(self._load_day, day)
        elif self._pnl_stale:
            # read once before the next plan, however many fills came in between
            self._pnl_stale = False
            if self._track_pnl:
                await asyncio.to_thread(self._refresh_pnl, day)
        switch = self.switch = self.kill_switch()
        market_open = await self.clock.is_open(now)
        clock = self.clock.clock
        return DayState(
            orders_today=dict(self.orders_today),
            realised_pnl=dict(self.pnl_today),
            halted=switch.halted,
            reduce_only=switch.reduce_only,
            market_open=market_open,
            # closed: the session the reference prices may come from is the one before this
            next_open=clock.next_open if market_open is False and clock is not None else None,
        )

    async def follow_config(self, config: Config) -> None:
        """Track realised P&L while the config in force has a daily-loss limit. A limit added by
        a live edit binds at once: today's P&L is loaded from the journal when it appears."""
        wanted = daily_loss_limited(config)
        switched_on = wanted and not self._track_pnl
        self._track_pnl = wanted
        if switched_on and self._day is not None:
            await asyncio.to_thread(self._refresh_pnl, self._day)

    def _load_day(self, day: datetime) -> None:
        accounts = () if self._account_name is None else (self._account_name,)
        intents = self._journal.entries(
            EntryFilter(statuses=(Status.INTENT,), since=day, accounts=accounts)
        )
        self.orders_today = Counter(e.algo_id for e in intents if e.algo_id is not None)
        self._refresh_pnl(day)

    def _refresh_pnl(self, day: datetime) -> None:
        if self._track_pnl:
            # this account's own P&L (None: the journal's one account, every row)
            today = report(self._journal, since=day, account=self._account_name)
            self.pnl_today = {r.algo_id: r.realised_pnl for r in today}

    def count_orders(self, algo_ids: Iterable[int]) -> None:
        """Count orders just made durable (before they are sent: a crash still counts them)."""
        self.orders_today.update(algo_ids)

    def account_stale(self) -> None:
        """Orders went out or filled: read the account again, in the background."""
        self._account_wanted.set()

    def fills_recorded(self) -> None:
        """Fills were journaled (the broker's event stream calls this): they change realised P&L,
        which the daily-loss limit reads again before the next plan (:meth:`day_state`), and
        buying power, read again in the background."""
        self._pnl_stale = True
        self.account_stale()
