"""Alpaca's nested legs read into snapshots named by our ids; hostile leg JSON never crashes the
parser: it is a BrokerError with a reason, or a snapshot whose legs are exits."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tradebot.broker.alpaca.convert import order_snapshot
from tradebot.core.order_snapshot import OrderStatus
from tradebot.exceptions import BrokerError

PARENT = "tb1-AAPL-o-00000000000000e1"


def order(cid: str = PARENT, **fields: Any) -> dict[str, Any]:
    base = {
        "id": "b-" + cid,
        "client_order_id": cid,
        "symbol": "AAPL",
        "side": "buy",
        "qty": "10",
        "filled_qty": "0",
        "status": "new",
        "type": "market",
        "order_class": "bracket",
        "legs": None,
    }
    return base | fields


def test_legs_are_named_by_their_type_under_the_parent() -> None:
    take = order("6b1e8f0c-leg1", side="sell", type="limit", status="held", order_class="bracket")
    stop = order("0c9d-leg2", side="sell", type="stop", status="filled", filled_qty="10")
    snap = order_snapshot(order(legs=[take, stop]))
    assert [(leg.client_order_id, leg.broker_order_id, leg.status) for leg in snap.legs] == [
        (PARENT + "-tp", "b-6b1e8f0c-leg1", OrderStatus.PENDING),
        (PARENT + "-sl", "b-0c9d-leg2", OrderStatus.FILLED),
    ]
    oco = order_snapshot(order(PARENT + "-tp", type="limit", legs=[order("x", type="stop")]))
    assert [leg.client_order_id for leg in oco.legs] == [PARENT + "-sl"]


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_leg = st.fixed_dictionaries(
    {},
    optional={
        "id": _json,
        "client_order_id": _json,
        "symbol": _json,
        "side": st.sampled_from(["buy", "sell"]) | _json,
        "qty": st.sampled_from(["1", "-1", "NaN", "1e999999", ""]) | _json,
        "filled_qty": _json,
        "filled_avg_price": _json,
        "status": st.sampled_from(["new", "held", "filled"]) | _json,
        "type": st.sampled_from(["limit", "stop", "stop_limit", "trailing_stop"]) | _json,
        "submitted_at": st.sampled_from(["2026-11-24T14:30:00Z", "yesterday"]) | _json,
        "legs": _json,
    },
)


@given(st.lists(_leg | _json, max_size=3) | _json)
def test_hostile_legs_never_crash_the_parser(legs: Any) -> None:
    try:
        snap = order_snapshot(order(legs=legs))
    except BrokerError as exc:
        assert str(exc).startswith("Alpaca sent")
        return
    assert all(leg.client_order_id in (PARENT + "-tp", PARENT + "-sl") for leg in snap.legs)


def test_a_replaced_leg_has_ended() -> None:
    """Alpaca ends a bracket's take-profit "replaced" when its stop-loss fills: it never fills
    again (tradebot replaces nothing), so it is over, not pending forever."""
    take = order("leg1", side="sell", type="limit", status="replaced")
    (leg,) = order_snapshot(order(status="filled", legs=[take])).legs
    assert (leg.status, leg.reason) == (OrderStatus.CANCELED, "replaced")
