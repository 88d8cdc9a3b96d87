"""Builders for planner tests: configs, signals, accounts and books in one line each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradebot.config.model import Config, RiskConfig
from tradebot.config.planning import risk_limits
from tradebot.core.account import AccountSnapshot
from tradebot.core.book import PositionBook
from tradebot.core.market import MarketPrices
from tradebot.core.orders import Plan, SkipReason
from tradebot.core.planner import DayState, plan
from tradebot.core.rules import RiskLimits
from tradebot.core.signal import Signal, parse_signal

D = Decimal
T0 = datetime(2021, 4, 26, 14, 30, tzinfo=UTC)
ACCOUNT = AccountSnapshot("PA1", equity=D(100000), buying_power=D(100000), cash=D(100000))

Legs = Sequence[tuple[str, str, str]]  # (symbol, side, price)


def make_config(
    algos: dict[int, dict[str, Any]] | None = None, risk: dict[str, Any] | None = None
) -> Config:
    """Algorithm 16 sized at fixed 10 shares, shorts allowed, unless ``algos`` says otherwise."""
    if algos is None:
        algos = {16: {}}
    entries = {
        algo_id: {"strategy": "fixed_shares", "params": {"shares": 10}, "allow_short": True}
        | settings
        for algo_id, settings in algos.items()
    }
    return Config.model_validate({"algorithms": entries, "risk": risk or {}})


def limits(**keys: Any) -> RiskLimits:
    """The core's limits for these ``risk:`` keys, every other key at the config's default (for
    an algorithm's ``risk``: none). The core's values carry no defaults of their own."""
    return risk_limits(RiskConfig.model_validate(keys))


def make_signal(
    algo_id: int = 16,
    *,
    closes: Legs = (),
    opens: Legs = (),
    at: datetime = T0,
) -> Signal:
    """A parsed signal: closes stamped at ``at``, opens a second later (as AlphaHub does)."""
    payload = {
        "close": [_leg(s, side, p, at) for s, side, p in closes],
        "open": [_leg(s, side, p, at + timedelta(seconds=1)) for s, side, p in opens],
    }
    return parse_signal(algo_id, payload, received_at=at + timedelta(seconds=2))


def _leg(symbol: str, side: str, price: str, at: datetime) -> dict[str, Any]:
    return {"symbol": symbol, "side": side, "price": price, "timestamp": at.isoformat()}


def make_book(**positions: int | str) -> PositionBook:
    """``make_book(a16_VRTX=10, a14_MU=-5)``: algorithm 16 long 10 VRTX, 14 short 5 MU."""
    holdings = {}
    for key, qty in positions.items():
        algo, symbol = key[1:].split("_", 1)
        holdings[(int(algo), symbol)] = D(qty)
    return PositionBook(holdings)


def run(
    signal: Signal,
    book: PositionBook | None = None,
    config: Config | None = None,
    account: AccountSnapshot = ACCOUNT,
    **kwargs: Any,
) -> Plan:
    kwargs.setdefault("day", DayState())
    kwargs.setdefault("market", agreeing_market(signal))
    now = kwargs.pop("now", signal.received_at)
    rules = (config or make_config()).planning
    return plan(signal, book or PositionBook(), account, rules, now, **kwargs)


def agreeing_market(signal: Signal) -> MarketPrices:
    """A broker whose reference prices are the signal's own (the last leg's, per symbol), traded
    as the signal arrived."""
    return dated({leg.symbol: leg.price for leg in signal.legs}, signal.received_at)


def dated(prices: Mapping[str, Decimal], at: datetime, **kwargs: Any) -> MarketPrices:
    """Reference prices that last traded at ``at``."""
    return MarketPrices(prices, as_of=dict.fromkeys(prices, at), **kwargs)


def orders(result: Plan) -> list[tuple[str, str, str, str]]:
    """Each intent as (group, side, qty, symbol), in sending order."""
    return [(str(i.role), str(i.side), str(i.qty), i.symbol) for i in result.intents]


def skips(result: Plan) -> dict[str, SkipReason]:
    """symbol (or '?' for unparsed legs) -> reason; a leg skipped twice keeps the last."""
    return {(s.leg_id.symbol if s.leg_id else "?"): s.reason for s in result.skipped}


def detail(result: Plan, symbol: str) -> str:
    return " | ".join(s.detail for s in result.skipped if s.leg_id and s.leg_id.symbol == symbol)
