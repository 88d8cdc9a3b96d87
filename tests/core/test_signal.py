from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import load_fixture
from tradebot.core.signal import LegKind, Side, parse_signal, parse_timestamp
from tradebot.exceptions import InvalidSignal

NOW = datetime(2021, 4, 26, 14, 30, 2, tzinfo=UTC)


def test_published_sample_parses_with_its_irregularities() -> None:
    frame = load_fixture("alphahub/new_signals_minotaur3.json")
    signal = parse_signal(16, frame[4], received_at=NOW)
    assert [leg.symbol for leg in signal.close_legs] == ["VRTX", "MU", "BMRN"]
    assert [leg.symbol for leg in signal.open_legs] == ["JBHT", "ILMN", "CDNS"]
    assert signal.rejected == ()
    vrtx = signal.close_legs[0]
    assert vrtx.kind is LegKind.CLOSE and vrtx.side is Side.BUY
    assert vrtx.price == Decimal("216.08")
    assert vrtx.timestamp == datetime(2021, 4, 26, 14, 30, tzinfo=UTC)
    assert signal.open_legs[0].timestamp == datetime(2021, 4, 26, 14, 30, 1, tzinfo=UTC)


def test_bad_legs_are_rejected_one_by_one_and_the_rest_survive() -> None:
    payload = {
        "close": [{"price": 1, "side": "sell", "timestamp": "2021-04-26T14:30:00"}],
        "open": [
            {"price": 10, "side": "hold", "symbol": "AAA", "timestamp": "2021-04-26T14:30:01"},
            {"price": -1, "side": "buy", "symbol": "BBB", "timestamp": "2021-04-26T14:30:01"},
            {"price": 5, "side": " BUY ", "symbol": " ccc ", "timestamp": "2021-04-26T14:30:01"},
        ],
    }
    signal = parse_signal(14, payload, received_at=NOW)
    assert [leg.symbol for leg in signal.open_legs] == ["CCC"]
    reasons = [r.reason for r in signal.rejected]
    assert reasons == [
        "missing symbol",
        "unknown side 'hold' (expected buy or sell)",
        "price must be positive, got -1",
    ]


def test_naive_timestamps_are_read_in_the_configured_zone() -> None:
    ts = parse_timestamp("2021-04-26 T10:30:00", ZoneInfo("America/New_York"))
    assert ts == datetime(2021, 4, 26, 14, 30, tzinfo=UTC)


def test_a_payload_that_is_not_an_object_is_invalid() -> None:
    with pytest.raises(InvalidSignal):
        parse_signal(14, ["close"], received_at=NOW)
