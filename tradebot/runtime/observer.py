"""What the running bot tells whoever watches it: a dashboard, alerts, metrics, a standby.

The bot (:class:`~tradebot.runtime.bot.Bot`) notifies every registered observer of each
:data:`BotEvent`, in the order things happen, from the event loop. An observer is any object with
a synchronous ``notice(event)`` method. It must return at once: it runs on the loop that trades,
so slow work (HTTP, e-mail, a database) goes into the observer's own queue and a task of its own,
added with :meth:`Bot.add_task <tradebot.runtime.bot.Bot.add_task>`, which the bot supervises
with everything else and cancels at stop. An exception raised by ``notice`` is logged and
otherwise ignored: watching the bot must never stop it trading.

Example, alerts by e-mail::

    class Alerts:
        def __init__(self) -> None:
            self.queue: asyncio.Queue[BotEvent] = asyncio.Queue()

        def notice(self, event: BotEvent) -> None:
            if isinstance(event, LapseReported | DriftFound | ErrorRecorded):
                self.queue.put_nowait(event)

        async def run(self) -> None:
            while True:
                await send_mail(await self.queue.get())

    alerts = Alerts()
    bot = Bot(config, config_path, mode, load=load_config)
    bot.observe(alerts)
    bot.add_task("alerts", alerts.run)
    await bot.run()

Events are frozen dataclasses; new kinds may be added, so an observer ignores what it does not
know (``match`` with no catch-all error). An event one account causes (its signal handled,
its orders and fills, its drift, kill switch, broker and circuit, its errors) names it in
``account``, last (:data:`~tradebot.core.ids.DEFAULT_ACCOUNT` with one account). They carry
the bot's own values (signals, execution results, fills as journaled): secrets never reach
them, since none of those hold any.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from tradebot.alphahub.session import StateChange
from tradebot.config.model import Mode
from tradebot.core.ids import DEFAULT_ACCOUNT
from tradebot.core.orders import OrderIntent, SkippedLeg
from tradebot.core.signal import Signal
from tradebot.execution.circuit import CircuitChange
from tradebot.execution.executor import ExecutionResult
from tradebot.execution.recovery import Drift, RecoveryReport, Settled
from tradebot.journal.records import AppliedFill
from tradebot.runtime.config_watch import ConfigChange
from tradebot.runtime.killswitch import KillSwitchState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recovering:
    """The listener is running and every signal is journaled as it arrives, but start-up
    recovery is not done (``waiting``: why, e.g. the broker has not answered): nothing is
    planned yet. Not ready: :class:`Started` follows once recovery is done."""

    waiting: str
    account: str = DEFAULT_ACCOUNT  # the account it concerns (issue 22)


@dataclass(frozen=True, slots=True)
class Started:
    """Recovery is done (the listener already listens): signals are planned from now on."""

    mode: Mode
    broker: str
    account_id: str
    recovery: RecoveryReport
    account: str = DEFAULT_ACCOUNT  # the account it concerns (issue 22)


@dataclass(frozen=True, slots=True)
class SignalHandled:
    """One signal was planned and its orders answered (``result.outcomes``: every order sent,
    with the broker's snapshot or the error; ``result.plan.skipped``: legs not traded, why)."""

    signal: Signal
    result: ExecutionResult
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class SignalDeferred:
    """A signal received but not handled before a stop: journaled for the next start."""

    signal: Signal
    account: str = DEFAULT_ACCOUNT  # the account it concerns (issue 22)


@dataclass(frozen=True, slots=True)
class FillsRecorded:
    """Fills the journal recorded for the first time from the broker's event stream."""

    fills: tuple[AppliedFill, ...]
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class OrdersSettled:
    """Orders whose outcome was unknown, settled by the re-check while running."""

    settled: Settled
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class LapseReported:
    """``algo_id`` was not subscribed on any connection in ``windows`` (start, end): a signal
    may have been missed then. ``holdings`` is its ledger, to compare with AlphaHub's."""

    algo_id: int
    windows: tuple[tuple[datetime, datetime], ...]
    holdings: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriftFound:
    """The journal's net positions differ from the broker's (at start-up or after a lapse).
    Recorded as DRIFT rows; never traded away."""

    drifts: tuple[Drift, ...]
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class KillSwitchChanged:
    """The kill switch, as the plan of the signal now handled obeys it, changed mode."""

    state: KillSwitchState
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class ConfigReloaded:
    """An edit of the config file was applied (what applies live, what needs a restart)."""

    change: ConfigChange


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """An AlphaHub connection changed state (connecting, joined, lost, retrying...)."""

    change: StateChange


@dataclass(frozen=True, slots=True)
class ErrorRecorded:
    """Something went wrong that the bot survives; journaled as an ERROR row."""

    detail: str
    algo_id: int | None = None
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class OrderSubmitting:
    """An order's intent is durable and the order is about to leave for the broker (the
    executor's ``before_submit`` step); ``at`` is when, for the latency metrics
    (:mod:`tradebot.runtime.latency_metrics`)."""

    at: datetime
    intent: OrderIntent | None = None
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class BackfillDelivered:
    """The backfill recovered legs of ``algo_id`` from AlphaHub's history after a lapse:
    ``queued`` legs went to the signal loop to be planned; ``skipped`` were journaled without
    trading (ambiguous, or ``alphahub.backfill: journal``)."""

    algo_id: int
    queued: int
    skipped: tuple[SkippedLeg, ...] = ()


@dataclass(frozen=True, slots=True)
class BrokerReachability:
    """The broker stopped answering (``reachable`` False; ``since`` the first failure, with
    ``detail`` its error) or answers again (``since`` when it stopped; ``at`` now)."""

    reachable: bool
    since: datetime
    at: datetime
    detail: str = ""
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class BrokerCircuitChanged:
    """The account's broker circuit breaker (:mod:`tradebot.execution.circuit`) opened (no
    order is sent; ``change.detail`` the last failure) or closed again (the broker answered a
    probe after ``change.open_for`` seconds); ``at`` when, on the wall clock."""

    change: CircuitChange
    at: datetime
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class Stopped:
    """The bot stopped: cleanly (``error`` None) or because of ``error`` (which it raises)."""

    error: BaseException | None = None


BotEvent = (
    Recovering
    | Started
    | SignalHandled
    | SignalDeferred
    | FillsRecorded
    | OrdersSettled
    | LapseReported
    | DriftFound
    | KillSwitchChanged
    | ConfigReloaded
    | ConnectionChanged
    | ErrorRecorded
    | OrderSubmitting
    | BackfillDelivered
    | BrokerReachability
    | BrokerCircuitChanged
    | Stopped
)


class Observer(Protocol):
    """Anything that wants to know what the bot does (see the module docstring)."""

    def notice(self, event: BotEvent) -> None: ...


class Observers:
    """The bot's observers, told of each event in turn; one failing does not silence the rest."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def add(self, observer: Observer) -> None:
        self._observers.append(observer)

    def notice(self, event: BotEvent) -> None:
        for observer in self._observers:
            try:
                observer.notice(event)
            except Exception:
                log.exception("observer %r failed on %s", observer, type(event).__name__)
