"""The journal's intent rows keep their format: rows written before the order shape became a
sum type (``core/orders.py``) read into the new shape and are written back identically.

``ROWS`` are INTENT rows' data exactly as ``journal/records.py`` wrote them before the change
(captured from that code: every price kind and every attached shape the planner and the exit
manager make). Changing a key, a value's text or the keys' order turns this red.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tradebot.core.order_shape import (
    MARKET,
    Attached,
    Bracket,
    ChaseTerms,
    Limit,
    Oco,
    OrderPrice,
    Oto,
    Stop,
    TrailingStop,
)
from tradebot.journal.records import Entry, Status, intent_data, intent_from_entry

ROWS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "tb16-AAPL-o-m",
        "buy",
        "10",
        {
            "order_type": "market",
            "time_in_force": "day",
            "role": "open",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "187.5",
            "price_source": "signal",
            "limit_price": None,
            "extended_hours": False,
            "attempt": 0,
            "notes": ["a note"],
        },
    ),
    (
        "tb16-AAPL-o-l",
        "buy",
        "10",
        {
            "order_type": "limit",
            "time_in_force": "gtc",
            "role": "open",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "187.5",
            "price_source": "reference",
            "limit_price": "187.69",
            "extended_hours": False,
            "attempt": 2,
            "notes": [],
        },
    ),
    (
        "tb16-AAPL-o-c",
        "buy",
        "10",
        {
            "order_type": "limit",
            "time_in_force": "day",
            "role": "open",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "187.5",
            "price_source": "reference",
            "limit_price": "187.6",
            "extended_hours": False,
            "attempt": 0,
            "notes": [],
            "chase": {"after": 30.0, "pct": "0.5"},
            "exits": {"take_profit_pct": "5", "stop_loss_pct": "2"},
        },
    ),
    (
        "tb16-AAPL-o-b",
        "buy",
        "10",
        {
            "order_type": "market",
            "time_in_force": "gtc",
            "role": "open",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "187.5",
            "price_source": "reference",
            "limit_price": None,
            "extended_hours": False,
            "attempt": 0,
            "notes": ["bracket: exits priced from 187.5, take-profit 196.87, stop-loss 183.75"],
            "exits": {"take_profit_pct": "5", "stop_loss_pct": "2"},
            "order_class": "bracket",
            "take_profit_price": "196.87",
            "stop_loss_price": "183.75",
        },
    ),
    (
        "tb16-AAPL-o-b-tp",
        "sell",
        "10",
        {
            "order_type": "limit",
            "time_in_force": "gtc",
            "role": "exit",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "196.87",
            "price_source": "reference",
            "limit_price": "196.87",
            "extended_hours": False,
            "attempt": 0,
            "notes": ["take-profit 196.87 (leg of tb16-AAPL-o-b)"],
            "parent": "tb16-AAPL-o-b",
        },
    ),
    (
        "tb16-AAPL-o-b-sl",
        "sell",
        "10",
        {
            "order_type": "stop",
            "time_in_force": "gtc",
            "role": "exit",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "183.75",
            "price_source": "reference",
            "limit_price": None,
            "extended_hours": False,
            "attempt": 0,
            "notes": ["stop-loss 183.75 (leg of tb16-AAPL-o-b)"],
            "stop_price": "183.75",
            "parent": "tb16-AAPL-o-b",
        },
    ),
    (
        "tb16-AAPL-o-t",
        "buy",
        "10",
        {
            "order_type": "market",
            "time_in_force": "gtc",
            "role": "open",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "187.5",
            "price_source": "reference",
            "limit_price": None,
            "extended_hours": False,
            "attempt": 0,
            "notes": ["oto: exits priced from 187.5, stop-loss 183.75"],
            "exits": {"stop_loss_pct": "2"},
            "order_class": "oto",
            "stop_loss_price": "183.75",
        },
    ),
    (
        "tb16-AAPL-o-t-sl",
        "sell",
        "10",
        {
            "order_type": "stop",
            "time_in_force": "gtc",
            "role": "exit",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "183.75",
            "price_source": "reference",
            "limit_price": None,
            "extended_hours": False,
            "attempt": 0,
            "notes": ["stop-loss 183.75 (leg of tb16-AAPL-o-t)"],
            "stop_price": "183.75",
            "parent": "tb16-AAPL-o-t",
        },
    ),
    (
        "tb16-AAPL-o-f-tp",
        "sell",
        "10",
        {
            "order_type": "limit",
            "time_in_force": "gtc",
            "role": "exit",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "196.8",
            "price_source": "reference",
            "limit_price": "196.8",
            "extended_hours": False,
            "attempt": 0,
            "notes": ["oco from the fill price 187.43: take-profit 196.80, stop-loss 183.69"],
            "order_class": "oco",
            "take_profit_price": "196.8",
            "stop_loss_price": "183.69",
        },
    ),
    (
        "tb16-AAPL-o-f-sl",
        "sell",
        "10",
        {
            "order_type": "stop",
            "time_in_force": "gtc",
            "role": "exit",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "183.69",
            "price_source": "reference",
            "limit_price": None,
            "extended_hours": False,
            "attempt": 0,
            "notes": ["stop-loss 183.69 (leg of tb16-AAPL-o-f-tp)"],
            "stop_price": "183.69",
            "parent": "tb16-AAPL-o-f-tp",
        },
    ),
    (
        "tb16-AAPL-o-s-ts",
        "sell",
        "10",
        {
            "order_type": "trailing_stop",
            "time_in_force": "gtc",
            "role": "exit",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "187.43",
            "price_source": "reference",
            "limit_price": None,
            "extended_hours": False,
            "attempt": 0,
            "notes": ["trailing stop 1.5% from the best price"],
            "trail_pct": "1.5",
        },
    ),
    (
        "tb16-AAPL-o-p-tp",
        "sell",
        "10",
        {
            "order_type": "limit",
            "time_in_force": "gtc",
            "role": "exit",
            "legs": [
                {
                    "algo_id": 16,
                    "kind": "open",
                    "symbol": "AAPL",
                    "side": "buy",
                    "timestamp": "2026-03-02T14:30:00.123000Z",
                }
            ],
            "reference_price": "196.8",
            "price_source": "reference",
            "limit_price": "196.8",
            "extended_hours": False,
            "attempt": 0,
            "notes": ["take-profit 196.80 (from the fill price 187.43)"],
        },
    ),
]

D = Decimal
#: what each row reads as: its price and its attached exits
SHAPES: dict[str, tuple[OrderPrice, Attached | None]] = {
    "tb16-AAPL-o-m": (MARKET, None),
    "tb16-AAPL-o-l": (Limit(D("187.69")), None),
    "tb16-AAPL-o-c": (Limit(D("187.6"), ChaseTerms(chase_after=30.0, chase_pct=D("0.5"))), None),
    "tb16-AAPL-o-b": (MARKET, Bracket(take_profit=D("196.87"), stop_loss=D("183.75"))),
    "tb16-AAPL-o-b-tp": (Limit(D("196.87")), None),
    "tb16-AAPL-o-b-sl": (Stop(D("183.75")), None),
    "tb16-AAPL-o-t": (MARKET, Oto(stop_loss=D("183.75"))),
    "tb16-AAPL-o-t-sl": (Stop(D("183.75")), None),
    "tb16-AAPL-o-f-tp": (Limit(D("196.8")), Oco(take_profit=D("196.8"), stop_loss=D("183.69"))),
    "tb16-AAPL-o-f-sl": (Stop(D("183.69")), None),
    "tb16-AAPL-o-s-ts": (TrailingStop(D("1.5")), None),
    "tb16-AAPL-o-p-tp": (Limit(D("196.8")), None),
}


def _entry(cid: str, side: str, qty: str, data: dict[str, Any]) -> Entry:
    return Entry(
        id=1,
        at=datetime(2026, 3, 2, 14, 30, tzinfo=UTC),
        status=Status.INTENT,
        algo_id=16,
        symbol="AAPL",
        client_order_id=cid,
        signal_id=None,
        leg=None,
        side=side,
        qty=Decimal(qty),
        price=None,
        detail="",
        data=json.loads(json.dumps(data)),  # as the journal hands it back: parsed JSON
    )


@pytest.mark.parametrize(("cid", "side", "qty", "data"), ROWS, ids=[r[0] for r in ROWS])
def test_a_row_written_before_reads_into_the_shape_and_writes_back_identically(
    cid: str, side: str, qty: str, data: dict[str, Any]
) -> None:
    intent = intent_from_entry(_entry(cid, side, qty, data))
    assert (intent.price, intent.attached) == SHAPES[cid]
    assert json.dumps(intent_data(intent)) == json.dumps(data)


def test_every_shape_is_covered() -> None:
    assert {r[0] for r in ROWS} == set(SHAPES)
    kinds = {type(price) for price, _ in SHAPES.values()}
    assert kinds == {type(MARKET), Limit, Stop, TrailingStop}
    assert {type(a) for _, a in SHAPES.values() if a is not None} == {Bracket, Oto, Oco}


def test_a_row_from_before_reference_prices_still_reads() -> None:
    old = {
        "order_type": "market",
        "time_in_force": "day",
        "role": "open",
        "legs": ROWS[0][3]["legs"],
        "reference_price": "190.5",
        "limit_price": None,
    }
    intent = intent_from_entry(_entry("tb16-AAPL-o-old", "buy", "4", old))
    assert (intent.price, intent.attached, intent.attempt, intent.notes) == (MARKET, None, 0, ())
