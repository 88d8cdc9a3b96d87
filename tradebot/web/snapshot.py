"""The broker's side of the dashboard: its last answer, refreshed in the background.

Pages never ask the broker. A refresher (:meth:`BrokerSnapshots.run`: a task of the bot under
``tradebot run``, of ``tradebot dashboard`` alone) asks every :data:`REFRESH_EVERY` seconds (the
bot's also at once after a fill), one request at a time, and keeps the last answer with the
time it came. A page reads that (:meth:`BrokerSnapshots.state`) and says how old it is: "broker
positions as of 12 s ago", "never reached" while no answer came yet, and the error of the last
failed refresh. A broker that hangs makes the age grow; it never makes a page wait.

A refresh asks three things, one after the other: the positions, the account (equity, cash,
buying power, and the equity at the previous close for the day's P&L), and the last price of
every symbol held at the broker or in the journal (:meth:`BrokerSnapshots.watch`: the pages say
which). The positions and the account are one answer: if either fails, the refresh failed and
the last answer is kept whole. Prices that cannot be read leave the answer without prices, and
say why: a page then shows "no price", never a made-up number.

One request at a time on purpose: a refresh is never abandoned to start another, so a hanging
broker holds at most one worker thread (the broker's own timeout and retry policy end it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from tradebot.clock import utcnow
from tradebot.exceptions import BrokerUnavailable
from tradebot.masking import mask

if TYPE_CHECKING:
    from tradebot.broker.base import Broker
    from tradebot.config.model import BrokerConfig, Mode
    from tradebot.core.account import AccountSnapshot
    from tradebot.core.market import MarketPrices

log = logging.getLogger(__name__)

#: seconds between two refreshes (counted from the end of the last one)
REFRESH_EVERY = 5.0
#: a refresh still unanswered after this many seconds is said to be hanging on the page
SLOW_ANSWER = 10.0


class Reader(Protocol):
    """What the snapshot asks (a :class:`~tradebot.broker.base.Broker`'s read-only calls); each
    raises (a TradebotError, with the reason) when it cannot answer."""

    async def positions(self) -> Mapping[str, Decimal]: ...
    async def account(self) -> AccountSnapshot: ...
    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices: ...


@dataclass(frozen=True, slots=True)
class BrokerState:
    """What a page shows of the broker: the last snapshot's positions and account (None: never
    reached, or not asked), the last price per symbol (``prices_note`` says why one is
    missing), and one line that says how old they are and what went wrong since."""

    positions: Mapping[str, Decimal] | None
    note: str
    as_of: datetime | None = None
    age_seconds: float | None = None
    error: str | None = None
    account: AccountSnapshot | None = None
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    prices_note: str = ""
    hanging: bool = False  # a refresh has been waiting for SLOW_ANSWER seconds or more

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "age_seconds": self.age_seconds,
            "error": self.error,
        }


def not_asked(why: str) -> BrokerState:
    return BrokerState(None, why)


def ago(seconds: float) -> str:
    """``12 s``, ``3 min``, ``2 h``: an age as a person reads it."""
    whole = max(0, int(seconds))
    if whole < 120:
        return f"{whole} s"
    if whole < 2 * 3600:
        return f"{whole // 60} min"
    return f"{whole // 3600} h"


class BrokerSnapshots:
    """The last answer of ``fetch`` (see the module docstring). ``name`` names the broker on
    the page; ``now`` is the wall clock the ages are measured with."""

    def __init__(
        self,
        reader: Reader,
        name: str,
        *,
        every: float = REFRESH_EVERY,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._reader = reader
        self.name = name
        self._every = every
        self._now = now
        self._positions: Mapping[str, Decimal] | None = None
        self._account: AccountSnapshot | None = None
        self._prices: Mapping[str, Decimal] = {}
        self._prices_note = ""
        self._watched: frozenset[str] = frozenset()
        self._as_of: datetime | None = None
        self._error: str | None = None
        self._failed_at: datetime | None = None
        self._asking_since: datetime | None = None
        self.refreshes = 0  # refreshes finished, answered or failed
        self._wake = asyncio.Event()
        self._finished = asyncio.Condition()

    async def run(self) -> None:
        """Refresh until cancelled: every ``every`` seconds, and at once after a :meth:`nudge`."""
        while True:
            self._wake.clear()  # a nudge while asking: its news may postdate the answer
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._every):
                    await self._wake.wait()

    def nudge(self) -> None:
        """The positions changed (a fill was journaled): refresh now, not at the next turn.
        Call from the refresher's event loop."""
        self._wake.set()

    def watch(self, symbols: Iterable[str]) -> None:
        """Price these symbols too from the next refresh on: the journal's open positions, as
        the page that read them last saw them (the broker's net may not show them: two
        algorithms long and short the same shares). Safe from any thread: the set is replaced
        whole."""
        self._watched = frozenset(symbols)

    async def refresh(self) -> None:
        """Ask once; keep the answer, or the error with the last answer kept. Never raises
        but for cancellation."""
        self._asking_since = self._now()
        try:
            positions = dict(await self._reader.positions())
            account = await self._reader.account()
        except Exception as exc:  # any failure is the page's news, never the bot's end
            self._error, self._failed_at = _reason(exc), self._now()
            log.debug("broker snapshot failed: %s", self._error)
        else:
            prices, prices_note = await self._last_prices(sorted(set(positions) | self._watched))
            self._positions, self._account, self._as_of = positions, account, self._now()
            self._prices, self._prices_note = prices, prices_note
            self._error = self._failed_at = None
        finally:
            self._asking_since = None
        async with self._finished:
            self.refreshes += 1
            self._finished.notify_all()

    async def _last_prices(self, symbols: Sequence[str]) -> tuple[dict[str, Decimal], str]:
        """The broker's last price of each symbol, and why some are missing ("" for none)."""
        if not symbols:
            return {}, ""
        try:
            found = await self._reader.reference_prices(symbols)
        except Exception as exc:  # no price is "no price", never the refresh's failure
            return {}, f"no prices: {_reason(exc)}"
        if found.unavailable:
            return {}, f"no prices: {mask(found.unavailable)}"
        prices = {s: p for s, p in found.prices.items() if s in symbols}
        missing = [s for s in symbols if s not in prices]
        return prices, (f"no price for {', '.join(missing)}" if missing else "")

    async def wait_refreshed(self, count: int) -> None:
        """Until ``count`` refreshes have finished (tests, the demo); call in the refresher's
        event loop."""
        async with self._finished:
            await self._finished.wait_for(lambda: self.refreshes >= count)

    def state(self) -> BrokerState:
        """What the pages show now: no I/O, no waiting."""
        now = self._now()
        parts: list[str] = []
        age = None
        if self._as_of is None:
            parts.append(f"broker positions: never reached ({self.name})")
        else:
            age = (now - self._as_of).total_seconds()
            parts.append(f"broker positions as of {ago(age)} ago ({self.name})")
        if self._error is not None and self._failed_at is not None:
            when = ago((now - self._failed_at).total_seconds())
            parts.append(f"the last refresh failed {when} ago: {self._error}")
        hanging = False
        if self._asking_since is not None:
            waiting = (now - self._asking_since).total_seconds()
            hanging = waiting >= SLOW_ANSWER
            if hanging:
                parts.append(f"no answer to the refresh asked {ago(waiting)} ago")
        return BrokerState(
            self._positions,
            "; ".join(parts),
            self._as_of,
            age,
            self._error,
            self._account,
            self._prices,
            self._prices_note,
            hanging,
        )


def _reason(exc: BaseException) -> str:
    return mask(str(exc) or type(exc).__name__)


class OwnBroker:
    """``tradebot dashboard``'s own connection to one account's broker, for the snapshot only:
    opened on the first refresh, kept open, opened again after a failure. No trade-updates
    stream (the dashboard places no orders)."""

    def __init__(self, broker: BrokerConfig, mode: Mode) -> None:
        self._broker_config = broker
        self._mode = mode
        self._stack: AsyncExitStack | None = None
        self._broker: Broker | None = None

    async def positions(self) -> Mapping[str, Decimal]:
        broker = await self._connected()
        try:
            return await broker.positions()
        except Exception:
            await self.aclose()  # a fresh connection next time
            raise

    async def account(self) -> AccountSnapshot:
        broker = await self._connected()
        try:
            return await broker.account()
        except Exception:
            await self.aclose()
            raise

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        # market data: its failure says nothing of the trading connection, kept open
        return await (await self._connected()).reference_prices(symbols)

    async def _connected(self) -> Broker:
        if self._broker is None:
            await self._open()
        assert self._broker is not None
        return self._broker

    async def _open(self) -> None:
        from tradebot.broker.factory import make_broker

        broker_config = self._broker_config
        quiet = broker_config.alpaca.model_copy(update={"stream": False})
        broker = make_broker(broker_config.model_copy(update={"alpaca": quiet}), self._mode)
        stack = AsyncExitStack()
        await stack.enter_async_context(broker)
        self._stack, self._broker = stack, broker

    async def aclose(self) -> None:
        stack, self._stack, self._broker = self._stack, None, None
        if stack is not None:
            await stack.aclose()


class BotBroker:
    """The running bot's own broker (no second connection); ``broker()`` is None until the bot
    has connected."""

    def __init__(self, broker: Callable[[], Broker | None]) -> None:
        self._broker = broker

    def _current(self) -> Broker:
        current = self._broker()
        if current is None:
            raise BrokerUnavailable("the bot is not connected to the broker yet")
        return current

    async def positions(self) -> Mapping[str, Decimal]:
        return await self._current().positions()

    async def account(self) -> AccountSnapshot:
        return await self._current().account()

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        return await self._current().reference_prices(symbols)


def bot_fetch(broker: Callable[[], Broker | None]) -> Reader:
    """:class:`BotBroker` over ``broker`` (the name the bot's dashboard plug-in calls)."""
    return BotBroker(broker)


__all__ = [
    "BotBroker",
    "BrokerSnapshots",
    "BrokerState",
    "OwnBroker",
    "Reader",
    "ago",
    "bot_fetch",
    "not_asked",
]
