from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import load_fixture
from tradebot.core.signal import LegKind, Side, parse_signal, parse_timestamp
from tradebot.core.strict_json import loads
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
            {"price": 10, "side": "short", "symbol": "AAA", "timestamp": "2021-04-26T14:30:01"},
            {"price": -1, "side": "buy", "symbol": "BBB", "timestamp": "2021-04-26T14:30:01"},
            {"price": 5, "side": " BUY ", "symbol": " ccc ", "timestamp": "2021-04-26T14:30:01"},
        ],
    }
    signal = parse_signal(14, payload, received_at=NOW)
    assert [leg.symbol for leg in signal.open_legs] == ["CCC"]
    reasons = [r.reason for r in signal.rejected]
    assert reasons == [
        "missing symbol",
        "unknown side 'short' (expected buy, sell or hold)",
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
    arrived = len(closes) + len(opens) or 1  # a signal with no legs is rejected as such
    assert len(signal.close_legs) + len(signal.open_legs) + len(signal.rejected) == arrived
    assert all(r.reason for r in signal.rejected)


def test_a_key_repeated_with_different_values_rejects_that_group_only() -> None:
    leg = {"price": 1, "side": "buy", "symbol": "AAA", "timestamp": "2021-04-26T14:30:00"}
    signal = parse_signal(14, {"open": [leg], " open": [], "close": [leg]}, received_at=NOW)
    assert [leg.symbol for leg in signal.close_legs] == ["AAA"]
    assert signal.open_legs == ()
    assert [r.kind for r in signal.rejected] == [LegKind.OPEN]
    assert "appears 2 times" in signal.rejected[0].reason


def test_timestamps_outside_the_calendar_are_rejected_not_raised() -> None:
    for text in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        with pytest.raises(InvalidSignal):
            parse_timestamp(text, UTC)


# -- hostile symbols, duplicate keys, prices, future stamps (issue 10 §2) -------------------------


def _leg(symbol: object = "AAA", **extra: object) -> dict[str, object]:
    leg: dict[str, object] = {
        "price": 10,
        "side": "buy",
        "symbol": symbol,
        "timestamp": "2021-04-26T14:30:01",
    }
    leg.update(extra)
    return leg


@pytest.mark.parametrize(
    "symbol",
    [
        "ß",
        "ﬁ",
        "ǆ",
        "ＡＡＰＬ",
        "\u00a0AAPL",
        "AAPL\u3000",
        "BRK-B",
        "A..B",
        ".A",
        "A/",
        "X" * 16,
        "İ",
    ],
)
def test_non_ascii_or_non_ticker_symbols_are_rejected_never_normalised(symbol: str) -> None:
    signal = parse_signal(14, {"open": [_leg(symbol)]}, received_at=NOW)
    assert signal.open_legs == ()
    assert len(signal.rejected) == 1 and "symbol" in signal.rejected[0].reason


@pytest.mark.parametrize("symbol", [" brk.b ", "BTC/USD", "\tmsft\n", "A" * 15])
def test_ascii_tickers_are_trimmed_and_upper_cased(symbol: str) -> None:
    signal = parse_signal(14, {"open": [_leg(symbol)]}, received_at=NOW)
    assert [leg.symbol for leg in signal.open_legs] == [symbol.strip().upper()]


def test_non_ascii_keys_name_no_field() -> None:
    # "\u212a" (Kelvin sign) lower-cases to ASCII "k"; "ſ" would survive case folding to "s"
    leg = {"price": 10, "side": "buy", "ſymbol": "AAA", "timestamp": "2021-04-26T14:30:01"}
    signal = parse_signal(14, {"open": [leg]}, received_at=NOW)
    assert [r.reason for r in signal.rejected] == ["missing symbol"]


def test_a_key_repeated_in_a_leg_rejects_that_leg_with_both_values() -> None:
    payload = loads(
        '{"open": [{"symbol": "RKA", "symbol": "RKB", "side": "buy", "price": 1,'
        ' "timestamp": "2021-04-26T14:30:01"}, '
        '{"symbol": "OK", "side": "buy", "price": 1, "timestamp": "2021-04-26T14:30:01"}]}'
    )
    signal = parse_signal(14, payload, received_at=NOW)
    assert [leg.symbol for leg in signal.open_legs] == ["OK"]
    (rejected,) = signal.rejected
    assert rejected.index == 0
    assert "'symbol' appears 2 times" in rejected.reason and "RKA" in rejected.reason


def test_a_key_repeated_deep_inside_a_leg_rejects_that_leg() -> None:
    payload = loads(
        '{"open": [{"symbol": "AAA", "side": "buy", "price": 1, "meta": {"x": 1, "x": 2},'
        ' "timestamp": "2021-04-26T14:30:01"}]}'
    )
    signal = parse_signal(14, payload, received_at=NOW)
    assert signal.open_legs == () and "'x' appears 2 times" in signal.rejected[0].reason


def test_a_field_named_twice_with_equal_values_is_still_rejected() -> None:
    leg = _leg(**{" symbol": "AAA"})
    signal = parse_signal(14, {"open": [leg]}, received_at=NOW)
    assert signal.open_legs == () and "appears twice" in signal.rejected[0].reason


def test_a_group_repeated_in_the_payload_is_rejected_whole_and_the_other_survives() -> None:
    payload = loads(
        '{"close": [{"symbol": "CCC", "side": "sell", "price": 1,'
        ' "timestamp": "2021-04-26T14:30:00"}],'
        ' "open": [{"symbol": "AAA", "side": "buy", "price": 1,'
        ' "timestamp": "2021-04-26T14:30:01"}],'
        ' "open": [{"symbol": "BBB", "side": "buy", "price": 1,'
        ' "timestamp": "2021-04-26T14:30:01"}]}'
    )
    signal = parse_signal(14, payload, received_at=NOW)
    assert [leg.symbol for leg in signal.close_legs] == ["CCC"]
    assert signal.open_legs == ()
    (rejected,) = signal.rejected
    assert rejected.kind is LegKind.OPEN and rejected.index is None
    assert "AAA" in rejected.raw and "BBB" in rejected.raw  # both copies are on record


@pytest.mark.parametrize(
    "price",
    [
        "1_000",
        "1e3",
        "NaN",
        " nan",
        "Infinity",
        "0x10",
        "١٠",
        "+5",
        "-1",
        0,
        -3.5,
        1e300,
        10**40,
        "0.00001",
        True,
        None,
        [1],
        float("nan"),
        float("inf"),
    ],
)
def test_prices_that_are_not_plain_positive_bounded_numbers_are_rejected(price: object) -> None:
    signal = parse_signal(14, {"open": [_leg(price=price)]}, received_at=NOW)
    assert signal.open_legs == () and signal.rejected[0].reason


def test_a_huge_integer_price_is_one_bad_leg_not_an_unreadable_frame() -> None:
    text = '{"open": [{"symbol": "AAA", "side": "buy", "price": 1' + "0" * 5000 + ","
    text += ' "timestamp": "2021-04-26T14:30:01"}, ' + '{"symbol": "BBB", "side": "buy",'
    text += ' "price": 2, "timestamp": "2021-04-26T14:30:01"}]}'
    signal = parse_signal(14, loads(text), received_at=NOW)
    assert [leg.symbol for leg in signal.open_legs] == ["BBB"]
    assert "outside" in signal.rejected[0].reason


@pytest.mark.parametrize("price", ["216.08", " 87.1 ", 216.08, 5, "0.0001", 9_999_999])
def test_plain_prices_are_accepted_exactly(price: object) -> None:
    signal = parse_signal(14, {"open": [_leg(price=price)]}, received_at=NOW)
    assert signal.open_legs[0].price == Decimal(str(price).strip())


def test_timestamps_beyond_the_tolerance_in_the_future_are_rejected() -> None:
    near = _leg("NEAR", timestamp="2021-04-26T14:32:00")  # 118 s after NOW
    far = _leg("FAR", timestamp="2021-04-26T14:32:05")  # 123 s after NOW
    digits = _leg("WIDE", timestamp="２０２１-04-26T14:30:00")
    signal = parse_signal(14, {"open": [near, far, digits]}, received_at=NOW)
    assert [leg.symbol for leg in signal.open_legs] == ["NEAR"]
    assert "in the future" in signal.rejected[0].reason
    assert "not an ISO date" in signal.rejected[1].reason


# -- hold and weight (issue 12) --------------------------------------------------------------------


def test_a_hold_leg_is_held_not_traded_and_not_rejected() -> None:
    payload = {
        "close": [_leg("AAA", side="HOLD ")],
        "open": [_leg("BBB", side="hold", price=None), _leg("CCC")],
    }
    signal = parse_signal(14, payload, received_at=NOW)
    assert [leg.symbol for leg in signal.legs] == ["CCC"]
    assert [(h.kind, h.symbol) for h in signal.held] == [
        (LegKind.CLOSE, "AAA"),
        (LegKind.OPEN, "BBB"),
    ]
    assert signal.held[0].key == "14:close:AAA:hold:2021-04-26T14:30:01Z"
    assert signal.rejected == () and signal.leg_count == 3


def test_a_hold_leg_is_still_validated() -> None:
    signal = parse_signal(14, {"open": [_leg("ß", side="hold")]}, received_at=NOW)
    assert signal.held == () and "not ASCII" in signal.rejected[0].reason


def test_open_weights_are_parsed_and_close_weights_ignored() -> None:
    payload = {
        "close": [_leg("OLD", side="sell", weight="junk")],
        "open": [_leg("AAA", weight=0.25), _leg("BBB", weight="0.5"), _leg("CCC")],
    }
    signal = parse_signal(14, payload, received_at=NOW)
    assert [leg.weight for leg in signal.legs] == [None, Decimal("0.25"), Decimal("0.5"), None]


@pytest.mark.parametrize("weight", [0, -0.1, 1.01, "1_0", "abc", float("nan"), True, [0.5]])
def test_a_bad_weight_rejects_the_leg(weight: object) -> None:
    signal = parse_signal(14, {"open": [_leg(weight=weight), _leg("BBB")]}, received_at=NOW)
    assert [leg.symbol for leg in signal.open_legs] == ["BBB"]
    assert "weight" in signal.rejected[0].reason


def test_weights_adding_up_past_the_whole_allocation_are_refused() -> None:
    opens = [_leg("AAA", weight=0.6), _leg("BBB", weight=0.5), _leg("CCC")]
    signal = parse_signal(14, {"open": opens}, received_at=NOW)
    assert [leg.symbol for leg in signal.open_legs] == ["CCC"]
    assert [r.index for r in signal.rejected] == [0, 1]
    assert "add up to 1.1" in signal.rejected[0].reason
