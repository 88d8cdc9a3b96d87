"""Alerts name the account that caused them (issue 22): with several accounts each line an
account causes begins with its name and the title names the burst's accounts; what every
account shares names none; with one account every text is as it always was. A recording
sender stands for Apprise (the delivery itself is tested against a real receiver in
test_alerts.py)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from tests.execution.fixed_planner import make_signal
from tradebot.config.model import NotifyTarget
from tradebot.core.orders import Plan, SkippedLeg, SkipReason
from tradebot.core.signal import Side
from tradebot.execution.circuit import CircuitChange
from tradebot.execution.executor import ExecutionResult
from tradebot.journal.records import AppliedFill
from tradebot.runtime.alert_delivery import Severity
from tradebot.runtime.alerts import Alerts, alerts_for
from tradebot.runtime.observer import (
    BotEvent,
    BrokerCircuitChanged,
    ErrorRecorded,
    FillsRecorded,
    LapseReported,
    SignalHandled,
    Stopped,
)

AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
EVENTS = ("fill", "error", "broker", "lapse")


class Recorded:
    """Every message the alerts would send: (title, body)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, url: str, title: str, body: str, severity: Severity) -> bool:
        with self._lock:
            self.messages.append((title, body))
        return True


def burst(accounts: Sequence[str], events: Sequence[BotEvent]) -> list[tuple[str, str]]:
    """The messages of one burst of ``events`` (the stop flushes it)."""
    sent = Recorded()
    target = NotifyTarget(url="json://127.0.0.1:9/hook", events=EVENTS)
    alerts = Alerts([target], name="b", send=sent, coalesce=30.0, accounts=accounts)
    for event in events:
        alerts.notice(event)
    alerts.notice(Stopped())  # ends the burst at once: the worker sends it and stops
    alerts.flush()
    return sent.messages


def fill(coid: str) -> AppliedFill:
    return AppliedFill(coid, 16, "AAPL", Side.BUY, Decimal(10), Decimal("100.01"))


def lapse() -> LapseReported:
    return LapseReported(16, ((AT, AT),))


def test_with_several_accounts_each_line_names_its_account() -> None:
    circuit = CircuitChange(open=True, failures=3, detail="HTTP 503")
    events: list[BotEvent] = [
        FillsRecorded((fill("family.tb16-AAPL-o-0123456789abcdef"),), account="family"),
        ErrorRecorded("the stream dropped", account="main"),
        BrokerCircuitChanged(circuit, AT, account="family"),
        lapse(),
    ]
    [(title, body)] = burst(("main", "family"), events)
    assert title == "tradebot b (paper, accounts family, main): broker, error, fill, lapse"
    lines = body.splitlines()
    assert lines[0].startswith("[family] fill: buy 10 AAPL at 100.01 (algorithm 16, family.")
    assert lines[1] == "[main] error: the stream dropped"
    assert lines[2].startswith("[family] broker circuit open at 15:00:00 UTC")
    assert lines[3].startswith("lapse: algorithm 16 was not subscribed")  # every account's


def test_one_account_of_several_in_the_title() -> None:
    [(title, body)] = burst(("main", "family"), [ErrorRecorded("boom", account="family")])
    assert title == "tradebot b (paper, account family): error"
    assert body == "[family] error: boom"
    [(title, _)] = burst(("main", "family"), [lapse()])
    assert title == "tradebot b (paper, every account): lapse"


def test_with_one_account_the_texts_are_as_before() -> None:
    coid = "tb16-AAPL-o-0123456789abcdef"
    [(title, body)] = burst(("default",), [FillsRecorded((fill(coid),)), ErrorRecorded("boom")])
    assert title == "tradebot b (paper, account not read yet): error, fill"
    assert body.splitlines() == [
        f"fill: buy 10 AAPL at 100.01 (algorithm 16, {coid})",
        "error: boom",
    ]


def test_the_daily_loss_is_told_once_per_account() -> None:
    """Two accounts follow algorithm 16 and both hit their daily loss: each is told once."""
    loss = "algorithm 16 lost 600 today, max_daily_loss is 500: closes only"
    skip = SkippedLeg(None, SkipReason.RISK_LIMIT, loss)
    signal = make_signal(16, opens=(("AAPL", "buy", "189.5"),))
    seen: set[tuple[str, int, date]] = set()
    day = AT.date()
    told = []
    for account in ("main", "family", "main"):
        event = SignalHandled(signal, ExecutionResult(1, Plan(skipped=(skip,)), ()), account)
        told += [(a.event, a.account) for a in alerts_for(event, day, seen)]
    assert told == [("daily_loss", "main"), ("daily_loss", "family")]
