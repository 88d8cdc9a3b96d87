"""The Alpaca broker: alpaca-py behind tradebot's :class:`~tradebot.broker.base.Broker` protocol.

* Every SDK call runs in a worker thread (``asyncio.to_thread``); the SDK's own retries are off
  and requests have a timeout (see :mod:`tradebot.broker.alpaca.sdk`).
* Every SDK/requests error is translated by :func:`tradebot.broker.errors.translate`; the one
  retry policy (:mod:`tradebot.broker.retry`) retries what is transient.
* Exactly once: :meth:`AlpacaBroker.submit` sends an order under its deterministic client order
  id; when the outcome is unknown (timeout, dropped connection, 5xx, "client_order_id must be
  unique") it looks the order up by that id before anything is sent again.
* Reference prices come from Alpaca's market-data API (``StockHistoricalDataClient``, one
  multi-symbol snapshot per signal), through the same translation and retry policy.
* Fills come from the trade-updates stream; after every (re)connect open orders are reconciled
  over REST, and :class:`~tradebot.broker.tracker.OrderTracker` makes each event appear once.
* Exits: bracket, oto and oco orders, stops and trailing stops. Alpaca names a bracket's legs
  itself; answers, lookups (:meth:`AlpacaBroker.get_order` finds a leg by our id through its
  parent) and events carry our ids for them (:mod:`tradebot.broker.alpaca.legs`).

alpaca-py (and pandas) load when the connection starts, in a worker thread, never at import.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from pydantic import SecretStr

from tradebot.broker.alpaca import convert
from tradebot.broker.alpaca.endpoints import resolve
from tradebot.broker.alpaca.legs import LegNames, leg_parents
from tradebot.broker.alpaca.orders import prepare
from tradebot.broker.alpaca.updates import TradeUpdates
from tradebot.broker.errors import http_status, translate
from tradebot.broker.retry import RetryPolicy
from tradebot.clock import utcnow
from tradebot.config.model import AlpacaConfig, Mode
from tradebot.core.account import AccountSnapshot, AssetInfo, MarketClock
from tradebot.core.events import OrderEvent
from tradebot.core.market import MarketPrices
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import OrderIntent
from tradebot.core.signal import Side
from tradebot.exceptions import (
    BrokerError,
    ConfigError,
    OrderOutcomeUnknown,
    OrderRejected,
    TransientError,
)
from tradebot.masking import mask, register, register_found_in

log = logging.getLogger(__name__)


class AlpacaBroker:
    """Alpaca through alpaca-py. Use as ``async with AlpacaBroker(...) as broker:``."""

    name = "alpaca"

    def __init__(
        self,
        config: AlpacaConfig,
        mode: Mode,
        *,
        key_id: SecretStr,
        secret_key: SecretStr,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._endpoints = resolve(config, mode)  # refuses paper orders to the live endpoint
        if not key_id.get_secret_value() or not secret_key.get_secret_value():
            raise ConfigError("Alpaca needs APCA_API_KEY_ID and APCA_API_SECRET_KEY")
        self._config = config
        self._mode = mode
        self._key_id = key_id
        self._secret_key = secret_key
        # the keys may come from the environment, not the config: masked wherever they show
        register(key_id, secret_key)
        register_found_in((config.url, config.stream_url))
        self._now = now
        self._policy = RetryPolicy(
            max_attempts=config.max_attempts,
            first_delay=config.first_retry_delay,
            max_delay=config.max_retry_delay,
            max_retry_after=config.max_retry_after,
        )
        # A reference price is useful only while fresh: a few quick tries, then the signal is
        # planned without one (no_reference_price) rather than held up for a minute.
        self._price_policy = replace(self._policy, max_attempts=min(config.max_attempts, 3))
        self._sdk: Any = None
        self._client: Any = None
        self._data: Any = None
        self._stream: Any = None
        self._names = LegNames(self._recent_orders, answer_wait=config.timeout)
        self._updates = TradeUpdates(
            list_open=self._open_orders,
            lookup=lambda cid: self._retrying(functools.partial(self._find, cid)),
            names=self._names,
            now=now,
            retry_delay=config.reconnect_delay,
        )
        self._assets: dict[str, tuple[float, AssetInfo]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return mask(f"AlpacaBroker(mode={self._mode.value}, url={self._endpoints.rest!r})")

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        # alpaca-py imports pandas (~0.4 s): load it off the event loop.
        self._sdk = await asyncio.to_thread(importlib.import_module, "tradebot.broker.alpaca.sdk")
        key, secret = self._key_id.get_secret_value(), self._secret_key.get_secret_value()
        self._client = self._sdk.trading_client(
            self._endpoints.rest, key, secret, timeout=self._config.timeout
        )
        self._data = self._sdk.data_client(
            self._endpoints.data, key, secret, timeout=self._config.timeout
        )
        try:
            await self.account()  # wrong keys or endpoint: fail now, not on the first order
        except BaseException:
            self._close_sessions()
            raise
        if self._config.stream:
            self._stream = self._sdk.NotifyingTradingStream(
                key,
                secret,
                self._endpoints.stream,
                self._updates.on_connect,
                self._config.reconnect_delay,
            )
            self._stream.subscribe_trade_updates(self._updates.on_update)
            self._group = asyncio.TaskGroup()
            await self._group.__aenter__()
            self._tasks = [
                self._group.create_task(self._stream._run_forever(), name="alpaca-stream"),
                self._group.create_task(
                    self._updates.reconcile_on_connect(), name="alpaca-reconcile"
                ),
            ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._group is not None:
                await self._stop_tasks()
                await self._group.__aexit__(None, None, None)
            if self._stream is not None:
                await self._stream.close()
        finally:
            self._group = None
            self._close_sessions()

    def _close_sessions(self) -> None:
        for client in (self._client, self._data):
            if client is not None:
                client._session.close()

    async def _stop_tasks(self) -> None:
        """Cancel the stream and reconcile tasks and wait until they have ended.

        The SDK's consume loop awaits ``asyncio.wait_for(ws.recv(), 5)``, which on Python 3.11
        can swallow a cancellation that races with a message arriving. So the stream is also
        told to stop (``stop_ws``, checked between messages), and the cancel is repeated until
        the tasks are done: shutting down never hangs.
        """
        if self._stream is not None:
            await self._stream.stop_ws()
        pending = {task for task in self._tasks if not task.done()}
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)

    # -- the protocol -----------------------------------------------------------------------

    async def submit(self, intent: OrderIntent) -> OrderSnapshot:
        """Round and check the order, then send it exactly once (see the module docstring)."""
        asset = await self.asset(intent.symbol)
        long_qty = None
        if intent.side is Side.SELL and not asset.shortable:
            long_qty = (await self.positions()).get(intent.symbol, Decimal(0))
        fields = prepare(intent, asset, long_qty=long_qty)
        request = self._sdk.order_request(fields)
        cid = fields.client_order_id
        self._updates.watch(cid)
        with self._names.sending():
            try:
                snap = await self._submit(cid, request)
            except OrderRejected:
                self._updates.forget(cid)
                raise
            self._updates.learn(snap)  # a bracket's legs: under our ids from now on
        return snap

    async def _submit(self, cid: str, request: Any) -> OrderSnapshot:
        """Send under ``cid``, retrying what is transient; after an unknown outcome every
        attempt looks the order up first and sends only when Alpaca has no such order.

        Raises :class:`OrderOutcomeUnknown` when the attempts run out after the order may have
        been sent (the executor leaves it for recovery and the re-check to settle by lookup).
        """
        maybe_sent = False
        try:
            async for attempt in self._policy.retrying(unknown_outcomes=True):
                with attempt:
                    if maybe_sent:
                        found = await self._lookup(cid)
                        if found is not None:
                            log.info("order %s found after an unknown outcome", cid)
                            return found
                    try:
                        raw = await self._call(lambda c: c.submit_order(request), cid)
                    except OrderOutcomeUnknown:
                        maybe_sent = True
                        raise
                    return convert.order_snapshot(raw)
        except TransientError as exc:  # the last attempt's lookup (or a 429) could not answer
            if maybe_sent:
                raise OrderOutcomeUnknown(f"order {cid} may exist: {exc}", cid) from None
            raise
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def get_order(self, client_order_id: str) -> OrderSnapshot | None:
        """The order, or the leg of a bracket/oto/oco order, we call ``client_order_id``."""
        found: OrderSnapshot | None = await self._retrying(lambda: self._find(client_order_id))
        if found is not None and not found.status.is_final:
            self._updates.watch(client_order_id)
        return found

    async def cancel(self, client_order_id: str) -> None:
        """Ask Alpaca to cancel; a no-op when the order has already ended."""
        snap = await self.get_order(client_order_id)
        if snap is None:
            raise BrokerError(f"cannot cancel {client_order_id}: Alpaca has no such order")
        if snap.status.is_final:
            return
        order_id = snap.broker_order_id
        # 422: the order ended meanwhile; its final event arrives from the stream.
        await self._retrying(
            lambda: self._call(lambda c: c.cancel_order_by_id(order_id), absent=(422,))
        )

    async def positions(self) -> Mapping[str, Decimal]:
        raw = await self._retrying(lambda: self._call(lambda c: c.get_all_positions()))
        return convert.positions(raw)

    async def account(self) -> AccountSnapshot:
        raw = await self._retrying(lambda: self._call(lambda c: c.get_account()))
        return convert.account_snapshot(raw)

    async def clock(self) -> MarketClock:
        raw = await self._retrying(lambda: self._call(lambda c: c.get_clock()))
        return convert.market_clock(raw)

    async def asset(self, symbol: str) -> AssetInfo:
        """Asset facts, cached for ``asset_cache_seconds`` (shortability changes daily)."""
        cached = self._assets.get(symbol)
        if cached is not None and time.monotonic() - cached[0] < self._config.asset_cache_seconds:
            return cached[1]
        raw = await self._retrying(lambda: self._call(lambda c: c.get_asset(symbol), absent=(404,)))
        # Alpaca answers 404 for a symbol it does not list: not tradable.
        info = AssetInfo(symbol, tradable=False) if raw is None else convert.asset_info(raw)
        self._assets[symbol] = (time.monotonic(), info)
        return info

    async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
        """The latest trade (else quote midpoint) per symbol, with its time: one snapshot
        request for all."""
        wanted = sorted(set(symbols))
        if not wanted:
            return MarketPrices()
        request = self._sdk.snapshot_request(wanted, self._config.data_feed.value)
        raw = await self._retrying(
            lambda: self._call(lambda c: c.get_stock_snapshot(request), client=self._data),
            policy=self._price_policy,
        )
        return convert.reference_prices(raw, wanted)

    def events(self) -> AsyncIterator[OrderEvent]:
        return self._updates.events()

    async def reconcile(self) -> None:
        """Compare open and watched orders with Alpaca; emit what the stream missed."""
        await self._updates.reconcile()

    def drain_events(self) -> list[OrderEvent]:
        """Events received and not yet consumed, without waiting (shutdown bookkeeping, tests)."""
        return self._updates.drain()

    async def _open_orders(self) -> list[OrderSnapshot]:
        request = self._sdk.open_orders_request()
        raw = await self._retrying(lambda: self._call(lambda c: c.get_orders(request)))
        return [convert.order_snapshot(item) for item in raw or ()]

    async def _recent_orders(self) -> list[OrderSnapshot]:
        """The recent orders with their legs nested (:class:`LegNames` learns from them). An
        order in the list that cannot be read is left out: it names no leg we could use."""
        request = self._sdk.recent_orders_request()
        raw = await self._retrying(lambda: self._call(lambda c: c.get_orders(request)))
        if not isinstance(raw, list):
            raise BrokerError("Alpaca sent an order list that is not a list")
        found = []
        for item in raw:
            try:
                found.append(convert.order_snapshot(item))
            except BrokerError as exc:
                log.warning("left an unreadable order out of the recent orders: %s", exc)
        return found

    # -- calling the SDK --------------------------------------------------------------------

    async def _call(
        self,
        fn: Callable[[Any], Any],
        cid: str | None = None,
        *,
        absent: tuple[int, ...] = (),
        client: Any = None,
    ) -> Any:
        """Run one SDK call in a thread; None for an ``absent`` status; errors translated.

        ``client``: the market-data client for data calls; the trading client by default.
        """
        client = self._client if client is None else client
        try:
            return await asyncio.to_thread(fn, client)
        except Exception as exc:
            if http_status(exc) in absent:
                return None
            # ``from None``: the SDK error holds the request, whose headers carry the keys.
            raise translate(exc, client_order_id=cid) from None

    async def _lookup(self, cid: str) -> OrderSnapshot | None:
        """The order Alpaca knows by client order id ``cid``, with its legs nested."""
        raw = await self._call(lambda c: c.get_order_by_client_id(cid), absent=(404,))
        if raw is None:
            return None
        if (
            isinstance(raw, Mapping)
            and raw.get("order_class") in ("bracket", "oto", "oco")
            and not raw.get("legs")
            and isinstance(raw.get("id"), str)
        ):  # an answer without its legs: ask for the order nested
            order_id, nested = raw["id"], self._sdk.nested_request()
            again = await self._call(lambda c: c.get_order_by_id(order_id, nested), absent=(404,))
            raw = raw if again is None else again
        snap = convert.order_snapshot(raw)
        self._updates.learn(snap)
        return snap

    async def _find(self, cid: str) -> OrderSnapshot | None:
        """:meth:`_lookup`, or for an id Alpaca does not know because it is a leg (named by
        Alpaca), that leg under our id: by its broker id when a snapshot named it before, else
        from its possible parents (:func:`leg_parents`). Only a leg of the type the id says
        matches (``-tp`` a limit, ``-sl`` a stop): the names come from the legs' types."""
        found = await self._lookup(cid)
        if found is not None:
            return found
        broker_id = self._names.broker_id(cid)
        if broker_id is not None:
            raw = await self._call(lambda c: c.get_order_by_id(broker_id), absent=(404,))
            if raw is not None:
                return replace(convert.order_snapshot(raw), client_order_id=cid)
        for parent_id in leg_parents(cid):
            parent = await self._lookup(parent_id)
            for leg in parent.legs if parent is not None else ():
                if leg.client_order_id == cid:
                    return leg
        return None

    async def _retrying(self, call: Callable[[], Any], policy: RetryPolicy | None = None) -> Any:
        async for attempt in (policy or self._policy).retrying():
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity re-raises the last error")
