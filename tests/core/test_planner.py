"""The planner's rules, one by one (docs/design.md; tradebot/core/planner.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from tests.conftest import load_fixture
from tests.core.helpers import (
    ACCOUNT,
    T0,
    D,
    detail,
    make_book,
    make_config,
    make_signal,
    orders,
    run,
    skips,
)
from tradebot.core.account import AccountSnapshot, AssetInfo
from tradebot.core.ids import MAX_CLIENT_ORDER_ID
from tradebot.core.orders import IntentRole, SkipReason
from tradebot.core.planner import DayState
from tradebot.core.signal import Side, SignalSource, parse_signal

# -- the published sample --------------------------------------------------------------------------


def test_the_published_sample_closes_first_then_opens() -> None:
    frame = load_fixture("alphahub/new_signals_minotaur3.json")
    signal = parse_signal(16, frame[4], received_at=T0 + timedelta(seconds=2))
    config = make_config(
        {16: {"strategy": "allocation", "params": {"pct": 30, "max_positions": 3}}}
    )
    book = make_book(a16_VRTX=40, a16_MU=-100, a16_BMRN=-25)
    result = run(signal, book, config)
    assert orders(result) == [
        ("close", "sell", "40", "VRTX"),
        ("close", "buy", "100", "MU"),
        ("close", "buy", "25", "BMRN"),
        ("open", "buy", "59", "JBHT"),  # 10% of 100,000 at 168.56 = 59.33 -> 59 whole shares
        ("open", "buy", "24", "ILMN"),
        ("open", "sell", "69", "CDNS"),
    ]
    assert result.skipped == ()
    ids = [i.client_order_id for i in result.intents]
    assert len(set(ids)) == 6 and all(len(i) <= MAX_CLIENT_ORDER_ID for i in ids)
    jbht = result.intents[3]
    assert jbht.notes == (
        "sized: 30% of equity 100,000.00 / 3 positions = 10,000.00 at 168.56 = 59.3261 shares"
        " -> 59",
    )
    assert jbht.reference_price == D("168.56") and jbht.leg_ids == (signal.open_legs[0].id,)


# -- closes ----------------------------------------------------------------------------------------


def test_a_close_flattens_the_algorithms_own_holding_only() -> None:
    book = make_book(a16_AAPL=10, a14_AAPL=50, a15_AAPL=-5)
    result = run(make_signal(closes=[("AAPL", "buy", "150")]), book)
    assert orders(result) == [("close", "sell", "10", "AAPL")]


def test_a_close_side_that_disagrees_with_the_holding_is_noted_not_obeyed() -> None:
    # AlphaHub's close side is the side of the position it closes: "buy" closes a long.
    result = run(make_signal(closes=[("AAPL", "sell", "150")]), make_book(a16_AAPL=10))
    assert orders(result) == [("close", "sell", "10", "AAPL")]
    assert result.intents[0].notes == (
        "close leg says sell, but algorithm 16 is long 10: flattening what it holds",
    )
    agreeing = run(make_signal(closes=[("AAPL", "sell", "150")]), make_book(a16_AAPL=-10))
    assert orders(agreeing) == [("close", "buy", "10", "AAPL")]
    assert agreeing.intents[0].notes == ()


def test_a_close_for_a_symbol_not_held_is_skipped() -> None:
    result = run(make_signal(closes=[("AAPL", "buy", "150")]), make_book(a14_AAPL=10))
    assert result.intents == ()
    assert skips(result) == {"AAPL": SkipReason.NOT_HELD}
    assert detail(result, "AAPL") == "algorithm 16 holds no AAPL"


def test_on_close_not_held_ignore_still_records_the_skip() -> None:
    config = make_config({16: {"on_close_not_held": "ignore"}})
    result = run(make_signal(closes=[("AAPL", "buy", "150")]), config=config)
    assert skips(result) == {"AAPL": SkipReason.NOT_HELD}
    assert "(on_close_not_held: ignore)" in detail(result, "AAPL")


def test_a_second_close_of_the_same_symbol_finds_nothing_left() -> None:
    signal = parse_signal(
        16,
        {
            "close": [
                {"symbol": "AAPL", "side": "buy", "price": 1, "timestamp": "2021-04-26T14:30:00"},
                {"symbol": "AAPL", "side": "buy", "price": 1, "timestamp": "2021-04-26T14:30:05"},
            ]
        },
        received_at=T0 + timedelta(seconds=9),
    )
    result = run(signal, make_book(a16_AAPL=10))
    assert orders(result) == [("close", "sell", "10", "AAPL")]
    assert "an earlier close in this signal flattened it" in detail(result, "AAPL")


def test_fractional_holdings_close_exactly() -> None:
    result = run(make_signal(closes=[("AAPL", "buy", "150")]), make_book(a16_AAPL="2.5"))
    assert orders(result) == [("close", "sell", "2.5", "AAPL")]


# -- opens -----------------------------------------------------------------------------------------


def test_an_open_in_the_held_direction_is_skipped_no_pyramiding() -> None:
    result = run(make_signal(opens=[("AAPL", "buy", "150")]), make_book(a16_AAPL=10))
    assert result.intents == ()
    assert skips(result) == {"AAPL": SkipReason.ALREADY_HELD}
    assert detail(result, "AAPL") == "algorithm 16 is already long 10 AAPL (no pyramiding)"


def test_an_open_against_the_holding_flattens_then_opens() -> None:
    signal = make_signal(opens=[("AAPL", "sell", "150")])
    result = run(signal, make_book(a16_AAPL=4))
    assert orders(result) == [("close", "sell", "4", "AAPL"), ("open", "sell", "10", "AAPL")]
    flatten, reopen = result.intents
    assert flatten.leg_ids == reopen.leg_ids == (signal.open_legs[0].id,)
    assert flatten.client_order_id != reopen.client_order_id  # same leg, different step
    assert "-c-" in flatten.client_order_id and "-o-" in reopen.client_order_id


def test_a_close_and_a_reopen_of_the_same_size_cancel_out() -> None:
    signal = make_signal(closes=[("AAPL", "buy", "150")], opens=[("AAPL", "buy", "151")])
    result = run(signal, make_book(a16_AAPL=10))
    assert result.intents == ()
    assert [s.reason for s in result.skipped] == [SkipReason.NETTED, SkipReason.NETTED]
    assert detail(result, "AAPL").startswith(
        "the legs on AAPL cancel out: algorithm 16 stays long 10"
    )


def test_a_close_and_a_bigger_reopen_net_into_one_order_serving_both_legs() -> None:
    signal = make_signal(closes=[("AAPL", "buy", "150")], opens=[("AAPL", "buy", "151")])
    result = run(signal, make_book(a16_AAPL=4))
    assert orders(result) == [("open", "buy", "6", "AAPL")]
    assert set(result.intents[0].leg_ids) == {leg.id for leg in signal.legs}
    assert result.skipped == ()


def test_a_close_and_a_smaller_reopen_net_into_one_reducing_order() -> None:
    signal = make_signal(closes=[("AAPL", "buy", "150")], opens=[("AAPL", "buy", "151")])
    result = run(signal, make_book(a16_AAPL=25))
    assert orders(result) == [("close", "sell", "15", "AAPL")]


def test_a_close_and_an_opposite_open_never_cross_zero_in_one_order() -> None:
    signal = make_signal(closes=[("AAPL", "buy", "150")], opens=[("AAPL", "sell", "151")])
    result = run(signal, make_book(a16_AAPL=4))
    assert orders(result) == [("close", "sell", "4", "AAPL"), ("open", "sell", "10", "AAPL")]
    close, reopen = result.intents
    assert close.leg_ids == (signal.close_legs[0].id,)
    assert reopen.leg_ids == (signal.open_legs[0].id,)


def test_an_order_that_would_flip_the_account_net_is_split_at_zero() -> None:
    # Algorithm 14 holds 3 long; 16 opens a 10 short: the broker sees +3 -> -7.
    signal = make_signal(opens=[("AAPL", "sell", "150")])
    result = run(signal, make_book(a14_AAPL=3))
    assert orders(result) == [("close", "sell", "3", "AAPL"), ("open", "sell", "7", "AAPL")]
    first, second = result.intents
    assert first.algo_id == second.algo_id == 16
    assert first.leg_ids == second.leg_ids
    assert first.client_order_id != second.client_order_id


def test_a_close_that_would_flip_the_account_net_is_split_too() -> None:
    # 16 long 10, 14 short 4: net +6. 16's close sells 10: +6 -> 0 -> -4.
    result = run(make_signal(closes=[("AAPL", "buy", "150")]), make_book(a16_AAPL=10, a14_AAPL=-4))
    assert orders(result) == [("close", "sell", "6", "AAPL"), ("open", "sell", "4", "AAPL")]


def test_a_second_open_against_one_planned_in_the_same_signal_replaces_it() -> None:
    # the reopen (buy) was never sent: undoing it costs no order, so the order limit that the
    # close already used is not charged twice
    config = make_config(risk={"max_order_notional": 1600})
    signal = parse_signal(
        16,
        {
            "close": [_leg("AAPL", "buy", "2021-04-26T14:30:00")],
            "open": [
                _leg("AAPL", "buy", "2021-04-26T14:30:01"),
                _leg("AAPL", "sell", "2021-04-26T14:30:02"),
            ],
        },
        received_at=T0 + timedelta(seconds=5),
    )
    result = run(signal, make_book(a16_AAPL=10), config)
    assert orders(result) == [("close", "sell", "10", "AAPL"), ("open", "sell", "10", "AAPL")]
    assert skips(result) == {}  # the buy is netted into the open: every leg is served


def _leg(symbol: str, side: str, stamp: str) -> dict[str, object]:
    return {"symbol": symbol, "side": side, "price": "150", "timestamp": stamp}


def test_opens_follow_the_signal_order() -> None:
    signal = make_signal(opens=[("CCC", "buy", "10"), ("AAA", "buy", "10"), ("BBB", "buy", "10")])
    assert [i.symbol for i in run(signal).intents] == ["CCC", "AAA", "BBB"]


# -- algorithms ------------------------------------------------------------------------------------


def test_an_unknown_algorithm_skips_every_leg() -> None:
    signal = make_signal(99, closes=[("A", "buy", "1")], opens=[("B", "buy", "1")])
    result = run(signal)
    assert result.intents == ()
    assert [s.reason for s in result.skipped] == [SkipReason.ALGO_UNKNOWN] * 2
    assert result.skipped[0].detail == "algorithm 99 is not in the config"


def test_a_disabled_algorithm_skips_every_leg() -> None:
    result = run(
        make_signal(opens=[("B", "buy", "1")]), config=make_config({16: {"enabled": False}})
    )
    assert skips(result) == {"B": SkipReason.ALGO_DISABLED}


def test_unparsable_legs_are_reported_as_invalid() -> None:
    payload = {"open": [{"symbol": "AAA", "side": "hold", "price": 1, "timestamp": "2021-04-26"}]}
    signal = parse_signal(16, payload, received_at=T0)
    result = run(signal)
    assert [(s.leg_id, s.reason) for s in result.skipped] == [(None, SkipReason.INVALID)]
    assert result.skipped[0].rejected is signal.rejected[0]


# -- shorts and assets -----------------------------------------------------------------------------


def test_shorts_need_allow_short() -> None:
    config = make_config({16: {"allow_short": False}})
    result = run(make_signal(opens=[("AAPL", "sell", "150")]), config=config)
    assert skips(result) == {"AAPL": SkipReason.SHORT_NOT_ALLOWED}


def test_shorts_need_an_account_that_can_short() -> None:
    account = AccountSnapshot("PA1", D(100000), D(100000), D(100000), shorting_enabled=False)
    result = run(make_signal(opens=[("AAPL", "sell", "150")]), account=account)
    assert detail(result, "AAPL") == "the account has shorting disabled"


def test_shorts_need_a_shortable_asset_when_asset_info_is_given() -> None:
    assets = {"AAPL": AssetInfo("AAPL", shortable=False), "MSFT": AssetInfo("MSFT", tradable=False)}
    signal = make_signal(
        opens=[("AAPL", "sell", "150"), ("MSFT", "buy", "300"), ("X", "sell", "1")]
    )
    result = run(signal, assets=assets)
    assert skips(result) == {"AAPL": SkipReason.NOT_SHORTABLE, "MSFT": SkipReason.NOT_TRADABLE}
    assert orders(result) == [("open", "sell", "10", "X")]  # no asset info: not restricted


def test_a_refused_short_still_flattens_the_long_it_turns_against() -> None:
    config = make_config({16: {"allow_short": False}})
    result = run(make_signal(opens=[("AAPL", "sell", "150")]), make_book(a16_AAPL=7), config)
    assert orders(result) == [("close", "sell", "7", "AAPL")]
    assert skips(result) == {"AAPL": SkipReason.SHORT_NOT_ALLOWED}
    assert detail(result, "AAPL").startswith("flattened the long position only:")


# -- sizing and rounding ---------------------------------------------------------------------------


def notional_config(amount: str, **settings: object) -> object:
    return make_config(
        {16: {"strategy": "fixed_notional", "params": {"notional": amount}} | settings}
    )


def test_quantities_round_down_to_whole_shares() -> None:
    result = run(make_signal(opens=[("AAPL", "buy", "150")]), config=notional_config("1000"))
    assert orders(result) == [("open", "buy", "6", "AAPL")]  # 6.67 -> 6


def test_a_leg_that_sizes_to_zero_is_skipped_with_the_arithmetic() -> None:
    result = run(make_signal(opens=[("AAPL", "buy", "150")]), config=notional_config("100"))
    assert skips(result) == {"AAPL": SkipReason.SIZED_TO_ZERO}
    assert detail(result, "AAPL") == (
        "100.00 at 150 = 0.6667 shares; rounds down to 0 (whole shares: allow_fractional is off)"
    )


def test_fractions_where_the_algorithm_order_and_asset_allow_them() -> None:
    config = notional_config("100", allow_fractional=True)
    result = run(make_signal(opens=[("AAPL", "buy", "150")]), config=config)
    assert orders(result) == [("open", "buy", "0.666666666", "AAPL")]  # 9 decimals, down


def test_fractions_need_time_in_force_day() -> None:
    config = notional_config("1000", allow_fractional=True, time_in_force="gtc")
    assert orders(run(make_signal(opens=[("AAPL", "buy", "150")]), config=config)) == [
        ("open", "buy", "6", "AAPL")
    ]


def test_fractions_need_a_fractionable_asset() -> None:
    config = notional_config("1000", allow_fractional=True)
    assets = {"AAPL": AssetInfo("AAPL", fractionable=False)}
    result = run(make_signal(opens=[("AAPL", "buy", "150")]), config=config, assets=assets)
    assert orders(result) == [("open", "buy", "6", "AAPL")]


def test_shorts_open_in_whole_shares_even_with_fractions_allowed() -> None:
    config = notional_config("1000", allow_fractional=True)
    assert orders(run(make_signal(opens=[("AAPL", "sell", "150")]), config=config)) == [
        ("open", "sell", "6", "AAPL")
    ]


def test_a_fractional_order_under_one_dollar_is_skipped() -> None:
    config = make_config(
        {16: {"strategy": "fixed_shares", "params": {"shares": "0.001"}, "allow_fractional": True}}
    )
    result = run(make_signal(opens=[("PENNY", "buy", "0.50")]), config=config)
    assert skips(result) == {"PENNY": SkipReason.SIZED_TO_ZERO}
    assert "fractional order under $1" in detail(result, "PENNY")


def test_allocation_slots_are_counted_after_the_signals_closes() -> None:
    config = make_config(
        {16: {"strategy": "allocation", "params": {"pct": 30, "max_positions": 2}}}
    )
    signal = make_signal(
        closes=[("OLD", "buy", "10")],
        opens=[("NEW1", "buy", "100"), ("NEW2", "buy", "100"), ("NEW3", "buy", "100")],
    )
    result = run(signal, make_book(a16_OLD=5, a16_KEEP=1), config)
    # KEEP stays, OLD closes: one slot free for NEW1; NEW2 and NEW3 find both slots used
    assert orders(result) == [("close", "sell", "5", "OLD"), ("open", "buy", "150", "NEW1")]
    assert skips(result) == {"NEW2": SkipReason.SIZED_TO_ZERO, "NEW3": SkipReason.SIZED_TO_ZERO}
    assert detail(result, "NEW2").startswith("already holds 2 of its 2 positions")


def test_a_failing_strategy_skips_its_leg_only() -> None:
    config = make_config({16: {"strategy": "tests.core.sizers:Explodes", "params": {}}})
    result = run(make_signal(opens=[("BAD", "buy", "1"), ("GOOD", "buy", "1")]), config=config)
    assert orders(result) == [("open", "buy", "3", "GOOD")]
    assert detail(result, "BAD") == (
        "strategy tests.core.sizers:Explodes failed: ZeroDivisionError: no price"
    )


def test_a_strategy_answer_that_is_not_a_decimal_is_never_sent() -> None:
    config = make_config({16: {"strategy": "tests.core.sizers:ReturnsFloat", "params": {}}})
    result = run(make_signal(opens=[("A", "buy", "1")]), config=config)
    assert result.intents == () and skips(result) == {"A": SkipReason.SIZED_TO_ZERO}
    assert "not a Sizing(Decimal)" in detail(result, "A")
    config = make_config({16: {"strategy": "tests.core.sizers:Negative", "params": {}}})
    result = run(make_signal(opens=[("A", "buy", "1")]), config=config)
    assert result.intents == () and skips(result) == {"A": SkipReason.SIZED_TO_ZERO}
    assert detail(result, "A").startswith("minus four; rounds down to 0")


# -- risk limits: only ever shrink or skip ---------------------------------------------------------


def test_max_order_notional_shrinks_an_open() -> None:
    config = make_config({16: {"params": {"shares": 100}}}, risk={"max_order_notional": 1000})
    result = run(make_signal(opens=[("AAPL", "buy", "150")]), config=config)
    assert orders(result) == [("open", "buy", "6", "AAPL")]
    assert "capped by max_order_notional: 100 -> 6" in result.intents[0].notes


def test_max_order_notional_shrinks_a_close_and_blocks_the_flip_past_it() -> None:
    config = make_config(risk={"max_order_notional": 1000})
    signal = make_signal(opens=[("AAPL", "sell", "150")])
    result = run(signal, make_book(a16_AAPL=40), config)
    assert orders(result) == [("close", "sell", "6", "AAPL")]
    assert "close capped by max_order_notional: 40 -> 6" in result.intents[0].notes
    assert skips(result) == {"AAPL": SkipReason.RISK_LIMIT}


def test_a_close_capped_by_the_limit_leaves_no_room_for_a_second_flatten_in_the_signal() -> None:
    """The close and a flip on one symbol are one order: the cap applies to their sum."""
    config = make_config(risk={"max_order_notional": 1000})
    signal = make_signal(closes=[("AAPL", "sell", "150")], opens=[("AAPL", "sell", "150")])
    result = run(signal, make_book(a16_AAPL=40), config)
    assert orders(result) == [("close", "sell", "6", "AAPL")]
    assert "max_order_notional 1000 is used up by the earlier close of AAPL" in detail(
        result, "AAPL"
    )


def test_a_close_smaller_than_one_share_under_the_limit_is_skipped() -> None:
    config = make_config(risk={"max_order_notional": 100})
    result = run(make_signal(closes=[("AAPL", "buy", "150")]), make_book(a16_AAPL=4), config)
    assert result.intents == ()
    assert detail(result, "AAPL") == "max_order_notional 100 is less than one share of AAPL at 150"


def test_max_position_notional_per_algorithm_override() -> None:
    config = make_config({16: {"params": {"shares": 100}, "risk": {"max_position_notional": 450}}})
    assert orders(run(make_signal(opens=[("AAPL", "buy", "150")]), config=config)) == [
        ("open", "buy", "3", "AAPL")
    ]


def test_max_algo_exposure_counts_what_the_algorithm_already_holds() -> None:
    config = make_config({16: {"params": {"shares": 100}}}, risk={"max_algo_exposure": 5000})
    book = make_book(a16_MSFT=10, a14_AAPL=1000)  # 14's holdings are not 16's exposure
    result = run(make_signal(opens=[("AAPL", "buy", "100")]), book, config, marks={"MSFT": D(300)})
    assert orders(result) == [("open", "buy", "20", "AAPL")]  # 5000 - 10 * 300 = 2000 -> 20


def test_max_algo_exposure_cannot_be_checked_without_prices() -> None:
    config = make_config(risk={"max_algo_exposure": 5000})
    result = run(make_signal(opens=[("AAPL", "buy", "100")]), make_book(a16_MSFT=10), config)
    assert skips(result) == {"AAPL": SkipReason.RISK_LIMIT}
    assert detail(result, "AAPL") == "cannot check max_algo_exposure: no price for held MSFT"


def test_max_symbol_exposure_counts_every_algorithm() -> None:
    config = make_config({16: {"params": {"shares": 100}}}, risk={"max_symbol_exposure": 3000})
    book = make_book(a14_AAPL=25)  # the account already holds 2500 of AAPL
    result = run(make_signal(opens=[("AAPL", "buy", "100")]), book, config)
    assert orders(result) == [("open", "buy", "5", "AAPL")]
    against = run(make_signal(opens=[("AAPL", "sell", "100")]), book, config)
    # selling first reduces 14's long (free), then may go 30 short: 25 + 30 > 100 -> 55
    assert [o[2] for o in orders(against)] == ["25", "30"]


def test_buying_power_caps_opens_and_closes_free_it_first() -> None:
    account = AccountSnapshot("PA1", D(100000), buying_power=D(1000), cash=D(1000))
    config = make_config({16: {"params": {"shares": 100}}})
    signal = make_signal(
        closes=[("OLD", "buy", "50")], opens=[("A", "buy", "100"), ("B", "buy", "1")]
    )
    result = run(signal, make_book(a16_OLD=20), config, account=account)
    # 1000 + 20 * 50 freed = 2000: A gets 20 shares, B nothing is left for
    assert orders(result) == [("close", "sell", "20", "OLD"), ("open", "buy", "20", "A")]
    assert skips(result) == {"B": SkipReason.RISK_LIMIT}
    assert detail(result, "B") == "buying power leaves no room for B"


def test_orders_per_day_drop_opens_before_closes() -> None:
    config = make_config({16: {"risk": {"max_orders_per_day": 5}}})
    day = DayState(orders_today={16: 3, 14: 100})
    signal = make_signal(
        closes=[("C1", "buy", "1"), ("C2", "buy", "1")], opens=[("O1", "buy", "1")]
    )
    result = run(signal, make_book(a16_C1=1, a16_C2=1), config, day=day)
    assert orders(result) == [("close", "sell", "1", "C1"), ("close", "sell", "1", "C2")]
    assert skips(result) == {"O1": SkipReason.RISK_LIMIT}
    assert detail(result, "O1") == ("max_orders_per_day: algorithm 16 sent 3 of its 5 orders today")


def test_orders_per_day_keep_the_algorithms_closes_before_its_opens() -> None:
    # 16's AAA re-open reduces the account's net (14 is short too), so it sends in the close
    # group; the budget still goes to the flattens first: an open sized on the assumption
    # that DDD's short is gone must not go out without that flatten.
    config = make_config(risk={"max_orders_per_day": 2, "max_algo_exposure": 3000})
    signal = make_signal(opens=[("AAA", "buy", "0.75"), ("DDD", "buy", "100")])
    book = make_book(a16_AAA=-30, a16_DDD=-30, a14_AAA=-30)
    result = run(signal, book, config)
    assert orders(result) == [("close", "buy", "30", "AAA"), ("close", "buy", "30", "DDD")]
    assert {s.reason for s in result.skipped} == {SkipReason.RISK_LIMIT}


def test_orders_per_day_for_the_whole_account() -> None:
    config = make_config(risk={"max_orders_per_day": 10})
    day = DayState(orders_today={16: 1, 14: 9})
    result = run(make_signal(opens=[("O1", "buy", "1")]), config=config, day=day)
    assert result.intents == ()
    assert "the account sent 10 of its 10 orders today" in detail(result, "O1")


def test_orders_per_day_never_send_the_second_half_of_a_split_alone() -> None:
    config = make_config(risk={"max_orders_per_day": 1})
    result = run(
        make_signal(opens=[("AAPL", "sell", "1")]), make_book(a16_AAPL=4), config, day=DayState()
    )
    assert orders(result) == [("close", "sell", "4", "AAPL")]


def test_daily_loss_stops_opens_not_closes() -> None:
    config = make_config({16: {"risk": {"max_daily_loss": 500}}})
    day = DayState(realised_pnl={16: D(-500), 14: D(900)})
    signal = make_signal(closes=[("C", "buy", "1")], opens=[("O", "buy", "1")])
    result = run(signal, make_book(a16_C=2), config, day=day)
    assert orders(result) == [("close", "sell", "2", "C")]
    assert detail(result, "O") == "algorithm 16 lost 500 today, max_daily_loss is 500: closes only"
    account_loss = make_config(risk={"max_daily_loss": 1000})
    day = DayState(realised_pnl={16: D(100), 14: D(-1100)})
    result = run(make_signal(opens=[("O", "buy", "1")]), config=account_loss, day=day)
    assert "the account lost 1000 today" in detail(result, "O")


def test_symbol_lists_block_opens_never_closes() -> None:
    config = make_config(risk={"deny_symbols": ["GME"], "allow_symbols": ["GME", "AAPL"]})
    signal = make_signal(
        closes=[("GME", "buy", "20")], opens=[("GME", "sell", "20"), ("MSFT", "buy", "300")]
    )
    result = run(signal, make_book(a16_GME=5), config)
    assert orders(result) == [("close", "sell", "5", "GME")]
    assert detail(result, "GME") == "GME is in deny_symbols"
    assert detail(result, "MSFT") == "MSFT is not in allow_symbols"


def test_stale_legs_are_skipped() -> None:
    config = make_config(risk={"max_signal_age": 60})
    signal = make_signal(opens=[("AAPL", "buy", "150")])
    fresh = run(signal, config=config, now=T0 + timedelta(seconds=61))
    assert len(fresh.intents) == 1
    stale = run(signal, config=config, now=T0 + timedelta(seconds=62))
    assert skips(stale) == {"AAPL": SkipReason.STALE}
    assert detail(stale, "AAPL") == "leg is 61s old; max_signal_age is 60s"


def test_the_kill_switch() -> None:
    signal = make_signal(closes=[("C", "buy", "1")], opens=[("O", "buy", "1")])
    book = make_book(a16_C=2)
    halted = run(signal, book, day=DayState(halted=True))
    assert halted.intents == ()
    assert {s.reason for s in halted.skipped} == {SkipReason.KILL_SWITCH}
    reduce_only = run(signal, book, day=DayState(reduce_only=True))
    assert orders(reduce_only) == [("close", "sell", "2", "C")]
    assert skips(reduce_only) == {"O": SkipReason.KILL_SWITCH}


def test_a_blocked_account_sends_nothing() -> None:
    account = AccountSnapshot("PA1", D(1), D(1), D(1), trading_blocked=True)
    result = run(make_signal(closes=[("C", "buy", "1")]), make_book(a16_C=2), account=account)
    assert result.intents == () and skips(result) == {"C": SkipReason.RISK_LIMIT}


# -- order types and the market clock --------------------------------------------------------------


def test_limit_orders_price_past_the_signal_within_the_collar() -> None:
    config = make_config(
        {16: {"order_type": "limit", "limit_offset_pct": "0.5"}}, risk={"price_collar_pct": "0.2"}
    )
    signal = make_signal(opens=[("BUY", "buy", "100.00"), ("SELL", "sell", "0.5")])
    result = run(signal, config=config)
    buy, sell = result.intents
    assert buy.limit_price == D("100.20")  # 0.5% asked, held to the 0.2% collar
    assert sell.limit_price == D("0.4990")  # sub-dollar: 1/100 cent ticks, rounded up for a sell
    assert "limit offset 0.5% held to the 0.2% price collar" in buy.notes
    assert buy.notional == D("1002.00")  # valued at the limit price


def test_limit_prices_round_toward_the_signal_price() -> None:
    config = make_config({16: {"order_type": "limit", "limit_offset_pct": "1"}})
    result = run(
        make_signal(opens=[("B", "buy", "33.333"), ("S", "sell", "33.333")]), config=config
    )
    assert [i.limit_price for i in result.intents] == [D("33.66"), D("33.00")]


def test_market_closed_policies() -> None:
    closed = DayState(market_open=False)
    signal = make_signal(opens=[("AAPL", "buy", "150")])
    queued = run(signal, day=closed)
    assert orders(queued) == [("open", "buy", "10", "AAPL")]
    assert queued.notes == ("market closed: the broker queues these orders for the open",)
    skipped = run(signal, config=make_config({16: {"market_closed": "skip"}}), day=closed)
    assert skips(skipped) == {"AAPL": SkipReason.MARKET_CLOSED}
    extended = run(
        signal,
        config=make_config({16: {"market_closed": "extended_hours", "time_in_force": "gtc"}}),
        day=closed,
    )
    intent = extended.intents[0]
    assert intent.extended_hours and intent.order_type == "limit" and intent.time_in_force == "day"
    assert intent.limit_price == D("150.00")


# -- determinism -----------------------------------------------------------------------------------


def test_the_same_signal_twice_gives_the_same_plan() -> None:
    signal = make_signal(
        closes=[("A", "buy", "10")], opens=[("B", "sell", "20"), ("C", "buy", "5")]
    )
    book = make_book(a16_A=3, a14_B=2)
    first, second = run(signal, book), run(signal, book.copy())
    assert first == second
    assert [i.client_order_id for i in first.intents] == [i.client_order_id for i in second.intents]


def test_client_order_ids_depend_on_the_account() -> None:
    signal = make_signal(opens=[("B", "buy", "20")])
    other = AccountSnapshot("PA2", D(100000), D(100000), D(100000))
    assert (
        run(signal).intents[0].client_order_id
        != run(signal, account=other).intents[0].client_order_id
    )


def test_planning_changes_nothing_it_is_given() -> None:
    book = make_book(a16_A=3)
    before = book.copy()
    run(make_signal(closes=[("A", "buy", "1")], opens=[("B", "buy", "1")]), book)
    assert book == before


def test_every_leg_is_accounted_for() -> None:
    signal = make_signal(
        closes=[("A", "buy", "10"), ("NOPE", "buy", "1")],
        opens=[("B", "sell", "20"), ("A", "buy", "10"), ("C", "buy", "5")],
    )
    result = run(signal, make_book(a16_A=3, a16_C=1))
    served = {leg for i in result.intents for leg in i.leg_ids}
    skipped = {s.leg_id for s in result.skipped}
    assert served | skipped == {leg.id for leg in signal.legs}


def test_intents_are_valid_orders() -> None:
    signal = make_signal(closes=[("A", "buy", "10")], opens=[("B", "sell", "20")])
    for intent in run(signal, make_book(a16_A=3)).intents:
        assert intent.qty > 0 and isinstance(intent.qty, Decimal)
        assert intent.side in (Side.BUY, Side.SELL)
        assert intent.role in (IntentRole.CLOSE, IntentRole.OPEN)
    assert ACCOUNT.account_id == "PA1"


def test_a_recovered_leg_too_old_is_missed_stale_never_traded() -> None:
    config = make_config(risk={"max_signal_age": 60})
    signal = replace(make_signal(opens=[("AAPL", "buy", "150")]), source=SignalSource.BACKFILL)
    assert len(run(signal, config=config, now=T0 + timedelta(seconds=61)).intents) == 1
    stale = run(signal, config=config, now=T0 + timedelta(seconds=62))
    assert stale.intents == ()
    assert skips(stale) == {"AAPL": SkipReason.MISSED_STALE}
    assert detail(stale, "AAPL") == "leg is 61s old; max_signal_age is 60s"


def test_a_recovered_leg_is_bounded_by_recovery_max_age_when_no_max_signal_age() -> None:
    config = make_config()  # no max_signal_age: a live leg of any age is planned
    assert config.risk.max_signal_age is None
    old = T0 + timedelta(seconds=config.journal.recovery_max_age + 2)  # the open is T0 + 1 s
    live = make_signal(opens=[("AAPL", "buy", "150")])
    assert len(run(live, config=config, now=old).intents) == 1
    recovered = run(replace(live, source=SignalSource.BACKFILL), config=config, now=old)
    assert skips(recovered) == {"AAPL": SkipReason.MISSED_STALE}
    assert "journal.recovery_max_age is 300s" in detail(recovered, "AAPL")
