"""Paper by default; paper-mode orders never reach the live endpoint."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.broker.alpaca.endpoints import LIVE_URL, PAPER_URL, resolve
from tradebot.broker.factory import make_broker
from tradebot.broker.sim import SimBroker
from tradebot.config.model import AlpacaConfig, BrokerConfig, Mode
from tradebot.exceptions import ConfigError


def test_defaults() -> None:
    paper = resolve(AlpacaConfig(), Mode.PAPER)
    assert (paper.rest, paper.stream) == (PAPER_URL, "wss://paper-api.alpaca.markets/stream")
    assert resolve(AlpacaConfig(), Mode.LIVE).rest == LIVE_URL
    local = resolve(AlpacaConfig(url="http://127.0.0.1:5000"), Mode.PAPER)
    assert local.stream == "ws://127.0.0.1:5000/stream"


@pytest.mark.parametrize(
    "config",
    [
        AlpacaConfig(url="https://api.alpaca.markets"),
        AlpacaConfig(url="https://api.alpaca.markets/"),
        AlpacaConfig(stream_url="wss://api.alpaca.markets/stream"),
    ],
)
def test_paper_mode_refuses_the_live_endpoint(config: AlpacaConfig) -> None:
    with pytest.raises(ConfigError, match="paper mode"):
        resolve(config, Mode.PAPER)
    with pytest.raises(ConfigError, match="paper mode"):
        AlpacaBroker(config, Mode.PAPER, key_id=SecretStr("k"), secret_key=SecretStr("s"))


def test_live_mode_refuses_the_paper_endpoint() -> None:
    with pytest.raises(ConfigError, match="live mode"):
        resolve(AlpacaConfig(url=PAPER_URL), Mode.LIVE)


def test_factory_chooses_and_needs_keys_for_alpaca() -> None:
    assert isinstance(make_broker(BrokerConfig(), Mode.PAPER), SimBroker)
    config = BrokerConfig(name="alpaca")
    with pytest.raises(ConfigError, match="APCA_API_KEY_ID"):
        make_broker(config, Mode.PAPER, environ={})
    env = {"APCA_API_KEY_ID": "PKXYZ", "APCA_API_SECRET_KEY": "secret-xyz"}
    broker = make_broker(config, Mode.PAPER, environ=env)
    assert isinstance(broker, AlpacaBroker)
    assert "secret-xyz" not in repr(broker) and "PKXYZ" not in repr(broker)
