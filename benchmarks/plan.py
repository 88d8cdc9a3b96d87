"""Time of ``plan()`` for one 6-leg signal against a book of 20 algorithms x 50 symbols.

The signal closes three of the algorithm's holdings and opens three new symbols; every risk
limit that costs work is on (order notional, position, symbol and algorithm exposure valued
from marks, orders per day, daily loss, symbol lists, signal age). The book is shared, as in
the running bot, and never changed by planning.

    python benchmarks/plan.py [--runs 20000]

Target (issue 24): median under 150 microseconds with every limit on. Where the time goes:
benchmarks/README.md, "Profiles".
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from targets import check, note

from tradebot.config.model import Config
from tradebot.core.account import AccountSnapshot, AssetInfo
from tradebot.core.book import PositionBook
from tradebot.core.market import MarketPrices
from tradebot.core.orders import Plan
from tradebot.core.planner import DayState, plan
from tradebot.core.signal import Signal, parse_signal

ALGORITHMS = 20
SYMBOLS = [f"S{n:03d}" for n in range(50)]
ALGO = 7
T0 = datetime(2021, 4, 26, 14, 30, tzinfo=UTC)
TARGET_US = 150


def make_config(limits: bool, **algorithm: Any) -> Config:
    """The benchmark's config; ``algorithm`` adds settings to every algorithm (the golden test
    plans the same signal with limit orders and exits too)."""
    risk = {
        "max_order_notional": 50000,
        "max_position_notional": 40000,
        "max_symbol_exposure": 500000,
        "max_algo_exposure": 10000000,
        "max_orders_per_day": 1000,
        "max_daily_loss": 5000,
        "max_signal_age": 300,
        "deny_symbols": ["GME", "AMC"],
    }
    algorithms = {
        a: {
            "strategy": "allocation",
            "params": {"pct": 5, "max_positions": 60},
            "allow_short": True,
            "risk": {"max_orders_per_day": 100} if limits else {},
        }
        | algorithm
        for a in range(1, ALGORITHMS + 1)
    }
    return Config.model_validate({"algorithms": algorithms, "risk": risk if limits else {}})


def make_book() -> PositionBook:
    positions = {}
    for a in range(1, ALGORITHMS + 1):
        for n, symbol in enumerate(SYMBOLS):
            positions[(a, symbol)] = Decimal((n % 7 + 1) * (1 if (a + n) % 3 else -1))
    return PositionBook(positions)


#: the signal's opens: three symbols the algorithm does not hold
OPENS = (("NEWA", "buy", "168.56"), ("NEWB", "buy", "414.6"), ("NEWC", "sell", "142.94"))


def make_signal(opens: Sequence[tuple[str, str, str]] = OPENS) -> Signal:
    def leg(symbol: str, side: str, price: str, seconds: int) -> dict[str, str]:
        stamp = (T0 + timedelta(seconds=seconds)).isoformat()
        return {"symbol": symbol, "side": side, "price": price, "timestamp": stamp}

    payload = {
        "close": [leg(SYMBOLS[1], "buy", "101.5", 0), leg(SYMBOLS[2], "sell", "55.2", 0),
                  leg(SYMBOLS[3], "buy", "12.75", 0)],
        "open": [leg(symbol, side, price, 1) for symbol, side, price in opens],
    }  # fmt: skip
    return parse_signal(ALGO, payload, received_at=T0 + timedelta(seconds=2))


def inputs(
    config: Config,
    opens: Sequence[tuple[str, str, str]] = OPENS,
    unmarked: Sequence[str] = (),
    moved: Mapping[str, str] | None = None,
) -> Callable[[], Plan]:
    """One ``plan()`` call with the benchmark's inputs, ready to be timed. The golden test
    (tests/core/test_plan_golden.py) varies the opens, leaves ``unmarked`` symbols unpriced
    and gives the broker's prices that ``moved`` from the signal's."""
    rules, book, signal = config.planning, make_book(), make_signal(opens)
    account = AccountSnapshot("PA1", Decimal(1000000), Decimal(2000000), Decimal(1000000))
    day = DayState(orders_today={ALGO: 10, 3: 40}, realised_pnl={ALGO: Decimal(-120)})
    marks = {symbol: Decimal(50) for symbol in SYMBOLS if symbol not in unmarked}
    assets = {s: AssetInfo(s, shortable=True, fractionable=True) for s, _, _ in OPENS}
    now = signal.received_at
    prices = {leg.symbol: leg.price for leg in signal.legs}  # the broker agrees, just traded
    prices |= {symbol: Decimal(price) for symbol, price in (moved or {}).items()}
    market = MarketPrices(prices, as_of=dict.fromkeys(prices, now))
    return partial(
        plan, signal, book, account, rules, now, day=day, marks=marks, assets=assets, market=market
    )


def measure(runs: int, limits: bool) -> list[float]:
    call = inputs(make_config(limits))
    result = call()
    assert len(result.intents) == 6 and not result.skipped, result
    for _ in range(200):  # warm up
        call()
    times = []
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter_ns()
            call()
            times.append((time.perf_counter_ns() - start) / 1000)
    finally:
        gc.enable()
    return times


def report(label: str, times: list[float]) -> float:
    median = statistics.median(times)
    p99 = statistics.quantiles(times, n=100)[98]
    print(f"{label:<26} median {median:7.1f} us   p99 {p99:7.1f} us   ({len(times)} runs)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000)
    args = parser.parse_args()
    print(f"plan(): 6-leg signal, book of {ALGORITHMS} algorithms x {len(SYMBOLS)} symbols")
    median = report("every risk limit on", measure(args.runs, limits=True))
    bare = report("no risk limits", measure(args.runs, limits=False))
    check("plan() median, every limit on", median, "<", TARGET_US, "us")
    note("plan() median, no limits", bare, "us")


if __name__ == "__main__":
    main()
