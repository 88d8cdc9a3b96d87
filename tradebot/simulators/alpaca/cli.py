"""``tradebot simulate alpaca``: run the local Alpaca-compatible paper server until stopped."""

from __future__ import annotations

import signal
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from tradebot.market_model.prices import implausible_price
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.prices import PricePoint, load_price_path
from tradebot.simulators.alpaca.server import AlpacaServer


def _prices(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[Decimal, dict[str, Decimal]]:
    """``--price 100 --price AAPL=189.5``: the default price and the per-symbol ones."""
    default, per_symbol = Decimal(100), {}
    for text in values:
        symbol, _, number = text.rpartition("=")
        try:
            price = Decimal(number.strip())
        except InvalidOperation:
            raise click.BadParameter(f"{text!r} is not PRICE or SYMBOL=PRICE") from None
        why = implausible_price(price)
        if why is not None or (symbol == "" and "=" in text):
            raise click.BadParameter(f"{text!r}: {why or 'no symbol before ='}")
        if symbol:
            per_symbol[symbol.strip().upper()] = price
        else:
            default = price
    return default, per_symbol


@click.command(name="alpaca")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, help="REST port (0: any free port).")
@click.option(
    "--stream-port",
    type=int,
    default=None,
    help="Trade-updates websocket port (default: --port + 1, or any free port with --port 0).",
)
@click.option("--key", default=None, help="Accept only this API key id (default: any).")
@click.option("--secret", default=None, help="Accept only this secret key (default: any).")
@click.option("--cash", default="100000", show_default=True, help="Starting cash, USD.")
@click.option(
    "--price",
    "prices",
    multiple=True,
    callback=_prices,
    metavar="PRICE|SYMBOL=PRICE",
    help="A symbol's price (SYMBOL=PRICE), or every other symbol's (PRICE; default 100)."
    " Trades and the market-data snapshots use it. Repeatable.",
)
@click.option("--fill-delay", default=0.0, show_default=True, help="Seconds before a fill.")
@click.option("--fill-parts", default=1, show_default=True, help="Fill each order in N parts.")
@click.option("--hold", is_flag=True, help="Never fill: orders stay open (tests, rehearsals).")
@click.option(
    "--price-path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='JSONL of {"at": seconds, "symbol": S, "price": P}: prices played from the start.'
    " Limit orders then rest until the price crosses their limit; exits follow it always"
    " (take-profits cross, stops trigger and fill at the price, trailing stops trail).",
)
def command(
    host: str,
    port: int,
    stream_port: int | None,
    key: str | None,
    secret: str | None,
    cash: str,
    prices: tuple[Decimal, dict[str, Decimal]],
    fill_delay: float,
    fill_parts: int,
    hold: bool,
    price_path: Path | None,
) -> None:
    """An Alpaca-compatible paper trading server on 127.0.0.1 (REST and trade updates).

    Orders: market, limit, stop, stop_limit and trailing_stop, simple or as bracket, oto and
    oco orders whose legs (Alpaca-named) wait for the entry, cancel each other and hold the
    shares they would sell; Alpaca's 422 checks for all of them.

    Point tradebot at it with broker.alpaca.url, stream_url and data_url (printed at start).
    Orders, positions and cash live in this process: a bot can be killed and restarted against
    it and find its orders. Stop with Ctrl-C.
    """
    server = AlpacaServer(
        host=host,
        port=port,
        stream_port=stream_port if stream_port is not None else (port + 1 if port else 0),
        key=key,
        secret=secret,
        cash=Decimal(cash),
        default_price=prices[0],
    )
    for symbol, price in prices[1].items():
        server.set_price(symbol, price)
    path: tuple[PricePoint, ...] = ()
    if price_path is not None:
        try:
            path = load_price_path(price_path)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--price-path") from None
    server.script_fills(
        FillScript(delay=fill_delay, parts=fill_parts, hold=hold, limits_cross=bool(path))
    )
    server.load_price_path(path)
    server.start()
    server.play_price_path()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"REST:   {server.url}", err=False)
    click.echo(f"stream: {server.stream_url}")
    click.echo("config.yaml:")
    click.echo(f"  broker:\n    name: alpaca\n    alpaca:\n      url: {server.url}")
    click.echo(f"      data_url: {server.url}")
    click.echo(f"      stream_url: {server.stream_url}")
    click.echo("(any non-empty APCA_API_KEY_ID/APCA_API_SECRET_KEY unless --key/--secret)")
    try:
        while not stop.wait(0.5):  # a timed wait keeps Ctrl-C deliverable
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        click.echo("stopped")
