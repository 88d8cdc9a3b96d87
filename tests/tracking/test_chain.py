"""The chain of ledgers (pure): the parts add up to the gap exactly, the last ledger is the
account's fills, and each part has the sign a person expects."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.tracking.chain import cents, decompose, ideal_sizes, ledger_outcome, stages
from tradebot.tracking.facts import (
    ExitFill,
    Fate,
    Fill,
    LegFact,
    Order,
    Period,
    Style,
)

D = Decimal
SYMBOLS = ("AAA", "BBB", "CCC")


def notional_1000(leg: LegFact, held: Mapping[str, Decimal]) -> Decimal | None:
    return D(1000) / leg.price


def parts(period: Period) -> dict[str, Decimal]:
    return {p.name: p.money for p in decompose(period, notional_1000).parts}


# -- generated histories ------------------------------------------------------------------------
prices = st.integers(min_value=500, max_value=20000).map(lambda c: D(c) / 100)
quantities = st.integers(min_value=0, max_value=400).map(lambda n: D(n) / 4)


@st.composite
def histories(draw: st.DrawFn) -> Period:
    legs: list[LegFact] = []
    exits: list[ExitFill] = []
    stray: list[ExitFill] = []
    seq = 0
    for n in range(draw(st.integers(min_value=0, max_value=14))):
        seq += 10
        symbol = draw(st.sampled_from(SYMBOLS))
        is_open = draw(st.booleans())
        buy = draw(st.booleans())
        price = draw(prices)
        fate = draw(st.sampled_from(list(Fate)))
        reason = draw(st.sampled_from(["not_held", "risk_limit", "stale", "missed_stale"]))
        orders = []
        if fate is Fate.TRADED:
            for k in range(draw(st.integers(min_value=0, max_value=2))):
                style = draw(st.sampled_from(list(Style)))
                planned = draw(quantities) * (1 if buy else -1)
                fills = tuple(
                    Fill(
                        seq * 100 + k * 10 + i,
                        seq + i,
                        draw(quantities) * (1 if buy else -1),
                        draw(prices),
                    )
                    for i in range(draw(st.integers(min_value=0, max_value=3)))
                )
                orders.append(Order(f"o{n}-{k}", style, planned, fills))
        legs.append(
            LegFact(
                f"leg{n}", seq * 100, seq, symbol, is_open, buy, price, fate, reason, tuple(orders)
            )
        )
        if draw(st.booleans()):
            fill = Fill(seq * 100 + 50, seq + 5, draw(quantities) * -1, draw(prices))
            (exits if draw(st.booleans()) else stray).append(ExitFill(symbol, fill))
    marks = {s: draw(prices) for s in SYMBOLS if draw(st.booleans())}
    since = draw(st.none() | st.integers(min_value=0, max_value=150_000))
    return Period(7, tuple(legs), tuple(exits), tuple(stray), marks, since)


def account_by_hand(period: Period) -> tuple[Decimal, frozenset[str]]:
    """The account's fills valued without the chain or average cost, when all is realised
    inside the period: cash flow plus what is held at the mark."""
    fills = [
        (leg.symbol, f)
        for leg in period.legs
        for o in leg.orders
        for f in o.fills
        if leg.fate is Fate.TRADED
    ]
    fills += [(e.symbol, e.fill) for e in (*period.exits, *period.unattributed)]
    held: dict[str, Decimal] = {}
    cash = D(0)
    for symbol, f in fills:
        cash -= f.qty * f.price
        held[symbol] = held.get(symbol, D(0)) + f.qty
    unmarked = frozenset(s for s, q in held.items() if q and s not in period.marks)
    worth = sum((q * period.marks[s] for s, q in held.items() if q and s in period.marks), D(0))
    return cash + worth, unmarked


@settings(max_examples=300, deadline=None)
@given(histories())
def test_the_parts_add_up_to_the_gap_to_the_cent(period: Period) -> None:
    result = decompose(period, notional_1000)
    assert sum((p.money for p in result.parts), D(0)) == result.gap
    assert result.gap == result.algorithm.pnl - result.account.pnl
    assert all(p.money == cents(p.money) for p in result.parts)


@settings(max_examples=300, deadline=None)
@given(histories())
def test_the_last_ledger_is_the_accounts_fills(period: Period) -> None:
    """Without a period start and with every symbol marked, the chain's last ledger is the
    account's cash flow plus its holdings at the marks (computed here without the chain)."""
    whole = Period(
        period.algo_id,
        period.legs,
        period.exits,
        period.unattributed,
        {s: D("42.5") for s in SYMBOLS},
    )
    result = decompose(whole, notional_1000)
    by_hand, unmarked = account_by_hand(whole)
    assert not unmarked
    exact = result.account.realised + result.account.unrealised
    assert abs(exact - by_hand) < D("1e-12")


def _leg(
    n: int,
    symbol: str,
    is_open: bool,
    buy: bool,
    price: str,
    fate: Fate = Fate.TRADED,
    reason: str = "",
    orders: tuple[Order, ...] = (),
) -> LegFact:
    return LegFact(f"l{n}", n * 1000, n, symbol, is_open, buy, D(price), fate, reason, orders)


def _market(n: int, qty: str, price: str, planned: str | None = None) -> Order:
    return Order(
        f"o{n}", Style.MARKET, D(planned or qty), (Fill(n * 1000 + 1, n * 10, D(qty), D(price)),)
    )


def test_a_skipped_winner_is_money_the_account_did_not_make() -> None:
    period = Period(
        1, (_leg(1, "AAA", True, True, "100", Fate.SKIPPED, "risk_limit"),), marks={"AAA": D(110)}
    )
    got = parts(period)
    assert got["skipped:risk_limit"] == D("100.00")  # 10 shares x +10
    assert decompose(period, notional_1000).gap == D("100.00")


def test_a_missed_winner_is_missed_not_skipped() -> None:
    period = Period(
        1, (_leg(1, "AAA", True, True, "100", Fate.MISSED, "missed_stale"),), marks={"AAA": D(110)}
    )
    got = parts(period)
    assert got["missed"] == D("100.00")
    assert "skipped:missed_stale" not in got


def test_a_worse_fill_is_a_positive_execution_part() -> None:
    # 10 planned at the signal's 100, bought at 100.5, marked 110
    period = Period(
        1,
        (_leg(1, "AAA", True, True, "100", orders=(_market(1, "10", "100.5"),)),),
        marks={"AAA": D(110)},
    )
    got = parts(period)
    assert got["execution:market"] == D("5.00")
    assert got["sizing"] == D("0.00")


def test_whole_share_rounding_of_a_winner_is_a_positive_sizing_part() -> None:
    # the ideal holds 1000/30 = 33.33 shares; the account bought 33
    period = Period(
        1,
        (_leg(1, "AAA", True, True, "30", orders=(_market(1, "33", "30"),)),),
        marks={"AAA": D(36)},
    )
    assert parts(period)["sizing"] == D("2.00")  # 0.333.. x 6


def test_a_stop_below_the_algorithms_close_is_a_positive_exits_part() -> None:
    legs = (
        _leg(1, "AAA", True, True, "100", orders=(_market(1, "10", "100"),)),
        _leg(3, "AAA", False, False, "104", Fate.CLOSED_BY_EXIT, "not_held"),
    )
    stop = ExitFill("AAA", Fill(2000, 20, D(-10), D(97)))
    period = Period(1, legs, (stop,), marks={"AAA": D(104)})
    result = decompose(period, notional_1000)
    got = {p.name: p.money for p in result.parts}
    assert got["exits"] == D("70.00")  # the algorithm closed at 104, the stop sold at 97
    assert result.algorithm.pnl == D("40.00")
    assert result.account.pnl == D("-30.00")


def test_a_symbol_with_no_mark_is_named_and_not_valued() -> None:
    period = Period(1, (_leg(1, "AAA", True, True, "100", orders=(_market(1, "10", "100"),)),))
    result = decompose(period, notional_1000)
    assert result.account.unmarked == frozenset({"AAA"})
    assert result.account.pnl == D("0.00")  # realised only: nothing made up


def test_each_step_changes_one_thing() -> None:
    period = Period(
        1,
        (
            _leg(1, "AAA", True, True, "100", Fate.SKIPPED, "stale"),
            _leg(2, "BBB", True, True, "10", Fate.SKIPPED, "risk_limit"),
        ),
    )
    names = [name for name, _ in stages(period)]
    assert names == [
        "algorithm",
        "missed",
        "skipped:risk_limit",
        "skipped:stale",
        "sizing",
        "execution:market",
        "execution:limit",
        "execution:chased_remainder",
        "exits",
        "unattributed",
        "fees",
    ]
    ideal = {"l1": D(10), "l2": D(100)}
    outcomes = [ledger_outcome(period, stage, ideal) for _, stage in stages(period)]
    assert outcomes[0].unmarked == {"AAA", "BBB"}
    assert outcomes[2].unmarked == {"AAA"}
    assert outcomes[3].unmarked == frozenset()


def test_the_ideal_is_sized_with_the_ideals_own_holdings() -> None:
    """One position at a time (``allocation`` with ``max_positions: 1``): the second open is
    sized 0 while the first is held, and sized again once it is closed."""

    def one_at_a_time(leg: LegFact, held: Mapping[str, Decimal]) -> Decimal | None:
        return D(0) if held else D(5)

    legs = (
        _leg(1, "AAA", True, True, "10", Fate.SKIPPED, "stale"),
        _leg(2, "BBB", True, True, "10", Fate.SKIPPED, "stale"),
        _leg(3, "AAA", False, False, "10", Fate.SKIPPED, "stale"),
        _leg(4, "BBB", True, True, "10", Fate.SKIPPED, "stale"),
    )
    sizes = ideal_sizes(Period(1, legs), one_at_a_time)
    assert sizes == {"l1": D(5), "l2": D(0), "l4": D(5)}


@settings(max_examples=200, deadline=None)
@given(histories())
def test_a_step_left_unreplayed_changes_nothing(period: Period) -> None:
    """The steps :func:`idle` skips give the same ledger as replaying them."""
    ideal = ideal_sizes(period, notional_1000)
    result = decompose(period, notional_1000)
    for (name, stage), (named, outcome) in zip(stages(period), result.steps, strict=True):
        assert name == named
        assert ledger_outcome(period, stage, ideal) == outcome, name


def test_a_fee_is_a_positive_fees_part() -> None:
    """None are journaled today (Alpaca equities); a fill's fee, when there is one, is its own
    part and the account's result is net of it."""
    fill = Fill(1001, 10, D(10), D(100), fee=D("1.25"))
    order = Order("o1", Style.MARKET, D(10), (fill,))
    period = Period(1, (_leg(1, "AAA", True, True, "100", orders=(order,)),), marks={"AAA": D(100)})
    result = decompose(period, notional_1000)
    assert {p.name: p.money for p in result.parts}["fees"] == D("1.25")
    assert result.account.pnl == D("-1.25")
