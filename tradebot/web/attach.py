"""The running bot's dashboard, health check and metrics: one plug-in, attached by
:func:`attach_observability` where ``tradebot run`` (and the demo) build the bot.

The dashboard never stands between a person and trading: it is started as a plug-in task after
the banner, its line (the address, or why it is not served: a port taken by a second bot, an
address that cannot be used, ``dashboard.enabled: false``) is printed right after the banner and
written into the status file for ``tradebot status``; a failure of the server is logged and
reported, and trading goes on. Its pages read the journal read-only in threads of their own; the
Positions page shows the last snapshot of the bot's own broker's positions (no second
connection), refreshed by a task of its own (:mod:`tradebot.web.snapshot`), never asked by a
page; open pages hear of new rows at once through a :class:`~tradebot.web.sources.LiveFeed`
nudged from the bot's events.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tradebot.broker.base import Broker
from tradebot.clock import utcnow
from tradebot.config.model import BackfillMode, Config
from tradebot.execution.circuit import BrokerCircuit
from tradebot.runtime.account_engine import AccountEngine
from tradebot.runtime.alerts import Alerts, Coverage
from tradebot.runtime.bot import Bot
from tradebot.runtime.history_coverage import HistoryCoverage
from tradebot.runtime.metrics import BotMetrics, TimedJournal, timed
from tradebot.runtime.metrics_gauges import AccountGauges
from tradebot.runtime.observer import (
    BackfillDelivered,
    BotEvent,
    DriftFound,
    ErrorRecorded,
    FillsRecorded,
    KillSwitchChanged,
    LapseReported,
    OrdersSettled,
    SignalDeferred,
    SignalHandled,
)
from tradebot.web.accounts import AccountHealth
from tradebot.web.health import Health, subscriptions_problem
from tradebot.web.serve import DashboardHandle, sources_for, start_dashboard
from tradebot.web.snapshot import BrokerSnapshots, bot_fetch
from tradebot.web.sources import LiveFeed

log = logging.getLogger(__name__)

#: the broker answers an account request every 15 s while the bot runs; three missed in a row
#: (or a broker that stopped answering at all) is unhealthy
BROKER_SILENCE = timedelta(seconds=60)

#: events after which the journal holds new rows: open pages are told at once
_JOURNALED = (
    SignalHandled,
    SignalDeferred,
    FillsRecorded,
    OrdersSettled,
    LapseReported,
    DriftFound,
    KillSwitchChanged,
    ErrorRecorded,
    BackfillDelivered,
)


class BotHealth:
    """``/healthz`` from the bot's own state (see :mod:`tradebot.web.health`)."""

    def __init__(self, bot: Bot, journals: list[TimedJournal]) -> None:
        self._bot = bot
        self._journals = journals

    def __call__(self) -> Health:
        parts = self._bot.parts
        if parts is None:
            return Health({"bot": "starting: recovery is not done"})
        listener = parts.listener
        joined = dict.fromkeys(listener.algorithms, 0)
        for connection in range(self._bot.config.alphahub.connections):
            for algo_id in listener.joined(connection):
                if algo_id in joined:
                    joined[algo_id] += 1
        failing = next((j.failing for j in self._journals if j.failing is not None), None)
        return Health(
            {
                "subscriptions": subscriptions_problem(joined),
                "journal": None if failing is None else f"the last write failed: {failing}",
                "broker": _brokers_problem(parts.engines, utcnow()),
            }
        )


def engine_problem(engine: AccountEngine, now: datetime) -> str | None:
    """One account's broker check: its circuit breaker, else whether its broker answers."""
    context = engine.context
    return _circuit_problem(engine.circuit) or _broker_problem(
        context.account_at, context.reach.down_since, now
    )


def _brokers_problem(engines: Sequence[AccountEngine], now: datetime) -> str | None:
    """``/healthz``'s broker check: every account's broker (with several, each problem named
    by its account: one account's outage is that account's, and still a problem)."""
    if len(engines) == 1:
        return engine_problem(engines[0], now)
    found = [(e.name, engine_problem(e, now)) for e in engines]
    problems = [f"account {name}: {problem}" for name, problem in found if problem is not None]
    return "; ".join(problems) or None


def _circuit_problem(circuit: BrokerCircuit | None) -> str | None:
    """The broker check while the circuit breaker is open: no order is sent
    (:mod:`tradebot.execution.circuit`)."""
    if circuit is None or circuit.allows():
        return None
    return (
        f"the broker circuit is open: no order is sent until the broker answers a probe "
        f"({circuit.circuit.failures} failures in a row; last: {circuit.circuit.last_error})"
    )


def _broker_problem(
    answered_at: datetime | None, down_since: datetime | None, now: datetime
) -> str | None:
    """The broker check: its last account request failed (after the broker's own retries: the
    same fact the broker-unreachable alert tells, :mod:`tradebot.runtime.broker_reach`), or it
    has not answered for three refreshes (a request that hangs never fails)."""
    if down_since is not None:
        since = down_since.isoformat(timespec="seconds")
        return f"the broker is unreachable since {since} (its last account request failed)"
    if answered_at is None:
        return "the broker has not answered yet"
    silence = now - answered_at
    if silence > BROKER_SILENCE:
        return f"the broker has not answered for {int(silence.total_seconds())} s"
    return None


class BotDashboard:
    """The plug-in: an observer (nudges open pages) and a task (serves until the stop)."""

    def __init__(
        self,
        bot: Bot,
        config: Config,
        config_path: Path,
        *,
        metrics: BotMetrics,
        health: BotHealth,
    ) -> None:
        self._bot = bot
        self._config = config
        self._config_path = config_path
        self._metrics = metrics
        self._health = health
        self.feed = LiveFeed()
        accounts = bot.config.accounts
        #: each account's snapshot, by name: asked of that account's own broker (one account:
        #: the bot's broker, as soon as it is in use)
        self.brokers = {
            name: BrokerSnapshots(
                bot_fetch(
                    (lambda: bot.broker) if len(accounts) == 1 else _engine_broker(bot, name)
                ),
                account.broker.name,
            )
            for name, account in accounts.items()
        }
        self.snapshots = next(iter(self.brokers.values()))  # the first account's
        self.handle: DashboardHandle | None = None
        self.started = asyncio.Event()  # set once the handle says where (or why not)

    async def refresh(self) -> None:
        """Keep the broker's snapshot fresh while the dashboard is served (a task of the bot's:
        nothing to show, nothing asked)."""
        await self.started.wait()
        if self.handle is not None and self.handle.running:
            async with asyncio.TaskGroup() as group:
                for snapshots in self.brokers.values():
                    group.create_task(snapshots.run())

    def notice(self, event: BotEvent) -> None:
        if isinstance(event, _JOURNALED):
            self.feed.notify()
        if isinstance(event, FillsRecorded):  # the broker's positions changed: ask now
            snapshots = self.brokers.get(event.account)
            if snapshots is not None:
                snapshots.nudge()

    async def serve(self) -> None:
        """Serve until cancelled at the bot's stop; the banner's next line says where."""
        sources = sources_for(self._config, self._config_path, feed=self.feed, brokers=self.brokers)
        sources.health = self._health
        sources.account_health = functools.partial(account_health, self._bot, self._health)
        sources.metrics = self._metrics.render
        try:
            handle = await start_dashboard(self._config, sources)
        except Exception as exc:  # never a reason to stop trading; say why it is not served
            log.exception("the dashboard could not start")
            handle = DashboardHandle(error=f"not started: {exc}")
        self.handle = handle
        self._bot.say(handle.describe())
        parts = self._bot.parts
        if parts is not None:
            parts.feed.board.dashboard = handle.url or handle.error
            parts.feed.checks = lambda: self._health().checks  # into the status file
        self.started.set()
        try:
            if handle.running:
                await handle.wait()
                log.warning("the dashboard stopped; trading goes on without it")
            else:
                await asyncio.Event().wait()  # nothing to serve; stay until the stop
        finally:
            await handle.stop()


@dataclass(frozen=True)
class Observability:
    """What :func:`attach_observability` plugged in."""

    dashboard: BotDashboard
    metrics: BotMetrics
    alerts: Alerts | None

    def flush(self) -> None:
        """After ``bot.run()`` returned: wait (bounded) for the last alerts, "stopped" among
        them, to be sent. Blocking: call it from a thread or after the event loop."""
        if self.alerts is not None:
            self.alerts.flush()


def attach_observability(bot: Bot, config: Config, config_path: Path) -> Observability:
    """Metrics, the dashboard (with /healthz and /metrics) and the alerts, plugged into ``bot``.

    Call before ``bot.run()``; call :meth:`Observability.flush` after it."""
    metrics = BotMetrics(config.accounts)
    wrap, journals = timed(metrics)
    bot.wrap_journal(wrap)
    bot.observe(metrics)
    health = BotHealth(bot, journals)
    metrics.watch(bot, accounts=functools.partial(account_gauges, bot, health))
    dashboard = BotDashboard(bot, config, config_path, metrics=metrics, health=health)
    bot.observe(dashboard)
    bot.add_task("dashboard", dashboard.serve)
    bot.add_task("broker snapshot", dashboard.refresh)
    history = _history_coverage(bot, config, metrics)
    bot.add_task("history coverage", history.run)
    alerts = None
    if config.notify:
        alerts = Alerts(
            config.notify,
            name=config.name,
            mode=str(bot.mode),
            coverage=functools.partial(_coverage, bot),
            journal=lambda: None if bot.parts is None else bot.parts.journal,
            history=history.summary_line,
            accounts=tuple(config.accounts),
        )
        bot.observe(alerts)
        bot.add_task("alerts", alerts.run)
    return Observability(dashboard, metrics, alerts)


def _engine_broker(bot: Bot, name: str) -> Callable[[], Broker | None]:
    """The account ``name``'s broker once the bot's parts are built (None before)."""

    def broker() -> Broker | None:
        parts = bot.parts
        engine = None if parts is None else next((e for e in parts.engines if e.name == name), None)
        return None if engine is None else engine.broker

    return broker


def account_gauges(bot: Bot, health: BotHealth) -> dict[str, AccountGauges]:
    """Each account's broker gauges, by name, as the bot knows them now (none before its
    parts are built): its context's account snapshot, and its part of the broker check of
    ``/healthz`` (:func:`engine_problem`: one rule for "reachable")."""
    parts = bot.parts
    if parts is None:
        return {}
    now = utcnow()
    out = {}
    for engine in parts.engines:
        snapshot = engine.context.account
        out[engine.name] = AccountGauges(
            None if snapshot is None else snapshot.equity,
            None if snapshot is None else snapshot.cash,
            engine_problem(engine, now) is None,
        )
    return out


def account_health(bot: Bot, health: BotHealth) -> dict[str, AccountHealth]:
    """What the bot knows of each account's broker for the Now page's rows: its part of the
    ``/healthz`` broker check and its circuit breaker (none before its parts are built)."""
    parts = bot.parts
    if parts is None:
        return {}
    now = utcnow()
    out = {}
    for engine in parts.engines:
        problem = engine_problem(engine, now)
        out[engine.name] = AccountHealth(
            reachable=problem is None,
            circuit_open=not engine.circuit.allows(),
            problem=problem,
        )
    return out


def _history_coverage(bot: Bot, config: Config, metrics: BotMetrics) -> HistoryCoverage:
    """The coverage audit's gauge (on the metrics' registry) and the summary's line. The
    history is read with the listener's own settings, unless ``alphahub.backfill`` is off."""
    reads = config.alphahub.backfill is not BackfillMode.OFF
    return HistoryCoverage(
        metrics.registry,
        journal=lambda: None if bot.parts is None else bot.parts.journal,
        settings=lambda: None if bot.parts is None or not reads else bot.parts.listener.settings,
        algorithms=lambda: () if bot.parts is None else bot.parts.listener.algorithms,
        tokens=lambda: None if bot.parts is None else bot.parts.listener.tokens,
        ready=bot.ready,
    )


def _coverage(bot: Bot) -> Coverage | None:
    """What the alerts' outage watch reads: the listener's gaps (None until it is built)."""
    parts = bot.parts
    if parts is None:
        return None
    listener = parts.listener
    return Coverage(listener.gaps, listener.algorithms, bot.config.alphahub.connections)
