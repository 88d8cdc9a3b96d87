"""The local Alpaca server's advanced orders over plain HTTP: Alpaca's validations (422), the
order JSON of brackets and their legs (nested or not), held legs that cover what the entry
filled, shares held for open sells in the position."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer

from .openapi import validate
from .test_simulator import SPEC, call, schema

BUY = {"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market", "time_in_force": "gtc"}
TP, SL = {"limit_price": "105"}, {"stop_price": "95"}


def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (a condition wait, not a timed assertion)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def post(server: AlpacaServer, **body: Any) -> tuple[int, Any]:
    answer = call(server, "POST", "/v2/orders", json=body)
    return answer.status_code, answer.json()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"order_class": "bracket", "take_profit": TP}, "bracket orders require both"),
        ({"order_class": "bracket", "stop_loss": SL}, "bracket orders require both"),
        ({"order_class": "oto"}, "exactly one of take_profit and stop_loss"),
        ({"order_class": "oto", "take_profit": TP, "stop_loss": SL}, "exactly one"),
        ({"order_class": "oco", "take_profit": TP, "stop_loss": SL}, "oco orders must be limit"),
        (
            {"order_class": "bracket", "take_profit": {"limit_price": "99"}, "stop_loss": SL},
            "take_profit.limit_price must be >= base_price + 0.01",
        ),
        (
            {"order_class": "bracket", "take_profit": TP, "stop_loss": {"stop_price": "100"}},
            "stop_loss.stop_price must be <= base_price - 0.01",
        ),
        (
            {"side": "sell", "order_class": "bracket", "take_profit": TP, "stop_loss": SL},
            "take_profit.limit_price must be <= base_price - 0.01",
        ),
        (
            {
                "type": "limit",
                "limit_price": "90",
                "order_class": "bracket",
                "take_profit": TP,
                "stop_loss": SL,
            },
            "stop_loss.stop_price must be <= base_price - 0.01 (90)",
        ),
        (
            {"time_in_force": "ioc", "order_class": "bracket", "take_profit": TP, "stop_loss": SL},
            "bracket orders must be day or gtc",
        ),
        ({"qty": "1.5", "order_class": "oto", "take_profit": TP}, "fractional qty"),
        (
            {
                "type": "limit",
                "limit_price": "99",
                "time_in_force": "day",
                "extended_hours": True,
                "order_class": "oto",
                "take_profit": TP,
            },
            "extended_hours is not supported",
        ),
        ({"take_profit": TP}, "need order_class bracket, oto or oco"),
        ({"order_class": "mleg"}, "not supported"),
        ({"type": "stop"}, "stop_price is required"),
        ({"type": "stop", "stop_price": "95.001"}, "sub-penny increment"),
        ({"type": "trailing_stop", "side": "sell"}, "exactly one of trail_percent and trail_price"),
        ({"type": "trailing_stop", "trail_percent": "5", "trail_price": "1"}, "exactly one"),
        ({"type": "trailing_stop", "trail_percent": "0"}, "trail_percent must be > 0"),
        ({"type": "trailing_stop", "trail_percent": "5", "qty": "0.5"}, "fractional qty"),
        ({"type": "trailing_stop", "trail_percent": "5", "time_in_force": "opg"}, "day or gtc"),
        (
            {
                "type": "trailing_stop",
                "trail_percent": "5",
                "order_class": "bracket",
                "take_profit": TP,
                "stop_loss": SL,
            },
            "cannot be the entry",
        ),
        ({"order_class": "bracket", "take_profit": "105", "stop_loss": SL}, "must be an object"),
        ({"order_class": "bracket", "take_profit": {}, "stop_loss": SL}, "limit_price is required"),
    ],
)
def test_advanced_orders_alpaca_refuses_are_422(
    server: AlpacaServer, body: dict[str, Any], message: str
) -> None:
    status, answer = post(server, **{**BUY, **body})
    assert (status, answer["code"]) == (422, 42210000), answer
    assert message in answer["message"]
    assert server.orders() == []  # nothing was placed, not even a leg


def test_a_bracket_and_its_legs_as_alpaca_shows_them(server: AlpacaServer) -> None:
    server.script_fills(FillScript(hold=True))
    status, placed = post(
        server, **BUY, client_order_id="e1", order_class="bracket", take_profit=TP, stop_loss=SL
    )
    assert status == 200
    assert placed["order_class"] == "bracket"
    take, stop = placed["legs"]
    assert (take["type"], take["side"], take["limit_price"], take["status"]) == (
        "limit",
        "sell",
        "105",
        "held",
    )
    assert (stop["type"], stop["stop_price"], stop["order_class"]) == ("stop", "95", "bracket")
    assert take["client_order_id"] != stop["client_order_id"] != "e1"  # Alpaca names legs
    server.fill("e1")
    for path in (
        f"/v2/orders/{placed['id']}",
        "/v2/orders:by_client_order_id?client_order_id=e1",
    ):
        answer = call(server, "GET", path).json()
        validate(SPEC, schema("Order"), answer, path)
        assert [leg["status"] for leg in answer["legs"]] == ["new", "new"], path
    flat = call(server, "GET", "/v2/orders?status=all").json()
    assert [(o["client_order_id"], o["legs"]) for o in flat][-1] == ("e1", None)
    assert {o["id"] for o in flat} == {placed["id"], take["id"], stop["id"]}
    nested = call(server, "GET", "/v2/orders?status=all&nested=true").json()
    assert [o["id"] for o in nested] == [placed["id"]]
    assert [leg["id"] for leg in nested[0]["legs"]] == [take["id"], stop["id"]]
    # the filled entry is not open: nested, its open legs are not listed as open either
    assert call(server, "GET", "/v2/orders?status=open&nested=true").json() == []
    opened = call(server, "GET", "/v2/orders?status=open").json()
    assert {o["id"] for o in opened} == {take["id"], stop["id"]}
    position = call(server, "GET", "/v2/positions/AAPL").json()
    validate(SPEC, schema("Position"), position)
    assert (position["qty"], position["qty_available"]) == ("10", "0")


def test_the_legs_cover_what_a_canceled_entry_filled(server: AlpacaServer) -> None:
    server.script_fills(FillScript(hold=True))
    entry = {**BUY, "type": "limit", "limit_price": "100", "client_order_id": "e2"}
    post(server, **entry, order_class="bracket", take_profit=TP, stop_loss=SL)
    server.fill("e2", Decimal(4))
    assert {leg["status"] for leg in server.legs("e2")} == {"held"}  # the entry may fill more
    server.cancel("e2")
    assert [(leg["status"], leg["qty"]) for leg in server.legs("e2")] == [("new", "4")] * 2
    position = call(server, "GET", "/v2/positions/AAPL").json()
    assert position["qty_available"] == "0"


def test_a_trailing_stop_by_price_and_an_oco_with_a_stop_limit_leg(server: AlpacaServer) -> None:
    server.script_fills(FillScript(hold=True))
    post(server, **{**BUY, "client_order_id": "b"})
    server.fill("b")
    server.script_fills(FillScript(limits_cross=True))
    sell = {k: v for k, v in BUY.items() if k != "type"} | {"side": "sell", "qty": "5"}
    status, trailing = post(
        server, **sell, type="trailing_stop", trail_price="2.5", client_order_id="t"
    )
    assert status == 200 and (trailing["hwm"], trailing["stop_price"]) == ("100", "97.5")
    status, oco = post(
        server,
        **sell,
        type="limit",
        client_order_id="o",
        order_class="oco",
        take_profit=TP,
        stop_loss={"stop_price": "96", "limit_price": "95.5"},
    )
    assert status == 200 and oco["limit_price"] == "105"
    for placed in (trailing, oco):
        validate(SPEC, schema("Order"), placed)
    (leg,) = oco["legs"]
    assert (leg["type"], leg["status"], leg["stop_price"], leg["limit_price"]) == (
        "stop_limit",
        "new",
        "96",
        "95.5",
    )
    server.set_price("AAPL", Decimal(101))  # the trailing stop follows: 98.50
    server.set_price("AAPL", Decimal("95.9"))  # both stops reached
    until(lambda: server.account.positions["AAPL"].qty == 0)  # fills run on the server's loop
    orders = {o["client_order_id"]: o for o in server.orders()}
    assert orders["t"]["status"] == "filled" and orders["t"]["filled_avg_price"] == "95.9"
    # the stop-limit triggered and sells at its limit: 95.90 is through 95.50
    assert (orders[leg["client_order_id"]]["status"], orders["o"]["status"]) == (
        "filled",
        "canceled",
    )
