"""De-duplication of bad input: once per delivery, not once per connection (issue 10 §2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.alphahub.dedup import LegDeduper
from tradebot.core.signal import Signal, parse_signal

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
BAD = {"price": -1, "side": "buy", "symbol": "BAD", "timestamp": "2021-04-26T14:30:00"}


def signal(symbol: str) -> Signal:
    good = {"price": 1.5, "side": "buy", "symbol": symbol, "timestamp": "2021-04-26T14:30:00"}
    hold = {"side": "hold", "symbol": "HLD", "timestamp": "2021-04-26T14:30:00"}
    legs: list[dict[str, Any]] = [good, BAD, hold]
    return parse_signal(14, {"open": legs}, received_at=T0)


def test_a_bad_leg_repeated_in_a_later_signal_is_reported_again() -> None:
    d = LegDeduper()
    first = d.filter(signal("A"), 0.0, connection=0)
    later = d.filter(signal("B"), 1.0, connection=0)
    assert first is not None and len(first.rejected) == 1
    assert later is not None and [leg.symbol for leg in later.legs] == ["B"]
    assert len(later.rejected) == 1  # was "0 rejected": the repeat was swallowed
    assert later.held == ()  # a hold leg, like a valid leg, comes out once


def test_the_same_push_again_reports_the_bad_leg_but_trades_nothing_again() -> None:
    d = LegDeduper()
    assert d.filter(signal("A"), 0.0, connection=0) is not None
    again = d.filter(signal("A"), 1.0, connection=0)
    assert again is not None and again.legs == () and len(again.rejected) == 1


def test_a_slow_connection_catching_up_reports_nothing_twice() -> None:
    d = LegDeduper()
    fast = [d.filter(signal(s), 0.0, connection=0) for s in ("A", "B")]
    slow = [d.filter(signal(s), 0.5, connection=1) for s in ("A", "B")]
    assert all(f is not None and len(f.rejected) == 1 for f in fast)
    assert slow == [None, None]


def test_undecodable_frames_are_counted_per_delivery() -> None:
    d = LegDeduper()
    assert d.new_report("junk", 0, 0.0)
    assert not d.new_report("junk", 1, 0.0)
    assert d.new_report("junk", 1, 1.0)  # connection 1 brings it a second time first
    assert not d.new_report("junk", 0, 1.0)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.randoms(use_true_random=False))
def test_one_report_per_push_however_connections_interleave(pushes: int, rng: Any) -> None:
    """Each connection delivers every push in order; interleaving between them is arbitrary."""
    connections = 3
    d = LegDeduper()
    queues = {c: list(range(pushes)) for c in range(connections)}
    reports = 0
    while any(queues.values()):
        conn = rng.choice([c for c, q in queues.items() if q])
        queues[conn].pop(0)
        reports += d.new_report("same bad frame", conn, 0.0)
    assert reports == pushes


def test_a_connection_back_from_a_lapse_does_not_stay_behind() -> None:
    d = LegDeduper()
    assert d.filter(signal("A"), 0.0, connection=0) is not None  # connection 1 was down
    d.caught_up(1, 14)  # it joins again: that push will never reach it
    alone = [d.filter(signal(s), 1.0, connection=1) for s in ("B", "C")]  # connection 0 drops
    assert [len(s.rejected) if s else 0 for s in alone] == [1, 1]


def test_catching_up_one_algorithm_leaves_the_others_alone() -> None:
    d = LegDeduper()
    assert d.new_report(("frame", 14, "x"), 0, 0.0)
    d.caught_up(1, 16)
    assert not d.new_report(("frame", 14, "x"), 1, 0.0)  # still the same delivery
