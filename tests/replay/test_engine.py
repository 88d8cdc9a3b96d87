"""The replay runs the bot's own planner: the orders it makes are plan()'s for those signals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from tradebot.core.account import AssetInfo
from tradebot.core.book import PositionBook
from tradebot.core.market import MarketPrices
from tradebot.core.planner import plan
from tradebot.core.signal import Signal
from tradebot.replay.engine import run_replay

from .helpers import arrivals_of, load, write_config


def _market(signal: Signal, now: datetime) -> MarketPrices:
    prices = {leg.symbol: leg.price for leg in signal.legs}
    return MarketPrices(prices, signal_stands_in=True, as_of=dict.fromkeys(prices, now))


def test_the_replayed_orders_are_the_planners_for_those_signals(tmp_path: Path) -> None:
    config = load(write_config(tmp_path))
    arrivals = arrivals_of(config)
    done = run_replay(config, arrivals)
    assert [s.arrival for s in done.steps] == arrivals
    book = PositionBook()  # our own: every order filled whole, as the sim fills a market order
    orders = 0
    for step in done.steps:
        signal, now = step.arrival.signal, step.arrival.at
        assets = {
            leg.symbol: AssetInfo(leg.symbol, shortable=True, fractionable=True)
            for leg in signal.legs
        }
        expected = plan(
            signal,
            book,
            step.account,
            config.planning,
            now,
            market=_market(signal, now),
            assets=assets,
        )
        assert step.plan.intents == expected.intents, now
        assert step.plan.skipped == expected.skipped, now
        for intent in expected.intents:
            book.apply_fill(intent.algo_id, intent.symbol, intent.side, intent.qty)
        orders += len(expected.intents)
    assert orders > 20  # the history traded: closes found what the opens bought
    assert sum(done.tally.orders.values()) == orders
    ledgers = {(a, s): p.qty for (a, s), p in done.tally.positions.items() if p.qty}
    assert ledgers == {(a, s): q for a, s, q in book}


def test_the_account_the_planner_sizes_against_follows_the_fills(tmp_path: Path) -> None:
    config = load(write_config(tmp_path))
    done = run_replay(config, arrivals_of(config))
    first, last = done.steps[0].account, done.steps[-1].account
    assert first.equity == first.cash == Decimal(100000)
    realised = sum(done.tally.realised.values(), Decimal(0))
    # equity moves by what was made (realised, and the open positions at their last price)
    assert last.equity != first.equity and realised != 0
