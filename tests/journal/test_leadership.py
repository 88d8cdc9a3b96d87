"""The PostgreSQL side of several processes on one journal: the lease (on the server's clock,
exactly one winner), fencing a deposed leader, the legs a plan claims, every process's
heartbeat. Against a real server (tests/pgserver.py)."""

from __future__ import annotations

import threading
from decimal import Decimal

import psycopg
import pytest

from tests.core.helpers import ACCOUNT, agreeing_market, make_config
from tests.core.helpers import make_signal as core_signal
from tests.execution.fixed_planner import intent_for, make_signal
from tradebot.core.book import PositionBook
from tradebot.core.orders import IntentRole, Plan, SkipReason
from tradebot.core.planner import DayState
from tradebot.exceptions import NotLeader
from tradebot.journal import EntryFilter, Status
from tradebot.journal.postgres import ProcessBeat, open_postgres
from tradebot.runtime.signals import planner_for


def _expire(url: str) -> None:
    """The lease ran out (as if the leader stopped renewing long ago)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE tradebot_leadership SET lease_until = now() - interval '1 minute'")


def test_the_first_takes_the_lease_and_the_others_wait_for_it_to_expire(pg_url: str) -> None:
    with open_postgres(pg_url) as a, open_postgres(pg_url) as b:
        assert a.take_lead("a", 60) == 1
        assert b.take_lead("b", 60) is None  # the lease is live: b stands by
        assert a.renew_lead(1, 60)
        assert b.leadership() == (1, "a", True)
        _expire(pg_url)
        assert b.take_lead("b", 60) == 2  # expired: taken over, the epoch goes up
        assert not a.renew_lead(1, 60)  # the deposed leader learns it at its next renewal
        assert b.leadership() == (2, "b", True)


def test_a_released_lease_is_taken_at_once(pg_url: str) -> None:
    with open_postgres(pg_url) as a, open_postgres(pg_url) as b:
        assert a.take_lead("a", 60) == 1
        a.release_lead(1)
        assert b.take_lead("b", 60) == 2


def test_exactly_one_of_many_standbys_wins_an_expired_lease(pg_url: str) -> None:
    with open_postgres(pg_url) as first:
        assert first.take_lead("first", 60) == 1
    _expire(pg_url)
    stores = [open_postgres(pg_url) for _ in range(8)]
    won: list[int | None] = [None] * len(stores)
    start = threading.Barrier(len(stores))

    def contend(i: int) -> None:
        start.wait()
        won[i] = stores[i].take_lead(f"p{i}", 60)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for store in stores:
        store.close()
    assert sorted(w for w in won if w is not None) == [2]


def test_a_leader_deposed_while_paused_cannot_make_an_intent_durable(pg_url: str) -> None:
    with open_postgres(pg_url) as a, open_postgres(pg_url) as b:
        epoch = a.take_lead("a", 60)
        assert epoch == 1
        old = open_postgres(pg_url, epoch=epoch)
        _expire(pg_url)  # a is paused past the timeout ...
        assert b.take_lead("b", 60) == 2  # ... and b takes over
        signal = make_signal(7, opens=(("AAPL", "buy", "190.5"),))
        leg = signal.open_legs[0]
        plan = Plan((intent_for(leg, Decimal(1), leg.side, IntentRole.OPEN),), ())
        with pytest.raises(NotLeader):
            old.record_signal_and_plan(signal, plan)  # a wakes: refused, nothing written
        old.close()
        assert b.entries(EntryFilter(statuses=(Status.INTENT,))) == []
        with open_postgres(pg_url, epoch=2) as new:
            assert len(new.record_signal_and_plan(signal, plan)[1]) == 1


def test_a_plan_claims_its_legs_for_every_process(pg_url: str) -> None:
    signal = make_signal(7, opens=(("AAPL", "buy", "190.5"), ("MSFT", "sell", "410.25")))
    aapl, msft = signal.open_legs
    plan = Plan((intent_for(aapl, Decimal(1), aapl.side, IntentRole.OPEN),), ())
    with open_postgres(pg_url) as a, open_postgres(pg_url) as b:
        assert b.planned_legs([aapl.id.key, msft.id.key]) == set()
        a.record_signal_and_plan(signal, plan)
        assert b.planned_legs([aapl.id.key, msft.id.key]) == {aapl.id.key}
        assert b.planned_legs([]) == set()


def test_the_planner_leaves_out_legs_already_planned_under_another_signal_row() -> None:
    # the same frame journaled by two processes: two SIGNAL rows, legs planned once
    signal = core_signal(16, opens=(("AAPL", "buy", "190"), ("MSFT", "buy", "410")))
    aapl, msft = signal.open_legs
    asked: list[list[str]] = []

    def planned(keys: object) -> set[str]:
        asked.append(list(keys))  # type: ignore[call-overload]
        return {aapl.id.key}

    planner = planner_for(
        make_config(),
        ACCOUNT,
        signal.received_at,
        day=DayState(),
        market=agreeing_market(signal),
        planned=planned,
    )
    result = planner(signal, PositionBook())
    assert asked == [[aapl.id.key, msft.id.key]]
    assert [i.symbol for i in result.intents] == ["MSFT"]
    assert [(s.leg_id.symbol, s.reason) for s in result.skipped if s.leg_id] == [
        ("AAPL", SkipReason.DUPLICATE)
    ]
    every = planner_for(
        make_config(),
        ACCOUNT,
        signal.received_at,
        day=DayState(),
        market=agreeing_market(signal),
        planned=lambda keys: {aapl.id.key, msft.id.key},
    )
    assert every(signal, PositionBook()).intents == ()


def test_every_process_beats_and_is_listed(pg_url: str) -> None:
    with open_postgres(pg_url) as store:
        store.beat(ProcessBeat("h1:10:1", "h1", 10, "leader", "2/2 joined"))
        store.beat(ProcessBeat("h2:20:1", "h2", 20, "standby", "1/2 joined"))
        store.beat(ProcessBeat("h1:10:1", "h1", 10, "leader", "2/2 joined"))  # again: one row
        rows = {r.beat.holder: r for r in store.processes()}
    assert set(rows) == {"h1:10:1", "h2:20:1"}
    assert rows["h2:20:1"].beat.role == "standby"
    assert rows["h2:20:1"].beat.connections == "1/2 joined"
    assert all(r.age >= 0 for r in rows.values())


def test_the_leaders_poll_reads_only_recent_unplanned_signals(pg_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    old = make_signal(7, opens=(("AAPL", "buy", "190.5"),), received_at=t0)
    later = t0 + timedelta(minutes=10)
    new = make_signal(7, opens=(("MSFT", "buy", "410.25"),), received_at=later)
    with open_postgres(pg_url) as store:
        first = store.record_signal(old)
        second = store.record_signal(new)
        every = [s.signal_id for s in store.unplanned_signals()]
        recent = [s.signal_id for s in store.unplanned_signals(since=t0 + timedelta(minutes=5))]
    assert every == [first, second]
    assert recent == [second]
