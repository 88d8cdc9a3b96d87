"""The latency histograms, kept from the bot's events: each order's send, its first fill and
the fill that completes it, per algorithm; exits and orders from before the start not timed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from prometheus_client import CollectorRegistry

from tests.execution.fixed_planner import make_signal
from tradebot.core.ids import remainder_id
from tradebot.core.order_shape import MARKET
from tradebot.core.order_snapshot import OrderSnapshot
from tradebot.core.orders import IntentRole, OrderIntent, Plan, TimeInForce
from tradebot.core.signal import Side
from tradebot.execution.executor import ExecutionResult, OrderOutcome
from tradebot.journal.records import AppliedFill
from tradebot.runtime.latency_metrics import LatencyMetrics
from tradebot.runtime.observer import FillsRecorded, OrderSubmitting, SignalHandled

RECEIVED = datetime.fromisoformat("2026-11-24T14:30:05+00:00")


def _intent(coid: str, qty: str, role: IntentRole = IntentRole.OPEN) -> OrderIntent:
    signal = make_signal(17, opens=(("AAPL", "buy", "100"),), received_at=RECEIVED)
    leg = signal.legs[0].id
    return OrderIntent(
        coid, 17, "AAPL", Side.BUY, Decimal(qty), MARKET, TimeInForce.DAY, role, (leg,),
        Decimal(100),
    )  # fmt: skip


class Clocked:
    """The metrics, with a clock the test moves (seconds after the signal's receipt)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.seconds = 0.0
        self.metrics = LatencyMetrics(self.registry, now=self.now)

    def now(self) -> datetime:
        return RECEIVED + timedelta(seconds=self.seconds)

    def sample(self, name: str, suffix: str = "sum") -> float | None:
        return self.registry.get_sample_value(
            f"{name}_{suffix}", {"account": "default", "algo": "17"}
        )


def _fill(coid: str, qty: str) -> FillsRecorded:
    return FillsRecorded((AppliedFill(coid, 17, "AAPL", Side.BUY, Decimal(qty), Decimal(100)),))


def test_signal_to_order_then_first_and_last_fill_per_order() -> None:
    c = Clocked()
    buy, exit_ = _intent("o-1", "10"), _intent("x-1", "10", IntentRole.EXIT)
    c.metrics.notice(OrderSubmitting(c.now() + timedelta(seconds=0.25), buy))
    c.metrics.notice(OrderSubmitting(c.now() + timedelta(seconds=0.5), exit_))
    signal = make_signal(17, opens=(("AAPL", "buy", "100"),), received_at=RECEIVED)
    answered = OrderOutcome(buy, OrderSnapshot.accepted(buy, "b-1", RECEIVED))
    c.metrics.notice(SignalHandled(signal, ExecutionResult(1, Plan(intents=(buy,)), (answered,))))
    assert c.sample("tradebot_signal_to_order_seconds") == 0.25
    assert c.sample("tradebot_signal_to_order_seconds", "count") == 1  # the exit is not ours
    c.seconds = 2.25
    c.metrics.notice(_fill("o-1", "4"))  # 2 s after it left
    assert c.sample("tradebot_order_to_first_fill_seconds") == 2.0
    assert c.sample("tradebot_order_to_last_fill_seconds", "count") is None  # 6 to come
    c.seconds = 7.25
    c.metrics.notice(_fill("x-1", "10"))  # an exit's fill: not timed
    c.metrics.notice(_fill("o-1", "6"))  # completes it, 7 s after it left
    assert c.sample("tradebot_order_to_first_fill_seconds") == 2.0
    assert c.sample("tradebot_order_to_first_fill_seconds", "count") == 1
    assert c.sample("tradebot_order_to_last_fill_seconds") == 7.0
    assert c.sample("tradebot_order_to_last_fill_seconds", "count") == 1


def test_a_chased_remainder_counts_toward_its_limit_and_unknown_orders_are_not_timed() -> None:
    c = Clocked()
    limit = _intent("l-1", "10")
    remainder = _intent(remainder_id("l-1"), "6")
    c.metrics.notice(OrderSubmitting(RECEIVED, limit))
    c.seconds = 1
    c.metrics.notice(_fill("l-1", "4"))
    c.seconds = 30
    c.metrics.notice(OrderSubmitting(c.now(), remainder))
    c.seconds = 31
    c.metrics.notice(_fill(remainder_id("l-1"), "6"))
    c.metrics.notice(_fill("from-before-the-start", "6"))
    assert c.sample("tradebot_order_to_first_fill_seconds") == 1.0
    assert c.sample("tradebot_order_to_last_fill_seconds") == 31.0  # from the limit's send
    assert c.sample("tradebot_order_to_last_fill_seconds", "count") == 1


def test_a_fill_in_the_brokers_answer_to_the_submission_is_timed() -> None:
    """A market order can fill at once: the answer carries it, and the stream's copy of it is
    no new fill (no FillsRecorded)."""
    c = Clocked()
    buy = _intent("o-2", "10")
    c.metrics.notice(OrderSubmitting(RECEIVED, buy))
    c.seconds = 0.125
    accepted = OrderSnapshot.accepted(buy, "b-2", RECEIVED)
    filled = replace(accepted, filled_qty=Decimal(10), filled_avg_price=Decimal(100))
    signal = make_signal(17, opens=(("AAPL", "buy", "100"),), received_at=RECEIVED)
    result = ExecutionResult(1, Plan(intents=(buy,)), (OrderOutcome(buy, filled),))
    c.metrics.notice(SignalHandled(signal, result))
    assert c.sample("tradebot_order_to_first_fill_seconds") == 0.125
    assert c.sample("tradebot_order_to_last_fill_seconds") == 0.125
