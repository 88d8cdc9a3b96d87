"""Classifying missed history legs against the algorithm's own ledger (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tradebot.alphahub.history import HistoryLeg
from tradebot.core.orders import SkipReason
from tradebot.core.signal import LegKind, Side, SignalSource
from tradebot.runtime.missed import classify

T0 = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)


def hleg(symbol: str, side: str | None, seconds: int = 0, price: str = "10") -> HistoryLeg:
    return HistoryLeg(
        16,
        symbol,
        None if side is None else Side(side),
        None if side is None else Decimal(price),
        T0 + timedelta(seconds=seconds),
        "{}",
    )


def kinds(result: object) -> list[tuple[str, str, str]]:
    out = []
    for rec in result.recovered:  # type: ignore[attr-defined]
        out += [(str(leg.kind), leg.symbol, str(leg.side)) for leg in rec.signal.legs]
        out += [("ambiguous", s.leg_id.symbol, str(s.leg_id.side)) for s in rec.ambiguous]
    return out


def test_a_leg_on_a_symbol_not_held_is_an_open_in_its_direction() -> None:
    result = classify(16, [hleg("JBHT", "buy"), hleg("CDNS", "sell")], {}, received_at=NOW)
    assert kinds(result) == [("open", "JBHT", "buy"), ("open", "CDNS", "sell")]
    (rec,) = result.recovered
    assert rec.signal.source is SignalSource.BACKFILL
    assert rec.signal.received_at == NOW and rec.timestamp == T0


def test_a_leg_that_reduces_the_holding_is_a_close() -> None:
    holdings = {"VRTX": Decimal(10), "CDNS": Decimal(-5)}
    result = classify(16, [hleg("VRTX", "sell"), hleg("CDNS", "buy")], holdings, received_at=NOW)
    assert kinds(result) == [("close", "VRTX", "sell"), ("close", "CDNS", "buy")]


def test_a_leg_that_would_add_to_a_holding_is_ambiguous_and_not_traded() -> None:
    result = classify(16, [hleg("VRTX", "buy")], {"VRTX": Decimal(10)}, received_at=NOW)
    (rec,) = result.recovered
    assert rec.signal.legs == ()
    (skip,) = rec.ambiguous
    assert skip.reason is SkipReason.BACKFILL_AMBIGUOUS
    assert "add to the VRTX held" in skip.detail and "holds long" in skip.detail


def test_two_legs_for_one_symbol_at_one_time_are_both_ambiguous() -> None:
    # a flip flattened: close sell + open sell (same side, same symbol, same time)
    legs = [hleg("VRTX", "sell"), hleg("VRTX", "sell", price="11"), hleg("MU", "buy")]
    result = classify(16, legs, {"VRTX": Decimal(10)}, received_at=NOW)
    assert kinds(result) == [
        ("open", "MU", "buy"),
        ("ambiguous", "VRTX", "sell"),
        ("ambiguous", "VRTX", "sell"),
    ]


def test_legs_with_one_timestamp_form_one_signal_closes_first_oldest_first() -> None:
    legs = [  # newest first, as the history answers
        hleg("JBHT", "buy", seconds=1),
        hleg("MU", "buy", seconds=0),
        hleg("VRTX", "sell", seconds=0),
    ]
    result = classify(16, legs, {"VRTX": Decimal(3)}, received_at=NOW)
    assert [r.timestamp for r in result.recovered] == [T0, T0 + timedelta(seconds=1)]
    first, second = result.recovered
    assert [leg.symbol for leg in first.signal.legs] == ["VRTX", "MU"]  # closes first
    assert first.signal.legs[0].kind is LegKind.CLOSE
    assert [leg.symbol for leg in second.signal.legs] == ["JBHT"]


def test_later_legs_see_what_earlier_missed_legs_did() -> None:
    # the algorithm opened X, then closed it, then opened it short: all missed
    legs = [hleg("X", "buy", 0), hleg("X", "sell", 60), hleg("X", "sell", 120)]
    result = classify(16, legs, {}, received_at=NOW)
    assert kinds(result) == [("open", "X", "buy"), ("close", "X", "sell"), ("open", "X", "sell")]


def test_hold_legs_are_not_trades() -> None:
    result = classify(16, [hleg("MU", None), hleg("JBHT", "buy")], {}, received_at=NOW)
    assert [h.symbol for h in result.holds] == ["MU"]
    assert kinds(result) == [("open", "JBHT", "buy")]


_legs = st.lists(
    st.builds(
        hleg,
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(["buy", "sell", None]),
        st.integers(0, 3),
    ),
    max_size=12,
)
_holdings = st.dictionaries(
    st.sampled_from(["A", "B", "C"]), st.integers(-5, 5).map(Decimal), max_size=3
)


@given(_legs, _holdings)
def test_every_missed_leg_is_traded_skipped_or_a_hold_exactly_once(
    legs: list[HistoryLeg], holdings: dict[str, Decimal]
) -> None:
    result = classify(16, legs, holdings, received_at=NOW)
    out = [(leg.symbol, leg.side, leg.timestamp) for r in result.recovered for leg in r.signal.legs]
    out += [
        (s.leg_id.symbol, s.leg_id.side, s.leg_id.timestamp)
        for r in result.recovered
        for s in r.ambiguous
        if s.leg_id is not None
    ]
    out += [(h.symbol, h.side, h.timestamp) for h in result.holds]
    assert sorted(out, key=str) == sorted(((x.symbol, x.side, x.timestamp) for x in legs), key=str)
    for rec in result.recovered:
        # never a leg that adds to what the projected ledger holds
        assert all(leg.timestamp == rec.timestamp for leg in rec.signal.legs)
        assert len({leg.symbol for leg in rec.signal.legs}) == len(rec.signal.legs)
