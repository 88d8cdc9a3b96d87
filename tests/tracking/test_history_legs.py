"""AlphaHub's history legs the journal never received, in ``tradebot track``'s algorithm result:
classified as a backfill classifies them (pure), matched as the coverage audit matches them, and
on generated histories with legs never received, the parts still add up to the gap to the cent
and the account's result is the review's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tracking.history import ALGO, OPS, START, SYMBOLS, Clock, play
from tradebot.alphahub.history import HistoryLeg
from tradebot.config.loader import load_config
from tradebot.core.orders import Plan
from tradebot.core.signal import Leg, LegId, LegKind, Side, Signal, SignalSource, parse_leg_key
from tradebot.journal import open_journal
from tradebot.journal.interface import Journal
from tradebot.journal.records import to_micros
from tradebot.tracking.coverage_sources import HistoryRead
from tradebot.tracking.facts import Fate, LegFact, Period
from tradebot.tracking.history_legs import NEVER_RECEIVED, HistoryReader, as_legs, never_received
from tradebot.tracking.journal_facts import read_period
from tradebot.tracking.track import track

D = Decimal
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
EQUITY = D(100_000)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
CONFIG = f"algorithms:\n  {ALGO}: {{strategy: allocation, params: {{pct: 10, max_positions: 4}}}}\n"


def t(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def hleg(
    symbol: str, side: str, minutes: int, price: str = "10", weight: str | None = None
) -> HistoryLeg:
    w = None if weight is None else D(weight)
    return HistoryLeg(ALGO, symbol, Side(side), D(price), t(minutes), "{}", w)


def jleg(symbol: str, side: str, minutes: int, *, is_open: bool = True, row: int = 0) -> LegFact:
    """A journal leg; its row written ``row`` minutes after its signal (a backfill's)."""
    kind = LegKind.OPEN if is_open else LegKind.CLOSE
    key = LegId(ALGO, kind, symbol, Side(side), t(minutes)).key
    at = to_micros(t(minutes + row))
    return LegFact(key, at, minutes + 1, symbol, is_open, side == "buy", D(10), Fate.TRADED)


def kinds(legs: Sequence[LegFact]) -> list[tuple[str, str, bool]]:
    return [(x.symbol, "buy" if x.buy else "sell", x.is_open) for x in legs]


# -- classification (pure) ----------------------------------------------------------------------


def test_a_leg_never_received_is_a_close_of_what_the_algorithm_holds_else_an_open() -> None:
    period = Period(ALGO, (jleg("AAA", "buy", 0),))
    legs, left_out = as_legs(
        period, [hleg("AAA", "sell", 5, "12"), hleg("BBB", "sell", 6, "20", weight="0.5")]
    )
    assert kinds(legs) == [("AAA", "sell", False), ("BBB", "sell", True)]
    assert left_out == 0
    close, short = legs
    assert close.fate is Fate.MISSED and close.reason == NEVER_RECEIVED
    assert (close.price, close.at) == (D(12), to_micros(t(5)))
    assert close.key == LegId(ALGO, LegKind.CLOSE, "AAA", Side.SELL, t(5)).key
    assert short.weight == D("0.5")


def test_the_journal_legs_after_a_missed_one_do_not_change_its_kind() -> None:
    """AAA is closed by the journal at minute 10: a sell at minute 5 still closes the open of
    minute 0, a sell at minute 15 opens a short."""
    period = Period(ALGO, (jleg("AAA", "buy", 0), jleg("AAA", "sell", 10, is_open=False)))
    legs, _ = as_legs(period, [hleg("AAA", "sell", 15), hleg("AAA", "sell", 5)])
    assert kinds(legs) == [("AAA", "sell", False), ("AAA", "sell", True)]


def test_a_leg_that_would_add_to_the_held_position_is_left_out_and_counted() -> None:
    period = Period(ALGO, (jleg("AAA", "buy", 0),))
    legs, left_out = as_legs(period, [hleg("AAA", "buy", 5)])
    assert (legs, left_out) == ((), 1)


def test_after_a_contradiction_the_symbol_is_unknown_until_the_journal_says() -> None:
    contradictory = [hleg("AAA", "buy", 1), hleg("AAA", "sell", 1)]
    later = [hleg("AAA", "sell", 2), hleg("AAA", "buy", 8)]
    # the journal opens AAA short at minute 5: the buy at minute 8 closes it
    period = Period(ALGO, (jleg("AAA", "sell", 5),))
    legs, left_out = as_legs(period, contradictory + later)
    assert left_out == 3  # the two contradicting legs, and the sell of minute 2 (unknown)
    assert kinds(legs) == [("AAA", "buy", False)]


def test_opens_refused_by_the_weights_rule_still_make_the_algorithm_hold_them() -> None:
    refused = [hleg("AAA", "buy", 1, weight="0.6"), hleg("BBB", "buy", 1, weight="0.6")]
    legs, left_out = as_legs(Period(ALGO, ()), [*refused, hleg("AAA", "sell", 2)])
    assert left_out == 2
    assert kinds(legs) == [("AAA", "sell", False)]  # closes the refused open


def test_a_missed_leg_comes_after_a_backfilled_journal_leg_whose_signal_was_earlier() -> None:
    """The journal's open of minute 0 was backfilled at minute 30: the history's close of
    minute 5 is replayed after it, not before (it would flatten nothing)."""
    period = Period(ALGO, (jleg("AAA", "buy", 0, row=30),))
    (close,), _ = as_legs(period, [hleg("AAA", "sell", 5)])
    assert not close.is_open
    assert (close.at, close.seq) == (period.legs[0].at, period.legs[0].seq)


# -- matched against a journal ------------------------------------------------------------------


def _record(journal: Journal, leg: Leg, source: SignalSource = SignalSource.LIVE) -> None:
    signal = Signal(ALGO, leg.timestamp, (), (leg,), source=source)
    journal.record_signal_and_plan(signal, Plan())


def _reader(legs: Sequence[HistoryLeg]) -> HistoryReader:
    return lambda algorithms, since: HistoryRead(legs={a: list(legs) for a in algorithms})


def test_only_the_legs_the_journal_holds_no_decision_on_are_added(tmp_path: Path) -> None:
    """Received live, backfilled, or received as a close though the history has no kind: not
    added. Before the algorithm's first leg in the journal: not compared (another algorithm's
    earlier start does not move it)."""
    other = ALGO + 1
    with open_journal(tmp_path / "j.sqlite") as journal:
        _record(journal, Leg(other, LegKind.OPEN, "ZZZ", Side.BUY, D(10), t(-10)))
        _record(journal, Leg(ALGO, LegKind.OPEN, "AAA", Side.BUY, D(10), t(0)))
        _record(journal, Leg(ALGO, LegKind.CLOSE, "AAA", Side.SELL, D(11), t(5)))
        backfilled = Leg(ALGO, LegKind.OPEN, "BBB", Side.BUY, D(20), t(6))
        _record(journal, backfilled, SignalSource.BACKFILL)
        history = [
            hleg("CCC", "buy", -1),  # before the journal's first leg
            hleg("AAA", "buy", 0),
            hleg("AAA", "sell", 5),
            hleg("BBB", "buy", 6),
            hleg("BBB", "sell", 7, "25"),  # never received
        ]
        periods = {a: read_period(journal, a, since=None, until=None) for a in (ALGO, other)}
        sides = never_received(journal, periods, _reader(history), until=NOW)
    side = sides[ALGO]
    assert side.read and side.since == t(0)
    assert sides[other].since == t(-10) and sides[other].legs == ()
    assert kinds(side.legs) == [("BBB", "sell", False)]
    assert side.legs[0].price == D(25)


def test_a_leg_an_archive_moved_out_was_received_not_missed(tmp_path: Path) -> None:
    """``tradebot journal archive`` keeps a leg's tombstone, not its rows: the history's leg is
    decided (as the coverage audit counts it), so not added again."""
    with open_journal(tmp_path / "j.sqlite") as journal:
        _record(journal, Leg(ALGO, LegKind.OPEN, "AAA", Side.BUY, D(10), t(0)))
        gone = LegId(ALGO, LegKind.CLOSE, "AAA", Side.SELL, t(3)).key
        journal.keep_archived_decisions([("leg", gone)])
        history = [hleg("AAA", "buy", 0), hleg("AAA", "sell", 3), hleg("BBB", "buy", 4)]
        period = read_period(journal, ALGO, since=None, until=None)
        (side,) = never_received(journal, {ALGO: period}, _reader(history), until=NOW).values()
    assert kinds(side.legs) == [("BBB", "buy", True)]


def test_an_algorithm_without_legs_or_history_is_said(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        _record(journal, Leg(ALGO, LegKind.OPEN, "AAA", Side.BUY, D(10), t(0)))
        periods = {
            ALGO: read_period(journal, ALGO, since=None, until=None),
            99: read_period(journal, 99, since=None, until=None),
        }

        def reader(algorithms: Sequence[int], since: datetime) -> HistoryRead:
            assert list(algorithms) == [ALGO]  # 99 has no leg to start from: not asked
            return HistoryRead(unavailable={ALGO: "not read: the history answered HTTP 404"})

        sides = never_received(journal, periods, reader, until=NOW)
    assert sides[ALGO].reason == "not read: the history answered HTTP 404"
    assert sides[99].reason == "not read: the journal holds no leg of it to start from"
    assert not sides[ALGO].read and sides[ALGO].legs == ()


# -- generated histories: the reconciliation holds with legs never received ----------------------

#: legs AlphaHub sent that never reached the journal, at times between the journal's (its clock
#: ticks every 30 s from START: these fall 15 s after a tick)
_EXTRA = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=80),
        st.sampled_from(SYMBOLS),
        st.sampled_from(("buy", "sell")),
        st.integers(min_value=2000, max_value=4000).map(lambda c: D(c) / 100),
    ),
    max_size=8,
)


def _history_of(journal: Journal) -> list[HistoryLeg]:
    """The journal's legs as AlphaHub's history lists them: flat, without their kind."""
    out = []
    for leg in read_period(journal, ALGO, since=None, until=None).legs:
        ident = parse_leg_key(leg.key)
        out.append(HistoryLeg(ALGO, ident.symbol, ident.side, leg.price, ident.timestamp, "{}"))
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPS, _EXTRA)
def test_generated_histories_with_legs_never_received_reconcile_to_the_cent(
    tmp_path: Path, ops: list[tuple[Any, ...]], extra: list[tuple[int, str, str, Decimal]]
) -> None:
    path = tmp_path / "journal.sqlite"
    path.unlink(missing_ok=True)
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "config.yaml", env={})
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        play(journal, clock, ops)
    lost = {
        (symbol, side, START + timedelta(seconds=15 + 30 * k)): price
        for k, symbol, side, price in extra
    }
    never = [HistoryLeg(ALGO, s, Side(d), p, at, "{}") for (s, d, at), p in lost.items()]
    with open_journal(path, readonly=True) as journal:
        received = _history_of(journal)
        (alone,) = track(journal, config, algo_ids=[ALGO], equity=EQUITY)
        (same,) = track(journal, config, algo_ids=[ALGO], equity=EQUITY, history=_reader(received))
        (tracked,) = track(
            journal, config, algo_ids=[ALGO], equity=EQUITY, history=_reader(received + never)
        )
    d = tracked.decomposition
    assert sum((p.money for p in d.parts), D(0)) == d.gap
    assert d.gap == d.algorithm.pnl - d.account.pnl
    assert tracked.reconciled, (d.account, tracked.reviewed)
    # the history never touches the account's side
    assert d.account.pnl == alone.decomposition.account.pnl
    # a history of only what the journal received adds nothing: no leg counted twice
    assert same.decomposition.parts == alone.decomposition.parts
    assert same.history is not None and (same.history.legs, same.history.left_out) == ((), 0)
    side = tracked.history
    assert side is not None
    if not received:
        assert side.reason == "not read: the journal holds no leg of it to start from"
        return
    assert side.since is not None
    compared = [leg for leg in never if leg.timestamp >= side.since]
    assert len(side.legs) + side.left_out == len(compared)
    assert all(leg.fate is Fate.MISSED for leg in side.legs)
    missed = {p.name: p.money for p in d.parts}["missed"]
    if not side.legs:
        assert missed == {p.name: p.money for p in alone.decomposition.parts}["missed"]


def test_both_backends_add_the_same_legs_never_received(
    journal_at: str | Path, tmp_path: Path
) -> None:
    """SQLite and PostgreSQL: the matching reads the journal through its interface alone."""
    clock = Clock()
    scene = [
        ("open", "AAA", "buy", D(30), "market", 10, D(1), D(30)),
        ("open", "BBB", "sell", D(25), "missed", 1, D(1), D(25)),  # backfilled too late
    ]
    with open_journal(journal_at, clock=clock) as journal:
        play(journal, clock, scene)
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "config.yaml", env={})
    # AAA closed at 33 while the bot was away: the ideal's 10000 / 4 / 30 shares, +3 each
    closed = HistoryLeg(ALGO, "AAA", Side.SELL, D(33), START + timedelta(minutes=5), "{}")
    with open_journal(journal_at, readonly=True) as journal:
        reader = _reader([*_history_of(journal), closed])
        (tracked,) = track(journal, config, algo_ids=[ALGO], equity=EQUITY, history=reader)
    assert tracked.history is not None
    assert kinds(tracked.history.legs) == [("AAA", "sell", False)]
    assert tracked.history.left_out == 0  # the journal's own legs matched, none taken again
    d = tracked.decomposition
    assert tracked.reconciled and sum((p.money for p in d.parts), D(0)) == d.gap
    assert {p.name: p.money for p in d.parts}["missed"] == D("250.00")
