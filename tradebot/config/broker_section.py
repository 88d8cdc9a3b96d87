"""``broker:``: which broker trades (``sim`` or ``alpaca``) and each one's settings.

The broker factory (``tradebot/broker/factory.py``) reads this section; ``broker.account_id``
also reaches the planner, as the account tag of client order ids (:mod:`.planning`).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field, SecretStr, StrictBool, field_validator

from tradebot.config.frozen import Frozen
from tradebot.config.hosts import ALPACA_LIVE_HOST, endpoint_host, normalise_host
from tradebot.config.numbers import MAX_DOLLARS, Finite, FiniteDecimal
from tradebot.core.market import implausible_price


class DataFeed(StrEnum):
    """Alpaca's stock market-data feeds (``iex`` is free; ``sip`` needs a subscription)."""

    IEX = "iex"
    SIP = "sip"


class AlpacaConfig(Frozen):
    url: str | None = Field(None, description="endpoint override (local server, tests)")
    key_id: SecretStr | None = None
    secret_key: SecretStr | None = None
    timeout: Finite = Field(10.0, gt=0, le=300, description="per-request timeout, seconds")
    max_attempts: int = Field(8, ge=1, le=50, description="tries per request on transient errors")
    stream: StrictBool = Field(True, description="use the trade-updates websocket for fills")
    stream_url: str | None = Field(
        None, description="trade-updates websocket override; default: derived from url"
    )
    first_retry_delay: Finite = Field(0.2, gt=0, le=10, description="first backoff, seconds")
    max_retry_delay: Finite = Field(10.0, gt=0, le=60, description="backoff cap, seconds")
    max_retry_after: Finite = Field(
        60.0, gt=0, le=3600, description="longest Retry-After honoured, seconds"
    )
    asset_cache_seconds: Finite = Field(
        300.0, ge=0, le=86400, description="how long asset facts (shortable, ...) are reused"
    )
    reconnect_delay: Finite = Field(
        1.0, gt=0, le=30, description="first wait before the trade-updates stream reconnects"
    )
    allow_hosts: tuple[str, ...] = Field(
        (),
        description="paper mode: hosts besides Alpaca's paper API and this machine that url/"
        "stream_url may name (a proxy, a test server); never Alpaca's live API",
    )
    data_url: str | None = Field(
        None, description="market-data endpoint override (local server, tests)"
    )
    data_feed: DataFeed = Field(DataFeed.IEX, description="market-data feed for reference prices")

    @field_validator("url", "stream_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("must start with http(s):// or ws(s)://")
        endpoint_host(value)  # no credentials, odd characters or bad port (the guard needs a host)
        return value

    @field_validator("allow_hosts")
    @classmethod
    def _allowed_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        hosts = tuple(dict.fromkeys(normalise_host(host) for host in value))
        if ALPACA_LIVE_HOST in hosts:
            raise ValueError(
                f"{ALPACA_LIVE_HOST} is Alpaca's live API and can never be allowed in paper mode"
            )
        return hosts

    @field_validator("data_url")
    @classmethod
    def _data_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):  # a REST API, never a websocket
            raise ValueError("must start with http:// or https://")
        return value


class SimBrokerConfig(Frozen):
    cash: FiniteDecimal = Field(Decimal(100000), gt=0, le=MAX_DOLLARS)
    slippage_bps: FiniteDecimal = Field(Decimal(5), ge=0, le=1000)
    fill_delay: Finite = Field(0.0, ge=0, le=3600, description="seconds between accept and fill")
    shortable: StrictBool = True
    fractionable: StrictBool = True
    prices: dict[str, FiniteDecimal] = Field(
        default_factory=dict,
        description="the sim market's price per symbol (its reference prices)",
    )

    @field_validator("prices")
    @classmethod
    def _plausible_prices(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for symbol, price in value.items():
            why = implausible_price(price)
            if why is not None:
                raise ValueError(f"{symbol}: {why}")
            out[symbol.strip().upper()] = price
        return out


class CircuitConfig(Frozen):
    """``broker.circuit``: the circuit breaker (``tradebot/execution/circuit.py``)."""

    failures: int = Field(
        5,
        ge=1,
        le=100,
        description="order submissions in a row without the broker's answer "
        "(after the retries) that stop sending",
    )
    probe_every: Finite = Field(
        15.0, gt=0, le=3600, description="seconds between two probes while sending is stopped"
    )


#: the brokers a config may name: each has its kind in tradebot.broker.factory.BROKERS
BrokerName = Literal["sim", "alpaca"]


class BrokerConfig(Frozen):
    name: BrokerName = "sim"
    account_id: str | None = Field(
        None, description="fixed account tag for client order ids; default: the broker's"
    )
    alpaca: AlpacaConfig = AlpacaConfig()
    sim: SimBrokerConfig = SimBrokerConfig()
    circuit: CircuitConfig = CircuitConfig()
