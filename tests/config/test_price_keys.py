"""Config keys for reference prices (issue 10 §1): the collar, the policy, the sim's price table,
Alpaca's market-data endpoint and feed, and the largest order quantity."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.config.helpers import ROOT_CONFIG, WriteConfig, error_text, load
from tradebot.config.loader import read_config
from tradebot.config.model import DataFeed, ReferencePricePolicy

D = Decimal
ALGO = """
algorithms:
  14:
    strategy: fixed_shares
    params: {shares: 1}
"""


def test_defaults_trust_no_signal_price(write_config: WriteConfig) -> None:
    config = load(write_config(ALGO))
    assert config.risk.price_collar_pct == 5
    assert config.risk.reference_price is ReferencePricePolicy.REQUIRED
    assert config.risk.max_order_qty is None
    effective = config.risk_for(14)  # an algorithm that says nothing inherits them
    assert effective.price_collar_pct == 5
    assert effective.reference_price is ReferencePricePolicy.REQUIRED
    assert config.broker.alpaca.data_url is None
    assert config.broker.alpaca.data_feed is DataFeed.IEX
    assert config.broker.sim.prices == {}


def test_the_shipped_config_prices_the_sim_market() -> None:
    config = load(ROOT_CONFIG)
    assert config.broker.sim.prices["AAPL"] == D("189.50")
    assert config.risk.price_collar_pct == 5


def test_the_stricter_collar_policy_and_quantity_win(write_config: WriteConfig) -> None:
    path = write_config(
        """
        risk:
          price_collar_pct: 3
          reference_price: signal_if_unavailable
          max_order_qty: 100
        algorithms:
          14:
            strategy: fixed_shares
            params: {shares: 1}
            risk: {price_collar_pct: 10, reference_price: required, max_order_qty: 500}
          15:
            strategy: fixed_shares
            params: {shares: 1}
            risk: {price_collar_pct: 1, max_order_qty: 7}
        """
    )
    config = load(path)
    a14, a15 = config.risk_for(14), config.risk_for(15)
    assert (a14.price_collar_pct, a14.reference_price, a14.max_order_qty) == (
        3,
        ReferencePricePolicy.REQUIRED,
        100,
    )
    assert (a15.price_collar_pct, a15.reference_price, a15.max_order_qty) == (
        1,
        ReferencePricePolicy.SIGNAL_IF_UNAVAILABLE,
        7,
    )
    warnings = " ".join(str(w) for w in read_config(path, env={}).warnings)
    assert "algorithms.14.risk.price_collar_pct: looser" in warnings
    assert "algorithms.14.risk.max_order_qty: looser" in warnings


def test_a_looser_reference_policy_for_one_algorithm_is_warned_about_and_ignored(
    write_config: WriteConfig,
) -> None:
    path = write_config(ALGO + "    risk: {reference_price: signal_if_unavailable}\n")
    config = load(path)
    assert config.risk_for(14).reference_price is ReferencePricePolicy.REQUIRED
    warnings = " ".join(str(w) for w in read_config(path, env={}).warnings)
    assert "algorithms.14.risk.reference_price: looser" in warnings


@pytest.mark.parametrize(
    ("yaml", "where"),
    [
        ("risk: {price_collar_pct: 0}", "risk.price_collar_pct"),
        ("risk: {price_collar_pct: 101}", "risk.price_collar_pct"),
        ("risk: {price_collar_pct: null}", "risk.price_collar_pct"),
        ("risk: {reference_price: maybe}", "risk.reference_price"),
        ("risk: {max_order_qty: 0}", "risk.max_order_qty"),
        ("broker: {alpaca: {data_feed: nasdaq}}", "broker.alpaca.data_feed"),
        ("broker: {alpaca: {data_url: ftp://x}}", "broker.alpaca.data_url"),
        ("broker: {alpaca: {data_url: 'ws://x'}}", "broker.alpaca.data_url"),
        ("broker: {sim: {prices: {AAPL: 0}}}", "broker.sim.prices"),
        ("broker: {sim: {prices: {AAPL: -3}}}", "broker.sim.prices"),
        ("broker: {sim: {prices: {AAPL: .nan}}}", "broker.sim.prices"),
        ("broker: {sim: {prices: {AAPL: 0.00000001}}}", "broker.sim.prices"),
        ("broker: {sim: {prices: {AAPL: 99999999999}}}", "broker.sim.prices"),
        ("broker: {sim: {prices: {AAPL: cheap}}}", "broker.sim.prices"),
    ],
)
def test_bad_values_are_refused_with_their_key(
    write_config: WriteConfig, yaml: str, where: str
) -> None:
    assert where in error_text(write_config(yaml + "\n" + ALGO))


def test_sim_prices_are_exact_and_keyed_by_upper_case_symbol(write_config: WriteConfig) -> None:
    config = load(write_config("broker: {sim: {prices: {aapl: 189.505, MSFT: '415.30'}}}\n"))
    assert config.broker.sim.prices == {"AAPL": D("189.505"), "MSFT": D("415.30")}
