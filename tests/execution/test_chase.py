"""The chase's decisions: when the limit is chased, and that the remainder is exactly the
broker-confirmed unfilled quantity, whatever order fills, cancels and lookups arrive in."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.helpers import make_config
from tradebot.core.ids import MAX_CLIENT_ORDER_ID, remainder_id
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.signal import Side
from tradebot.execution.chase import Chase, Phase, Why

LIMIT_ID = "tb16-AAPL-o-0123456789abcdef"


#: the config's defaults (``chase_after``, ``chase_pct``): the chase has none of its own
TERMS: dict[str, Any] = {"chase_after": 60.0, "chase_pct": Decimal("0.33")}


def chase(side: Side = Side.BUY, planned: str = "10", **kw: object) -> Chase:
    base = Chase(LIMIT_ID, side, Decimal(planned), Decimal("100.00"), **(TERMS | kw))
    return base.market_opened(1000.0)


def test_the_remainder_id_is_derived_from_the_limit_and_fits_alpaca() -> None:
    assert remainder_id(LIMIT_ID) == LIMIT_ID + "-m"
    long = remainder_id("x" * MAX_CLIENT_ORDER_ID)
    assert len(long) <= MAX_CLIENT_ORDER_ID and long == remainder_id("x" * MAX_CLIENT_ORDER_ID)
    assert long != remainder_id("y" * MAX_CLIENT_ORDER_ID)


def test_a_limit_that_fills_is_never_chased() -> None:
    state = chase().with_limit(OrderStatus.PARTIALLY_FILLED, Decimal(4))
    state, action = state.decide(1030.0, Decimal("100"))
    assert action.kind == "wait"
    state, action = state.with_limit(OrderStatus.FILLED, Decimal(10)).decide(1100.0, None)
    assert action.kind == "done" and state.phase is Phase.DONE


def test_the_timer_chases_then_exactly_the_unfilled_quantity_goes_at_market() -> None:
    state = chase().with_limit(OrderStatus.PARTIALLY_FILLED, Decimal(3))
    state, action = state.decide(1059.9, None)
    assert action.kind == "wait"
    state, action = state.decide(1060.0, None)
    assert (action.kind, action.why, state.phase) == ("cancel", Why.TIMER, Phase.CANCELING)
    state, action = state.decide(1061.0, None)
    assert action.kind == "wait"  # no remainder before the broker confirms the cancel
    state = state.with_limit(OrderStatus.CANCELED, Decimal(3))
    state, action = state.decide(1062.0, None)
    assert (action.kind, action.qty) == ("send_remainder", Decimal(7))
    # asked again (a restart before the answer): the same remainder, never a second one
    assert state.decide(1063.0, None)[1].qty == Decimal(7)


@pytest.mark.parametrize(
    ("side", "reference", "chased"),
    [
        (Side.BUY, "100.33", False),  # exactly chase_pct past: not more than
        (Side.BUY, "100.34", True),
        (Side.BUY, "90", False),  # moved toward the limit: it should fill
        (Side.SELL, "99.67", False),
        (Side.SELL, "99.66", True),
        (Side.SELL, "120", False),
    ],
)
def test_the_price_chases_when_it_moves_more_than_chase_pct_past_the_limit(
    side: Side, reference: str, chased: bool
) -> None:
    _, action = chase(side).decide(1001.0, Decimal(reference))
    assert (action.kind == "cancel") is chased
    assert action.why is (Why.PRICE if chased else None)


def test_nothing_runs_while_the_market_cannot_fill() -> None:
    closed = Chase(LIMIT_ID, Side.BUY, Decimal(10), Decimal(100), **TERMS)
    assert closed.decide(10**9, Decimal(1000))[1].kind == "wait"
    opened = closed.market_opened(5000.0)
    assert opened.market_opened(9000.0).started == 5000.0  # the timer starts once
    assert opened.decide(5059.0, None)[1].kind == "wait"
    assert opened.decide(5060.0, None)[1].why is Why.TIMER


def test_a_limit_ended_by_someone_else_gets_no_remainder() -> None:
    for status in (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED):
        state, action = chase().with_limit(status, Decimal(2)).decide(2000.0, Decimal(200))
        assert action.kind == "done" and state.remainder_qty is None


def test_a_final_status_and_filled_quantity_never_go_back() -> None:
    state = chase().with_limit(OrderStatus.PARTIALLY_FILLED, Decimal(6))
    state = state.with_limit(OrderStatus.PENDING, Decimal(2))  # a stale update, late
    assert state.filled == Decimal(6)
    state = state.with_limit(OrderStatus.CANCELED, Decimal(6))
    assert state.with_limit(OrderStatus.PARTIALLY_FILLED, Decimal(6)).status is OrderStatus.CANCELED
    with pytest.raises(ValueError, match="12 filled"):
        state.with_limit(OrderStatus.FILLED, Decimal(12))


# one broker-side step: fill some shares (possibly while the cancel is in flight), deliver a
# (maybe stale) update, confirm a requested cancel, or let time pass
steps = st.lists(
    st.one_of(
        st.tuples(st.just("fill"), st.integers(1, 10)),
        st.tuples(st.just("stale"), st.integers(0, 10)),
        st.tuples(st.just("confirm"), st.just(0)),
        st.tuples(st.just("tick"), st.integers(0, 90)),
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(planned=st.integers(1, 10), script=steps)
def test_the_leg_total_is_never_more_than_planned(
    planned: int, script: list[tuple[str, int]]
) -> None:
    """A model broker: fills arrive at any moment, including after the cancel was asked and
    before it is confirmed; updates may be stale. The chase must send at most one remainder,
    only after the limit is final, of exactly planned minus what the broker filled."""
    state = Chase(LIMIT_ID, Side.BUY, Decimal(planned), Decimal(100), **TERMS)
    state = state.market_opened(0.0)
    filled, final, cancel_asked, now = 0, False, False, 0.0
    sent: list[Decimal] = []
    for kind, n in [*script, ("confirm", 0), ("tick", 0)]:
        if kind == "fill" and not final:
            filled = min(planned, filled + n)
            final = filled == planned
            status = OrderStatus.FILLED if final else OrderStatus.PARTIALLY_FILLED
            state = state.with_limit(status, Decimal(filled))
        elif kind == "stale":
            state = state.with_limit(OrderStatus.PARTIALLY_FILLED, Decimal(min(n, filled)))
        elif kind == "confirm" and cancel_asked and not final:
            final = True
            state = state.with_limit(OrderStatus.CANCELED, Decimal(filled))
        elif kind == "tick":
            now += n
        state, action = state.decide(now, None)
        if action.kind == "cancel":
            assert not cancel_asked
            cancel_asked = True
        elif action.kind == "send_remainder":
            assert final, "a remainder before the limit was confirmed final"
            sent.append(action.qty)
            break  # the chaser sends it and forgets the chase (execution/chaser.py)
    assert filled + sum(sent, Decimal(0)) <= planned
    if cancel_asked:  # chased: the leg ends with exactly what was planned
        assert filled + sum(sent, Decimal(0)) == planned


@pytest.mark.parametrize(("after", "pct"), [("0.001", "0"), ("86400", "10")])
def test_every_chase_the_config_accepts_is_followed(after: str, pct: str) -> None:
    """The config is the one range of ``chase_after`` and ``chase_pct`` (the chase has none of
    its own): at the edges it accepts, the chase runs its timer and its price trigger."""
    algo = make_config(
        {16: {"order_type": "limit_then_market", "chase_after": after, "chase_pct": pct}}
    ).algorithms[16]
    state = Chase(
        LIMIT_ID,
        Side.BUY,
        Decimal(10),
        Decimal(100),
        chase_after=algo.chase_after,
        chase_pct=algo.chase_pct,
    ).market_opened(0.0)
    assert state.decide(0.0, Decimal(100))[1].kind == "wait"
    assert state.decide(algo.chase_after, None)[1].why is Why.TIMER
    past = Decimal(100) * (1 + algo.chase_pct / 100) + Decimal("0.01")
    assert state.decide(0.0, past)[1].why is Why.PRICE
