"""Reference prices from the broker (issue 10 §1): Alpaca's market data through alpaca-py's data
client against the local server, the sim broker's price table, and the snapshot endpoint itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from tests.core.helpers import ACCOUNT, make_config, make_signal
from tradebot.broker.alpaca import AlpacaBroker
from tradebot.broker.alpaca.convert import reference_prices
from tradebot.broker.sim import SimBroker
from tradebot.config.model import Mode, SimBrokerConfig
from tradebot.core.book import PositionBook
from tradebot.core.orders import Plan, SkipReason
from tradebot.core.planner import plan
from tradebot.core.signal import Side
from tradebot.exceptions import AuthenticationError, BrokerError, BrokerUnavailable
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.context import PlanningContext
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.models import SimAsset
from tradebot.simulators.alpaca.server import SNAPSHOTS, AlpacaServer

from .conftest import KEY_ID, SECRET_KEY, fast_config, make_intent

D = Decimal


def snapshot_requests(server: AlpacaServer) -> list[tuple[str, str]]:
    return [r for r in server.requests if r[1] == SNAPSHOTS]


async def test_one_snapshot_request_prices_every_symbol(
    broker: AlpacaBroker, server: AlpacaServer
) -> None:
    server.set_price("AAPL", D("189.5"))
    server.set_price("MSFT", D("415.31"))
    server.set_price("PENY", D("0.0123"))
    before = len(snapshot_requests(server))
    market = await broker.reference_prices(["MSFT", "AAPL", "PENY", "AAPL"])
    assert dict(market.prices) == {"AAPL": D("189.5"), "MSFT": D("415.31"), "PENY": D("0.0123")}
    assert not market.signal_stands_in
    assert len(snapshot_requests(server)) == before + 1  # never one per symbol
    assert server.snapshot_queries[-1] == {"symbols": "AAPL,MSFT,PENY", "feed": "iex"}


async def test_the_configured_feed_is_asked_for(server: AlpacaServer) -> None:
    adapter = AlpacaBroker(
        fast_config(server, data_feed="sip"),
        Mode.PAPER,
        key_id=SecretStr(KEY_ID),
        secret_key=SecretStr(SECRET_KEY),
    )
    async with adapter:
        await adapter.reference_prices(["AAPL"])
    assert server.snapshot_queries[-1]["feed"] == "sip"


async def test_a_symbol_without_market_data_has_no_reference(
    broker: AlpacaBroker, server: AlpacaServer
) -> None:
    server.set_asset(SimAsset("DARK", D(50), quoted=False))
    market = await broker.reference_prices(["DARK", "AAPL"])
    assert market.price("DARK") is None and market.price("AAPL") == D(100)
    assert market.missing("DARK") == "the broker has no price for DARK"


async def test_a_failing_data_endpoint_raises_after_the_retry_policy(
    broker: AlpacaBroker, server: AlpacaServer
) -> None:
    before = len(snapshot_requests(server))
    server.add_fault(Fault.error(500, times=10, method="GET", path=SNAPSHOTS))
    with pytest.raises(BrokerUnavailable):
        await broker.reference_prices(["AAPL"])
    # a few quick tries, fewer than orders get: a price is only useful while it is fresh
    assert len(snapshot_requests(server)) - before == 3


async def test_a_transient_data_fault_heals_within_the_retries(
    broker: AlpacaBroker, server: AlpacaServer
) -> None:
    server.add_fault(Fault.rate_limited("0", method="GET", path=SNAPSHOTS))
    market = await broker.reference_prices(["AAPL"])
    assert market.price("AAPL") == D(100)


def test_the_snapshot_endpoint_checks_keys_and_speaks_alpacas_shape(server: AlpacaServer) -> None:
    url = server.url + SNAPSHOTS
    assert requests.get(url, params={"symbols": "AAPL"}, timeout=5).status_code == 401
    headers = {"APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET_KEY}
    server.set_price("AAPL", D("189.5"))
    answer = requests.get(
        url, params={"symbols": "AAPL", "feed": "iex"}, headers=headers, timeout=5
    )
    assert answer.status_code == 200
    snapshot = answer.json()["AAPL"]
    assert snapshot["latestTrade"]["p"] == 189.5
    assert snapshot["latestQuote"]["bp"] < 189.5 < snapshot["latestQuote"]["ap"]
    assert {"minuteBar", "dailyBar", "prevDailyBar"} <= set(snapshot)
    bad = requests.get(url, params={"symbols": "AAPL", "feed": "x"}, headers=headers, timeout=5)
    assert bad.status_code == 400


async def test_wrong_keys_at_the_data_endpoint_are_an_authentication_error() -> None:
    with AlpacaServer(key=KEY_ID, secret=SECRET_KEY) as trading, AlpacaServer(key="other") as data:
        adapter = AlpacaBroker(
            fast_config(trading, data_url=data.url),
            Mode.PAPER,
            key_id=SecretStr(KEY_ID),
            secret_key=SecretStr(SECRET_KEY),
        )
        async with adapter:
            with pytest.raises(AuthenticationError) as info:
                await adapter.reference_prices(["AAPL"])
    assert SECRET_KEY not in str(info.value)


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        ({"latestTrade": {"p": 189.5}, "latestQuote": {"ap": 190, "bp": 189}}, D("189.5")),
        ({"latestTrade": None, "latestQuote": {"ap": 190.02, "bp": 189.98}}, D("190.00")),
        ({"latestTrade": {"p": 0}, "latestQuote": {"ap": 11, "bp": 10}}, D("10.5")),
        ({"latestQuote": {"ap": 190, "bp": 0}}, None),  # one-sided: no midpoint
        ({"latestQuote": {"ap": 189, "bp": 190}}, None),  # crossed
        ({"latestTrade": {"p": "NaN"}}, None),
        ({"latestTrade": {"p": "cheap"}}, None),
        (None, None),
        ("garbage", None),
    ],
)
def test_latest_trade_else_quote_midpoint(snapshot: object, expected: Decimal | None) -> None:
    market = reference_prices({"AAPL": snapshot}, ["AAPL"])
    assert market.prices.get("AAPL") == expected


def test_an_answer_that_is_not_a_mapping_is_a_broker_error() -> None:
    with pytest.raises(BrokerError):
        reference_prices(["AAPL"], ["AAPL"])


# -- the sim broker: its own market ------------------------------------------------------------


async def test_the_sim_broker_prices_from_its_table_and_lets_the_signal_stand_in() -> None:
    sim = SimBroker(SimBrokerConfig(prices={"AAPL": D("189.50")}, slippage_bps=D(0)))
    market = await sim.reference_prices(["AAPL", "TSLA"])
    assert dict(market.prices) == {"AAPL": D("189.50")}
    assert market.signal_stands_in
    sim.set_price("TSLA", D(250))
    assert (await sim.reference_prices(["TSLA"])).price("TSLA") == D(250)
    with pytest.raises(ValueError, match="below"):
        sim.set_price("TSLA", D("1E-9"))


async def test_the_sim_broker_fills_at_its_market_price_not_the_intents() -> None:
    sim = SimBroker(SimBrokerConfig(prices={"AAPL": D("189.50")}, slippage_bps=D(0)))
    snap = await sim.submit(make_intent(symbol="AAPL", side=Side.BUY, qty="10", price="0.0001"))
    assert snap.filled_avg_price == D("189.50")
    assert (await sim.account()).cash == D(100000) - D("1895.00")


def test_simulate_alpaca_takes_per_symbol_prices() -> None:
    import click

    from tradebot.simulators.alpaca.cli import command

    # the CLI's own help names: click builds a command's help option once, on first use
    names = {"help_option_names": ["-h", "--help"]}
    args = ["--price", "AAPL=189.50", "--price", "50", "--price", "msft=415.3"]
    ctx = command.make_context("alpaca", args, **names)
    assert ctx.params["prices"] == (D(50), {"AAPL": D("189.50"), "MSFT": D("415.3")})
    for bad in ("AAPL=", "=5", "AAPL=cheap", "0", "AAPL=1E-9"):
        with pytest.raises(click.BadParameter):
            command.make_context("alpaca", ["--price", bad], **names)


# -- the age of a reference (issue 19 §3) ---------------------------------------------------------

#: Friday 4 December 2026, 10:00 in New York: the market is open
FRIDAY_MORNING = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
#: Saturday 5 December 2026, noon in New York: closed; Friday is the latest session
SATURDAY = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)


@asynccontextmanager
async def adapter_at(now: datetime) -> AsyncIterator[tuple[AlpacaServer, AlpacaBroker]]:
    """The real adapter against a local server whose clock stands at ``now``."""
    with AlpacaServer(key=KEY_ID, secret=SECRET_KEY, now=lambda: now) as server:
        adapter = AlpacaBroker(
            fast_config(server),
            Mode.PAPER,
            key_id=SecretStr(KEY_ID),
            secret_key=SecretStr(SECRET_KEY),
        )
        async with adapter:
            yield server, adapter


async def plan_through(broker: AlpacaBroker, tmp_path: Path, now: datetime, *symbols: str) -> Plan:
    """Plan one open leg per symbol, each at 189.50, as the running bot does: the context asks
    the broker for the day (its clock) and the reference prices, the planner decides."""
    signal = make_signal(opens=[(s, "buy", "189.50") for s in symbols], at=now)
    with open_journal(tmp_path / "journal.sqlite") as journal:
        ctx = PlanningContext(broker, journal, kill_switch=None, track_pnl=False)
        market = await ctx.market_for(symbols)
        day = await ctx.day_state(now)
    return plan(
        signal, PositionBook(), ACCOUNT, make_config().planning, now, market=market, day=day
    )


async def test_the_snapshot_carries_the_time_of_the_latest_trade() -> None:
    async with adapter_at(FRIDAY_MORNING) as (server, broker):
        old = FRIDAY_MORNING - timedelta(days=5, hours=2)
        server.set_price("AAPL", D("189.5"), at=old)
        server.set_price("MSFT", D("415.31"))  # traded now
        market = await broker.reference_prices(["AAPL", "MSFT", "NVDA"])  # NVDA: never moved
    assert dict(market.as_of) == {"AAPL": old, "MSFT": FRIDAY_MORNING, "NVDA": FRIDAY_MORNING}


async def test_a_five_day_old_snapshot_is_skipped_with_its_age(tmp_path: Path) -> None:
    """The issue's case, through alpaca-py and the local server: the snapshot agreed with the
    signal's price, so the collar passed it; its age now refuses it."""
    async with adapter_at(FRIDAY_MORNING) as (server, broker):
        server.set_price("AAPL", D("189.50"), at=FRIDAY_MORNING - timedelta(days=5, hours=2))
        server.set_price("MSFT", D("189.50"), at=FRIDAY_MORNING - timedelta(minutes=14))
        result = await plan_through(broker, tmp_path, FRIDAY_MORNING, "AAPL", "MSFT")
    assert [(i.symbol, i.qty) for i in result.intents] == [("MSFT", D(10))]
    (skip,) = result.skipped
    assert skip.reason is SkipReason.NO_REFERENCE_PRICE
    assert "reference price for AAPL is 5d 2h old (risk.reference_max_age 15m)" in skip.detail


async def test_closed_the_latest_sessions_trade_is_fresh_an_older_one_is_not(
    tmp_path: Path,
) -> None:
    """On Saturday the market's price is Friday's last trade; Thursday's is not. The session
    comes from the broker's clock (its next open), read by the planning context."""
    async with adapter_at(SATURDAY) as (server, broker):
        server.account.market_open = False
        server.set_price("AAPL", D("189.50"), at=datetime(2026, 12, 4, 20, 59, tzinfo=UTC))
        server.set_price("MSFT", D("189.50"), at=datetime(2026, 12, 3, 20, 59, tzinfo=UTC))
        result = await plan_through(broker, tmp_path, SATURDAY, "AAPL", "MSFT")
    assert [(i.symbol, i.qty) for i in result.intents] == [("AAPL", D(10))]
    (skip,) = result.skipped
    assert skip.reason is SkipReason.NO_REFERENCE_PRICE
    assert "reference price for MSFT is 1d 20h old" in skip.detail
    assert "from before the latest session, Fri 2026-12-04" in skip.detail


@pytest.mark.parametrize(
    ("stamp", "kept"),
    [
        ("2026-12-04T20:59:00.123456789Z", True),
        ("2026-12-04T15:59:00-05:00", True),
        ("2026-12-04T20:59:00", False),  # no time zone: no telling when
        ("yesterday", False),
        (None, False),
    ],
)
def test_a_snapshot_time_alpaca_sends_is_read_or_left_out(stamp: str | None, kept: bool) -> None:
    market = reference_prices({"AAPL": {"latestTrade": {"p": 189.5, "t": stamp}}}, ["AAPL"])
    assert market.prices == {"AAPL": D("189.5")}  # the price stays: the planner refuses it
    assert ("AAPL" in market.as_of) is kept


def test_the_quote_midpoints_time_is_the_quotes() -> None:
    quote = {"ap": 190.02, "bp": 189.98, "t": "2026-12-04T20:59:00Z"}
    market = reference_prices({"AAPL": {"latestTrade": None, "latestQuote": quote}}, ["AAPL"])
    assert market.as_of == {"AAPL": datetime(2026, 12, 4, 20, 59, tzinfo=UTC)}


async def test_the_sim_brokers_table_is_dated_when_each_price_is_set() -> None:
    clock = [FRIDAY_MORNING]
    sim = SimBroker(SimBrokerConfig(prices={"AAPL": D("189.50")}), now=lambda: clock[0])
    clock[0] += timedelta(hours=1)
    sim.set_price("MSFT", D(415))
    sim.set_price("NVDA", D(131), at=FRIDAY_MORNING - timedelta(days=5))
    market = await sim.reference_prices(["AAPL", "MSFT", "NVDA"])
    assert dict(market.as_of) == {
        "AAPL": FRIDAY_MORNING,  # from the config: when the broker started
        "MSFT": FRIDAY_MORNING + timedelta(hours=1),
        "NVDA": FRIDAY_MORNING - timedelta(days=5),
    }
