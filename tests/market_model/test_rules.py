"""The market model's rules as plain functions: no broker, no event loop (the contract test,
tests/broker/test_market_contract.py, runs them through both markets)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradebot.market_model.rules import (
    Order,
    crosses,
    fill_price,
    match,
    on_price,
    place,
    reaches,
    split,
    trail_level,
)


@pytest.mark.parametrize(
    ("side", "price", "through"),
    [
        ("buy", "99.99", True),
        ("buy", "100", False),
        ("sell", "100.01", True),
        ("sell", "100", False),
    ],
)
def test_a_limit_is_crossed_only_by_a_price_through_it(
    side: str, price: str, through: bool
) -> None:
    assert crosses("buy" if side == "buy" else "sell", D(100), D(price)) is through


@pytest.mark.parametrize(
    ("side", "price", "reached"),
    [
        ("sell", "95", True),
        ("sell", "95.01", False),
        ("buy", "105", True),
        ("buy", "104.99", False),
    ],
)
def test_a_stop_is_reached_at_its_price(side: str, price: str, reached: bool) -> None:
    stop = D(95) if side == "sell" else D(105)
    assert reaches("sell" if side == "sell" else "buy", stop, D(price)) is reached


def test_a_limit_fills_at_the_market_on_arrival_and_at_its_limit_once_it_rested() -> None:
    limit = Order("buy", limit=D(100))
    assert match(limit, D(99)) == (limit, D(99))  # marketable on arrival: price improvement
    rested, none = match(limit, D(100))  # at the limit: rests
    assert none is None and rested.rested
    assert match(rested, D(98))[1] == D(100)  # then a gap through it fills at its limit
    assert fill_price(Order("sell"), D("101.5")) == D("101.5")  # a market order: the price


def test_a_trailing_stop_starts_at_the_market_follows_up_only_and_rounds_to_the_tick() -> None:
    ts = place(Order("sell", trail_percent=D(3)), D(100))
    assert (ts.hwm, ts.stop) == (D(100), D(97))
    ts = on_price(ts, D("101.11"))
    assert (ts.hwm, ts.stop) == (D("101.11"), D("98.08"))  # 98.0767 on the cent
    ts = on_price(ts, D(99))
    assert (ts.hwm, ts.stop, ts.triggered) == (D("101.11"), D("98.08"), False)
    ts = on_price(ts, D("98.08"))
    assert ts.triggered and match(ts, D("98.08"))[1] == D("98.08")
    assert on_price(ts, D(200)).hwm == D("101.11")  # triggered: it follows no more


def test_a_trail_level_is_on_the_sub_penny_tick_below_a_dollar() -> None:
    assert trail_level("buy", D("0.5"), amount=D("0.01234")) == D("0.5123")
    assert trail_level("sell", D("0.01"), percent=D(200)) == D(0)
    with pytest.raises(ValueError, match="trail"):
        trail_level("sell", D(100))


def test_a_stop_waits_until_reached_then_fills_at_the_market() -> None:
    stop = Order("sell", stop=D(95))
    assert match(on_price(stop, D("95.01")), D("95.01"))[1] is None
    assert match(on_price(stop, D(93)), D(93))[1] == D(93)  # gapped through: worse than 95


def test_split_gives_whole_pieces_that_add_up() -> None:
    assert split(D(10), 3) == [D(3), D(3), D(4)]
    assert split(D(1), 3) == [D(1)]
    assert sum(split(D("0.5"), 2)) == D("0.5")
