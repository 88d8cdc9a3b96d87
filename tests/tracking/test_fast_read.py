"""The fast read of a period (:mod:`tradebot.tracking.journal_facts`: narrow rows, one status at
a time, marks per symbol) means what the row-by-row reading meant (``rowwise_facts``), on
generated journals with rows edited in by hand (damaged legs and skips, a second skip of a leg
written later with an earlier time, intents whose data is not JSON, fills of no intent), on
SQLite and on PostgreSQL; and a leg's key is read as :func:`leg_id_from` reads it."""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pgserver import PgServer, pg_bin
from tests.tracking.history import ALGO, OPS, SECOND, START, SYMBOLS, Clock, play, second_account
from tests.tracking.rowwise_facts import read_periods as rowwise_periods
from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.journal import Status, open_journal
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import SHARED_ACCOUNT, leg_id_from, to_micros
from tradebot.journal.review import review_rows
from tradebot.journal.summary import Position
from tradebot.journal.track_summary import leg_key
from tradebot.tracking.chain import cents
from tradebot.tracking.facts import Fate, Period
from tradebot.tracking.journal_facts import read_periods, read_periods_from_rows
from tradebot.tracking.track import algorithms, reviewed_pnl

OTHER = ALGO + 1  # a second algorithm: its rows must stay its own
_PRICE = st.sampled_from(["abc", "-1", "0", "NaN", "25.5", "31", None])
#: rows edited in by hand: (status, algo, symbol, coid, leg, side, qty, price, data); a leg of
#: None is filled in with one of the journal's own leg keys
RAW = st.one_of(
    st.tuples(
        st.just("skipped"),
        st.sampled_from((ALGO, OTHER)),
        st.sampled_from(SYMBOLS),
        st.none(),
        st.none(),
        st.just("buy"),
        st.none(),
        st.none(),
        st.sampled_from(
            [
                "{not json",
                '{"detail": "no reason"}',
                '{"reason": "risk_limit"}',
                '{"reason": "missed_stale"}',
                '{"reason": "not_held", "exit": {"kind": "stop_loss"}}',
                "[]",
            ]
        ),
    ),
    st.tuples(
        st.just("leg"),
        st.sampled_from((ALGO, OTHER)),
        st.sampled_from([*SYMBOLS, ""]),
        st.none(),
        st.integers(0, 10**6).map(lambda n: f"{ALGO}:open:AAA:buy:2026-03-0{n % 9 + 1}T00:00:{n}Z"),
        st.sampled_from(("buy", "sell", "up")),
        st.none(),
        _PRICE,
        st.just("{}"),
    ),
    st.tuples(
        st.just("filled"),
        st.sampled_from((ALGO, OTHER)),
        st.sampled_from(SYMBOLS),
        st.integers(0, 3).map(lambda n: f"stray-{n}"),
        st.none(),
        st.sampled_from(("buy", "sell", "hold")),
        st.sampled_from(["1", "2.5", "-3", "x"]),
        _PRICE,
        st.just("{}"),
    ),
    st.tuples(
        st.just("intent"),
        st.sampled_from((ALGO, OTHER)),
        st.sampled_from(SYMBOLS),
        st.integers(0, 10**6).map(lambda n: f"hand-{n}"),
        st.none(),
        st.just("buy"),
        st.just("3"),
        st.just("30"),
        st.sampled_from(["{oops", '{"order_type": "limit", "legs": [{"timestamp": 5}]}']),
    ),
)
_INSERT = (
    "INSERT INTO entries (ts, status, algo_id, symbol, client_order_id, leg, side, qty, price,"
    " cum_qty, detail, data, account) VALUES ({marks})"
)
#: the accounts, and what a hand may write in the column (a shared row's ``''``)
ACCOUNTS = (DEFAULT_ACCOUNT, SECOND, SHARED_ACCOUNT)


def _journal_legs(path: str | Path) -> list[str]:
    with open_journal(path, readonly=True) as journal:
        return sorted({row[7] for row in journal.iter_stored(EntryFilter(statuses=(Status.LEG,)))})


def _edit(
    path: str | Path, rows: Sequence[tuple[Any, ...]], accounts: Sequence[str] | None = None
) -> None:
    """Insert ``rows`` as a hand would, each with its account (None: the default account):
    straight into the table, no summary kept."""
    accounts = [DEFAULT_ACCOUNT] * len(rows) if accounts is None else accounts
    # one row per order id: the database holds one intent per id, and the row-by-row reading
    # looked a stray fill's symbol up among its order's rows, decoding them (a damaged one
    # stopped it: the fast read takes the fill's own)
    coids = [None if r[3] is None else f"{r[3]}-{n}" for n, r in enumerate(rows)]
    # and one LEG row per leg key (the journal's guard)
    legs = [f"{r[4]}{n}" if r[0] == "leg" else r[4] for n, r in enumerate(rows)]
    params = [
        (1 + n * 7, *r[:3], coids[n], legs[n], *r[5:8], str(n), "edited by hand", r[8], a)
        for n, (r, a) in enumerate(zip(rows, accounts, strict=True))
    ]
    if isinstance(path, Path):
        conn = sqlite3.connect(path)
        with conn:
            conn.executemany(_INSERT.format(marks=", ".join("?" * 13)), params)
        conn.close()
        return
    with psycopg.connect(path, autocommit=True) as pg:
        for p in params:
            pg.execute(_INSERT.format(marks=", ".join(["%s"] * 13)), p)


def _both(
    path: str | Path, *, rows: bool = False, account: str | None = None
) -> tuple[dict[int, Period], dict[int, Period]]:
    """The fast read (from the tracking summary; ``rows``: from the rows) and the row-by-row,
    of ``account`` (None: every account's)."""
    read = read_periods_from_rows if rows else read_periods
    with open_journal(path, readonly=True) as journal:
        chosen = algorithms(journal, None)
        assert set(chosen) <= {ALGO, OTHER}
        fast = read(journal, [ALGO, OTHER], since=None, until=None, account=account)
        slow = rowwise_periods(journal, [ALGO, OTHER], since=None, until=None, account=account)
    return fast, slow


def _same_for_each_account(path: str | Path, *, rows: bool = False) -> None:
    """:func:`_same` for every account at once (None) and each one (and one with no rows)."""
    for account in (None, *ACCOUNTS, "nobody"):
        _same(*_both(path, rows=rows, account=account))


def _tracking_verified(path: str | Path) -> bool:
    """Whether ``journal verify`` finds the tracking summary as the rows make it."""
    with open_journal(path, readonly=True) as journal:
        verdict = journal.verify_summaries()
    checks = [t for t in verdict.tables if t.name.startswith("sum_track_")]
    assert len(checks) == 2
    return all(t.agrees for t in checks)


def _means_the_same(fast: dict[int, Period], slow: dict[int, Period]) -> bool:
    try:
        _same(fast, slow)
    except AssertionError:
        return False
    return True


def _same(fast: dict[int, Period], slow: dict[int, Period]) -> None:
    assert fast.keys() == slow.keys()
    for algo, period in fast.items():
        reference = slow[algo]
        # the fast read marks the symbols the periods hold, the row-by-row one every symbol
        assert period.marks.items() <= reference.marks.items()
        held = {leg.symbol for leg in period.legs}
        held |= {e.symbol for e in (*period.exits, *period.unattributed)}
        assert held & reference.marks.keys() <= period.marks.keys()
        assert period == Period(
            reference.algo_id,
            reference.legs,
            reference.exits,
            reference.unattributed,
            period.marks,
            reference.since,
            reference.damaged,
        )


_counter = itertools.count()


def _check(where: str | Path, ops: list[tuple[Any, ...]], data: st.DataObject) -> None:
    clock = Clock()
    with open_journal(where, clock=clock) as journal:
        play(journal, clock, ops)
    keys = _journal_legs(where)
    if keys:
        chosen = data.draw(st.lists(st.sampled_from(keys), max_size=4, unique=True))
        how = data.draw(st.lists(st.integers(0, 3), min_size=len(chosen), max_size=len(chosen)))
        with open_journal(where, clock=clock) as journal:
            second_account(journal, clock, chosen, how)
    # every row written by the journal: the summary, kept as they were, means the rows
    _same_for_each_account(where)
    assert _tracking_verified(where)
    raw = data.draw(st.lists(RAW, max_size=8))
    rows = []
    for r in raw:
        if r[0] == "skipped":
            leg = data.draw(st.sampled_from(keys)) if keys else f"{ALGO}:open:AAA:buy:x"
            r = (*r[:4], leg, *r[5:])
        rows.append(r)
    accounts = data.draw(
        st.lists(st.sampled_from(ACCOUNTS), min_size=len(rows), max_size=len(rows))
    )
    _edit(where, rows, accounts)
    _same_for_each_account(where, rows=True)
    # rows written by hand, which no summary kept: the summary's read means the rows, or
    # ``journal verify`` says the summary disagrees with them
    summary, slow = _both(where)
    assert _means_the_same(summary, slow) or not _tracking_verified(where)
    with open_journal(where) as journal:
        journal.rebuild_summaries()  # what ``journal migrate`` does after a copy as stored
    _same_for_each_account(where)
    assert _tracking_verified(where)


SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(OPS, st.data())
def test_the_fast_read_means_the_row_by_row_reading_sqlite(
    tmp_path: Path, ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    _check(tmp_path / f"j{next(_counter)}.sqlite", ops, data)


@pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL is not installed")
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPS, st.data())
def test_the_fast_read_means_the_row_by_row_reading_postgres(
    pg_server: PgServer, ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    _check(pg_server.create_database(), ops, data)


def test_a_window_reads_what_the_row_by_row_reading_reads(journal_at: str | Path) -> None:
    """``until`` and ``since``: the same legs, orders and marks as the row-by-row reading."""
    from tests.tracking.test_track_journal import SCENE

    clock = Clock()
    with open_journal(journal_at, clock=clock) as journal:
        play(journal, clock, SCENE)
    with open_journal(journal_at, readonly=True) as journal:
        for since, until in (
            (None, clock.at.replace(minute=41)),
            (clock.at.replace(minute=41), None),
        ):
            fast = read_periods(journal, [ALGO], since=since, until=until)
            slow = rowwise_periods(journal, [ALGO], since=since, until=until)
            _same(fast, slow)
            _same(read_periods_from_rows(journal, [ALGO], since=since, until=until), slow)
            assert fast[ALGO].legs


_STAMPS = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z", fullmatch=True
    ),
    st.text(max_size=30),
    st.integers(),
)
_LEG_DATA = st.fixed_dictionaries(
    {
        "algo_id": st.one_of(
            st.integers(-5, 10**6), st.sampled_from(["16", " 7", "x", 1.5, True, float("inf")])
        ),
        "kind": st.sampled_from(["open", "close", "OPEN", 3]),
        "symbol": st.one_of(st.sampled_from(["AAA", "BRK.B"]), st.text(max_size=4), st.none()),
        "side": st.sampled_from(["buy", "sell", "hold", None]),
        "timestamp": _STAMPS,
    }
) | st.dictionaries(st.sampled_from(["algo_id", "kind", "timestamp"]), st.integers())


@given(_LEG_DATA)
def test_a_legs_key_is_read_as_leg_id_from_reads_it(d: dict[str, Any]) -> None:
    try:
        expected: Any = leg_id_from(d).key
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        expected = type(exc)
    try:
        found: Any = leg_key(d)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        found = type(exc)
    # both refuse, or both give the same key (which refusal it is does not matter: the leg is
    # left out either way)
    assert isinstance(found, str) == isinstance(expected, str)
    if isinstance(expected, str):
        assert found == expected, d


def test_a_repeated_amount_is_read_once_by_the_rules_of_the_row_by_row_reading() -> None:
    from tradebot.tracking.journal_facts import _Texts

    texts = _Texts()
    assert texts.positive("12.5") is texts.positive("12.5") == Decimal("12.5")
    assert texts.positive("-1") is None and texts.decimal("abc") is None
    assert texts.decimal(7) == Decimal(7) and texts.positive(True) is None
    assert texts.symbol("AAA") is texts.symbol("".join(["AA", "A"]))


def _by_review_rows(
    journal: Any, marks: dict[str, Decimal], since: datetime | None, until: datetime | None
) -> dict[int, Decimal]:
    """The account's P&L in a window as ``track`` computed it before: the review's own rows
    (:func:`review_rows`), and the positions at ``until`` from a second replay of the fills."""
    reports, _ = review_rows(journal, since=since, until=until)
    out: dict[int, Decimal] = defaultdict(Decimal)
    for r in reports:
        out[r.algo_id] += r.realised_pnl
    replay: dict[tuple[int, str], Position] = defaultdict(Position)
    for f in journal.fill_history(until=until):
        replay[f.algo_id, f.symbol].fill(f.qty if f.side == "buy" else -f.qty, f.price)
    for (algo, symbol), p in replay.items():
        mark = marks.get(symbol)
        if p.qty and mark is not None:
            out[algo] += p.qty * (mark - p.cost)
    return {a: cents(v) for a, v in out.items()}


@settings(max_examples=40, deadline=None)
@given(OPS, st.data())
def test_a_windows_account_pnl_is_the_reviews(
    ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    """``track``'s check in a window (one pass over the fills) gives what the review's rows
    give, to the cent, for every window, its edges on a fill's time (the fill is in it) or
    between rows."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "journal.sqlite"
        clock = Clock()
        with open_journal(path, clock=clock) as journal:
            play(journal, clock, ops)
            times = sorted({f.at for f in journal.fill_history()})
        marks = {s: Decimal(30) for s in SYMBOLS}
        edges = st.one_of(
            st.sampled_from(times) if times else st.just(START),
            st.integers(0, 60).map(lambda n: START + timedelta(seconds=15 * n)),
        )
        since, until = sorted((data.draw(edges), data.draw(edges)))
        with open_journal(path, readonly=True) as journal:
            for window in ((since, until), (since, None), (None, until)):
                # an algorithm with nothing realised may be absent: track reads it as 0
                found = reviewed_pnl(journal, marks, since=window[0], until=window[1])
                wanted = _by_review_rows(journal, marks, *window)
                assert {a: v for a, v in found.items() if v} == {
                    a: v for a, v in wanted.items() if v
                }


def test_symbols_added_after_the_read_are_marked_as_the_row_by_row_reading_marked_them(
    tmp_path: Path,
) -> None:
    """AlphaHub's history legs join the periods after the read; a symbol only they name (here
    one only another algorithm's orders priced) is marked as every order row's symbol was."""
    from tests.tracking.test_track_journal import SCENE
    from tradebot.tracking.journal_facts import mark_more

    path = tmp_path / "journal.sqlite"
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        play(journal, clock, SCENE)
    _edit(path, [("intent", OTHER, "ZZZ", "other", None, "buy", "3", "41.5", "{}")])
    with open_journal(path, readonly=True) as journal:
        fast = read_periods(journal, [ALGO], since=None, until=None)
        slow = rowwise_periods(journal, [ALGO], since=None, until=None)
        assert "ZZZ" not in fast[ALGO].marks and slow[ALGO].marks["ZZZ"] == Decimal("41.5")
        mark_more(journal, fast, ["ZZZ", "AAA", "NONE"], None)
    assert fast[ALGO].marks == slow[ALGO].marks


def test_an_intent_whose_leg_names_an_infinite_algorithm_is_left_out_never_fatal(
    tmp_path: Path,
) -> None:
    """JSON's ``Infinity`` where a leg's algorithm goes (``int()`` of it overflows): that leg is
    not read; the intent, its order and the rest of the period are."""
    path = tmp_path / "journal.sqlite"
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        play(journal, clock, [])
    leg = '{"algo_id": Infinity, "kind": "open", "side": "buy", "symbol": "AAA",'
    data = (
        '{"order_type": "market", "legs": ['
        + leg
        + ' "timestamp": "2026-03-02T14:30:00.000000Z"}]}'
    )
    _edit(path, [("intent", ALGO, "AAA", "inf", None, "buy", "3", "30", data)])
    with open_journal(path) as journal:
        (period,) = read_periods_from_rows(journal, [ALGO], since=None, until=None).values()
        journal.rebuild_summaries()  # the summary folds the row as the rows' read reads it
        (summarised,) = read_periods(journal, [ALGO], since=None, until=None).values()
    assert period.legs == () and period.marks == {"AAA": Decimal(30)}
    assert summarised == period


def test_legs_two_accounts_decided_read_as_the_row_by_row_reading(journal_at: str | Path) -> None:
    """Legs the default account skipped, which the second account skipped later (another
    reason) or traded: every account's read takes a leg's first skip by id and calls it traded
    when any account's order served it; each account's read its own decisions."""
    from tests.tracking.test_track_journal import SCENE

    clock = Clock()
    with open_journal(journal_at, clock=clock) as journal:
        play(journal, clock, SCENE)
        skipped = [
            row[7]
            for row in journal.iter_stored(EntryFilter(statuses=(Status.SKIPPED,)))
            if row[7] is not None
        ]
        assert len(skipped) >= 3
        second_account(journal, clock, sorted(skipped)[:3], [1, 2, 0])
    for account in (None, DEFAULT_ACCOUNT, SECOND):
        fast, slow = _both(journal_at, account=account)
        _same(fast, slow)
        _same(_both(journal_at, rows=True, account=account)[0], slow)
    everyone, own = _both(journal_at)[0][ALGO], _both(journal_at, account=SECOND)[0][ALGO]
    fates = {leg.key: (leg.fate, leg.reason) for leg in everyone.legs}
    theirs = {leg.key: (leg.fate, leg.reason) for leg in own.legs}
    first, served, later = sorted(skipped)[:3]
    # the stop had closed AAA: its close skipped as not held; then missed, then algo_unknown
    assert fates[first] == (Fate.CLOSED_BY_EXIT, "not_held")
    assert theirs[first] == (Fate.MISSED, "missed_stale")
    assert fates[served] == theirs[served] == (Fate.TRADED, "")
    assert fates[later] == (Fate.SKIPPED, "algo_unknown")
    assert theirs[later] == (Fate.SKIPPED, "risk_limit")


def test_orders_of_several_fills_and_odd_symbols_read_as_the_row_by_row_reading(
    journal_at: str | Path,
) -> None:
    """An intent's order with fills edited in (one written later with an earlier time), and
    stray orders of two fills and of one whose symbol the summary must quote (``;``, a space,
    ``%``): the
    fills oldest first by time, each stray fill on its own symbol, as the rows say."""
    from tests.tracking.test_track_journal import SCENE

    clock = Clock()
    with open_journal(journal_at, clock=clock) as journal:
        play(journal, clock, SCENE)
        (first, *_) = [
            r[5] for r in journal.iter_stored(EntryFilter(statuses=(Status.INTENT,))) if r[5]
        ]
    odd = "X;Y %2 Z"
    late = to_micros(clock.at) + 10**9
    rows = [
        ("partial", ALGO, "AAA", first, None, "buy", "2", "80.5", "{}"),
        ("partial", ALGO, "AAA", first, None, "buy", "1", "80.25", "{}"),
        ("filled", ALGO, odd, "odd", None, "sell", "4", "12.5", "{}"),
        ("filled", ALGO, odd, "odd", None, "sell", "1", "12", "{}"),
        ("filled", ALGO, odd, "odd-once", None, "buy", "7", "11", "{}"),
    ]
    params = [
        (ts, *r[:4], None, *r[5:8], str(n), "edited by hand", r[8], DEFAULT_ACCOUNT)
        for n, (ts, r) in enumerate(zip((late, 5, late + 1, late + 2, late + 3), rows, strict=True))
    ]
    if isinstance(journal_at, Path):
        conn = sqlite3.connect(journal_at)
        with conn:
            conn.executemany(_INSERT.format(marks=", ".join("?" * 13)), params)
        conn.close()
    else:
        with psycopg.connect(journal_at, autocommit=True) as pg:
            for p in params:
                pg.execute(_INSERT.format(marks=", ".join(["%s"] * 13)), p)
    with open_journal(journal_at) as journal:
        journal.rebuild_summaries()
    fast, slow = _both(journal_at)
    _same(fast, slow)
    orders = [o for leg in fast[ALGO].legs for o in leg.orders if o.client_order_id == first]
    assert [f.at for f in orders[0].fills][:1] == [5] and len(orders[0].fills) == 3
    strays = [e for e in fast[ALGO].unattributed if e.symbol == odd]
    assert [e.fill.qty for e in strays] == [Decimal(-4), Decimal(-1), Decimal(7)]


#: a summary edited by hand, as no write of ours leaves it: one row each
_CORRUPTIONS = {
    "fills": "UPDATE sum_track_order SET fills = 'garbage' WHERE coid = ({one_filled})",
    "fill qty": "UPDATE sum_track_order SET fills = '1 2 x 3 AAA' WHERE coid = ({one_filled})",
    "style": "UPDATE sum_track_order SET style = 'teleport' WHERE coid = ({one_intent})",
    "planned": "UPDATE sum_track_order SET planned = 'lots' WHERE coid = ({one_intent})",
    "price": "UPDATE sum_track_leg SET price = '-5' WHERE {one_head}",
    "symbol": "UPDATE sum_track_leg SET symbol = NULL WHERE {one_head}",
    "time": "UPDATE sum_track_leg SET head_ts = 'noon' WHERE {one_head}",
    "bad ids": "UPDATE sum_track_leg SET bad_heads = 'x,y' WHERE {one_head}",
}


@pytest.mark.parametrize("corruption", sorted(_CORRUPTIONS))
def test_a_summary_edited_by_hand_is_read_from_the_rows_never_fatal(
    tmp_path: Path, corruption: str
) -> None:
    """A value of the tracking summary no write makes: the algorithm is read from its rows
    (what they mean, never a guess, never a traceback), and ``journal verify`` says the summary
    disagrees with them."""
    from tests.tracking.test_track_journal import SCENE

    path = tmp_path / "journal.sqlite"
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        play(journal, clock, SCENE)
    picks = {
        "one_filled": "SELECT coid FROM sum_track_order WHERE intent_id IS NOT NULL "
        "AND fills IS NOT NULL AND is_exit = 0 LIMIT 1",
        "one_intent": "SELECT coid FROM sum_track_order WHERE intent_id IS NOT NULL "
        "AND is_exit = 0 LIMIT 1",
        "one_head": "head_id IS NOT NULL AND leg = "
        "(SELECT leg FROM sum_track_leg WHERE head_id IS NOT NULL LIMIT 1)",
    }
    conn = sqlite3.connect(path)
    with conn:
        assert conn.execute(_CORRUPTIONS[corruption].format(**picks)).rowcount == 1
    conn.close()
    assert not _tracking_verified(path)
    _same(*_both(path))
