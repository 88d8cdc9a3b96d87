"""``tradebot plan``: the orders a signal would produce, and why each skipped leg is skipped.

Nothing is sent and nothing is journaled: the real planner runs against an account and a book
described on the command line. Reference prices come from ``--price`` (offline), else from the
configured broker (its price table for ``sim``; Alpaca's market data, when it can be reached).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from tradebot.broker.factory import broker_kind, make_broker
from tradebot.cli.options import config_option
from tradebot.config.loader import load_config
from tradebot.config.model import Config
from tradebot.core import planner, strict_json
from tradebot.core.account import AccountSnapshot
from tradebot.core.book import PositionBook
from tradebot.core.market import MarketPrices, implausible_price
from tradebot.core.render import plan_json, plan_table
from tradebot.core.signal import Signal, parse_signal, parse_timestamp
from tradebot.exceptions import InvalidSignal, TradebotError


def _amount(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    """A non-negative amount as Decimal (commas and underscores allowed: 100,000)."""
    if value is None:
        return None
    try:
        amount = Decimal(value.replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise click.BadParameter(f"{value!r} must be zero or more")
    return amount


def _prices(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, Decimal]:
    """``--price AAPL=189.50`` (repeatable) as symbol -> a plausible price."""
    prices: dict[str, Decimal] = {}
    for text in values:
        symbol, sep, number = text.partition("=")
        symbol = symbol.strip().upper()
        try:
            price = Decimal(number.strip().replace(",", ""))
        except InvalidOperation:
            price = None
        if not sep or not symbol or price is None:
            raise click.BadParameter(f"{text!r} is not SYMBOL=PRICE (e.g. AAPL=189.50)")
        why = implausible_price(price)
        if why is not None:
            raise click.BadParameter(f"{text!r}: {why}")
        prices[symbol] = price
    return prices


@click.command(name="plan")
@click.option(
    "--signal",
    "signal_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file: a new_signals frame, or just its payload (then --algo is needed).",
)
@config_option(purpose="algorithms, strategies and risk limits to plan with")
@click.option("--algo", "algo_id", type=int, help="Algorithm id (taken from a frame's topic).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--equity",
    metavar="AMOUNT",
    callback=_amount,
    help="Account equity (default: broker.sim.cash).",
)
@click.option(
    "--buying-power", metavar="AMOUNT", callback=_amount, help="Buying power (default: the equity)."
)
@click.option(
    "--position",
    "positions",
    multiple=True,
    metavar="ALGO:SYMBOL:QTY[@PRICE]",
    help="A holding in the book (negative QTY: short; PRICE values it). Repeatable.",
)
@click.option(
    "--now",
    "now_text",
    metavar="TIME",
    help="Plan as of this ISO time (default: the newest leg's time, as if just received).",
)
@click.option(
    "--price",
    "prices",
    multiple=True,
    callback=_prices,
    metavar="SYMBOL=PRICE",
    help="A reference price (offline preview: the broker is not asked). Repeatable.",
)
@click.option("--market-closed", is_flag=True, help="Plan as if the market were closed.")
@click.option(
    "--account-id",
    help="The broker's account number to assume (default: broker.account_id, else 'plan')."
    " Client order ids carry broker.account_id instead when the config sets it, as in `run`.",
)
def plan(
    signal_path: Path,
    config_path: Path,
    algo_id: int | None,
    fmt: str,
    equity: Decimal | None,
    buying_power: Decimal | None,
    positions: tuple[str, ...],
    now_text: str | None,
    prices: dict[str, Decimal],
    market_closed: bool,
    account_id: str | None,
) -> None:
    """Show the orders a signal would produce, and why any leg is skipped. Sends nothing.

    \b
    Example:
      tradebot plan --signal tests/fixtures/alphahub/new_signals_minotaur3.json \\
                    --position 16:VRTX:40 --position 16:MU:-100 --price VRTX=216.10
    """
    config = load_config(config_path)
    algo, payload = _read_signal(signal_path, algo_id)
    zone = config.alphahub.zone
    try:
        signal = parse_signal(algo, payload, received_at=datetime.now(UTC), zone=zone)
    except InvalidSignal as exc:
        raise click.BadParameter(str(exc), param_hint="--signal") from None
    now = _now(now_text, signal, zone)
    book, marks = _book(positions)
    account = _account(config, equity, buying_power, account_id)
    day = planner.DayState(market_open=False if market_closed else None)
    symbols = list(dict.fromkeys(leg.symbol for leg in signal.legs))
    market, origin = _market(config, symbols, prices)
    result = planner.plan(
        signal, book, account, config.planning, now, market=market, day=day, marks=marks
    )
    if fmt == "json":
        click.echo(plan_json(result))
        return
    click.echo(_header(signal, config, account, now))
    click.echo(_prices_line(origin, market, symbols))
    click.echo(plan_table(result))


def _market(
    config: Config, symbols: Sequence[str], given: dict[str, Decimal]
) -> tuple[MarketPrices, str]:
    """The reference prices to plan with, and where they came from (for the output)."""
    if given:
        # typed by the user: no age to judge (risk.reference_max_age does not apply)
        return MarketPrices(given, origin="--price", typed_by_user=True), "--price"
    if not symbols:
        return MarketPrices(), "none needed"
    broker = config.broker
    # a preview needs no fill stream, and should not wait through a long outage: the account
    # check and the market-data request, with two tries each at most
    preview = {"stream": False, "max_attempts": min(broker.alpaca.max_attempts, 2)}
    quiet = broker.model_copy(update={"alpaca": broker.alpaca.model_copy(update=preview)})

    async def ask() -> MarketPrices:
        async with make_broker(quiet, config.mode) as connected:
            return await connected.reference_prices(symbols)

    origin = f"the {broker.name} broker" + broker_kind(broker.name).price_origin(broker)
    try:
        return asyncio.run(ask()), origin
    except TradebotError as exc:
        return MarketPrices.failed(f"{origin} could not be asked: {exc}"), origin


def _prices_line(origin: str, market: MarketPrices, symbols: Sequence[str]) -> str:
    if market.unavailable is not None:
        return f"Reference prices: none ({market.unavailable}).\n"
    known = [f"{s} {market.prices[s]}" for s in symbols if market.price(s) is not None]
    text = f"Reference prices from {origin}: " + (", ".join(known) or "none")
    missing = [s for s in symbols if market.price(s) is None]
    if missing:
        stand_in = " (the signal's price stands in)" if market.signal_stands_in else ""
        text += f"; none for {', '.join(missing)}{stand_in}"
    return text + ".\n"


def _read_signal(path: Path, algo_id: int | None) -> tuple[int, Any]:
    try:
        data = strict_json.loads(path.read_text(encoding="utf-8"))  # repeated keys are seen
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.BadParameter(
            f"{path}: not a JSON file ({exc})", param_hint="--signal"
        ) from None
    if isinstance(data, list):
        if len(data) != 5 or data[3] != "new_signals":
            raise click.BadParameter(
                f"{path}: a frame must be [join_ref, ref, topic, 'new_signals', payload]",
                param_hint="--signal",
            )
        topic = str(data[2])
        prefix, _, number = topic.partition(":")
        if prefix != "algorithms" or not number.isdigit():
            raise click.BadParameter(f"{path}: topic {topic!r} is not 'algorithms:ID'")
        if algo_id is not None and algo_id != int(number):
            raise click.BadParameter(f"--algo {algo_id} disagrees with the frame's topic {topic}")
        return int(number), data[4]
    if algo_id is None:
        raise click.UsageError(f"{path} holds a bare payload: say which algorithm with --algo ID")
    return algo_id, data


def _now(text: str | None, signal: Signal, zone: tzinfo) -> datetime:
    """--now, else the newest leg's time (the signal as if just received), else the clock."""
    if text is None:
        return max((leg.timestamp for leg in signal.legs), default=signal.received_at)
    if text == "now":
        return datetime.now(UTC)
    try:
        return parse_timestamp(text, zone)
    except InvalidSignal as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None


def _book(positions: tuple[str, ...]) -> tuple[PositionBook, dict[str, Decimal]]:
    holdings: dict[tuple[int, str], Decimal] = {}
    marks: dict[str, Decimal] = {}
    for text in positions:
        spec, _, price = text.partition("@")
        parts = spec.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            algo, symbol, qty = int(parts[0]), parts[1].strip().upper(), Decimal(parts[2])
            if not symbol or not qty.is_finite():
                raise ValueError
            if price:
                marks[symbol] = Decimal(price)
        except (ValueError, InvalidOperation):
            raise click.BadParameter(
                f"{text!r} is not ALGO:SYMBOL:QTY[@PRICE] (e.g. 16:VRTX:40@216.08)",
                param_hint="--position",
            ) from None
        holdings[(algo, symbol)] = holdings.get((algo, symbol), Decimal(0)) + qty
    return PositionBook(holdings), marks


def _account(
    config: Config, equity: Decimal | None, buying_power: Decimal | None, account_id: str | None
) -> AccountSnapshot:
    equity = config.broker.sim.cash if equity is None else equity
    return AccountSnapshot(
        account_id=account_id or config.broker.account_id or "plan",
        equity=equity,
        buying_power=equity if buying_power is None else buying_power,
        cash=equity,
    )


def _header(signal: Signal, config: Config, account: AccountSnapshot, now: datetime) -> str:
    algo = config.algorithms.get(signal.algo_id)
    name = f" ({algo.name})" if algo is not None and algo.name else ""
    return (
        f"Signal for algorithm {signal.algo_id}{name}: {len(signal.close_legs)} close and"
        f" {len(signal.open_legs)} open legs, planned at {now.isoformat()}\n"
        f"Account {account.account_id}: equity {account.equity:,.2f},"
        f" buying power {account.buying_power:,.2f}. Nothing is sent.\n"
    )
