"""Prometheus metrics of the running bot, served at ``GET /metrics`` by its dashboard.

A registry of our own (never prometheus-client's global default, so a test or a second bot in
the process never sees another's counts), rendered without the ``_created`` series
prometheus-client adds to every counter
(:class:`~tradebot.runtime.metrics_gauges.WithoutCreated`: a filter on our registry alone; the
library's global switch is left as it is). Three sources feed it:

* the bot's events (:meth:`BotMetrics.notice`): signals, legs, skips, reconnects, lapses,
  backfill, the up gauge;
* the journal's writes (:meth:`BotMetrics.journaled`, called by :class:`TimedJournal` after
  each write that succeeded): orders by what happened to them, fills, each algorithm's last
  signal. The journal is where every order's life is written, whoever sent it (a signal, the
  chaser's remainder, an exit, a re-send): counting its writes misses none and counts none
  twice;
* the bot's state, read at each scrape (:mod:`.metrics_gauges`): connections joined, the kill
  switch, each account's equity and cash, whether its broker answers, whether its circuit
  breaker is open.

**Accounts.** Every series one account causes (signals handled, legs, skips, orders, fills,
latencies, equity, cash, the broker's health) has an ``account`` label: the event's account,
or for what the journal's writes tell, the account the client order id names
(:func:`~tradebot.core.ids.split_account`), else the account whose broker showed it. With one
account it is ``default``. Its values are the config's accounts (an id naming an account the
config no longer has counts under :data:`OTHER_ACCOUNT`), so the series stay bounded. What
every account shares (reconnects, lapses, backfill, connections, the last signal, journal
commits) has none.

Order outcomes (``tradebot_orders_total{outcome}``), each counted once per order:

* ``accepted``: the broker's answer to a submission was an order (any status but rejected);
* ``filled``: the order's last fill was journaled (its status filled, the fill new);
* ``rejected``: the broker refused it, in its answer to the submission or later (a rejected
  event, or a lookup that finds it rejected);
* ``failed``: tradebot gave up on it without its reaching the broker (the journal's FAILED).

An order the broker accepted and later refused counts as accepted and rejected. A submission
that got no answer is counted when the re-check settles it: accepted when the broker has it
(:class:`~tradebot.runtime.observer.OrdersSettled`), accepted on its re-send, or failed.

Latencies need two timestamps each:

* signal to order, order to first and last fill, per algorithm:
  :mod:`tradebot.runtime.latency_metrics`, on this registry;
* journal commit: the duration of each ``record_*`` call, in the thread that makes it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from tradebot.core.events import OrderEvent, OrderFilled, OrderRejectedEvent
from tradebot.core.ids import DEFAULT_ACCOUNT, split_account
from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus
from tradebot.core.signal import Signal
from tradebot.journal.interface import Journal
from tradebot.journal.last_signals import last_signals
from tradebot.journal.records import AppliedFill
from tradebot.runtime.latency_metrics import LatencyMetrics
from tradebot.runtime.metrics_gauges import AccountGauges, StateGauges, WithoutCreated
from tradebot.runtime.observer import (
    BackfillDelivered,
    BotEvent,
    BrokerCircuitChanged,
    ConnectionChanged,
    LapseReported,
    OrdersSettled,
    SignalDeferred,
    SignalHandled,
    Started,
    Stopped,
)

if TYPE_CHECKING:
    from tradebot.runtime.bot import Bot

log = logging.getLogger(__name__)

#: seconds; a signal normally leaves in milliseconds, a slow broker in seconds
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

#: what happened to an order (``tradebot_orders_total{outcome}``; see the module docstring)
OUTCOMES = ("accepted", "filled", "rejected", "failed")

#: orders whose algorithm (and refusal) is remembered: plenty for a day of orders, bounded for
#: a month of running
REMEMBERED = 10_000

#: the journal writes :meth:`BotMetrics.journaled` counts from (the others are only timed)
COUNTED_WRITES = frozenset(
    {
        "record_signal",
        "record_signal_and_plan",
        "record_plan",
        "record_snapshot",
        "record_event",
        "record_events",
        "record_rejected",
        "record_failed",
    }
)

#: the algorithm in a client order id's readable part, after its account prefix
#: (:func:`tradebot.core.ids.client_order_id`: ``family.tb16-...`` is algorithm 16's)
_ALGO_PREFIX = re.compile(r"^tb(\d+)-")
#: the ``account`` label of an order whose id names an account the config does not have
OTHER_ACCOUNT = "other"


class BotMetrics:
    """The counters, histograms and gauges; the observer that keeps them (``notice``), the
    journal hook (``journaled``) and, once :meth:`watch` is called, the bot's state.
    ``accounts``: the config's account names, the ``account`` label's values."""

    def __init__(self, accounts: Iterable[str] = (DEFAULT_ACCOUNT,)) -> None:
        self.accounts = tuple(accounts)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.signals = Counter(
            "tradebot_signals", "Signals handled", ["account", "algo"], registry=r
        )
        self.legs = Counter(
            "tradebot_legs", "Legs handled, by outcome", ["account", "algo", "outcome"], registry=r
        )
        self.orders = Counter(
            "tradebot_orders",
            "Orders by what happened: accepted, filled, rejected (by the broker), failed "
            "(never reached the broker)",
            ["account", "algo", "outcome"],
            registry=r,
        )
        self.fills = Counter(
            "tradebot_fills", "Fills journaled, partial ones too", ["account", "algo"], registry=r
        )
        self.skips = Counter(
            "tradebot_skips",
            "Legs not traded, by reason",
            ["account", "algo", "reason"],
            registry=r,
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
        self.latency = LatencyMetrics(r, label=self.account)
        self.commit_latency = Histogram(
            "tradebot_journal_commit_seconds",
            "Duration of each journal write (commit included)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._exposed = WithoutCreated(r)
        self.up = False  # from Started until Stopped
        #: each account's broker circuit breaker, as its last change said (absent: closed)
        self.circuit_open: dict[str, bool] = {}
        #: journal writes run in worker threads; what they update is guarded by this lock
        self._lock = threading.Lock()
        self._last_signal: dict[int, datetime] = {}
        self._algo_of: OrderedDict[str, int] = OrderedDict()
        self._refused: OrderedDict[str, None] = OrderedDict()
        self.journal: Journal | None = None  # the journal :func:`timed` wrapped last

    def render(self) -> bytes:
        """The Prometheus text exposition (no ``_created`` series)."""
        return generate_latest(self._exposed)

    def watch(self, bot: Bot, *, accounts: Callable[[], Mapping[str, AccountGauges]]) -> None:
        """Read the gauges of ``bot``'s state at each scrape, and load each algorithm's last
        signal from the journal when it starts (a task of the bot's). ``accounts``: each
        account's equity, cash and whether its broker answers (by the health check's rule).
        Call before ``bot.run()``."""
        gauges = StateGauges(
            bot,
            up=lambda: self.up,
            last_signals=self.last_signals,
            accounts=accounts,
            circuit_open=lambda: dict(self.circuit_open),
        )
        self.registry.register(gauges)

        async def load() -> None:  # a task of the bot's: started once recovery is done
            parts = bot.parts
            if parts is not None:
                for algo_id in parts.listener.algorithms:  # every series there, at 0, at once
                    for account in self._following(bot, algo_id):
                        for outcome in OUTCOMES:
                            self.orders.labels(account, str(algo_id), outcome)
                await self._load_last_signals(parts.listener.algorithms)

        bot.add_task("metrics", load)

    def _following(self, bot: Bot, algo_id: int) -> list[str]:
        """The accounts that follow ``algo_id`` (every account when the config cannot say)."""
        accounts = bot.config.accounts.items()
        found = [n for n, a in accounts if algo_id in a.algorithms and n in self.accounts]
        return found or list(self.accounts)

    def account(self, name: str) -> str:
        """``name`` as the ``account`` label: a configured account, else :data:`OTHER_ACCOUNT`."""
        return name if name in self.accounts else OTHER_ACCOUNT

    def last_signals(self) -> dict[int, datetime]:
        """When each algorithm's newest signal was received, as journaled."""
        with self._lock:
            return dict(self._last_signal)

    # -- the bot's events -------------------------------------------------------------------

    def notice(self, event: BotEvent) -> None:
        self.latency.notice(event)
        match event:
            case Started():
                self.up = True
            case Stopped():
                self.up = False
            case SignalHandled():
                self._signal(event)
            case SignalDeferred(signal=signal):
                self._signal_seen(signal)
            case OrdersSettled(settled=settled, account=account):
                # their submission got no answer; the broker has them: accepted after all
                for coid in settled.found:
                    self._order(coid, "accepted", account)
            case BrokerCircuitChanged(change=change, account=account):
                self.circuit_open[self.account(account)] = change.open
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
        algo, account = str(signal.algo_id), self.account(event.account)
        self._signal_seen(signal)
        self.signals.labels(account, algo).inc()
        skipped_legs = {s.leg_id for s in plan.skipped if s.leg_id is not None}
        for skip in plan.skipped:
            self.skips.labels(account, algo, str(skip.reason)).inc()
        traded = sum(1 for leg in signal.legs if leg.id not in skipped_legs)
        if traded:
            self.legs.labels(account, algo, "planned").inc(traded)
        if len(skipped_legs):
            self.legs.labels(account, algo, "skipped").inc(len(skipped_legs))
        if signal.rejected:
            self.legs.labels(account, algo, "rejected").inc(len(signal.rejected))

    def _signal_seen(self, signal: Signal) -> None:
        self._signal_at(signal.algo_id, signal.received_at)

    def _signal_at(self, algo_id: int, at: datetime) -> None:
        with self._lock:
            known = self._last_signal.get(algo_id)
            if known is None or at > known:
                self._last_signal[algo_id] = at

    async def _load_last_signals(self, algos: Iterable[int]) -> None:
        """Each algorithm's newest signal in the journal: a restart keeps it."""
        if self.journal is None:
            return
        newest = await asyncio.to_thread(_newest_signals, self.journal, tuple(algos))
        for algo_id, at in newest.items():
            self._signal_at(algo_id, at)

    # -- the journal's writes ---------------------------------------------------------------

    def journaled(self, name: str, call: inspect.BoundArguments, result: Any) -> None:
        """A journal write ``name`` succeeded with these arguments and ``result``: count what
        it records of signals, orders and fills (from the thread that wrote it)."""
        args = call.arguments
        given = str(args.get("account", DEFAULT_ACCOUNT))  # whose broker, for a foreign order
        if name == "record_signal":
            self._signal_seen(args["signal"])
        elif name == "record_signal_and_plan":
            self._signal_seen(args["signal"])
            self._learn(result[1])
        elif name == "record_plan":
            self._learn(result)
        elif name == "record_snapshot":
            snapshot: OrderSnapshot = args["snapshot"]
            if args["source"] == "submit" and snapshot.status is not OrderStatus.REJECTED:
                self._order(snapshot.client_order_id, "accepted", given)
            tree = list(_tree(snapshot))  # a bracket's legs come with their parent
            for order in tree:
                if order.status is OrderStatus.REJECTED:
                    self._refusal(order.client_order_id, given)
            finished = [o.client_order_id for o in tree if o.status is OrderStatus.FILLED]
            self._fills(result, finished, given)
        elif name in ("record_events", "record_event"):
            events: Iterable[OrderEvent] = (
                args["events"] if name == "record_events" else (args["event"],)
            )
            finals: list[str] = []
            for event in events:
                if isinstance(event, OrderRejectedEvent):
                    self._refusal(event.client_order_id, given)
                elif isinstance(event, OrderFilled) and not event.partial:
                    finals.append(event.client_order_id)
            self._fills(result, finals, given)
        elif name == "record_rejected":
            self._refusal(args["client_order_id"], given)
        elif name == "record_failed":
            self._order(args["client_order_id"], "failed", given)

    def _learn(self, intents: Iterable[Any]) -> None:
        with self._lock:
            for intent in intents:
                self._algo_of[intent.client_order_id] = intent.algo_id
                self._algo_of.move_to_end(intent.client_order_id)
            while len(self._algo_of) > REMEMBERED:
                self._algo_of.popitem(last=False)

    def _algo(self, coid: str) -> str:
        with self._lock:
            known = self._algo_of.get(coid)
        if known is not None:
            return str(known)
        match = _ALGO_PREFIX.match(split_account(coid)[1])
        return match[1] if match else ""

    def _account_of(self, coid: str, given: str) -> str:
        """The account an order counts under: the one its id names, else ``given`` (whose
        broker showed it: an order placed by something else), as a label."""
        named = split_account(coid)[0]
        return self.account(named if named in self.accounts else given)

    def _order(self, coid: str, outcome: str, given: str = DEFAULT_ACCOUNT) -> None:
        self.orders.labels(self._account_of(coid, given), self._algo(coid), outcome).inc()

    def _refusal(self, coid: str, given: str = DEFAULT_ACCOUNT) -> None:
        """The broker refused ``coid``: counted once, however many times it is reported."""
        with self._lock:
            if coid in self._refused:
                return
            self._refused[coid] = None
            while len(self._refused) > REMEMBERED:
                self._refused.popitem(last=False)
        self._order(coid, "rejected", given)

    def _fills(
        self, fills: tuple[AppliedFill, ...], finals: Iterable[str], given: str = DEFAULT_ACCOUNT
    ) -> None:
        """Count new ``fills``; an order whose last fill is among them is filled (once)."""
        for fill in fills:
            account = self._account_of(fill.client_order_id, given)
            self.fills.labels(account, str(fill.algo_id)).inc()
        new = {f.client_order_id: f.algo_id for f in fills}
        for coid in dict.fromkeys(finals):
            if coid in new:
                account = self._account_of(coid, given)
                self.orders.labels(account, str(new[coid]), "filled").inc()


def _tree(snapshot: OrderSnapshot) -> Iterator[OrderSnapshot]:
    yield snapshot
    for leg in snapshot.legs:
        yield from _tree(leg)


def _newest_signals(journal: Journal, algos: Iterable[int]) -> dict[int, datetime]:
    """Each algorithm's last signal time, by the one rule (:mod:`tradebot.journal.last_signals`)."""
    return {algo_id: entry.at for algo_id, entry in last_signals(journal, algos).items()}


class TimedJournal:
    """The journal, with every ``record_*`` call timed and its success remembered.

    Everything else passes straight through. ``last_commit`` (monotonic) is the end of the last
    write that succeeded, ``failing`` whether the latest write raised: the health check reads
    them instead of writing a probe row of its own. ``on_write(name, arguments, result)`` hears
    of each write of :data:`COUNTED_WRITES` that succeeded (the metrics count signals, orders
    and fills from it); its failure is logged, never the write's."""

    def __init__(
        self,
        journal: Journal,
        histogram: Histogram,
        on_write: Callable[[str, inspect.BoundArguments, Any], None] | None = None,
    ) -> None:
        self._journal = journal
        self._histogram = histogram
        self._on_write = on_write
        self._state = threading.Lock()
        self.last_commit: float | None = None
        self.failing: str | None = None

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._journal, name)
        if not name.startswith("record_") or not callable(value):
            return value
        return self._timed(name, value)

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
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
            if self._on_write is not None and name in COUNTED_WRITES:
                try:
                    self._on_write(name, _bound(name, args, kwargs), result)
                except Exception:  # counting must never fail a write that succeeded
                    log.exception("metrics failed on the journal's %s", name)
            return result

        return call


def _bound(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> inspect.BoundArguments:
    """A write's arguments by name, as the journal's protocol declares them."""
    signature = _SIGNATURES.get(name)
    if signature is None:
        signature = _SIGNATURES[name] = inspect.signature(getattr(Journal, name))
    bound = signature.bind(None, *args, **kwargs)  # None: the protocol's ``self``
    bound.apply_defaults()
    return bound


_SIGNATURES: dict[str, inspect.Signature] = {}


def timed(metrics: BotMetrics) -> tuple[Callable[[Journal], Journal], list[TimedJournal]]:
    """A wrapper for :meth:`Bot.wrap_journal <tradebot.runtime.bot.Bot.wrap_journal>`, and
    the list the wrapped journal lands in (the health check reads it)."""
    made: list[TimedJournal] = []

    def wrap(journal: Journal) -> Journal:
        timed_journal = TimedJournal(journal, metrics.commit_latency, metrics.journaled)
        made.append(timed_journal)
        metrics.journal = cast(Journal, timed_journal)
        return metrics.journal

    return wrap, made
