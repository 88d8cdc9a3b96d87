from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebot.core.netting import ledger_steps, split_at_zero

D = Decimal
amounts = st.integers(-50, 50).map(D) | st.decimals(-50, 50, places=3, allow_nan=False)


@pytest.mark.parametrize(
    ("held", "target", "steps"),
    [
        (D(0), D(0), []),
        (D(5), D(5), []),
        (D(0), D(10), [("open", D(10))]),
        (D(0), D(-10), [("open", D(-10))]),
        (D(10), D(0), [("close", D(-10))]),
        (D(10), D(4), [("close", D(-6))]),
        (D(10), D(12), [("open", D(2))]),
        (D(-10), D(-12), [("open", D(-2))]),
        (D(10), D(-3), [("close", D(-10)), ("open", D(-3))]),
        (D(-2), D(7), [("close", D(2)), ("open", D(7))]),
    ],
)
def test_ledger_steps(held: Decimal, target: Decimal, steps: list[tuple[str, Decimal]]) -> None:
    assert ledger_steps(held, target) == steps


@given(amounts, amounts)
def test_ledger_steps_reach_the_target_without_crossing_zero(
    held: Decimal, target: Decimal
) -> None:
    position = held
    for name, delta in ledger_steps(held, target):
        after = position + delta
        assert not (position > 0 > after or position < 0 < after)
        assert (abs(after) < abs(position)) == (name == "close")
        position = after
    assert position == target


@pytest.mark.parametrize(
    ("net", "delta", "pieces"),
    [
        (D(0), D(5), [(D(5), False)]),
        (D(5), D(-5), [(D(-5), True)]),
        (D(5), D(-2), [(D(-2), True)]),
        (D(5), D(3), [(D(3), False)]),
        (D(3), D(-10), [(D(-3), True), (D(-7), False)]),
        (D(-4), D(10), [(D(4), True), (D(6), False)]),
    ],
)
def test_split_at_zero(net: Decimal, delta: Decimal, pieces: list[tuple[Decimal, bool]]) -> None:
    assert split_at_zero(net, delta) == pieces


@given(amounts, amounts.filter(bool))
def test_pieces_add_up_and_never_cross(net: Decimal, delta: Decimal) -> None:
    pieces = split_at_zero(net, delta)
    assert sum((q for q, _ in pieces), D(0)) == delta
    for qty, reduces in pieces:
        assert qty != 0
        after = net + qty
        assert not (net > 0 > after or net < 0 < after)
        assert reduces == (abs(after) < abs(net))
        net = after
