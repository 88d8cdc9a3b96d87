"""Sending orders: the executor (journal first, then the broker) and start-up recovery."""

from tradebot.execution.executor import ExecutionResult, Executor, OrderOutcome, RetryPolicy, Step
from tradebot.execution.recovery import Drift, RecoveryReport, recover

__all__ = [
    "Drift",
    "ExecutionResult",
    "Executor",
    "OrderOutcome",
    "RecoveryReport",
    "RetryPolicy",
    "Step",
    "recover",
]
