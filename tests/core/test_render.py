from __future__ import annotations

import json

from tests.core.helpers import make_book, make_config, make_signal, run
from tradebot.core.render import plan_json, plan_table, plan_to_dict
from tradebot.core.signal import parse_signal

SIGNAL = make_signal(
    closes=[("VRTX", "buy", "216.08"), ("NOPE", "sell", "1")],
    opens=[("JBHT", "buy", "168.56")],
)


def test_json_round_trips_exact_decimals() -> None:
    result = run(SIGNAL, make_book(a16_VRTX="2.5"))
    data = json.loads(plan_json(result))
    assert data == plan_to_dict(result)
    first = data["intents"][0]
    assert first["qty"] == "2.5" and first["reference_price"] == "216.08"
    assert first["group"] == "close" and first["legs"] == ["16:close:VRTX:buy:2021-04-26T14:30:00Z"]
    assert data["skipped"] == [
        {
            "leg": "16:close:NOPE:sell:2021-04-26T14:30:00Z",
            "reason": "not_held",
            "detail": "algorithm 16 holds no NOPE",
        }
    ]


def test_table_lists_orders_then_skipped_legs_then_notes() -> None:
    config = make_config({16: {"order_type": "limit"}})
    text = plan_table(run(SIGNAL, make_book(a16_VRTX=3), config))
    lines = text.splitlines()
    assert lines[0].startswith("Orders")
    assert lines[1].split() == [
        "#", "group", "side", "qty", "symbol", "type", "tif", "price", "notional", "client", "id",
    ]  # fmt: skip
    assert lines[2].split()[:8] == ["1", "close", "sell", "3", "VRTX", "limit", "day", "216.08"]
    assert "leg: 16:close:VRTX:buy:2021-04-26T14:30:00Z" in text
    assert "note: sized: fixed 10 shares -> 10" in text
    assert "Skipped legs:" in text and "not_held  algorithm 16 holds no NOPE" in text


def test_unparsed_legs_are_labelled_by_position() -> None:
    payload = {"open": [{"symbol": "A"}], "close": "nope"}
    signal = parse_signal(16, payload, received_at=SIGNAL.received_at)
    text = plan_table(run(signal))
    assert text.startswith("No orders.")
    assert "16:close    invalid  close must be a list, got str" in text
    assert "16:open[0]  invalid  unknown side 'None'" in text
    assert json.loads(plan_json(run(signal)))["skipped"][0]["raw"] == '"nope"'
