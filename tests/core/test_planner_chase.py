"""``order_type: limit_then_market``: a limit priced like any limit (the reference price plus
the offset, within the collar), carrying the algorithm's chase terms; the config's rules."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from tests.core.helpers import make_config, make_signal, run
from tradebot.core.order_shape import ChaseTerms, OrderType
from tradebot.core.planner import DayState


def test_limit_then_market_goes_out_as_a_limit_with_its_chase_terms() -> None:
    config = make_config(
        {
            16: {
                "order_type": "limit_then_market",
                "limit_offset_pct": "0.5",
                "chase_after": 30,
                "chase_pct": "0.5",
            }
        },
        risk={"price_collar_pct": "0.2"},
    )
    result = run(make_signal(opens=[("BUY", "buy", "100.00")]), config=config)
    (intent,) = result.intents
    assert intent.order_type is OrderType.LIMIT
    assert intent.limit_price == D("100.20")  # the reference plus the offset, collared
    assert intent.chase == ChaseTerms(30.0, D("0.5"))


def test_the_chase_defaults_and_plain_types_carry_no_chase() -> None:
    signal = make_signal(opens=[("AAPL", "buy", "150")])
    chased = run(signal, config=make_config({16: {"order_type": "limit_then_market"}}))
    assert chased.intents[0].chase == ChaseTerms(60.0, D("0.33"))
    for kind in ("market", "limit"):
        plain = run(signal, config=make_config({16: {"order_type": kind}}))
        assert plain.intents[0].chase is None


def test_a_closed_market_keeps_the_policy_and_the_chase() -> None:
    closed = DayState(market_open=False)
    signal = make_signal(opens=[("AAPL", "buy", "150")])
    config = make_config(
        {16: {"order_type": "limit_then_market", "market_closed": "extended_hours"}}
    )
    intent = run(signal, config=config, day=closed).intents[0]
    assert intent.extended_hours and intent.chase is not None  # the timer waits for the open
    skip = make_config({16: {"order_type": "limit_then_market", "market_closed": "skip"}})
    assert run(signal, config=skip, day=closed).intents == ()


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"time_in_force": "ioc"}, "needs time_in_force day or gtc"),
        ({"chase_after": 0}, "chase_after"),
        ({"chase_pct": -1}, "chase_pct"),
    ],
)
def test_the_config_refuses_a_chase_that_cannot_work(keys: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_config({16: {"order_type": "limit_then_market", **keys}})
