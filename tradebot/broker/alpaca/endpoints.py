"""Which Alpaca endpoints to use, and the guard against paper orders reaching the live account.

The mode comes resolved from the CLI/config (live only when ``--live`` and
``live_trading_acknowledged: true`` are both given). ``broker.alpaca.url`` overrides the REST
endpoint (a local server, tests); the trade-updates stream is ``broker.alpaca.stream_url`` or
derived from the REST URL (``https://host`` -> ``wss://host/stream``, as Alpaca lays it out).
Market data (reference prices) comes from ``broker.alpaca.data_url``, else Alpaca's data API.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from tradebot.config.model import AlpacaConfig, Mode
from tradebot.exceptions import ConfigError

PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"  # market data: the same for paper and live
_LIVE_HOSTS = frozenset({"api.alpaca.markets", "stream.data.alpaca.markets"})
_PAPER_HOSTS = frozenset({"paper-api.alpaca.markets"})


@dataclass(frozen=True, slots=True)
class Endpoints:
    rest: str
    stream: str
    data: str = DATA_URL


def stream_url_for(rest_url: str) -> str:
    scheme, rest = rest_url.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/stream"


def resolve(config: AlpacaConfig, mode: Mode) -> Endpoints:
    """The endpoints for ``mode``; ConfigError if they would cross paper and live."""
    rest = config.url or (LIVE_URL if mode is Mode.LIVE else PAPER_URL)
    stream = config.stream_url or stream_url_for(rest)
    hosts = {urlsplit(rest).hostname or "", urlsplit(stream).hostname or ""}
    if mode is Mode.PAPER and hosts & _LIVE_HOSTS:
        raise ConfigError(
            "broker.alpaca: paper mode but the endpoint is Alpaca's live API; "
            "remove broker.alpaca.url/stream_url, or trade live with --live and "
            "live_trading_acknowledged: true"
        )
    if mode is Mode.LIVE and hosts & _PAPER_HOSTS:
        raise ConfigError(
            "broker.alpaca: live mode but the endpoint is Alpaca's paper API; "
            "remove broker.alpaca.url/stream_url or run in paper mode"
        )
    return Endpoints(rest, stream, config.data_url or DATA_URL)
