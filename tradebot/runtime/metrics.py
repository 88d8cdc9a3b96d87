"""Prometheus metrics of the running bot, served at ``GET /metrics`` by its dashboard.

A registry of our own (never prometheus-client's global default, so a test or a second bot in
the process never sees another's counts), updated by an observer (:class:`BotMetrics`) from the
bot's events, and by :class:`TimedJournal`, which times every journal write where it is made.

Latencies need two timestamps each:

* signal to order, order to first and last fill, per algorithm:
  :mod:`tradebot.runtime.latency_metrics`, on this registry;
* journal commit: the duration of each ``record_*`` call, in the thread that makes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from tradebot.journal.interface import Journal
from tradebot.runtime.latency_metrics import LatencyMetrics
from tradebot.runtime.observer import (
    BackfillDelivered,
    BotEvent,
    ConnectionChanged,
    FillsRecorded,
    LapseReported,
    SignalHandled,
)

#: seconds; a signal normally leaves in milliseconds, a slow broker in seconds
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class BotMetrics:
    """The counters and histograms, and the observer that keeps them (``notice``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.signals = Counter("tradebot_signals", "Signals handled", ["algo"], registry=r)
        self.legs = Counter(
            "tradebot_legs", "Legs handled, by outcome", ["algo", "outcome"], registry=r
        )
        self.orders = Counter(
            "tradebot_orders", "Orders sent, by status", ["algo", "status"], registry=r
        )
        self.fills = Counter("tradebot_fills", "Fills recorded", ["algo"], registry=r)
        self.skips = Counter(
            "tradebot_skips", "Legs not traded, by reason", ["algo", "reason"], registry=r
        )
        self.reconnects = Counter(
            "tradebot_reconnects", "AlphaHub reconnect attempts", ["connection"], registry=r
        )
        self.lapse_seconds = Counter(
            "tradebot_lapse_seconds",
            "Seconds an algorithm was subscribed on no connection",
            ["algo"],
            registry=r,
        )
        self.backfilled = Counter(
            "tradebot_backfilled_legs",
            "Legs recovered from AlphaHub's history, queued to trade or journaled only",
            ["algo", "outcome"],
            registry=r,
        )
        #: signal to order, order to first and last fill, per algorithm
        self.latency = LatencyMetrics(r)
        self.commit_latency = Histogram(
            "tradebot_journal_commit_seconds",
            "Duration of each journal write (commit included)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)

    def notice(self, event: BotEvent) -> None:
        self.latency.notice(event)
        match event:
            case SignalHandled():
                self._signal(event)
            case FillsRecorded(fills=fills):
                for fill in fills:
                    self.fills.labels(str(fill.algo_id)).inc()
            case ConnectionChanged(change=change) if change.state == "retrying":
                self.reconnects.labels(str(change.connection)).inc()
            case LapseReported(algo_id=algo_id, windows=windows):
                seconds = sum((end - start).total_seconds() for start, end in windows)
                self.lapse_seconds.labels(str(algo_id)).inc(max(seconds, 0.0))
            case BackfillDelivered(algo_id=algo_id, queued=queued, skipped=skipped):
                if queued:
                    self.backfilled.labels(str(algo_id), "queued").inc(queued)
                if skipped:
                    self.backfilled.labels(str(algo_id), "journaled").inc(len(skipped))
            case _:
                pass

    def _signal(self, event: SignalHandled) -> None:
        signal, plan = event.signal, event.result.plan
        algo = str(signal.algo_id)
        self.signals.labels(algo).inc()
        skipped_legs = {s.leg_id for s in plan.skipped if s.leg_id is not None}
        for skip in plan.skipped:
            self.skips.labels(algo, str(skip.reason)).inc()
        traded = sum(1 for leg in signal.legs if leg.id not in skipped_legs)
        if traded:
            self.legs.labels(algo, "planned").inc(traded)
        if len(skipped_legs):
            self.legs.labels(algo, "skipped").inc(len(skipped_legs))
        if signal.rejected:
            self.legs.labels(algo, "rejected").inc(len(signal.rejected))
        for outcome in event.result.outcomes:
            status = str(outcome.snapshot.status) if outcome.snapshot is not None else "failed"
            self.orders.labels(str(outcome.intent.algo_id), status).inc()


class TimedJournal:
    """The journal, with every ``record_*`` call timed and its success remembered.

    Everything else passes straight through. ``last_commit`` (monotonic) is the end of the last
    write that succeeded, ``failing`` whether the latest write raised: the health check reads
    them instead of writing a probe row of its own."""

    def __init__(self, journal: Journal, histogram: Histogram) -> None:
        self._journal = journal
        self._histogram = histogram
        self._state = threading.Lock()
        self.last_commit: float | None = None
        self.failing: str | None = None

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._journal, name)
        if not name.startswith("record_") or not callable(value):
            return value
        return self._timed(value)

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                result = method(*args, **kwargs)
            except BaseException as exc:
                with self._state:
                    self.failing = f"{type(exc).__name__}: {exc}"
                raise
            ended = time.monotonic()
            self._histogram.observe(ended - started)
            with self._state:
                self.last_commit, self.failing = ended, None
            return result

        return call


def timed(metrics: BotMetrics) -> tuple[Callable[[Journal], Journal], list[TimedJournal]]:
    """A wrapper for :meth:`Bot.wrap_journal <tradebot.runtime.bot.Bot.wrap_journal>`, and
    the list the wrapped journal lands in (the health check reads it)."""
    made: list[TimedJournal] = []

    def wrap(journal: Journal) -> Journal:
        timed_journal = TimedJournal(journal, metrics.commit_latency)
        made.append(timed_journal)
        return cast(Journal, timed_journal)

    return wrap, made
