"""Classifying missed history legs against the algorithm's own ledger (pure)."""

from __future__ import annotations

from dataclasses import replace
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


def test_identical_legs_for_one_symbol_at_one_time_are_both_ambiguous() -> None:
    # a flip flattened: close sell + open sell (same side, same symbol, same time), or a repeat
    legs = [hleg("VRTX", "sell"), hleg("VRTX", "sell"), hleg("MU", "buy")]
    result = classify(16, legs, {"VRTX": Decimal(10)}, received_at=NOW)
    assert kinds(result) == [
        ("open", "MU", "buy"),
        ("ambiguous", "VRTX", "sell"),
        ("ambiguous", "VRTX", "sell"),
    ]


def refusals(result: object) -> list[tuple[str, str, str]]:
    out = []
    for rec in result.recovered:  # type: ignore[attr-defined]
        for r in rec.signal.rejected:
            assert r.leg_id is not None  # decided: the journal keeps its identity
            out.append((str(r.refusal), r.leg_id.symbol, str(r.leg_id.side)))
    return out


def test_legs_of_one_symbol_that_disagree_at_one_time_are_all_contradictory() -> None:
    """The history's group of one time is judged as a live signal: an open buy and an open sell
    of AAPL (or one side at two prices) are refused, never one of them traded."""
    legs = [hleg("AAPL", "buy"), hleg("AAPL", "sell"), hleg("MU", "buy")]
    legs += [hleg("VRTX", "sell"), hleg("VRTX", "sell", price="11")]
    result = classify(16, legs, {"VRTX": Decimal(10)}, received_at=NOW)
    assert kinds(result) == [("open", "MU", "buy")]
    assert refusals(result) == [
        ("contradictory", "AAPL", "buy"),
        ("contradictory", "AAPL", "sell"),
        ("contradictory", "VRTX", "sell"),
        ("contradictory", "VRTX", "sell"),
    ]
    (rec,) = result.recovered
    assert "contradict each other on AAPL (buy @ 10, sell @ 10)" in rec.signal.rejected[0].reason


def test_after_a_contradiction_the_symbol_is_unknown_and_its_later_legs_ambiguous() -> None:
    legs = [hleg("AAPL", "buy"), hleg("AAPL", "sell"), hleg("AAPL", "sell", seconds=60)]
    result = classify(16, legs, {}, received_at=NOW)
    assert kinds(result) == [("ambiguous", "AAPL", "sell")]
    assert "contradicted itself on AAPL" in result.recovered[1].ambiguous[0].detail


def wleg(symbol: str, weight: str | None) -> HistoryLeg:
    leg = hleg(symbol, "buy")
    return replace(leg, weight=None if weight is None else Decimal(weight))


def test_weights_survive_the_history_and_the_allocation_rule_applies() -> None:
    """0.7 + 0.7 is refused live; the same two legs read back from the history are too."""
    result = classify(16, [wleg("AAPL", "0.7"), wleg("MU", "0.7")], {}, received_at=NOW)
    assert kinds(result) == []
    assert refusals(result) == [("invalid", "AAPL", "buy"), ("invalid", "MU", "buy")]
    assert "add up to 1.4, more than 1" in result.recovered[0].signal.rejected[0].reason
    kept = classify(16, [wleg("AAPL", "0.3"), wleg("MU", None)], {}, received_at=NOW)
    assert [(leg.symbol, leg.weight) for leg in kept.recovered[0].signal.legs] == [
        ("AAPL", Decimal("0.3")),
        ("MU", None),
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
    out += [
        (r.leg_id.symbol, r.leg_id.side, r.leg_id.timestamp)
        for rec in result.recovered
        for r in rec.signal.rejected
        if r.leg_id is not None
    ]
    out += [(h.symbol, h.side, h.timestamp) for h in result.holds]
    assert sorted(out, key=str) == sorted(((x.symbol, x.side, x.timestamp) for x in legs), key=str)
    for rec in result.recovered:
        # never a leg that adds to what the projected ledger holds
        assert all(leg.timestamp == rec.timestamp for leg in rec.signal.legs)
        assert len({leg.symbol for leg in rec.signal.legs}) == len(rec.signal.legs)
        # never a leg traded on a symbol whose legs of that time disagree
        refused = {r.leg_id.symbol for r in rec.signal.rejected if r.leg_id is not None}
        assert not refused & {leg.symbol for leg in rec.signal.legs}
