"""What ``/metrics`` shows besides the counters (:mod:`tradebot.runtime.metrics`): the gauges
read from the running bot at each scrape, and the filter that leaves out ``_created``."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tradebot.runtime.killswitch import HaltMode, read_kill_switch

if TYPE_CHECKING:
    from tradebot.runtime.bot import Bot

#: ``tradebot_kill_switch_mode``: the number of each mode (documented in docs/operations.md)
KILL_SWITCH_MODE = {HaltMode.RUNNING: 0, HaltMode.REDUCE_ONLY: 1, HaltMode.HALT: 2}


class WithoutCreated(Collector):
    """``registry`` as exposed: every sample but the ``_created`` ones prometheus-client adds
    to counters and histograms (a second series per counter that nobody alerts on). A filter
    on our registry alone: ``disable_created_metrics()`` would change every registry in the
    process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            kept = copy.copy(metric)
            created = metric.name + "_created"
            kept.samples = [s for s in metric.samples if s.name != created]
            yield kept


class StateGauges(Collector):
    """The gauges read from the bot at each scrape (no I/O but the kill switch's small file,
    which the bot itself reads before every signal)."""

    def __init__(
        self,
        bot: Bot,
        *,
        up: Callable[[], bool],
        last_signals: Callable[[], Mapping[int, datetime]],
        reachable: Callable[[], bool],
        circuit_open: Callable[[], bool] = lambda: False,
    ) -> None:
        self._bot = bot
        self._up = up
        self._last_signals = last_signals
        self._reachable = reachable
        self._circuit_open = circuit_open

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(labelled=False))

    def collect(self) -> Iterator[Metric]:
        up, joined, switch, last, equity, reachable, circuit = self._families(labelled=True)
        up.add_metric([], 1 if self._up() else 0)
        parts = self._bot.parts
        if parts is not None:
            listener = parts.listener
            for algo_id in listener.algorithms:
                count = sum(
                    algo_id in listener.joined(c)
                    for c in range(self._bot.config.alphahub.connections)
                )
                joined.add_metric([str(algo_id)], count)
            mode = read_kill_switch(parts.context.kill_switch_path).mode
            switch.add_metric([], KILL_SWITCH_MODE[mode])
            account = parts.context.account
            if account is not None:
                equity.add_metric([], float(account.equity))
            reachable.add_metric([], 1 if self._reachable() else 0)
            circuit.add_metric([], 1 if self._circuit_open() else 0)
        for algo_id, at in sorted(self._last_signals().items()):
            last.add_metric([str(algo_id)], at.timestamp())
        return iter((up, joined, switch, last, equity, reachable, circuit))

    @staticmethod
    def _families(*, labelled: bool) -> tuple[GaugeMetricFamily, ...]:
        algo = ["algo"]
        return (
            GaugeMetricFamily(
                "tradebot_up", "1 from the end of recovery (trading) until the bot stops"
            ),
            GaugeMetricFamily(
                "tradebot_connections_joined",
                "AlphaHub connections subscribed to the algorithm right now",
                labels=algo,
            ),
            GaugeMetricFamily(
                "tradebot_kill_switch_mode", "The kill switch: 0 running, 1 reduce-only, 2 halt"
            ),
            GaugeMetricFamily(
                "tradebot_last_signal_timestamp_seconds",
                "When the algorithm's newest journaled signal was received (Unix time)",
                labels=algo,
            ),
            GaugeMetricFamily(
                "tradebot_equity_usd", "The account's equity as the broker last reported it"
            ),
            GaugeMetricFamily(
                "tradebot_broker_reachable",
                "1 while the broker answers (the /healthz broker check passes), else 0",
            ),
            GaugeMetricFamily(
                "tradebot_broker_circuit_open",
                "1 while the broker circuit breaker is open (no order is sent), else 0",
            ),
        )
