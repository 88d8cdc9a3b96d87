"""The typed, frozen shape of ``config.yaml``.

Every section is a frozen pydantic model that rejects unknown keys. Components receive the slice
they need (``config.alphahub``, ``config.broker``, ...), never the whole document. Secrets are
``SecretStr``: masked in ``repr()``, logs and ``tradebot config check``.

Section ownership: core/planner fields live in :class:`AlgorithmConfig` and :class:`RiskConfig`;
the listener reads :class:`AlphaHubConfig`; brokers read :class:`BrokerConfig`; the journal reads
:class:`JournalConfig`.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from tradebot.core.orders import OrderType, TimeInForce


class Frozen(BaseModel):
    """Base for every config section: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class CloseNotHeld(StrEnum):
    """What to do with a close leg for a symbol the algorithm does not hold."""

    SKIP = "skip"  # journal it as skipped (the default)
    IGNORE = "ignore"  # the same, at debug level: for feeds known to send such closes


class MarketClosedPolicy(StrEnum):
    """What to do with a signal that arrives while the market is closed."""

    QUEUE = "queue"  # send day orders; the broker queues them for the open
    SKIP = "skip"  # skip every leg with a reason
    EXTENDED_HOURS = "extended_hours"  # limit orders eligible for extended hours


# -- alphahub ------------------------------------------------------------------------------------


class ReconnectConfig(Frozen):
    first_delay: float = Field(0.1, gt=0, le=5, description="seconds before the first retry")
    max_delay: float = Field(10.0, gt=0, le=10, description="backoff cap, seconds")
    healthy_after: float = Field(
        30.0, gt=0, description="seconds a connection must stay up before the backoff resets"
    )


class AlphaHubConfig(Frozen):
    url: str = "https://alphahub.us"
    email: SecretStr | None = None
    password: SecretStr | None = None
    algorithms: tuple[int, ...] | None = Field(
        None, description="algorithms to subscribe to; default: every enabled algorithm"
    )
    connections: int = Field(2, ge=1, le=8)
    timezone: str = Field(
        "UTC",
        description="zone of the naive leg timestamps; AlphaHub (Phoenix/Ecto) stamps in UTC",
    )
    heartbeat_interval: float = Field(15.0, gt=0, le=55)
    heartbeat_timeout: float = Field(10.0, gt=0)
    join_timeout: float = Field(10.0, gt=0)
    request_timeout: float = Field(10.0, gt=0, description="login request timeout, seconds")
    token_max_age: float = Field(
        25 * 60.0, gt=0, description="re-authenticate before connecting when older than this"
    )
    reconnect: ReconnectConfig = ReconnectConfig()
    dedup_window: float = Field(
        24 * 3600.0, gt=0, description="seconds a leg id is remembered for de-duplication"
    )
    dedup_max_ids: int = Field(100_000, ge=1, description="most leg ids remembered at once")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like UTC)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# -- broker --------------------------------------------------------------------------------------


class AlpacaConfig(Frozen):
    url: str | None = Field(None, description="endpoint override (local server, tests)")
    key_id: SecretStr | None = None
    secret_key: SecretStr | None = None
    timeout: float = Field(10.0, gt=0, description="per-request timeout, seconds")
    max_attempts: int = Field(8, ge=1, le=50, description="tries per request on transient errors")
    stream: bool = Field(True, description="use the trade-updates websocket for fills")
    stream_url: str | None = Field(
        None, description="trade-updates websocket override; default: derived from url"
    )
    first_retry_delay: float = Field(0.2, gt=0, le=10, description="first backoff, seconds")
    max_retry_delay: float = Field(10.0, gt=0, le=60, description="backoff cap, seconds")
    max_retry_after: float = Field(
        60.0, gt=0, description="longest Retry-After honoured, seconds"
    )
    asset_cache_seconds: float = Field(
        300.0, ge=0, description="how long asset facts (shortable, ...) are reused"
    )
    reconnect_delay: float = Field(
        1.0, gt=0, le=30, description="first wait before the trade-updates stream reconnects"
    )

    @field_validator("url", "stream_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("must start with http(s):// or ws(s)://")
        return value


class SimBrokerConfig(Frozen):
    cash: Decimal = Field(Decimal(100000), gt=0)
    slippage_bps: Decimal = Field(Decimal(5), ge=0, le=1000)
    fill_delay: float = Field(0.0, ge=0, description="seconds between accept and fill")
    shortable: bool = True
    fractionable: bool = True


class BrokerConfig(Frozen):
    name: Literal["sim", "alpaca"] = "sim"
    account_id: str | None = Field(
        None, description="fixed account tag for client order ids; default: the broker's"
    )
    alpaca: AlpacaConfig = AlpacaConfig()
    sim: SimBrokerConfig = SimBrokerConfig()


# -- journal -------------------------------------------------------------------------------------


class JournalConfig(Frozen):
    path: str = "journal/tradebot.sqlite"
    recovery_max_age: float = Field(
        300.0,
        gt=0,
        description="seconds; at start-up, an order not sent before a crash is sent only if its "
        "signal is younger than this, else recorded as failed",
    )


# -- risk ----------------------------------------------------------------------------------------


class RiskConfig(Frozen):
    """Limits that can only make the bot trade less. ``None`` means no limit."""

    max_order_notional: Decimal | None = Field(None, gt=0)
    max_position_notional: Decimal | None = Field(
        None, gt=0, description="per algorithm per symbol"
    )
    max_algo_exposure: Decimal | None = Field(
        None, gt=0, description="gross notional an algorithm may hold"
    )
    max_symbol_exposure: Decimal | None = Field(
        None, gt=0, description="gross notional the account may hold in one symbol"
    )
    max_orders_per_day: int | None = Field(None, ge=0)
    max_daily_loss: Decimal | None = Field(None, gt=0)
    max_signal_age: float | None = Field(
        None, gt=0, description="seconds; older legs are skipped as stale"
    )
    price_collar_pct: Decimal | None = Field(
        None, gt=0, le=100, description="limit price band around the signal price, percent"
    )
    allow_symbols: tuple[str, ...] | None = None
    deny_symbols: tuple[str, ...] = ()

    @field_validator("allow_symbols", "deny_symbols", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(str(v).strip().upper() for v in value)
        return value


class GlobalRiskConfig(RiskConfig):
    kill_switch_file: str | None = Field(
        "tradebot.halt", description="while this file exists the bot sends nothing"
    )


# -- algorithms ----------------------------------------------------------------------------------


class AlgorithmConfig(Frozen):
    name: str = ""
    enabled: bool = True
    strategy: str = Field(..., description="a module in strategies/ or 'package.module:Class'")
    params: dict[str, Any] = Field(default_factory=dict)
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    allow_short: bool = False
    allow_fractional: bool = False
    on_close_not_held: CloseNotHeld = CloseNotHeld.SKIP
    market_closed: MarketClosedPolicy = MarketClosedPolicy.QUEUE
    risk: RiskConfig = RiskConfig()


class Config(Frozen):
    mode: Mode = Mode.PAPER
    live_trading_acknowledged: bool = Field(
        False, description="must be true, together with --live, to trade real money"
    )
    alphahub: AlphaHubConfig = AlphaHubConfig()
    broker: BrokerConfig = BrokerConfig()
    journal: JournalConfig = JournalConfig()
    risk: GlobalRiskConfig = GlobalRiskConfig()
    algorithms: dict[int, AlgorithmConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _subscribed_algorithms_known(self) -> Config:
        if self.alphahub.algorithms is not None:
            unknown = [a for a in self.alphahub.algorithms if a not in self.algorithms]
            if unknown:
                raise ValueError(
                    f"alphahub.algorithms lists {unknown} with no entry under algorithms"
                )
        return self

    @property
    def subscribed_algorithms(self) -> tuple[int, ...]:
        """The algorithms to listen to: ``alphahub.algorithms`` or every enabled one."""
        if self.alphahub.algorithms is not None:
            return self.alphahub.algorithms
        return tuple(sorted(a for a, c in self.algorithms.items() if c.enabled))
