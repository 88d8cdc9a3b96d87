"""Which bot events become which alerts, and the metrics the same events move: from the
bot's own event values (plans, skipped legs, lapses), no bot needed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.execution.fixed_planner import make_signal
from tradebot.alphahub.session import StateChange
from tradebot.core.orders import Plan, SkippedLeg, SkipReason
from tradebot.exceptions import JournalError
from tradebot.execution.executor import ExecutionResult
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.alerts import alerts_for
from tradebot.runtime.metrics import BotMetrics, TimedJournal
from tradebot.runtime.observer import (
    BackfillDelivered,
    ConnectionChanged,
    LapseReported,
    SignalHandled,
    Stopped,
)

DAY = date(2026, 11, 24)
LOSS = "algorithm 17 lost 600 today, max_daily_loss is 500: closes only"


def skipped(reason: SkipReason, detail: str = "why") -> SkippedLeg:
    return SkippedLeg(None, reason, detail)


def handled(*skips: SkippedLeg) -> SignalHandled:
    signal = make_signal(17, opens=(("AAPL", "buy", "189.5"),))
    return SignalHandled(signal, ExecutionResult(1, Plan(skipped=skips), ()))


def test_daily_loss_alerts_once_when_it_starts_refusing_then_again_the_next_day() -> None:
    seen: set[tuple[str, int, date]] = set()
    first = alerts_for(handled(skipped(SkipReason.RISK_LIMIT, LOSS)), DAY, seen)
    assert [(a.event, a.text) for a in first] == [("daily_loss", f"daily loss limit: {LOSS}")]
    assert alerts_for(handled(skipped(SkipReason.RISK_LIMIT, LOSS)), DAY, seen) == []
    tomorrow = DAY + timedelta(days=1)
    assert [
        a.event for a in alerts_for(handled(skipped(SkipReason.RISK_LIMIT, LOSS)), tomorrow, seen)
    ] == ["daily_loss"]
    other_limit = skipped(SkipReason.RISK_LIMIT, "max_position_pct reached")
    assert alerts_for(handled(other_limit), DAY + timedelta(days=2), seen) == []


@pytest.mark.parametrize(
    ("reason", "alerted"),
    [
        (SkipReason.MISSED_STALE, True),
        (SkipReason.BACKFILL_AMBIGUOUS, True),
        (SkipReason.BACKFILL_JOURNAL, False),  # journal-only by choice: not missed
        (SkipReason.STALE, False),
    ],
)
def test_missed_signal_from_the_backfill_and_from_a_stale_recovered_signal(
    reason: SkipReason, alerted: bool
) -> None:
    from_backfill = alerts_for(BackfillDelivered(17, 0, (skipped(reason),)), DAY, set())
    from_plan = alerts_for(handled(skipped(reason)), DAY, set())
    for alerts in (from_backfill, from_plan):
        assert [a.event for a in alerts] == (["missed_signal"] if alerted else [])


def test_stopped_names_the_error() -> None:
    (alert,) = alerts_for(Stopped(JournalError("disk full")), DAY, set())
    assert alert.text == "tradebot stopped because of JournalError: disk full"


def test_metrics_for_reconnects_lapses_and_backfilled_legs() -> None:
    metrics = BotMetrics()
    metrics.notice(ConnectionChanged(StateChange(0, "retrying", attempt=1, retry_in=0.1)))
    metrics.notice(ConnectionChanged(StateChange(0, "joined")))
    start = datetime(2026, 11, 24, 15, tzinfo=UTC)
    window = (start, start + timedelta(seconds=42))
    metrics.notice(LapseReported(17, (window,)))
    metrics.notice(BackfillDelivered(17, 3, (skipped(SkipReason.MISSED_STALE),)))
    text = metrics.render().decode()
    assert 'tradebot_reconnects_total{connection="0"} 1.0' in text
    assert 'tradebot_lapse_seconds_total{algo="17"} 42.0' in text
    assert 'tradebot_backfilled_legs_total{algo="17",outcome="queued"} 3.0' in text
    assert 'tradebot_backfilled_legs_total{algo="17",outcome="journaled"} 1.0' in text


def test_a_failing_journal_write_is_remembered_for_the_health_check(tmp_path: Path) -> None:
    metrics = BotMetrics()
    journal = open_journal(tmp_path / "j.sqlite")
    timed = TimedJournal(journal, metrics.commit_latency)
    timed.record_start("started")
    assert timed.failing is None and timed.last_commit is not None
    journal.close()
    with pytest.raises(Exception):  # noqa: B017 (whatever a closed journal raises)
        timed.record_error("after the close")
    assert timed.failing is not None
    assert "tradebot_journal_commit_seconds_count 1.0" in metrics.render().decode()
