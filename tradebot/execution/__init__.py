"""Sending orders: the executor (journal first, then the broker) and start-up recovery."""

from tradebot.execution.executor import ExecutionResult, Executor, OrderOutcome, Step
from tradebot.execution.recovery import Drift, RecoveryReport, recover

__all__ = [
    "Drift",
    "ExecutionResult",
    "Executor",
    "OrderOutcome",
    "RecoveryReport",
    "Step",
    "recover",
]
