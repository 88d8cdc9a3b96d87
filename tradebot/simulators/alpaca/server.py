"""The local Alpaca-compatible paper server: REST on one port, trade updates on another.

:class:`AlpacaServer` runs in background threads (a threaded HTTP server, and an asyncio loop for
the websocket and timed fills), so sync and async tests, the demo, and ``tradebot simulate
alpaca`` use it the same way::

    with AlpacaServer() as server:            # 127.0.0.1, free ports
        client = TradingClient("k", "s", url_override=server.url)
        stream = TradingStream("k", "s", url_override=server.stream_url)
        server.add_fault(Fault.drop())        # next POST /v2/orders: accept, then hang up
        server.add_fault(Fault.hang(method="GET", path="/v2/positions"))  # held until release()
        server.orders(client_order_id="...")  # inspection (legs listed as their own orders)
        server.legs("entry-id")               # a bracket's legs, as Alpaca nests them
        server.step_price_path()              # the next price: limits cross, stops trigger

State lives in memory under one lock, so a bot process can be killed and restarted against the
same server process and find its orders there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradebot.clock import utcnow
from tradebot.market_model.rules import split
from tradebot.simulators.alpaca.faults import Fault, FillScript
from tradebot.simulators.alpaca.models import (
    INVALID_REQUEST,
    NOT_FOUND,
    UNPROCESSABLE,
    ApiError,
    SimAsset,
    SimOrder,
    snapshot_json,
)
from tradebot.simulators.alpaca.prices import PricePoint
from tradebot.simulators.alpaca.rest import RestServer
from tradebot.simulators.alpaca.state import PaperAccount
from tradebot.simulators.alpaca.stream import StreamServer
from tradebot.simulators.alpaca.triggers import follow, marketable

#: Alpaca's market-data snapshot route (alpaca-py: ``StockHistoricalDataClient.get_stock_snapshot``)
SNAPSHOTS = "/v2/stocks/snapshots"
FEEDS = frozenset({"iex", "sip", "delayed_sip", "otc", "boats", "overnight"})


class AlpacaServer:
    """See the module docstring. ``key``/``secret`` None accept any non-empty pair."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stream_port: int = 0,
        key: str | None = None,
        secret: str | None = None,
        cash: Decimal = Decimal(100000),
        default_price: Decimal = Decimal(100),
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._host, self._port, self._stream_port = host, port, stream_port
        self._key, self._secret = key, secret
        self.lock = threading.RLock()
        self.account = PaperAccount(now=now, cash=cash, default_price=default_price)
        self._faults: list[Fault] = []
        self._scripts: dict[str | None, FillScript] = {None: FillScript()}
        self._in_flight = 0
        self._held = 0  # requests held by a HANG fault so far
        self._released = threading.Event()
        self._held_changed = threading.Condition(self.lock)
        self._scheduled: set[str] = set()  # orders whose fills are already on the timer
        self._cancel_races: list[Decimal | None] = []  # see race_cancels
        self._path: tuple[PricePoint, ...] = ()
        self._path_next = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every authorised request
        self.snapshot_queries: list[dict[str, str]] = []  # the query of every snapshot request
        self._rest: RestServer | None = None
        self._threads: list[threading.Thread] = []
        self.stream = StreamServer(self.authorized)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> AlpacaServer:
        self._rest = RestServer((self._host, self._port), self)
        rest_thread = threading.Thread(
            target=self._rest.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        rest_thread.start()
        self._threads.append(rest_thread)
        self.stream.start(self._host, self._stream_port)
        return self

    def stop(self) -> None:
        self.release()
        self.stream.stop()
        if self._rest is not None:
            self._rest.shutdown()
            self._rest.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> AlpacaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The REST base URL (``TradingClient(url_override=...)``; alpaca-py adds ``/v2``)."""
        assert self._rest is not None, "server not started"
        host, port = self._rest.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def stream_url(self) -> str:
        """The trade-updates websocket URL (``TradingStream(url_override=...)``)."""
        return f"ws://{self._host}:{self.stream.port}/stream"

    # -- scripting and inspection (for tests, the demo and the CLI) -------------------------

    def authorized(self, key: str | None, secret: str | None) -> bool:
        if not key or not secret:
            return False
        return (self._key is None or key == self._key) and (
            self._secret is None or secret == self._secret
        )

    @property
    def in_flight(self) -> int:
        """Requests being handled right now (a delayed or slow one counts until it is done)."""
        with self.lock:
            return self._in_flight

    def begin_request(self) -> None:
        with self.lock:
            self._in_flight += 1

    def end_request(self) -> None:
        with self.lock:
            self._in_flight -= 1

    def hold(self) -> None:
        """Called by a handler thread hit by a HANG fault: wait for :meth:`release`."""
        with self._held_changed:
            self._held += 1
            self._held_changed.notify_all()
        self._released.wait()

    def wait_held(self, count: int = 1, timeout: float | None = None) -> bool:
        """Until ``count`` requests have been held by HANG faults (False: not within
        ``timeout``)."""
        with self._held_changed:
            return self._held_changed.wait_for(lambda: self._held >= count, timeout)

    @property
    def held(self) -> int:
        """Requests held by HANG faults so far (released or not)."""
        with self.lock:
            return self._held

    def release(self) -> None:
        """Let every held request go on (it is then processed and answered); later HANG
        faults hold nothing."""
        self._released.set()

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Drop every fault still scripted (a test's outage is over)."""
        with self.lock:
            self._faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            self.requests.append((method, path))
            for i, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    if fault.times <= 1:
                        del self._faults[i]
                    else:
                        self._faults[i] = _one_less(fault)
                    return fault
            return None

    def script_fills(self, script: FillScript, symbol: str | None = None) -> None:
        """How orders fill from now on: for ``symbol``, or for every symbol (None)."""
        with self.lock:
            self._scripts[symbol.upper() if symbol else None] = script

    def set_asset(self, asset: SimAsset) -> None:
        with self.lock:
            self.account.assets[asset.symbol.upper()] = asset

    def set_price(self, symbol: str, price: Decimal, *, at: datetime | None = None) -> None:
        """Move a symbol's price: resting limits it now crosses start to fill, stops it reaches
        trigger, trailing stops follow it (see :mod:`~tradebot.simulators.alpaca.triggers`).

        The snapshot then reports a trade at ``price`` at ``at`` (default: now); a test dates it
        in the past to serve an old market-data snapshot (a feed that stopped)."""
        with self.lock:
            asset = self.account.asset(symbol)
            asset.price, asset.traded_at = price, self.account.now() if at is None else at
            self._reschedule(symbol.upper())

    def load_price_path(self, points: tuple[PricePoint, ...]) -> None:
        """Take a price path to step through (:meth:`step_price_path`) or play (:meth:`play`)."""
        with self.lock:
            self._path, self._path_next = points, 0

    def step_price_path(self) -> PricePoint | None:
        """Apply the next point of the path now (tests: deterministic); None when done."""
        with self.lock:
            if self._path_next >= len(self._path):
                return None
            point = self._path[self._path_next]
            self._path_next += 1
            self.set_price(point.symbol, point.price)
            return point

    def play_price_path(self) -> None:
        """Apply every remaining point at its ``at`` seconds from now (the CLI's real time)."""
        with self.lock:
            points, self._path_next = self._path[self._path_next :], len(self._path)
        for point in points:
            self.stream.call_later(point.at, self.set_price, point.symbol, point.price)

    def race_cancels(self, fill_qty: Decimal | None = None, *, times: int = 1) -> None:
        """The cancel/fill race, for the next ``times`` cancel requests: the cancel is accepted
        (204, as Alpaca answers a cancel it will attempt), but ``fill_qty`` (None: everything
        that remains) fills before it takes effect; only what is left after that is canceled.
        An order that fills completely ends ``filled`` and no ``canceled`` update is sent.
        Exit legs race too: a stop whose cancel is in flight fills at the current price, and
        its fill cancels the other exit as any fill of it would."""
        with self.lock:
            self._cancel_races.extend([fill_qty] * times)

    def orders(self, client_order_id: str | None = None) -> list[dict[str, Any]]:
        """Every order the account holds, legs included, each as its own order (optionally only
        those with this client order id)."""
        with self.lock:
            return [
                o.to_json(nested=False)
                for o in self.account.orders.values()
                if client_order_id is None or o.client_order_id == client_order_id
            ]

    def legs(self, client_order_id: str) -> list[dict[str, Any]]:
        """The legs of the order with this client order id (or broker id), as Alpaca nests them."""
        with self.lock:
            return [leg.to_json() for leg in self.account.order(client_order_id).legs]

    def fill(self, client_order_id: str, qty: Decimal | None = None) -> None:
        """Fill an open order by hand (all that remains, or ``qty``), and tell the stream.
        ``client_order_id`` may be a broker order id (a leg's)."""
        with self.lock:
            order = self.account.order(client_order_id)
            self._publish(self.account.fill(order, qty if qty is not None else order.remaining))
            self._reschedule(order.symbol)

    def cancel(self, client_order_id: str) -> None:
        with self.lock:
            order = self.account.order(client_order_id)
            self._publish(self.account.cancel(order))
            self._reschedule(order.symbol)

    # -- request handling (called by the REST threads) --------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], body: object
    ) -> tuple[int, Any]:
        """Route one request; returns (status, JSON payload) or raises :class:`ApiError`."""
        acct = self.account
        with self.lock:
            if method == "GET" and path == SNAPSHOTS:
                return 200, self._snapshots(query)
            if method == "GET" and path == "/v2/account":
                return 200, acct.account_json()
            if method == "GET" and path == "/v2/clock":
                return 200, acct.clock_json()
            if method == "GET" and path.startswith("/v2/assets/"):
                return 200, acct.asset(path.removeprefix("/v2/assets/")).to_json()
            if method == "POST" and path == "/v2/orders":
                order = acct.submit(body)
                # held legs say nothing until their entry fills; an oco's stop leg is live
                live = [order, *(leg for leg in order.legs if leg.is_working)]
                self._publish([acct.update(o, "new") for o in live])
                self._reschedule(order.symbol)
                return 200, order.to_json()
            if method == "GET" and path == "/v2/orders":
                return 200, self._list_orders(query)
            if method == "GET" and path == "/v2/orders:by_client_order_id":
                return 200, acct.order(query.get("client_order_id", "")).to_json()
            if path.startswith("/v2/orders/") and method in ("GET", "DELETE"):
                order = acct.order(path.removeprefix("/v2/orders/"))
                if method == "GET":
                    return 200, order.to_json()
                if not order.is_open:
                    raise ApiError(422, UNPROCESSABLE, f"order is already {order.status}")
                if self._cancel_races and order.is_working:
                    race = self._cancel_races.pop(0)
                    self._publish(acct.fill(order, race if race is not None else order.remaining))
                    if not order.is_open:
                        self._reschedule(order.symbol)
                        return 204, None  # the fill won: Alpaca accepted the cancel, too late
                self._publish(acct.cancel(order))
                self._reschedule(order.symbol)
                return 204, None
            if method == "GET" and path == "/v2/positions":
                return 200, [acct.position_json(s, p) for s, p in acct.open_positions().items()]
            if method == "GET" and path.startswith("/v2/positions/"):
                symbol = path.removeprefix("/v2/positions/").upper()
                pos = acct.open_positions().get(symbol)
                if pos is None:
                    raise ApiError(404, NOT_FOUND, "position does not exist")
                return 200, acct.position_json(symbol, pos)
        raise ApiError(404, NOT_FOUND, "Not Found")

    def _snapshots(self, query: dict[str, str]) -> dict[str, Any]:
        """Alpaca's multi-symbol snapshot (``/v2/stocks/snapshots?symbols=A,B&feed=iex``) from
        the account's own prices, stamped with when each last traded (a symbol never moved by
        :meth:`set_price` trades all the time: now). Symbols with no market data are left out,
        as Alpaca does."""
        self.snapshot_queries.append(dict(query))
        symbols = [s for s in query.get("symbols", "").upper().split(",") if s]
        if not symbols:
            raise ApiError(400, INVALID_REQUEST, "symbols is required")
        if query.get("feed", "iex") not in FEEDS:
            raise ApiError(400, INVALID_REQUEST, f"invalid feed: {query['feed']}")
        now, out = self.account.now(), {}
        for symbol in symbols:
            try:
                asset = self.account.asset(symbol)
            except ApiError:
                continue  # not listed (auto_assets off): no data
            if asset.quoted:
                out[symbol] = snapshot_json(asset.price, asset.traded_at or now)
        return out

    def _list_orders(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """Alpaca's order list. ``nested=true`` rolls legs up under their parent (which alone
        decides whether the family is listed: a filled entry's open legs are not "open" then);
        without it every leg is listed as an order of its own, and parents carry no legs."""
        status = query.get("status", "open")
        symbols = set(query["symbols"].upper().split(",")) if query.get("symbols") else None
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            raise ApiError(422, UNPROCESSABLE, "invalid limit") from None
        if not 1 <= limit <= 500:
            raise ApiError(422, UNPROCESSABLE, "limit must be between 1 and 500")
        nested = query.get("nested", "false").lower() == "true"
        chosen = [
            o
            for o in reversed(self.account.orders.values())  # newest first, like Alpaca
            if (status == "all" or (status == "open") == o.is_open)
            and (symbols is None or o.symbol in symbols)
            and not (nested and o.parent is not None)
        ]
        return [o.to_json(nested=nested) for o in chosen[:limit]]

    # -- fills and the stream ---------------------------------------------------------------

    def _publish(self, updates: list[dict[str, Any]]) -> None:
        # Called with the lock held, so updates reach the stream in the order they happened.
        for data in updates:
            self.stream.publish(json.dumps({"stream": "trade_updates", "data": data}))

    def _reschedule(self, symbol: str) -> None:
        """Look at every open order of ``symbol`` again: the price moved, or a fill or cancel
        put legs live."""
        for order in list(self.account.orders.values()):
            if order.is_working and order.symbol == symbol:
                self._schedule(order)

    def _schedule(self, order: SimOrder) -> None:
        script = self._scripts.get(order.symbol, self._scripts[None])
        if order.id in self._scheduled:
            return
        price = self.account.asset(order.symbol).price
        follow(order, price)
        # the market sees the order even while the script holds fills (a limit short of the
        # price has rested: it fills at its limit later, whatever price reaches it)
        if not marketable(order, price, limits_cross=script.limits_cross) or script.hold:
            return  # rests; set_price schedules it when the price gets there
        self._scheduled.add(order.id)
        parts = split(order.qty, script.parts)
        for n, qty in enumerate(parts, start=1):
            self.stream.call_later(script.delay * n, self._timed_fill, order.id, qty)

    def _timed_fill(self, order_id: str, qty: Decimal) -> None:
        with self.lock:
            order = self.account.orders[order_id]
            if order.is_working:
                self._publish(self.account.fill(order, qty))
                self._reschedule(order.symbol)


def _one_less(fault: Fault) -> Fault:
    return replace(fault, times=fault.times - 1)
