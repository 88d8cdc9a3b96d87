"""The typed, frozen shape of ``config.yaml``.

Every section is a frozen pydantic model that rejects unknown keys. Components receive the slice
they need (``config.alphahub``, ``config.broker``, ...), never the whole document. Secrets are
``SecretStr``: masked in ``repr()``, logs and ``tradebot config check``.

Section ownership: core/planner fields live in :class:`AlgorithmConfig` and :class:`RiskConfig`;
the listener reads :class:`AlphaHubConfig`; brokers read :class:`BrokerConfig`; the journal reads
:class:`JournalConfig`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tradebot.config.hosts import ALPACA_LIVE_HOST, endpoint_host, is_loopback, normalise_host
from tradebot.config.numbers import (
    MAX_DOLLARS,
    MAX_SHARES,
    WEEK,
    AlgorithmId,
    Finite,
    FiniteDecimal,
)
from tradebot.config.planning import planning_rules
from tradebot.config.strategy import StrategyNotFound, resolve_strategy
from tradebot.core.market import implausible_price
from tradebot.core.orders import ExitTerms, OrderType, TimeInForce

# The policies are the planner's vocabulary (tradebot.core.rules), named here as config values.
from tradebot.core.rules import CloseNotHeld as CloseNotHeld
from tradebot.core.rules import MarketClosedPolicy as MarketClosedPolicy
from tradebot.core.rules import PlanningRules
from tradebot.core.rules import ReferencePricePolicy as ReferencePricePolicy
from tradebot.core.sizing import SizingStrategy
from tradebot.masking import mask


class Frozen(BaseModel):
    """Base for every config section: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # SecretStr fields hide themselves; a URL may still carry a token or a password
        for name, value in super().__repr_args__():
            yield name, mask(value) if isinstance(value, str) else value


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class DataFeed(StrEnum):
    """Alpaca's stock market-data feeds (``iex`` is free; ``sip`` needs a subscription)."""

    IEX = "iex"
    SIP = "sip"


# -- alphahub ------------------------------------------------------------------------------------


class ReconnectConfig(Frozen):
    first_delay: Finite = Field(0.1, gt=0, le=5, description="seconds before the first retry")
    max_delay: Finite = Field(10.0, gt=0, le=10, description="backoff cap, seconds")
    healthy_after: Finite = Field(
        30.0,
        gt=0,
        le=3600,
        description="seconds a connection must stay up before the backoff resets",
    )


class BackfillMode(StrEnum):
    TRADE = "trade"
    JOURNAL = "journal"
    OFF = "off"


class AlphaHubConfig(Frozen):
    url: str = "https://alphahub.us"
    email: SecretStr | None = None
    password: SecretStr | None = None
    algorithms: tuple[AlgorithmId, ...] | None = Field(
        None, description="algorithms to subscribe to; default: every enabled algorithm"
    )
    connections: int = Field(2, ge=1, le=8)
    timezone: str = Field(
        "UTC",
        description="zone of the naive leg timestamps; AlphaHub (Phoenix/Ecto) stamps in UTC",
    )
    heartbeat_interval: Finite = Field(15.0, gt=0, le=55)
    heartbeat_timeout: Finite = Field(10.0, gt=0, le=300)
    join_timeout: Finite = Field(10.0, gt=0, le=300)
    request_timeout: Finite = Field(
        10.0, gt=0, le=300, description="login request timeout, seconds"
    )
    token_max_age: Finite = Field(
        25 * 60.0,
        gt=0,
        le=86400,
        description="re-authenticate before connecting when older than this",
    )
    reconnect: ReconnectConfig = ReconnectConfig()
    dedup_window: Finite = Field(
        24 * 3600.0,
        gt=0,
        le=WEEK,
        description="seconds a leg id is remembered for de-duplication",
    )
    dedup_max_ids: int = Field(
        100_000, ge=1, le=10_000_000, description="most leg ids remembered at once"
    )
    backfill: BackfillMode = Field(
        BackfillMode.TRADE,
        description="signals missed during a lapse, read back from AlphaHub's history: "
        "trade (through the planner and every limit), journal (record only) or off",
    )
    backfill_margin: Finite = Field(
        60.0, ge=0, le=3600, description="seconds added to both ends of a lapse before backfill"
    )

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


#: the brokers a config may name: each has its kind in tradebot.broker.factory.BROKERS
BrokerName = Literal["sim", "alpaca"]


class BrokerConfig(Frozen):
    name: BrokerName = "sim"
    account_id: str | None = Field(
        None, description="fixed account tag for client order ids; default: the broker's"
    )
    alpaca: AlpacaConfig = AlpacaConfig()
    sim: SimBrokerConfig = SimBrokerConfig()


# -- journal -------------------------------------------------------------------------------------


class JournalConfig(Frozen):
    path: str = "journal/tradebot.sqlite"
    url: str | None = Field(
        None,
        description="postgresql://user:${PGPASSWORD}@host/db: journal on a PostgreSQL server "
        "instead of the file at path (which then only places the status file)",
    )

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.lower().startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (a PostgreSQL server)")
        return value

    recovery_max_age: Finite = Field(
        300.0,
        gt=0,
        le=WEEK,
        description="seconds; at start-up, an order not sent before a crash is sent only if its "
        "signal is younger than this, else recorded as failed",
    )
    failover_timeout: Finite = Field(
        10.0,
        gt=0,
        le=3600,
        description="seconds; with journal.url and several processes, a standby takes over "
        "within this long of the leader's loss (its lease lasts 60% of it, renewed four times "
        "per lease)",
    )
    recheck_interval: Finite = Field(
        15.0,
        gt=0,
        le=3600,
        description="seconds; how often the running bot looks up orders whose submission ended "
        "without an answer: recorded if the broker has them, sent again (same client order id) "
        "while their signal is younger than recovery_max_age, else recorded as failed",
    )


# -- risk ----------------------------------------------------------------------------------------

#: the numeric limits, where the stricter value is the smaller one
_NUMERIC_LIMITS = (
    "max_order_notional",
    "max_position_notional",
    "max_algo_exposure",
    "max_symbol_exposure",
    "max_orders_per_day",
    "max_daily_loss",
    "max_signal_age",
    "price_collar_pct",
    "reference_max_age",
    "max_order_qty",
)


class RiskConfig(Frozen):
    """Limits that can only make the bot trade less. ``None`` means no limit.

    Under ``risk:`` they are the account's limits; under ``algorithms.ID.risk:`` they tighten
    them for one algorithm and can never loosen them (see :meth:`tightened_by`). Counts and losses
    are checked twice: for the account against the global value, and for the algorithm against
    the stricter of the two.
    """

    max_order_notional: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_DOLLARS, description="largest value of one order (closes are shrunk too)"
    )
    max_position_notional: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_DOLLARS, description="per algorithm per symbol"
    )
    max_algo_exposure: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_DOLLARS, description="gross notional an algorithm may hold"
    )
    max_symbol_exposure: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_DOLLARS, description="notional the account may hold net in one symbol"
    )
    max_orders_per_day: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="orders a day: account-wide (global), per algorithm (override)",
    )
    max_daily_loss: FiniteDecimal | None = Field(
        None,
        gt=0,
        le=MAX_DOLLARS,
        description="realised loss today after which only closes are sent",
    )
    max_signal_age: Finite | None = Field(
        None, gt=0, le=WEEK, description="seconds; older legs are skipped as stale"
    )
    price_collar_pct: FiniteDecimal | None = Field(
        None,
        gt=0,
        le=100,
        description="percent; a leg whose price is further than this from the broker's reference"
        " price is skipped (price_off_market); limit prices stay within it too",
    )
    reference_price: ReferencePricePolicy | None = Field(
        None,
        description="without a reference price from the broker: required (skip the leg) or"
        " signal_if_unavailable (use the signal's price)",
    )
    reference_max_age: Finite | None = Field(
        None,
        gt=0,
        le=WEEK,
        description="seconds; an older reference price counts as none while the market is open"
        " (closed: one from before the latest session does)",
    )
    max_order_qty: FiniteDecimal | None = Field(
        None, gt=0, le=MAX_SHARES, description="most shares in one order (closes are shrunk too)"
    )
    allow_symbols: tuple[str, ...] | None = Field(
        None, description="open only these symbols (closes are never blocked)"
    )
    deny_symbols: tuple[str, ...] = Field((), description="never open these symbols")

    @field_validator("allow_symbols", "deny_symbols", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(str(v).strip().upper() for v in value)
        return value

    def tightened_by(self, override: RiskConfig) -> RiskConfig:
        """The effective limits when ``override`` applies on top of these: the stricter of each.

        A missing value inherits, a looser one has no effect (``config check`` warns about it),
        allow lists intersect and deny lists add up.
        """
        values: dict[str, Any] = {}
        for name in _NUMERIC_LIMITS:
            mine, theirs = getattr(self, name), getattr(override, name)
            values[name] = theirs if mine is None else mine if theirs is None else min(mine, theirs)
        allow, extra = self.allow_symbols, override.allow_symbols
        if allow is None or extra is None:
            values["allow_symbols"] = extra if allow is None else allow
        else:
            values["allow_symbols"] = tuple(s for s in extra if s in allow)
        values["deny_symbols"] = tuple(dict.fromkeys(self.deny_symbols + override.deny_symbols))
        values["reference_price"] = _stricter_policy(self.reference_price, override.reference_price)
        return RiskConfig(**values)

    def loosened_by(self, override: RiskConfig) -> tuple[str, ...]:
        """The fields where ``override`` asks for more than these limits allow (and is ignored)."""
        looser = [
            name
            for name in _NUMERIC_LIMITS
            if getattr(self, name) is not None
            and getattr(override, name) is not None
            and getattr(override, name) > getattr(self, name)
        ]
        allow, extra = self.allow_symbols, override.allow_symbols
        if allow is not None and extra is not None and any(s not in allow for s in extra):
            looser.append("allow_symbols")
        if (
            self.reference_price is ReferencePricePolicy.REQUIRED
            and override.reference_price is ReferencePricePolicy.SIGNAL_IF_UNAVAILABLE
        ):
            looser.append("reference_price")
        return tuple(looser)


def _stricter_policy(
    mine: ReferencePricePolicy | None, theirs: ReferencePricePolicy | None
) -> ReferencePricePolicy | None:
    """``required`` wins over ``signal_if_unavailable``; a missing value inherits."""
    if ReferencePricePolicy.REQUIRED in (mine, theirs):
        return ReferencePricePolicy.REQUIRED
    return theirs if mine is None else mine


#: the default collar: a signal price more than 5% from the market is not believed
DEFAULT_PRICE_COLLAR_PCT = Decimal(5)
#: the default age limit of a reference price in session, seconds: 15 minutes
DEFAULT_REFERENCE_MAX_AGE = 900.0


class GlobalRiskConfig(RiskConfig):
    # The account-wide collar, reference-price policy and age always have a value (an algorithm's
    # own ``risk`` inherits them when it says nothing): the signal's price is never trusted by
    # default. A collar cannot be switched off, only widened (up to 100%).
    price_collar_pct: FiniteDecimal = Field(
        DEFAULT_PRICE_COLLAR_PCT,
        gt=0,
        le=100,
        description="percent; a leg whose price is further than this from the broker's reference"
        " price is skipped (price_off_market); limit prices stay within it too",
    )
    reference_price: ReferencePricePolicy = Field(
        ReferencePricePolicy.REQUIRED,
        description="without a reference price from the broker: required (skip the leg) or"
        " signal_if_unavailable (use the signal's price)",
    )
    reference_max_age: Finite = Field(
        DEFAULT_REFERENCE_MAX_AGE,
        gt=0,
        le=WEEK,
        description="seconds; an older reference price counts as none while the market is open"
        " (closed: one from before the latest session does)",
    )
    kill_switch_file: str | None = Field(
        "tradebot.halt",
        description="while this file exists the bot sends nothing; null: no kill switch file",
    )

    @field_validator("kill_switch_file")
    @classmethod
    def _switch_path(cls, value: str | None) -> str | None:
        # "" would silently mean "no kill switch": only an explicit null turns it off
        if value is not None and not value.strip():
            raise ValueError("is empty; name a file (default tradebot.halt), or null for none")
        return value


# -- dashboard -----------------------------------------------------------------------------------


class DashboardConfig(Frozen):
    """The web dashboard the running bot serves (``tradebot dashboard`` serves it alone too).

    Read-only unless ``token`` is set; with a token the page offers halt, reduce-only and resume,
    each a POST carrying the token. Anything but loopback without a token is refused: a page
    anyone on the network can read shows the account and every order. It answers only to
    ``host``, ``allowed_hosts`` and loopback names (``tradebot.web.security``).
    """

    enabled: StrictBool = True
    host: str = "127.0.0.1"
    port: int = Field(
        8800, ge=0, le=65535, description="0 picks a free port; the banner says which"
    )
    token: SecretStr | None = Field(
        None, description="from the environment: token: ${TRADEBOT_DASHBOARD_TOKEN}"
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="names the dashboard answers to besides host and loopback (a reverse "
        "proxy's, this machine's on the network); any other Host header gets 421",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalise_host(host) for host in value))

    @field_validator("token")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        # ``${VAR:-}`` with VAR unset gives "": no token, not an empty one anyone can type
        return value if value is not None and value.get_secret_value().strip() else None

    @model_validator(mode="after")
    def _loopback_or_token(self) -> DashboardConfig:
        if self.token is None and not is_loopback(self.host):
            raise ValueError(
                f"dashboard.host {self.host!r} is not loopback: set dashboard.token (from the "
                "environment) or keep host 127.0.0.1"
            )
        return self


# -- algorithms ----------------------------------------------------------------------------------


class ExitsConfig(Frozen):
    """An algorithm's ``exits:``: take-profit, stop-loss or trailing stop, each a percent of the
    entry's fill price (see README, "Exits")."""

    take_profit_pct: FiniteDecimal | None = Field(
        None, gt=0, le=1000, description="percent beyond the entry price for the take-profit"
    )
    stop_loss_pct: FiniteDecimal | None = Field(
        None, gt=0, lt=100, description="percent against the entry price for the stop-loss"
    )
    trailing_stop_pct: FiniteDecimal | None = Field(
        None, gt=0, lt=100, description="percent the trailing stop follows the best price by"
    )

    @model_validator(mode="after")
    def _one_linked_set(self) -> ExitsConfig:
        if self.take_profit_pct is None and self.stop_loss_pct is None:
            if self.trailing_stop_pct is None:
                raise ValueError("exits needs take_profit_pct, stop_loss_pct or trailing_stop_pct")
        elif self.trailing_stop_pct is not None:
            raise ValueError(
                "trailing_stop_pct cannot be combined with take_profit_pct or stop_loss_pct:"
                " Alpaca cannot link a trailing stop to other exits, and two unlinked exits"
                " could both sell"
            )
        return self

    def terms(self) -> ExitTerms:
        return ExitTerms(self.take_profit_pct, self.stop_loss_pct, self.trailing_stop_pct)


#: what an algorithm's entries can go out as. ``stop`` and ``trailing_stop`` are exit orders only
#: (``core/orders.py``): the planner gives an entry no stop price, so every signal of an
#: algorithm written with them would fail planning. Exits are configured under ``exits:``.
ENTRY_ORDER_TYPES = (OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT_THEN_MARKET)


class AlgorithmConfig(Frozen):
    """One AlphaHub algorithm: how its legs are sized, ordered and limited.

    ``strategy`` is resolved and ``params`` validated against the strategy's ``Params`` when the
    config is loaded; :attr:`sizer` is the ready strategy instance the planner calls.
    """

    name: str = ""
    enabled: StrictBool = True
    strategy: str = Field(..., description="a module in strategies/ or 'package.module:Class'")
    params: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_offset_pct: FiniteDecimal = Field(
        Decimal(0),
        ge=0,
        le=10,
        description="limit orders: how far past the reference price (buy above, sell below),"
        " percent",
    )
    chase_after: Finite = Field(
        60.0,
        gt=0,
        le=86400,
        description="limit_then_market: seconds of the market being open before what the limit"
        " has not filled is canceled and sent at market",
    )
    chase_pct: FiniteDecimal = Field(
        Decimal("0.33"),
        ge=0,
        le=10,
        description="limit_then_market: percent the reference price may move past the limit"
        " (a buy: above it; a sell: below it) before the rest is sent at market",
    )
    allow_short: StrictBool = False
    allow_fractional: StrictBool = False
    on_close_not_held: CloseNotHeld = CloseNotHeld.SKIP
    market_closed: MarketClosedPolicy = MarketClosedPolicy.QUEUE
    risk: RiskConfig = RiskConfig()
    #: take-profit / stop-loss / trailing stop attached to every entry (README, "Exits")
    exits: ExitsConfig | None = None

    _sizer: SizingStrategy[Any] = PrivateAttr()

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        try:
            resolve_strategy(value)
        except StrategyNotFound as exc:
            raise ValueError(str(exc)) from None
        return value.strip()

    @field_validator("params")
    @classmethod
    def _params_fit_strategy(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        strategy = info.data.get("strategy")
        if strategy is None:  # the strategy itself is wrong; that error is reported instead
            return value
        # A ValidationError raised here keeps its locations: algorithms.ID.params.KEY
        validated = resolve_strategy(strategy).Params.model_validate(value)
        return validated.model_dump()

    @field_validator("order_type", mode="before")
    @classmethod
    def _entry_order_type(cls, value: Any) -> Any:
        if isinstance(value, str) and value in ENTRY_ORDER_TYPES:
            return value
        allowed = ", ".join(f"'{t}'" for t in ENTRY_ORDER_TYPES[:-1])
        message = f"should be {allowed} or '{ENTRY_ORDER_TYPES[-1]}'"
        if value in (OrderType.STOP, OrderType.TRAILING_STOP):
            message += (
                f" ({value} orders are exits, never entries: see exits.stop_loss_pct and"
                " exits.trailing_stop_pct)"
            )
        raise ValueError(message)

    @model_validator(mode="after")
    def _chase_needs_a_day_order(self) -> AlgorithmConfig:
        # the limit waits and the rest goes at market in the same session: opening/closing
        # auction and immediate-or-cancel orders cannot wait to be chased
        chasable = (TimeInForce.DAY, TimeInForce.GTC)
        if self.order_type is OrderType.LIMIT_THEN_MARKET and self.time_in_force not in chasable:
            raise ValueError(
                f"order_type limit_then_market needs time_in_force day or gtc,"
                f" not {self.time_in_force}"
            )
        return self

    @model_validator(mode="after")
    def _short_take_profit_above_zero(self) -> AlgorithmConfig:
        # a short's take-profit is below its entry: 100% or more would be a price of zero
        exits = self.exits
        if self.allow_short and exits is not None and (exits.take_profit_pct or 0) >= 100:
            raise ValueError(
                "exits.take_profit_pct must be under 100 with allow_short: a short's"
                " take-profit is that far below its entry price"
            )
        return self

    def model_post_init(self, context: Any, /) -> None:
        # params are validated a second time here, once per load: the field validator above
        # must return plain data, and only it can report errors at algorithms.ID.params.KEY
        self._sizer = resolve_strategy(self.strategy).from_params(self.params)

    @property
    def sizer(self) -> SizingStrategy[Any]:
        """The strategy instance, built from :attr:`params` when this config was validated."""
        return self._sizer


# -- notify --------------------------------------------------------------------------------------

#: what an alert can be sent for (``notify[].events``); see tradebot/runtime/alerts.py
NotifyEvent = Literal[
    "order_rejected",
    "order_failed",
    "drift",
    "lapse",
    "missed_signal",
    "kill_switch",
    "daily_loss",
    "stopped",
    "error",
    "fill",
]
NOTIFY_EVENTS: tuple[str, ...] = get_args(NotifyEvent)


class NotifyTarget(Frozen):
    """Where alerts go: an Apprise URL (tgram://, discord://, slack://, mailto://, ntfy://,
    json://...) and the events it wants. The URL usually holds a token: it is a secret, written
    ``url: ${TRADEBOT_TELEGRAM_URL}`` and masked in every output."""

    url: SecretStr
    events: tuple[NotifyEvent, ...] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, value: SecretStr) -> SecretStr:
        if "://" not in value.get_secret_value():
            # the value itself is never echoed: it is a secret
            raise ValueError("is not an Apprise URL (scheme://...), e.g. json://host:port/path")
        return value


class Config(Frozen):
    mode: Mode = Field(Mode.PAPER, description="live also needs --live on the command line")
    live_trading_acknowledged: StrictBool = Field(
        False, description="must be true, together with --live, to trade real money"
    )
    alphahub: AlphaHubConfig = AlphaHubConfig()
    broker: BrokerConfig = BrokerConfig()
    journal: JournalConfig = JournalConfig()
    risk: GlobalRiskConfig = GlobalRiskConfig()
    dashboard: DashboardConfig = DashboardConfig()
    notify: tuple[NotifyTarget, ...] = Field(
        (), description="alerts: a list of {url: Apprise URL (a secret), events: [...]}"
    )
    algorithms: dict[AlgorithmId, AlgorithmConfig] = Field(default_factory=dict)

    _algo_risk: dict[int, RiskConfig] = PrivateAttr(default_factory=dict)
    _planning: PlanningRules = PrivateAttr()

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        problems: list[InitErrorDetails] = []
        if self.mode is Mode.LIVE and not self.live_trading_acknowledged:
            message = "mode: live also needs live_trading_acknowledged: true"
            problems.append(_problem("live_not_acknowledged", message, ("mode",), "live"))
        for index, algo_id in enumerate(self.alphahub.algorithms or ()):
            if algo_id not in self.algorithms:
                message = f"algorithm {algo_id} has no entry under algorithms"
                loc = ("alphahub", "algorithms", index)
                problems.append(_problem("unknown_algorithm", message, loc, algo_id))
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._algo_risk = {a: self.risk.tightened_by(c.risk) for a, c in self.algorithms.items()}
        self._planning = planning_rules(self)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Config:
        """A copy with ``update`` applied, and what is derived from the sections derived again.

        A live config edit is such a copy (``runtime/config_watch.py``); pydantic would carry the
        old per-algorithm limits and planning rules over, and the edit would not bind.
        """
        copy = super().model_copy(update=update, deep=deep)
        copy.model_post_init(None)
        return copy

    def risk_for(self, algo_id: int) -> RiskConfig:
        """The limits that apply to ``algo_id``: the global ones tightened by its own."""
        return self._algo_risk[algo_id]

    @property
    def planning(self) -> PlanningRules:
        """The slice the planner obeys (:func:`~tradebot.config.planning.planning_rules`),
        built once when this config was validated."""
        return self._planning

    @property
    def subscribed_algorithms(self) -> tuple[int, ...]:
        """The algorithms to listen to: ``alphahub.algorithms`` or every enabled one."""
        if self.alphahub.algorithms is not None:
            return self.alphahub.algorithms
        return tuple(sorted(a for a, c in self.algorithms.items() if c.enabled))


def _problem(kind: str, message: str, loc: tuple[str | int, ...], value: Any) -> InitErrorDetails:
    # PydanticCustomError treats braces as placeholders; messages here carry none.
    return {"type": PydanticCustomError(kind, message), "loc": loc, "input": value}
