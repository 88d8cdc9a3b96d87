"""The coverage audit's arithmetic (:mod:`tradebot.tracking.coverage`): pure, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tradebot.alphahub.history import HistoryLeg
from tradebot.core.signal import Side
from tradebot.tracking.coverage import (
    Fate,
    JournalLeg,
    NamedLeg,
    audit,
    ratio_text,
    summary_line,
)

DAY = datetime(2021, 4, 26, 14, 30, tzinfo=UTC)
SINCE, UNTIL = datetime(2021, 4, 26, tzinfo=UTC), datetime(2021, 4, 28, tzinfo=UTC)


def hist(symbol: str, at: datetime, side: Side | None = Side.BUY, algo: int = 16) -> HistoryLeg:
    return HistoryLeg(algo, symbol, side, Decimal("10") if side else None, at, "{}")


def got(symbol: str, at: datetime, fate: Fate, side: str = "buy", algo: int = 16) -> JournalLeg:
    return JournalLeg((algo, symbol, side, at), fate)


def test_a_day_with_every_leg_received_live_or_in_time_is_100_percent() -> None:
    history = [hist("AAPL", DAY), hist("MSFT", DAY), hist("VRTX", DAY, Side.SELL)]
    journal = [
        got("AAPL", DAY, Fate.LIVE),
        got("MSFT", DAY, Fate.BACKFILL),
        got("VRTX", DAY, Fate.LIVE, "sell"),
    ]
    (algo,) = audit([16], journal, {16: history}, {}, since=SINCE, until=UNTIL).algorithms
    (day,) = algo.days
    assert (day.day, day.history, day.live, day.backfill, day.late, day.missed) == (
        date(2021, 4, 26),
        3,
        2,
        1,
        0,
        0,
    )
    assert day.ratio == 1 and algo.ratio == 1 and day.named == ()
    assert summary_line(audit([16], journal, {16: history}, {}, since=SINCE, until=UNTIL)) == (
        "history coverage: algorithm 16 100%"
    )


def test_a_missed_leg_lowers_the_day_and_is_named() -> None:
    later = DAY + timedelta(days=1)
    history = [hist("AAPL", DAY), hist("MSFT", DAY), hist("VRTX", later, Side.SELL)]
    journal = [got("AAPL", DAY, Fate.LIVE), got("VRTX", later, Fate.LIVE, "sell")]
    coverage = audit([16], journal, {16: history}, {}, since=SINCE, until=UNTIL)
    first, second = coverage.algorithms[0].days
    assert (first.history, first.live, first.missed) == (2, 1, 1)
    assert first.ratio == Decimal("0.5") and second.ratio == 1
    assert first.named == (NamedLeg((16, "MSFT", "buy", DAY), Fate.MISSED),)
    assert coverage.algorithms[0].ratio == Decimal(2) / Decimal(3)
    assert summary_line(coverage) == (
        "history coverage: algorithm 16 66.67% "
        "(lacking 16 buy MSFT 2021-04-26T14:30:00+00:00 (missed))"
    )


def test_a_late_leg_is_counted_late_not_backfilled_and_named() -> None:
    history = [hist("AAPL", DAY), hist("MSFT", DAY)]
    journal = [got("AAPL", DAY, Fate.LIVE), got("MSFT", DAY, Fate.LATE)]
    (day,) = audit([16], journal, {16: history}, {}, since=SINCE, until=UNTIL).algorithms[0].days
    assert (day.live, day.backfill, day.late, day.missed) == (1, 0, 1, 0)
    assert day.ratio == Decimal("0.5")
    assert day.named == (NamedLeg((16, "MSFT", "buy", DAY), Fate.LATE),)


def test_a_recovered_leg_skipped_stale_is_late_though_its_leg_row_says_backfill() -> None:
    """The journal holds a recovered stale leg twice: its LEG row (backfill), its SKIPPED row."""
    journal = [got("AAPL", DAY, Fate.BACKFILL), got("AAPL", DAY, Fate.LATE)]
    for rows in (journal, journal[::-1]):
        coverage = audit([16], rows, {16: [hist("AAPL", DAY)]}, {}, since=SINCE, until=UNTIL)
        (day,) = coverage.algorithms[0].days
        assert (day.history, day.backfill, day.late) == (1, 0, 1)


def test_a_leg_decided_twice_counts_once_at_its_best_fate() -> None:
    """A recovered leg journaled late, then pushed again live: one leg, received live."""
    journal = [got("AAPL", DAY, Fate.LATE), got("AAPL", DAY, Fate.LIVE)]
    coverage = audit([16], journal, {16: [hist("AAPL", DAY)]}, {}, since=SINCE, until=UNTIL)
    (day,) = coverage.algorithms[0].days
    assert (day.history, day.live, day.late) == (1, 1, 0)


def test_without_the_history_the_journal_side_only_and_why() -> None:
    journal = [got("AAPL", DAY, Fate.LIVE), got("MSFT", DAY, Fate.BACKFILL)]
    why = "not read: the history answered HTTP 404 (Not Found)"
    coverage = audit([16], journal, {}, {16: why}, since=SINCE, until=UNTIL)
    (algo,) = coverage.algorithms
    (day,) = algo.days
    assert algo.unavailable == why
    assert (day.history, day.missed, day.ratio, algo.ratio) == (None, None, None, None)
    assert (day.live, day.backfill) == (1, 1)
    assert (
        summary_line(coverage) == f"history coverage: algorithm 16 history {why}; journal 2 leg(s)"
    )


def test_holds_other_algorithms_and_legs_outside_the_period_are_not_counted() -> None:
    history = [
        hist("AAPL", DAY),
        hist("KEEP", DAY, None),  # a hold: not a trade
        hist("OLD", SINCE - timedelta(seconds=1)),
        hist("END", UNTIL),  # the end is excluded
    ]
    journal = [got("AAPL", DAY, Fate.LIVE), got("OTHER", DAY, Fate.LIVE, algo=14)]
    (day,) = audit([16], journal, {16: history}, {}, since=SINCE, until=UNTIL).algorithms[0].days
    assert (day.history, day.live, day.missed, day.extra) == (1, 1, 0, 0)


def test_a_journal_leg_the_history_lacks_is_extra_and_never_raises_the_ratio() -> None:
    journal = [got("AAPL", DAY, Fate.LIVE), got("ZZZ", DAY, Fate.LIVE), got("YYY", DAY, Fate.LIVE)]
    history = [hist("AAPL", DAY), hist("MSFT", DAY)]
    (day,) = audit([16], journal, {16: history}, {}, since=SINCE, until=UNTIL).algorithms[0].days
    assert (day.history, day.live, day.missed, day.extra, day.ratio) == (2, 1, 1, 2, Decimal("0.5"))


def test_the_summary_names_at_most_five_legs_and_counts_the_rest() -> None:
    history = [hist(f"S{i}", DAY + timedelta(minutes=i)) for i in range(7)]
    line = summary_line(audit([16], [], {16: history}, {}, since=SINCE, until=UNTIL))
    assert line.startswith("history coverage: algorithm 16 0% (lacking 16 buy S0 ")
    assert "S4" in line and "S5" not in line and line.endswith("; 2 more)")


def test_ratio_text() -> None:
    assert [ratio_text(r) for r in (Decimal(1), Decimal(2) / 3, Decimal(0), None)] == [
        "100%",
        "66.67%",
        "0%",
        "unknown",
    ]
