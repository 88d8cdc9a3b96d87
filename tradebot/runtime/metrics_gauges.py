"""What ``/metrics`` shows besides the counters (:mod:`tradebot.runtime.metrics`): the gauges
read from the running bot at each scrape, and the filter that leaves out ``_created``.

The broker's gauges (equity, cash, reachable, circuit open) are per account, labelled
``account``, one series per account the bot knows of (:class:`AccountGauges`)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tradebot.runtime.killswitch import HaltMode, read_kill_switch

if TYPE_CHECKING:
    from tradebot.runtime.bot import Bot

#: ``tradebot_kill_switch_mode``: the number of each mode (documented in docs/operations.md)
KILL_SWITCH_MODE = {HaltMode.RUNNING: 0, HaltMode.REDUCE_ONLY: 1, HaltMode.HALT: 2}


@dataclass(frozen=True, slots=True)
class AccountGauges:
    """One account's broker gauges, as the bot knows them now: its equity and cash as its
    broker last reported them (None: not read yet), and whether its broker answers."""

    equity: Decimal | None
    cash: Decimal | None
    reachable: bool


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
        accounts: Callable[[], Mapping[str, AccountGauges]],
        circuit_open: Callable[[], Mapping[str, bool]] = dict,
    ) -> None:
        self._bot = bot
        self._up = up
        self._last_signals = last_signals
        self._accounts = accounts
        self._circuit_open = circuit_open

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(labelled=False))

    def collect(self) -> Iterator[Metric]:
        up, joined, switch, last, equity, cash, reachable, circuit = self._families(labelled=True)
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
        circuits = self._circuit_open()
        for name, account in sorted(self._accounts().items()):  # none until the bot knows
            if account.equity is not None:
                equity.add_metric([name], float(account.equity))
            if account.cash is not None:
                cash.add_metric([name], float(account.cash))
            reachable.add_metric([name], 1 if account.reachable else 0)
            circuit.add_metric([name], 1 if circuits.get(name, False) else 0)
        for algo_id, at in sorted(self._last_signals().items()):
            last.add_metric([str(algo_id)], at.timestamp())
        return iter((up, joined, switch, last, equity, cash, reachable, circuit))

    @staticmethod
    def _families(*, labelled: bool) -> tuple[GaugeMetricFamily, ...]:
        algo, account = ["algo"], ["account"]
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
                "tradebot_equity_usd",
                "The account's equity as its broker last reported it",
                labels=account,
            ),
            GaugeMetricFamily(
                "tradebot_cash_usd",
                "The account's cash as its broker last reported it",
                labels=account,
            ),
            GaugeMetricFamily(
                "tradebot_broker_reachable",
                "1 while the account's broker answers (the /healthz broker check passes), else 0",
                labels=account,
            ),
            GaugeMetricFamily(
                "tradebot_broker_circuit_open",
                "1 while the account's broker circuit breaker is open (no order is sent), else 0",
                labels=account,
            ),
        )
