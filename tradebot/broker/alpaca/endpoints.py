"""Which Alpaca endpoints to use, and the guard against paper orders reaching the live account.

The mode comes resolved from the CLI/config (live only when ``--live`` and
``live_trading_acknowledged: true`` are both given). ``broker.alpaca.url`` overrides the REST
endpoint (a local server, tests); the trade-updates stream is ``broker.alpaca.stream_url`` or
derived from the REST URL (``https://host`` -> ``wss://host/stream``, as Alpaca lays it out).

The guard compares normalised hosts (:mod:`tradebot.config.hosts`: case, trailing dots, IDNA,
percent-encoding), and in paper mode it is a whitelist, not a blacklist: each endpoint must be
Alpaca's paper host for its role, a loopback address, or a host the config names in
``broker.alpaca.allow_hosts``. So an IP address of the live API, a CNAME to it or a spelling we
did not think of is refused too. Live mode refuses Alpaca's paper trading host.

Market data (reference prices) comes from ``broker.alpaca.data_url``, else Alpaca's data API,
which serves paper and live accounts alike; it is guarded like the trading endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradebot.config.hosts import ALPACA_LIVE_HOST, endpoint_host, is_loopback
from tradebot.config.model import AlpacaConfig, Mode
from tradebot.exceptions import ConfigError

PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = f"https://{ALPACA_LIVE_HOST}"
DATA_URL = "https://data.alpaca.markets"  # market data: the same for paper and live
_PAPER_TRADING = frozenset({"paper-api.alpaca.markets"})


@dataclass(frozen=True, slots=True)
class Endpoints:
    rest: str
    stream: str
    data: str = DATA_URL


@dataclass(frozen=True, slots=True)
class EndpointRole:
    """What one endpoint may point at: ``paper`` hosts in paper mode, never ``not_live`` live."""

    paper: frozenset[str]
    not_live: frozenset[str]


#: trading endpoints (REST orders, trade-updates stream): paper and live are separate hosts
TRADING = EndpointRole(paper=_PAPER_TRADING, not_live=_PAPER_TRADING)
#: market data (``broker.alpaca.data_url``): one host serves paper and live accounts alike
MARKET_DATA = EndpointRole(paper=frozenset({"data.alpaca.markets"}), not_live=frozenset())


def stream_url_for(rest_url: str) -> str:
    scheme, rest = rest_url.split("://", 1)
    return f"{'wss' if scheme.lower() == 'https' else 'ws'}://{rest.rstrip('/')}/stream"


def resolve(config: AlpacaConfig, mode: Mode) -> Endpoints:
    """The endpoints for ``mode``; ConfigError if they would cross paper and live."""
    rest = config.url or (LIVE_URL if mode is Mode.LIVE else PAPER_URL)
    stream = config.stream_url or stream_url_for(rest)
    data = config.data_url or DATA_URL
    # one line per endpoint the adapter uses
    for key, url, role in (
        ("url", rest, TRADING),
        ("stream_url", stream, TRADING),
        ("data_url", data, MARKET_DATA),
    ):
        check_endpoint(key, url, role, mode, config.allow_hosts)
    return Endpoints(rest, stream, data)


def check_endpoint(
    key: str, url: str, role: EndpointRole, mode: Mode, allow_hosts: tuple[str, ...]
) -> None:
    """ConfigError unless ``url`` may be used for ``role`` in ``mode`` (see the module doc)."""
    try:
        host = endpoint_host(url)
    except ValueError as exc:
        raise ConfigError(f"broker.alpaca.{key}: {exc}") from None
    if mode is Mode.LIVE:
        if host in role.not_live:
            raise ConfigError(
                f"broker.alpaca.{key}: live mode but the endpoint is Alpaca's paper API "
                f"({host}); remove broker.alpaca.url/stream_url or run in paper mode"
            )
        return
    if host == ALPACA_LIVE_HOST:
        raise ConfigError(
            f"broker.alpaca.{key}: paper mode but the endpoint is Alpaca's live API ({host}); "
            "remove broker.alpaca.url/stream_url, or trade live with --live and "
            "live_trading_acknowledged: true"
        )
    if host in role.paper or is_loopback(host) or host in allow_hosts:
        return
    raise ConfigError(
        f"broker.alpaca.{key}: paper mode but the endpoint's host {host} is neither Alpaca's "
        "paper API nor this machine; if it is meant (a proxy, a test server), name it in "
        "broker.alpaca.allow_hosts"
    )
