"""Alerts that mean something: an outage told while it lasts (and its end, with how long), a
blip told nothing, the broker unreachable and back, a kill-switch change journaled and told
with no signal, every URL sent to at once with a timeout each, Apprise types by severity, drift
in one message, and the daily summary. Apprise posts to a loopback JSON receiver
(``json://127.0.0.1:PORT/``) served by the test."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.broker.conftest import KEY_ID, SECRET_KEY, fast_config
from tests.runtime.test_alerts import HEAD, receiving
from tests.web.test_served_dashboard import DEADLINE, running_bot
from tradebot.alphahub.gaps import Gap
from tradebot.broker.alpaca import AlpacaBroker
from tradebot.broker.sim import SimBroker
from tradebot.config.model import Mode, NotifyTarget, SimBrokerConfig
from tradebot.core.book import PositionBook
from tradebot.core.signal import Side
from tradebot.execution.recovery import Drift
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import open_journal
from tradebot.journal.summary import Pnl
from tradebot.journal.summary_sql import Summaries
from tradebot.runtime.alert_watch import (
    OutageWatch,
    open_outages,
    summary_due,
    summary_text,
)
from tradebot.runtime.alerts import Alerts
from tradebot.runtime.broker_reach import BrokerReach
from tradebot.runtime.context import PlanningContext
from tradebot.runtime.killswitch import (
    HaltMode,
    KillSwitchState,
    clear_kill_switch,
    write_kill_switch,
)
from tradebot.runtime.lapses import Compared, LapseWatcher
from tradebot.runtime.observer import (
    BotEvent,
    DriftFound,
    ErrorRecorded,
    KillSwitchChanged,
    LapseReported,
)
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.server import AlpacaServer

T0 = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)


def watch_yaml(url: str, events: str, **options: Any) -> str:
    lines = ["name: test-bot", "notify:", f"  - url: {url}", f"    events: [{events}]"]
    lines += [f"    {key}: {value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


# -- the outage: told while it lasts ----------------------------------------------------------


async def test_the_outage_alert_arrives_before_the_outage_ends(tmp_path: Path) -> None:
    with receiving() as receiver:
        extra = watch_yaml(receiver.url, "outage", outage_after=1)
        async with running_bot(tmp_path, extra=extra) as run:
            run.hub.refuse_handshakes(1_000_000)  # every reconnection is refused...
            run.hub.drop()  # ...after the one connection is cut
            (start,) = await receiver.wait_for(1)
            # told while it lasts: the algorithm is still joined on no connection
            assert run.hub.joined(17) == []
            assert start["title"] == f"{HEAD}: outage"
            assert start["type"] == "failure"
            assert "algorithm 17 is subscribed on no connection since" in start["message"]

            run.hub.accept_handshakes()
            await run.hub.wait_joined(17)
            _, end = await receiver.wait_for(2)
            assert end["type"] == "success"
            assert "outage over: algorithm 17 is subscribed again after" in end["message"]
            # the duration: at least the threshold the first alert waited for
            seconds = float(end["message"].split(" after ")[1].split(" s ")[0])
            assert seconds >= 1.0


def gap(lost: float, rejoined: float | None, *, connection: int = 0, algo: int = 17) -> Gap:
    back = None if rejoined is None else T0 + timedelta(seconds=rejoined)
    return Gap(algo, connection, T0 + timedelta(seconds=lost), back, "dropped")


def test_a_blip_under_the_threshold_tells_nothing() -> None:
    watch = OutageWatch({0: 30.0})
    blip = [gap(0, None)]  # a gap opened at T0
    for ms in (0, 6):  # looked at while it is open (6 ms), then after it closed
        now = T0 + timedelta(milliseconds=ms)
        assert watch.step(blip, [17], 1, now) == []
    closed = [gap(0, 0.006)]
    now = T0 + timedelta(seconds=40)  # long after, the closed blip still tells nothing
    assert watch.step(closed, [17], 1, now) == []


def test_an_outage_is_told_at_each_entrys_threshold_once_and_its_end_to_the_same() -> None:
    watch = OutageWatch({0: 30.0, 2: 60.0})
    open_gap = [gap(0, None)]

    def at(seconds: float, gaps: list[Gap]) -> list[tuple[int, bool, frozenset[int]]]:
        now = T0 + timedelta(seconds=seconds)
        return [(n.algo_id, n.ended is None, n.targets) for n in watch.step(gaps, [17], 1, now)]

    assert at(29.9, open_gap) == []
    assert at(30, open_gap) == [(17, True, frozenset({0}))]
    assert at(45, open_gap) == []  # once
    assert at(60, open_gap) == [(17, True, frozenset({2}))]
    (end,) = watch.step([gap(0, 61)], [17], 1, T0 + timedelta(seconds=62))
    assert (end.targets, end.ended) == (frozenset({0, 2}), T0 + timedelta(seconds=61))
    assert "after 1 min 1 s (14:30:00 to 14:31:01 UTC)" in end.text()


def test_one_connection_still_joined_is_no_outage() -> None:
    gaps = [gap(0, None, connection=0)]  # connection 1 never lost it
    now = T0 + timedelta(seconds=100)
    assert open_outages(gaps, [17], 2, now) == {}
    healed = [*gaps, gap(10, 20, connection=1)]  # connection 1 lost it once, and got it back
    assert open_outages(healed, [17], 2, now) == {}
    both = [*gaps, gap(50, None, connection=1)]
    assert open_outages(both, [17], 2, now) == {17: T0 + timedelta(seconds=50)}


# -- the broker: unreachable, then reachable again ----------------------------------------------


async def test_the_broker_unreachable_and_back_is_told_once_each(tmp_path: Path) -> None:
    events: list[BotEvent] = []
    with AlpacaServer(key=KEY_ID, secret=SECRET_KEY) as server, receiving() as receiver:
        alerts = Alerts(
            [NotifyTarget(url=receiver.url, events=("broker",))], name="b1", coalesce=0.1
        )
        worker = asyncio.create_task(alerts.run())

        def notice(event: BotEvent) -> None:
            events.append(event)
            alerts.notice(event)

        broker = AlpacaBroker(
            fast_config(server, max_attempts=2),
            Mode.PAPER,
            key_id=SecretStr(KEY_ID),
            secret_key=SecretStr(SECRET_KEY),
        )
        try:
            async with broker:
                with open_journal(tmp_path / "j.sqlite") as journal:
                    ctx = PlanningContext(
                        broker,
                        journal,
                        kill_switch=None,
                        track_pnl=False,
                        reach=BrokerReach(notice),
                    )
                    await ctx.refresh_account(T0)  # answers: nothing to tell
                    assert events == []
                    server.add_fault(Fault.error(503, times=1000, method="GET", path="/v2/account"))
                    await ctx.refresh_account(T0 + timedelta(seconds=15))
                    await ctx.refresh_account(T0 + timedelta(seconds=30))  # still down: once
                    (down,) = await receiver.wait_for(1)
                    server.clear_faults()
                    await ctx.refresh_account(T0 + timedelta(seconds=75))
                    _, up = await receiver.wait_for(2)
        finally:
            worker.cancel()
    assert [getattr(e, "reachable", None) for e in events] == [False, True]
    assert down["type"] == "failure" and up["type"] == "success"
    assert "broker unreachable since 14:30:15 UTC" in down["message"]
    assert "broker reachable again after 1 min 0 s (14:30:15 to 14:31:15 UTC)" in up["message"]
    assert down["title"] == "tradebot b1 (paper, account not read yet): broker"


# -- the kill switch: journaled and told when it changes, no signal needed -----------------------


async def test_a_kill_switch_change_is_journaled_and_told_with_no_signal(tmp_path: Path) -> None:
    with receiving() as receiver:
        async with running_bot(tmp_path, extra=watch_yaml(receiver.url, "kill_switch")) as run:
            switch = tmp_path / "tradebot.halt"
            write_kill_switch(switch, reduce_only=True, reason="going out", now=T0)
            (reduce_only,) = await receiver.wait_for(1)
            clear_kill_switch(switch)  # lifted before any signal came
            _, lifted = await receiver.wait_for(2)
            assert run.bot.handled == 0
        assert reduce_only["message"] == "kill switch: reduce_only (going out)"
        assert reduce_only["type"] == "warning"
        assert lifted["message"] == "kill switch: running"
        assert lifted["type"] == "success"
        with open_journal(run.journal, readonly=True) as journal:
            rows = journal.entries(EntryFilter(statuses=(Status.CONFIG,)))
        changes = [r.detail for r in sorted(rows, key=lambda r: r.id) if "kill switch" in r.detail]
        assert changes == ["kill switch: reduce_only (going out)", "kill switch: running"]


# -- delivery: at once, a timeout each, failures named --------------------------------------


@contextmanager
def hanging_receiver() -> Iterator[str]:
    """A URL whose server accepts the connection and never answers (Apprise's own timeouts
    set far beyond the entry's)."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as sock:
        yield f"json://127.0.0.1:{sock.getsockname()[1]}/hook?rto=60&cto=60"


async def test_a_hanging_url_delays_no_other_and_is_named_when_it_times_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tradebot.runtime.alert_delivery")
    with hanging_receiver() as hanging, receiving() as receiver:
        targets = [
            NotifyTarget(url=hanging, events=("error",), timeout=8),
            NotifyTarget(url=receiver.url, events=("error",)),
        ]
        alerts = Alerts(targets, coalesce=0.05)
        worker = asyncio.create_task(alerts.run())
        try:
            began = time.monotonic()
            alerts.notice(ErrorRecorded("the broker said no"))
            await receiver.wait_for(1)
            # long before the hanging entry's 8 s are up (sent one after the other, it would
            # have waited for them)
            assert time.monotonic() - began < 6
            # the second entry was sent while the first still hung: nothing timed out yet
            assert not [r for r in caplog.records if "timed out" in r.getMessage()]
            async with asyncio.timeout(DEADLINE):
                while len(alerts.sent) < 2:  # noqa: ASYNC110 (the worker thread fills it)
                    await asyncio.sleep(0.05)
        finally:
            worker.cancel()
    assert sorted(alerts.sent) == [(0, False), (1, True)]
    ours = [r.getMessage() for r in caplog.records if r.name == "tradebot.runtime.alert_delivery"]
    assert ours == ["notify[0] (json): timed out after 8 s"]  # the entry, not its URL


# -- types by severity, drift in one message --------------------------------------------------


async def test_each_message_has_the_apprise_type_of_its_severity() -> None:
    every = ("error", "kill_switch", "lapse", "fill")
    with receiving() as receiver:
        alerts = Alerts([NotifyTarget(url=receiver.url, events=every)], coalesce=0.05)
        worker = asyncio.create_task(alerts.run())
        try:
            sent = [
                ErrorRecorded("boom"),
                KillSwitchChanged(KillSwitchState(HaltMode.RUNNING)),
                LapseReported(17, ((T0, T0 + timedelta(seconds=40)),)),
            ]
            for n, event in enumerate(sent, start=1):
                alerts.notice(event)
                await receiver.wait_for(n)
        finally:
            worker.cancel()
    assert [m["type"] for m in receiver.messages] == ["failure", "success", "warning"]


async def test_drift_of_every_algorithm_is_one_message() -> None:
    drifts = (Drift("AAPL", Decimal(10), Decimal(7)), Drift("NVDA", Decimal(0), Decimal(5)))
    with receiving() as receiver:
        alerts = Alerts([NotifyTarget(url=receiver.url, events=("drift",))], coalesce=0.5)
        worker = asyncio.create_task(alerts.run())
        try:
            alerts.notice(DriftFound(drifts))  # after algorithm 17's lapse
            alerts.notice(DriftFound(drifts[::-1]))  # after algorithm 18's, the same drift
            (message,) = await receiver.wait_for(1)
        finally:
            worker.cancel()
    assert message["message"] == (
        "drift (recorded, never traded away): AAPL: journal net 10, broker 7; "
        "NVDA: journal net 0, broker 5"
    )
    assert message["type"] == "warning"


# -- the daily summary ------------------------------------------------------------------------


def test_the_daily_summary_tells_what_changed_since_the_last() -> None:
    before = Summaries(
        counts={(17, "signal"): 3, (17, "intent"): 2},
        pnl={17: Pnl(2, Decimal("10.00"))},
        skipped={"risk_limit": 1},
    )
    after = Summaries(
        counts={(17, "signal"): 8, (17, "intent"): 6, (18, "intent"): 1, (17, "rejected"): 1},
        pnl={17: Pnl(5, Decimal("35.50")), 18: Pnl(1, Decimal("-4.25"))},
        skipped={"risk_limit": 3, "market_closed": 2},
    )
    text = summary_text(
        before,
        after,
        since=T0,
        lapses=Counter({17: 2}),
        coverage={17: 0.99, 18: 1.0},
    )
    assert text.splitlines() == [
        "daily summary since 2026-12-07 14:30 UTC:",
        "signals 5, orders 5, fills 4, rejections 1, failed 0",
        "realised P&L 21.25",
        "skips: market_closed 2, risk_limit 2",
        "lapses: 2 (algorithm 17: 2)",
        "coverage: algorithm 17 99.00%, algorithm 18 100.00%",
    ]


def test_the_summary_is_due_once_a_day_at_its_time() -> None:
    last = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
    assert not summary_due("21:00", last, last.replace(hour=20, minute=59))
    assert summary_due("21:00", last, last.replace(hour=21, minute=0, second=1))
    sent = last.replace(hour=21, minute=0, second=1)
    assert not summary_due("21:00", sent, sent + timedelta(hours=23))
    assert summary_due("21:00", sent, sent + timedelta(hours=24))


async def test_the_daily_summary_is_sent_at_its_time_from_the_journal(tmp_path: Path) -> None:
    clock = [T0]
    with receiving() as receiver, open_journal(tmp_path / "j.sqlite") as journal:
        target = NotifyTarget(
            url=receiver.url, events=("daily_summary",), daily_summary_at="14:31", outage_after=1
        )
        alerts = Alerts([target], coalesce=0.05, journal=lambda: journal, now=lambda: clock[0])
        worker = asyncio.create_task(alerts.run())
        try:
            async with asyncio.timeout(DEADLINE):  # the baseline is read on the first tick
                while alerts._summaries[0].before is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            journal.record_error("one error, nothing counted")
            alerts.notice(LapseReported(17, ((T0, T0 + timedelta(seconds=40)),)))
            clock[0] = T0 + timedelta(minutes=1, seconds=5)
            (message,) = await receiver.wait_for(1)
        finally:
            worker.cancel()
    assert message["title"].endswith(": daily_summary")
    assert message["type"] == "info"
    lines = message["message"].splitlines()
    assert lines[0] == "daily summary since 2026-12-07 14:30 UTC:"
    assert "signals 0, orders 0, fills 0, rejections 0, failed 0" in lines
    assert "lapses: 1 (algorithm 17: 1)" in lines


# -- drift after lapses that end together: one comparison, one message -------------------------


async def test_lapses_ended_together_compare_positions_once(tmp_path: Path) -> None:
    book = PositionBook()
    book.apply_fill(17, "AAPL", Side.BUY, Decimal(10))  # the broker holds none: drift
    events: list[BotEvent] = []
    gaps: asyncio.Queue[Gap] = asyncio.Queue()
    closed = [gap(0, 40, algo=17), gap(0, 40, algo=18)]  # one connection, both algorithms
    for each in closed:
        gaps.put_nowait(each)
    with open_journal(tmp_path / "j.sqlite") as journal:
        watcher = LapseWatcher(
            journal,
            [Compared("default", journal, SimBroker(SimBrokerConfig()), book)],
            gaps=gaps,
            history=lambda: closed,
            connections=1,
            say=lambda line: None,
            now=lambda: T0 + timedelta(seconds=41),
            notify=events.append,
        )
        task = asyncio.create_task(watcher.run())
        try:
            async with asyncio.timeout(DEADLINE):
                while not any(isinstance(e, DriftFound) for e in events):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                while not gaps.empty() or len(events) < 3:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
    assert [type(e).__name__ for e in events] == ["LapseReported", "LapseReported", "DriftFound"]


async def test_after_a_lapse_each_account_is_compared_with_its_own_broker(tmp_path: Path) -> None:
    """Several accounts: each account's book against its own broker, each drift recorded and
    told as that account's (main holds AAPL, family MSFT: neither broker holds anything)."""
    main, family = PositionBook(), PositionBook()
    main.apply_fill(17, "AAPL", Side.BUY, Decimal(10))
    family.apply_fill(17, "MSFT", Side.BUY, Decimal(5))
    events: list[BotEvent] = []
    said: list[str] = []
    closed = [gap(0, 40, algo=17)]
    gaps: asyncio.Queue[Gap] = asyncio.Queue()
    gaps.put_nowait(closed[0])
    with open_journal(tmp_path / "j.sqlite") as journal:
        watcher = LapseWatcher(
            journal,
            [
                Compared("main", journal, SimBroker(SimBrokerConfig()), main),
                Compared("family", journal, SimBroker(SimBrokerConfig()), family),
            ],
            gaps=gaps,
            history=lambda: closed,
            connections=1,
            say=said.append,
            now=lambda: T0 + timedelta(seconds=41),
            notify=events.append,
        )
        task = asyncio.create_task(watcher.run())
        try:
            async with asyncio.timeout(DEADLINE):
                while sum(isinstance(e, DriftFound) for e in events) < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
        rows = journal.entries(EntryFilter(statuses=(Status.DRIFT,), newest_first=False))
    found = [(e.account, [d.symbol for d in e.drifts]) for e in events if isinstance(e, DriftFound)]
    assert found == [("main", ["AAPL"]), ("family", ["MSFT"])]
    assert [(r.account, r.symbol) for r in rows] == [("main", "AAPL"), ("family", "MSFT")]
    assert any(line.startswith("warning: account family: ") for line in said)
    (lapse,) = [line for line in said if "compare its holdings" in line]
    assert "main {'AAPL': '10'}, family {'MSFT': '5'}" in lapse
