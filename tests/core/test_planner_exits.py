"""Exits attached to entries, in the plan: bracket/oto legs where the entry can carry them, the
exit terms and a note saying why where it cannot, the ids, the rounding, the netting rule, and
a close skipped ``not_held`` naming the exit that closed the position."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from tests.core.helpers import T0, make_book, make_config, make_signal, run
from tradebot.core.exits import NOT_NETTED, exit_prices
from tradebot.core.ids import exit_id
from tradebot.core.order_shape import Bracket, Limit, OrderClass, OrderType, Oto, Stop
from tradebot.core.orders import ExitFill, ExitKind, ExitTerms, IntentRole, SkipReason, TimeInForce
from tradebot.core.planner import DayState
from tradebot.core.render import plan_to_dict
from tradebot.core.signal import Side

BOTH = {"take_profit_pct": "5", "stop_loss_pct": "2"}


def with_exits(exits: dict[str, str], **settings: Any) -> Any:
    return make_config({16: {"exits": exits, **settings}})


def test_a_market_entry_goes_as_a_bracket_with_its_legs_planned_under_our_ids() -> None:
    result = run(make_signal(opens=[("AAPL", "buy", "187.33")]), config=with_exits(BOTH))
    entry, tp, sl = result.intents
    assert result.opens == (entry,) and result.exits == (tp, sl)  # the legs come last
    assert entry.order_class is OrderClass.BRACKET
    assert entry.order_type is OrderType.MARKET
    assert entry.time_in_force is TimeInForce.GTC  # a market entry's bracket is gtc
    assert entry.exits == ExitTerms(D(5), D(2), None)
    # 187.33 * 1.05 = 196.6965 -> 196.69 (toward the entry); * 0.98 = 183.5834 -> 183.59
    assert entry.attached == Bracket(take_profit=D("196.69"), stop_loss=D("183.59"))
    assert tp.client_order_id == exit_id(entry.client_order_id, "tp")
    assert sl.client_order_id == f"{entry.client_order_id}-sl"
    for leg, kind in ((tp, OrderType.LIMIT), (sl, OrderType.STOP)):
        assert leg.role is IntentRole.EXIT and leg.parent == entry.client_order_id
        assert leg.order_type is kind and leg.side is Side.SELL and leg.qty == entry.qty
        assert leg.time_in_force is TimeInForce.GTC and leg.leg_ids == entry.leg_ids
    assert (tp.price, sl.price) == (Limit(D("196.69")), Stop(D("183.59")))


def test_one_exit_goes_as_an_oto_with_one_leg() -> None:
    signal = make_signal(opens=[("AAPL", "buy", "100")])
    entry, leg = run(signal, config=with_exits({"stop_loss_pct": "3"})).intents
    assert entry.order_class is OrderClass.OTO
    assert entry.attached == Oto(stop_loss=D("97.00"))
    assert leg.client_order_id.endswith("-sl") and leg.price == Stop(D("97.00"))


def test_a_gtc_limit_entry_is_bracketed_from_its_limit_price() -> None:
    config = with_exits(BOTH, order_type="limit", time_in_force="gtc", limit_offset_pct="1")
    entry, tp, sl = run(make_signal(opens=[("AAPL", "buy", "100")]), config=config).intents
    assert entry.limit_price == D("101.00") and entry.order_class is OrderClass.BRACKET
    assert (tp.price, sl.price) == (Limit(D("106.05")), Stop(D("98.98")))


def test_a_short_entry_has_its_take_profit_below_and_its_stop_above() -> None:
    entry, tp, sl = run(
        make_signal(opens=[("MU", "sell", "80.01")]), config=with_exits(BOTH)
    ).intents
    assert entry.side is Side.SELL and tp.side is sl.side is Side.BUY
    # 80.01 * 0.95 = 76.0095 -> 76.01 (up, toward the entry); * 1.02 = 81.6102 -> 81.61
    assert (tp.price, sl.price) == (Limit(D("76.01")), Stop(D("81.61")))


@pytest.mark.parametrize(
    ("settings", "day", "why"),
    [
        ({"order_type": "limit_then_market"}, DayState(), "chased limit_then_market"),
        ({"order_type": "limit"}, DayState(), "limit day entry carries no bracket"),
        (
            {"market_closed": "extended_hours"},
            DayState(market_open=False),
            "extended-hours entry carries no bracket",
        ),
        ({"order_type": "market", "time_in_force": "opg"}, DayState(), "market opg entry"),
    ],
)
def test_entries_that_cannot_carry_legs_carry_the_terms_and_say_why(
    settings: dict[str, str], day: DayState, why: str
) -> None:
    result = run(
        make_signal(opens=[("AAPL", "buy", "100")]), config=with_exits(BOTH, **settings), day=day
    )
    (entry,) = result.intents
    assert entry.exits == ExitTerms(D(5), D(2), None) and entry.order_class is OrderClass.SIMPLE
    assert any(why in note and "after the fill" in note for note in entry.notes), entry.notes


def test_a_fractional_entry_goes_without_legs() -> None:
    config = make_config(
        {
            16: {
                "strategy": "fixed_notional",
                "params": {"notional": 1050},
                "allow_fractional": True,
                "exits": BOTH,
            }
        }
    )
    (entry,) = run(make_signal(opens=[("AAPL", "buy", "100")]), config=config).intents
    assert entry.qty == D("10.5") and entry.order_class is OrderClass.SIMPLE
    assert any("fractional entry carries no bracket" in n for n in entry.notes)


def test_a_trailing_stop_always_goes_after_the_fill() -> None:
    config = with_exits({"trailing_stop_pct": "1.5"})
    (entry,) = run(make_signal(opens=[("AAPL", "buy", "100")]), config=config).intents
    assert entry.exits == ExitTerms(None, None, D("1.5"))
    assert entry.order_class is OrderClass.SIMPLE
    assert any("trailing stop cannot be a bracket leg" in n for n in entry.notes)


def test_an_entry_against_another_algorithms_position_is_not_netted_into_a_bracket() -> None:
    # algorithm 14 is short 4 AAPL in the account; 16 buys 10: split at the account's zero
    book = make_book(a14_AAPL=-4)
    result = run(make_signal(opens=[("AAPL", "buy", "100")]), book, config=with_exits(BOTH))
    assert [(str(i.role), i.qty) for i in result.intents] == [("close", D(4)), ("open", D(6))]
    note = NOT_NETTED.format(symbol="AAPL")
    for intent in result.intents:
        assert intent.exits is not None and intent.order_class is OrderClass.SIMPLE
        assert note in intent.notes
    assert "this entry is not netted with it; its exits cover only what the account holds" in note


def test_closes_carry_no_exits_and_a_flip_protects_only_its_open() -> None:
    book = make_book(a16_AAPL=10)
    signal = make_signal(closes=[("AAPL", "buy", "100")], opens=[("AAPL", "sell", "100")])
    close, entry, tp, sl = run(signal, book, config=with_exits(BOTH)).intents
    assert close.role is IntentRole.CLOSE and close.exits is None
    assert entry.side is Side.SELL and entry.order_class is OrderClass.BRACKET
    assert tp.parent == sl.parent == entry.client_order_id


def test_bracket_legs_do_not_use_up_max_orders_per_day() -> None:
    config = make_config({16: {"exits": BOTH, "risk": {"max_orders_per_day": 1}}})
    result = run(make_signal(opens=[("AAPL", "buy", "100")]), config=config)
    assert len(result.intents) == 3 and not result.skipped


def test_a_dropped_entry_takes_its_legs_with_it() -> None:
    config = make_config({16: {"exits": BOTH, "risk": {"max_orders_per_day": 1}}})
    signal = make_signal(opens=[("AAPL", "buy", "100"), ("MU", "buy", "50")])
    result = run(signal, config=config)
    assert {i.symbol for i in result.intents} == {"AAPL"} and len(result.intents) == 3
    assert [s.reason for s in result.skipped] == [SkipReason.RISK_LIMIT]


def test_a_close_with_nothing_held_names_the_exit_that_closed_the_position() -> None:
    fill = ExitFill(
        "tb16-AAPL-o-abc-sl", ExitKind.STOP_LOSS, D(10), D("97.95"), T0 - timedelta(minutes=3)
    )
    signal = make_signal(closes=[("AAPL", "sell", "98")])
    result = run(signal, config=with_exits(BOTH), exit_fills={"AAPL": fill})
    (skip,) = result.skipped
    assert skip.reason is SkipReason.NOT_HELD and skip.exit == fill
    assert (
        "its stop-loss tb16-AAPL-o-abc-sl filled 10 @ 97.95 at 2021-04-26T14:27:00" in skip.detail
    )
    plain = run(signal, config=with_exits(BOTH))
    assert plain.skipped[0].exit is None and "stop-loss" not in plain.skipped[0].detail


@pytest.mark.parametrize(
    ("side", "basis", "terms", "expected"),
    [
        (Side.BUY, D("0.5123"), ExitTerms(D(10), D(10), None), (D("0.5635"), D("0.4611"))),
        (Side.BUY, D(100), ExitTerms(D("0.001"), D("0.001"), None), (D("100.01"), D("99.99"))),
        (Side.SELL, D("1.00"), ExitTerms(D(50), None, None), (D("0.50"), None)),
        (Side.BUY, D("1.004"), ExitTerms(None, D(1), None), (None, D("0.9940"))),
    ],
)
def test_exit_prices_round_toward_the_entry_on_alpacas_tick(
    side: Side, basis: D, terms: ExitTerms, expected: tuple[D | None, D | None]
) -> None:
    # a sub-dollar price has 4 decimals; an exit never lands on the entry price itself
    assert exit_prices(side, basis, terms) == expected


def test_plan_json_shows_the_bracket_and_its_legs() -> None:
    result = run(make_signal(opens=[("AAPL", "buy", "100")]), config=with_exits(BOTH))
    entry, tp, sl = plan_to_dict(result)["intents"]
    assert entry["order_class"] == "bracket" and entry["stop_loss_price"] == "98.00"
    assert tp["group"] == "exit" and tp["parent"] == entry["client_order_id"]
    assert sl["stop_price"] == "98.00" and "order_class" not in sl
