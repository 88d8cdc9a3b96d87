from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- fuzzing: no input crashes the parser ----------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
timestamps = st.sampled_from(
    [
        "2021-04-26T14:30:00",
        "2021-04-26 T14:30:00",
        "2021-04-26 14:30:00.123456789",
        "2021-04-26T14:30:00Z",
        "2021-04-26T14:30:00+05:30",
        "0001-01-01T00:00:00+01:00",  # before the first UTC instant
        "9999-12-31T23:59:59-01:00",  # after the last
        "2021-02-30T10:00:00",
        "2021-04-26T25:00:00",
        "",
        "yesterday",
    ]
) | st.text(max_size=25)
leg_values = st.fixed_dictionaries(
    {},
    optional={
        st.sampled_from(["price", " price", "PRICE"]): st.sampled_from(
            [216.08, "87.1", 0, -1, "1e400", float("nan"), float("inf"), True, None, "abc"]
        )
        | json_scalars,
        st.sampled_from(["symbol", " symbol", "Symbol "]): st.sampled_from(
            ["VRTX", " mu ", "", "BRK.B", "TOO-LONG-SYMBOL-XYZ", "ß", "ＡＡＰＬ"]
        )
        | json_scalars,
        st.sampled_from(["side", "SIDE"]): st.sampled_from(["buy", " SELL ", "hold", ""])
        | json_scalars,
        "timestamp": timestamps | json_scalars,
    },
)
legs_lists = st.lists(leg_values | json_values, max_size=4) | json_values
payloads = st.dictionaries(
    st.sampled_from(["close", "open", " open", "CLOSE", "other"]), legs_lists, max_size=4
)


@settings(max_examples=500, deadline=None)
@given(payloads | json_values)
def test_no_payload_crashes_the_parser(payload: object) -> None:
    try:
        signal = parse_signal(14, payload, received_at=NOW)
    except InvalidSignal:
        assert not isinstance(payload, dict), "only a non-object payload is refused whole"
        return
    assert isinstance(payload, dict)
    for leg in signal.legs:
        assert leg.price > 0 and leg.price.is_finite()
        assert leg.symbol == leg.symbol.strip().upper() and leg.symbol
        assert leg.timestamp.tzinfo is not None
    assert len({leg.id for leg in signal.legs}) == len(signal.legs)


@settings(max_examples=200, deadline=None)
@given(st.lists(leg_values, max_size=6), st.lists(leg_values, max_size=6))
def test_every_leg_is_either_parsed_or_rejected_with_a_reason(
    closes: list[object], opens: list[object]
) -> None:
    signal = parse_signal(14, {"close": closes, "open": opens}, received_at=NOW)
    assert len(signal.close_legs) + len(signal.open_legs) + len(signal.rejected) == len(
        closes
    ) + len(opens)
    assert all(r.reason for r in signal.rejected)


def test_a_key_repeated_with_different_values_rejects_that_group_only() -> None:
    leg = {"price": 1, "side": "buy", "symbol": "AAA", "timestamp": "2021-04-26T14:30:00"}
    signal = parse_signal(14, {"open": [leg], " open": [], "close": [leg]}, received_at=NOW)
    assert [leg.symbol for leg in signal.close_legs] == ["AAA"]
    assert signal.open_legs == ()
    assert [r.kind for r in signal.rejected] == [LegKind.OPEN]
    assert "appears twice" in signal.rejected[0].reason


def test_timestamps_outside_the_calendar_are_rejected_not_raised() -> None:
    for text in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        with pytest.raises(InvalidSignal):
            parse_timestamp(text, UTC)
