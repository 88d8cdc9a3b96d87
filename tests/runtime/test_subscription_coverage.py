from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tradebot.alphahub.gaps import Gap
from tradebot.runtime.subscription_coverage import uncovered

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def gap(conn: int, start: float, end: float | None, algo: int = 14) -> Gap:
    return Gap(algo, conn, at(start), None if end is None else at(end), "test")


def test_one_connection_down_while_the_other_is_joined_is_no_lapse() -> None:
    gaps = [gap(0, 0, 5), gap(1, 10, 12)]
    assert uncovered(gaps, 14, 2, now=at(20)) == []


def test_overlapping_gaps_on_every_connection_give_their_intersection() -> None:
    gaps = [gap(0, 0, 5), gap(1, 3, 8), gap(0, 7, 9)]
    assert uncovered(gaps, 14, 2, now=at(20)) == [(at(3), at(5)), (at(7), at(8))]


def test_open_gaps_run_until_now_and_other_algorithms_do_not_count() -> None:
    gaps = [gap(0, 2, None), gap(1, 4, None), gap(0, 0, 30, algo=16)]
    assert uncovered(gaps, 14, 2, now=at(10)) == [(at(4), at(10))]
    assert uncovered(gaps, 16, 2, now=at(10)) == []


def test_a_single_connection_gap_is_a_lapse() -> None:
    assert uncovered([gap(0, 1, 2)], 14, 1, now=at(5)) == [(at(1), at(2))]
