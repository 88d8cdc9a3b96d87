"""alpaca-py, configured for tradebot. Importing this module loads alpaca-py (and pandas, ~0.4 s),
so the adapter imports it only when a broker connection starts.

What alpaca-py 0.44 does by itself, and what we change (read in ``alpaca/common/rest.py``):

* ``RESTClient._request`` retries 429 and 504 up to ``_retry`` (3) times with a blocking
  ``time.sleep(_retry_wait)`` that ignores ``Retry-After``, *including order submissions*. We set
  ``_retry = 0`` and ``_retry_codes = []``: ``_one_request`` then raises ``APIError`` at once and
  our single tenacity policy decides. (``retry_attempts=0`` in the constructor is ignored: it is
  falsy, so the default 3 stays.)
* ``_one_request`` calls ``self._session.request(method, url, **opts)`` with no timeout, so a
  silent server would hang a thread forever. The session is replaced by :class:`_TimeoutSession`,
  a ``requests.Session`` whose ``request`` fills in our timeout when none is given. A Session
  subclass is the supported extension point of requests (``HTTPAdapter`` has no timeout setting);
  it also reads the environment's proxies once, not on every request. Nothing else changes.
* ``raw_data=True`` makes every call return the JSON dict, so decimals never pass through the
  SDK models' float fields.
"""

from __future__ import annotations

import os
from typing import Any, assert_never

import requests
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockSnapshotRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass as SdkOrderClass
from alpaca.trading.enums import OrderSide, QueryOrderStatus
from alpaca.trading.enums import TimeInForce as SdkTimeInForce
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)
from alpaca.trading.stream import TradingStream

from tradebot.broker.alpaca.orders import OrderRequestFields
from tradebot.core.order_shape import Bracket, Limit, Market, Oco, Oto, Stop, TrailingStop


class _TimeoutSession(requests.Session):
    """Our timeout on every request, and the environment read once, for the client's one host.

    A plain Session re-reads the environment on every request (``trust_env``: the proxy
    variables, ``NO_PROXY``, ``~/.netrc``, the CA bundle variables), about 0.1 ms a request on
    the signal path. The client talks to one base URL, so the proxies and CA bundle the
    environment gives that URL are read when the session is made (a restart picks up a
    change); ``~/.netrc`` is not read: Alpaca authenticates with its key headers.
    """

    def __init__(self, timeout: float, url: str) -> None:
        super().__init__()
        self._timeout = timeout
        self.proxies.update(requests.utils.get_environ_proxies(url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.verify = bundle
        self.trust_env = False

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def trading_client(url: str, key_id: str, secret_key: str, *, timeout: float) -> Any:
    """A ``TradingClient`` for ``url`` with its retries off, a timeout, and raw JSON answers."""
    client = TradingClient(key_id, secret_key, raw_data=True, url_override=url)
    return _tamed(client, timeout, url)


def data_client(url: str, key_id: str, secret_key: str, *, timeout: float) -> Any:
    """A ``StockHistoricalDataClient`` (market data) for ``url``, tamed like the trading client.

    It shares ``RESTClient`` with ``TradingClient``, so the same retry and session changes apply;
    with ``raw_data`` a snapshot comes back as Alpaca's JSON: ``{symbol: {"latestTrade": ...}}``.
    """
    client = StockHistoricalDataClient(key_id, secret_key, raw_data=True, url_override=url)
    return _tamed(client, timeout, url)


def _tamed(client: Any, timeout: float, url: str) -> Any:
    client._retry = 0
    client._retry_codes = []
    client._session.close()
    client._session = _TimeoutSession(timeout, url)
    return client


def snapshot_request(symbols: list[str], feed: str) -> Any:
    """One request for all ``symbols``: ``GET /v2/stocks/snapshots?symbols=A,B&feed=iex``."""
    return StockSnapshotRequest(symbol_or_symbols=symbols, feed=DataFeed(feed))


def order_request(fields: OrderRequestFields) -> Any:
    """The SDK request for prepared fields (the SDK wants floats; they come from exact decimals).

    An oco goes as Alpaca documents it: ``type: limit`` with the take-profit as
    ``take_profit.limit_price`` and no top-level limit price.
    """
    common: dict[str, Any] = {
        "symbol": fields.symbol,
        "qty": float(fields.qty),
        "side": OrderSide(fields.side),
        "time_in_force": SdkTimeInForce(fields.time_in_force),
        "client_order_id": fields.client_order_id,
        "extended_hours": fields.extended_hours or None,
    }
    attached = fields.attached
    match attached:
        case None:
            pass
        case Bracket() | Oto() | Oco():
            common["order_class"] = SdkOrderClass(attached.order_class.value)
            if attached.take_profit is not None:
                common["take_profit"] = TakeProfitRequest(limit_price=float(attached.take_profit))
            if attached.stop_loss is not None:
                common["stop_loss"] = StopLossRequest(stop_price=float(attached.stop_loss))
        case _:
            assert_never(attached)
    match fields.price:
        case Market():
            return MarketOrderRequest(**common)
        case Limit(limit=limit):
            if isinstance(attached, Oco):  # its limit is its take-profit
                return LimitOrderRequest(**common)
            return LimitOrderRequest(limit_price=float(limit), **common)
        case Stop(stop=stop):
            return StopOrderRequest(stop_price=float(stop), **common)
        case TrailingStop(trail_pct=pct):
            return TrailingStopOrderRequest(trail_percent=float(pct), **common)
        case _:
            assert_never(fields.price)


def recent_orders_request() -> Any:
    """Recent orders of every status, legs nested under their parents: one request that names
    every leg a bracket, oto or oco order has (a filled entry's legs are not "open" nested)."""
    return GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500, nested=True)


def nested_request() -> Any:
    return GetOrderByIdRequest(nested=True)


def open_orders_request() -> Any:
    return GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)


class NotifyingTradingStream(TradingStream):
    """alpaca-py's ``TradingStream``, telling us each time it has (re)connected and listens.

    The SDK offers no reconnect callback; ``_start_ws`` (connect, authenticate, subscribe) is the
    one step every (re)connect goes through in 0.44, so it is extended here. We drive
    ``_run_forever()`` as a task on our own loop (``run()`` would start a second loop in this
    thread) and stop it by cancelling that task, which also ends its 5 s ``recv`` poll at once.
    """

    def __init__(
        self, key_id: str, secret_key: str, url: str, on_connect: Any, reconnect_delay: float
    ) -> None:
        super().__init__(key_id, secret_key, raw_data=True, url_override=url)
        self._on_connect = on_connect
        self._reconnect_min_backoff = reconnect_delay

    async def _start_ws(self) -> None:
        await super()._start_ws()  # type: ignore[no-untyped-call]
        self._on_connect()
