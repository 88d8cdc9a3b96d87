"""The real Alpaca adapter pointed at a local Alpaca-compatible server, with short timeouts
and retry delays, for the execution tests that drive orders end to end."""

from __future__ import annotations

from pydantic import SecretStr

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.config.model import AlpacaConfig, Mode
from tradebot.simulators.alpaca.server import AlpacaServer


def fast_adapter(server: AlpacaServer, key: str, secret: str) -> AlpacaBroker:
    config = AlpacaConfig(
        url=server.url,
        stream_url=server.stream_url,
        data_url=server.url,
        timeout=2,
        max_attempts=3,
        first_retry_delay=0.01,
        max_retry_delay=0.05,
        reconnect_delay=0.05,
    )
    return AlpacaBroker(config, Mode.PAPER, key_id=SecretStr(key), secret_key=SecretStr(secret))
