"""Properties of the planner over random configs, books, signal sequences and fills.

For any sequence of signals, each planned against the book that the previous plans' (random,
partial) fills left behind:

- no order takes an algorithm's ledger, or the account's net position, across zero, and a close
  never takes a ledger past zero;
- the account's net is always the sum of the ledgers, and an algorithm's orders never touch
  another algorithm's ledger;
- no order exceeds a configured limit (order notional and quantity, orders per day, position,
  symbol and algorithm exposure), valued at the broker's reference price whatever the signal
  claims, and no leg is traded whose price is outside the collar around that reference;
- closes go before opens, every leg is in an order or skipped with a reason, client order ids
  are unique and at most 48 characters, and the same signal planned twice gives the same plan.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.helpers import T0, agreeing_market, dated
from tradebot.config.model import Config
from tradebot.core.account import AccountSnapshot
from tradebot.core.book import PositionBook
from tradebot.core.ids import MAX_CLIENT_ORDER_ID
from tradebot.core.market import MarketPrices, PriceSource
from tradebot.core.order_shape import OrderType
from tradebot.core.orders import IntentRole, Plan, SkipReason
from tradebot.core.planner import DayState, plan
from tradebot.core.signal import LegKind, Signal, parse_signal

D = Decimal
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
ALGOS = (14, 16, 17)
PRICES = ("0.75", "9.99", "25", "100", "333.33")
MARKS = {symbol: D("50") for symbol in SYMBOLS}
#: Decimal division rounds at the 28th digit; a cap may be off by that much, never more
SLACK = D("1.000000000000000000001")

limit = st.sampled_from([None, None, "500", "2500", "20000"])


@st.composite
def configs(draw: st.DrawFn) -> Config:
    algorithms: dict[int, dict[str, Any]] = {}
    for algo_id in ALGOS:
        strategy = draw(st.sampled_from(["fixed_shares", "fixed_notional", "percent_of_equity"]))
        params = {
            "fixed_shares": {"shares": draw(st.sampled_from(["1", "7", "40", "2.5"]))},
            "fixed_notional": {"notional": draw(st.sampled_from(["80", "1000", "12345.67"]))},
            "percent_of_equity": {"pct": draw(st.sampled_from(["0.5", "5", "30"]))},
        }[strategy]
        overrides = {k: v for k, v in {"max_order_notional": draw(limit)}.items() if v}
        algorithms[algo_id] = {
            "strategy": strategy,
            "params": params,
            "enabled": draw(st.sampled_from([True, True, True, False])),
            "allow_short": draw(st.booleans()),
            "allow_fractional": draw(st.booleans()),
            "order_type": draw(st.sampled_from(["market", "market", "limit"])),
            "limit_offset_pct": draw(st.sampled_from(["0", "0.5"])),
            "risk": overrides | {"max_orders_per_day": draw(st.sampled_from([None, 2, 6]))},
        }
    risk = {
        "max_order_notional": draw(limit),
        "max_position_notional": draw(limit),
        "max_symbol_exposure": draw(limit),
        "max_algo_exposure": draw(st.sampled_from([None, "3000", "50000"])),
        "max_orders_per_day": draw(st.sampled_from([None, 5, 40])),
        "max_order_qty": draw(st.sampled_from([None, None, "5", "50"])),
        "price_collar_pct": draw(st.sampled_from([None, "1", "5", "60"])),
    }
    return Config.model_validate(
        {"algorithms": algorithms, "risk": {k: v for k, v in risk.items() if v is not None}}
    )


quantities = st.sampled_from([D(q) for q in ("-30", "-4", "-1.5", "1", "3", "12", "0.25")])
books = st.dictionaries(st.tuples(st.sampled_from(ALGOS), st.sampled_from(SYMBOLS)), quantities)
legs = st.lists(
    st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(["buy", "sell"]), st.sampled_from(PRICES)),
    max_size=4,
)
signal_specs = st.tuples(
    st.sampled_from((*ALGOS, 99)),  # 99 is not configured
    legs,  # closes
    legs,  # opens
    st.lists(st.sampled_from([D(1), D(1), D(1), D("0.5"), D(0)]), min_size=1, max_size=8),
)
accounts = st.builds(
    lambda equity, power: AccountSnapshot("PA1", D(equity), D(power), D(equity)),
    st.sampled_from(["10000", "100000"]),
    st.sampled_from(["500", "20000", "10000000"]),
)


def build_signal(algo_id: int, closes: list[Any], opens: list[Any], step: int) -> Signal:
    at = T0 + timedelta(minutes=step)

    def leg(symbol: str, side: str, price: str, seconds: int) -> dict[str, str]:
        stamp = (at + timedelta(seconds=seconds)).isoformat()
        return {"symbol": symbol, "side": side, "price": price, "timestamp": stamp}

    payload = {
        "close": [leg(*spec, 0) for spec in closes],
        "open": [leg(*spec, 1 + n) for n, spec in enumerate(opens)],  # distinct legs
    }
    return parse_signal(algo_id, payload, received_at=at + timedelta(seconds=10))


def crosses(before: Decimal, after: Decimal) -> bool:
    return (before > 0 > after) or (before < 0 < after)


def assert_ledgers_sum_to_net(book: PositionBook) -> None:
    totals: Counter[str] = Counter()
    for _, symbol, qty in book:
        totals[symbol] += qty  # type: ignore[assignment]
    for symbol in SYMBOLS:
        assert book.net(symbol) == totals.get(symbol, 0)
    assert {s: q for s, q in totals.items() if q} == dict(book.net_positions())


def check_plan(
    result: Plan,
    signal: Signal,
    book: PositionBook,
    config: Config,
    day: DayState,
    market: MarketPrices,
) -> None:
    intents = result.intents
    roles = [i.role for i in intents]
    assert roles == sorted(roles, key=lambda r: r is IntentRole.OPEN), "closes go first"
    ids = [i.client_order_id for i in intents]
    assert len(set(ids)) == len(ids)
    assert all(len(cid) <= MAX_CLIENT_ORDER_ID for cid in ids)
    served = {leg_id for i in intents for leg_id in i.leg_ids}
    skipped = {s.leg_id for s in result.skipped if s.leg_id is not None}
    assert served | skipped == {leg.id for leg in signal.legs}, "a leg was lost"
    assert all(i.algo_id == signal.algo_id and i.qty > 0 for i in intents)
    algo = config.algorithms.get(signal.algo_id)
    if algo is None or not algo.enabled:
        assert intents == ()
        return
    risk, account_risk = config.risk_for(signal.algo_id), config.risk
    if risk.max_orders_per_day is not None:
        assert len(intents) <= risk.max_orders_per_day - day.orders_today.get(signal.algo_id, 0)
    if account_risk.max_orders_per_day is not None:
        assert len(intents) <= account_risk.max_orders_per_day - sum(day.orders_today.values())

    after = book.copy()
    grown: dict[str, Decimal] = {}  # symbols an order moved away from zero -> its order price
    for intent in intents:
        ledger, net = after.qty(intent.algo_id, intent.symbol), after.net(intent.symbol)
        after.apply_fill(intent.algo_id, intent.symbol, intent.side, intent.qty)
        new_ledger, new_net = after.qty(intent.algo_id, intent.symbol), after.net(intent.symbol)
        assert not crosses(ledger, new_ledger), f"{intent} flips the ledger {ledger}"
        assert not crosses(net, new_net), f"{intent} flips the account net {net}"
        if all(leg.kind is LegKind.CLOSE for leg in intent.leg_ids):
            assert abs(new_ledger) < abs(ledger), "a close only ever reduces a ledger"
        reference = market.prices[intent.symbol]
        assert intent.reference_price == reference
        assert intent.price_source is PriceSource.REFERENCE
        assert intent.notional >= intent.qty * reference
        if risk.max_order_notional is not None:
            assert intent.notional <= risk.max_order_notional * SLACK
        if risk.max_order_qty is not None:
            assert intent.qty <= risk.max_order_qty
        collar = risk.price_collar_pct
        assert collar is not None
        for leg in signal.legs:
            if leg.id in intent.leg_ids:
                assert abs(leg.price - reference) <= reference * collar / 100
        if abs(new_ledger) > abs(ledger):
            grown[intent.symbol] = intent.limit_price or intent.reference_price
    for other in ALGOS:
        if other != signal.algo_id:
            assert after.holdings(other) == book.holdings(other)
    assert_ledgers_sum_to_net(after)

    if algo.order_type is OrderType.LIMIT:
        return  # exposure is valued at limit prices there; the order notional check covers it
    for symbol, price in grown.items():
        held = abs(after.qty(signal.algo_id, symbol))
        if risk.max_position_notional is not None:
            assert held * price <= risk.max_position_notional * SLACK
        if risk.max_symbol_exposure is not None:
            net = abs(after.net(symbol))
            assert net * price <= risk.max_symbol_exposure * SLACK or net <= abs(book.net(symbol))
    if grown and risk.max_algo_exposure is not None:
        prices = MARKS | dict(market.prices) | grown
        holdings = after.holdings(signal.algo_id)
        gross = sum((abs(q) * prices[s] for s, q in holdings.items()), D(0))
        assert gross <= risk.max_algo_exposure * SLACK


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=configs(),
    start=books,
    account=accounts,
    steps=st.lists(signal_specs, min_size=1, max_size=6),
)
def test_planner_invariants_hold_over_any_sequence_of_signals_and_fills(
    config: Config,
    start: dict[tuple[int, str], Decimal],
    account: AccountSnapshot,
    steps: list[Any],
) -> None:
    book = PositionBook(start)
    sent: Counter[int] = Counter()
    for step, (algo_id, closes, opens, fills) in enumerate(steps):
        signal = build_signal(algo_id, closes, opens, step)
        day = DayState(orders_today=dict(sent))
        now = signal.received_at
        market = agreeing_market(signal)
        result = plan(
            signal, book, account, config.planning, now, day=day, marks=MARKS, market=market
        )
        again = plan(
            signal,
            book.copy(),
            account,
            config.planning,
            now,
            day=day,
            marks=MARKS,
            market=agreeing_market(signal),
        )
        assert again == result, "the same signal twice gives the same plan and ids"
        check_plan(result, signal, book, config, day, market)
        for n, intent in enumerate(result.intents):
            sent[intent.algo_id] += 1
            filled = intent.qty * fills[n % len(fills)]
            if filled > 0:
                book.apply_fill(intent.algo_id, intent.symbol, intent.side, filled)
            assert_ledgers_sum_to_net(book)


@settings(max_examples=200, deadline=None)
@given(config=configs(), start=books, spec=signal_specs)
def test_a_redelivered_open_never_adds_to_the_position_it_opened(
    config: Config, start: dict[tuple[int, str], Decimal], spec: Any
) -> None:
    """No pyramiding: once an open has filled, the same open again is ``already_held``."""
    algo_id, _, opens, _ = spec
    opens = list({symbol: (symbol, side, price) for symbol, side, price in opens}.values())
    book = PositionBook(start)
    account = AccountSnapshot("PA1", D(100000), D(10000000), D(100000))
    signal = build_signal(algo_id, [], opens, 0)

    def planned() -> Plan:
        market = agreeing_market(signal)
        return plan(
            signal, book, account, config.planning, signal.received_at, marks=MARKS, market=market
        )

    first = planned()
    for intent in first.intents:
        book.apply_fill(intent.algo_id, intent.symbol, intent.side, intent.qty)
    second = planned()
    algo = config.algorithms.get(algo_id)
    for leg in signal.open_legs:
        if book.qty(algo_id, leg.symbol) * leg.side.sign > 0:  # held in the leg's direction
            assert all(leg.id not in i.leg_ids for i in second.intents)
            reasons = {s.reason for s in second.skipped if s.leg_id == leg.id}
            assert reasons == {SkipReason.ALREADY_HELD} or algo is None or not algo.enabled


#: signal prices anywhere, from a slipped decimal point to a garbled number
CLAIMS = ("0.000000001", "0.0001", "0.0075", "0.75", "9.99", "25", "99", "100", "101", "333.33")
#: or a claim near the market: the reference times this factor (inside or just outside a collar)
NEAR = st.sampled_from(["0.5", "0.95", "0.99", "1", "1", "1.004", "1.02", "1.3"]).map(D)
claimed_legs = st.lists(
    st.tuples(
        st.sampled_from(SYMBOLS),
        st.sampled_from(["buy", "sell"]),
        st.sampled_from(CLAIMS) | st.decimals(D("0.0000001"), D("1E+9"), places=7).map(str) | NEAR,
    ),
    max_size=4,
)


def claimed(legs: list[Any], reference: dict[str, str]) -> list[tuple[str, str, str]]:
    """The legs with each near-the-market claim turned into a price."""
    out = []
    for symbol, side, claim in legs:
        if isinstance(claim, Decimal):
            claim = str((D(reference.get(symbol, "100")) * claim).quantize(D("0.0001")))
        out.append((symbol, side, claim))
    return out


references = st.dictionaries(st.sampled_from(SYMBOLS), st.sampled_from(PRICES))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=configs(),
    start=books,
    account=accounts,
    algo_id=st.sampled_from(ALGOS),
    closes=claimed_legs,
    opens=claimed_legs,
    reference=references,
)
def test_whatever_a_signal_claims_no_order_exceeds_a_limit_at_the_reference_price(
    config: Config,
    start: dict[tuple[int, str], Decimal],
    account: AccountSnapshot,
    algo_id: int,
    closes: list[Any],
    opens: list[Any],
    reference: dict[str, str],
) -> None:
    """Issue 10: sizing and every notional limit use the broker's price, never the signal's."""
    book = PositionBook(start)
    signal = build_signal(algo_id, claimed(closes, reference), claimed(opens, reference), 0)
    market = dated({symbol: D(price) for symbol, price in reference.items()}, signal.received_at)
    day = DayState()
    result = plan(
        signal, book, account, config.planning, signal.received_at, market=market, marks=MARKS
    )
    check_plan(result, signal, book, config, day, market)
    unpriced = {leg.id for leg in signal.legs if leg.symbol not in reference}
    algo = config.algorithms[algo_id]
    if algo.enabled:
        reasons = {s.leg_id: s.reason for s in result.skipped if s.leg_id in unpriced}
        assert set(reasons) == unpriced, "a leg without a reference was not skipped"
