"""The latency histograms of ``/metrics``, observed live from the bot's events.

The intervals of ``tradebot report``'s latency table (:mod:`tradebot.journal.latency`), per
order as it happens, labelled by account and algorithm (the event's account, as a configured
one: :meth:`BotMetrics.account <tradebot.runtime.metrics.BotMetrics.account>`):

* ``tradebot_signal_to_order_seconds``: a signal's ``received_at`` to each of its orders
  leaving (:class:`~tradebot.runtime.observer.OrderSubmitting`, after the intent is durable),
  observed when the signal has been handled (its orders are the intents of its result);
* ``tradebot_order_to_first_fill_seconds``: an order leaving to its first fill recorded
  (:class:`~tradebot.runtime.observer.FillsRecorded`);
* ``tradebot_order_to_last_fill_seconds``: to the fill that completes it.

Entries and closes only (an exit's fill waits for the market). A chased limit's market
remainder is the same leg as its limit (the report's rule): its fills count toward the limit's
send. An order that ends part filled has a first fill here and no last: the report, which sees
the cancel, counts its last fill.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client import CollectorRegistry, Histogram

from tradebot.core.ids import remainder_id
from tradebot.core.orders import IntentRole
from tradebot.runtime.observer import BotEvent, FillsRecorded, OrderSubmitting, SignalHandled

#: seconds: a signal leaves in milliseconds, a market order fills in under a second, a limit
#: or a chase in seconds to minutes; past 30 minutes a fill is not latency but the market
BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800,
)  # fmt: skip
#: orders waiting for a fill at most (the oldest are forgotten first: a day order ends anyway)
KEEP = 10_000


@dataclass(slots=True)
class _Sent:
    account: str
    algo: str
    at: datetime
    qty: Decimal
    filled: Decimal = Decimal(0)
    first_seen: bool = False


class LatencyMetrics:
    """The three histograms on ``registry``, and the observer that keeps them (``notice``);
    ``now`` is the clock fills are timed by (the bot's, as ``OrderSubmitting.at`` is);
    ``label`` turns an event's account into the label's value (bounded: the config's)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        now: Callable[[], datetime] | None = None,
        label: Callable[[str], str] = lambda name: name,
    ) -> None:
        def histogram(name: str, doc: str) -> Histogram:
            labels = ["account", "algo"]
            return Histogram(name, doc, labels, buckets=BUCKETS, registry=registry)

        self.signal_to_order = histogram(
            "tradebot_signal_to_order_seconds",
            "From a signal's arrival to each of its orders leaving for the broker",
        )
        self.to_first_fill = histogram(
            "tradebot_order_to_first_fill_seconds",
            "From an order leaving for the broker to its first fill",
        )
        self.to_last_fill = histogram(
            "tradebot_order_to_last_fill_seconds",
            "From an order leaving for the broker to the fill that completes it",
        )
        self._now = now or (lambda: datetime.now(UTC))
        self._label = label
        #: orders left and not yet matched to their signal, by client order id: several
        #: accounts handle one signal at once, each its own orders
        self._leaving: OrderedDict[str, OrderSubmitting] = OrderedDict()
        self._sent: dict[str, _Sent] = {}  # by client order id (a remainder: its limit's)

    def notice(self, event: BotEvent) -> None:
        match event:
            case OrderSubmitting(intent=intent) if intent is not None:
                if intent.role is IntentRole.EXIT:
                    return
                coid = intent.client_order_id
                if _limit_of(coid) in self._sent:
                    return  # a chased limit's remainder: the limit's send still counts
                if len(self._sent) >= KEEP:
                    del self._sent[next(iter(self._sent))]
                account = self._label(event.account)
                self._sent[coid] = _Sent(account, str(intent.algo_id), event.at, intent.qty)
                self._leaving[coid] = event
                if len(self._leaving) > KEEP:
                    self._leaving.popitem(last=False)
            case SignalHandled(signal=signal, result=result, account=account):
                label = self._label(account)
                for outcome in result.outcomes:
                    sent = self._leaving.pop(outcome.intent.client_order_id, None)
                    if sent is not None:
                        delay = (sent.at - signal.received_at).total_seconds()
                        algo = str(signal.algo_id)
                        self.signal_to_order.labels(label, algo).observe(max(delay, 0.0))
                # what the broker's answer to a submission had filled already (a market order
                # can fill at once): the stream's copy of it is no new fill, so no FillsRecorded
                now = self._now()
                for outcome in result.outcomes:
                    snapshot = outcome.snapshot
                    known = self._sent.get(outcome.intent.client_order_id)
                    if snapshot is not None and known and snapshot.filled_qty > known.filled:
                        extra = snapshot.filled_qty - known.filled
                        self._fill(outcome.intent.client_order_id, extra, now)
            case FillsRecorded(fills=fills):
                now = self._now()
                for fill in fills:
                    self._fill(fill.client_order_id, fill.qty, now)
            case _:
                pass

    def _fill(self, coid: str, qty: Decimal, now: datetime) -> None:
        head = coid if coid in self._sent else _limit_of(coid)
        sent = self._sent.get(head) if head is not None else None
        if head is None or sent is None:
            return  # sent before this process started, or not an order we time
        delay = max((now - sent.at).total_seconds(), 0.0)
        if not sent.first_seen:
            sent.first_seen = True
            self.to_first_fill.labels(sent.account, sent.algo).observe(delay)
        sent.filled += qty
        if sent.filled >= sent.qty:
            self.to_last_fill.labels(sent.account, sent.algo).observe(delay)
            del self._sent[head]


_REMAINDER = remainder_id("")


def _limit_of(coid: str) -> str | None:
    """The chased limit whose market remainder ``coid`` is (None: it is none)."""
    return coid.removesuffix(_REMAINDER) if coid.endswith(_REMAINDER) else None
