"""Alerts: the bot's notable events, sent through Apprise to the URLs under ``notify:``.

Delivery runs off the trading path. :meth:`Alerts.notice` (on the bot's loop) only turns an
event into a line and puts it in a bounded queue; one worker thread of its own (never a thread
of the loop's pool, where the broker calls run) sends them. A burst (every line arriving within
:data:`COALESCE` seconds of the first) is one message per URL. A full queue drops the line and
says so in the next message; a URL that fails or hangs is logged (Apprise's own timeouts bound
it) and the worker goes on. Nothing here raises into the bot.

URLs carry tokens: they are registered with the masker, so no log line, page or message shows
them (``tradebot config show`` prints them masked).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import apprise

from tradebot.clock import utcnow
from tradebot.config.model import NotifyTarget
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import SkippedLeg, SkipReason
from tradebot.execution.executor import ExecutionResult
from tradebot.masking import mask, register, register_found_in
from tradebot.runtime.observer import (
    BackfillDelivered,
    BotEvent,
    DriftFound,
    ErrorRecorded,
    FillsRecorded,
    KillSwitchChanged,
    LapseReported,
    SignalHandled,
    Stopped,
)

log = logging.getLogger(__name__)

#: seconds: lines arriving within this long of a burst's first go out as one message
COALESCE = 2.0
#: lines waiting to be sent; beyond it they are dropped (and counted)
QUEUE_SIZE = 256
#: seconds the end of the process waits for the last messages (the "stopped" alert)
FLUSH_TIMEOUT = 10.0
#: the reasons a backfilled leg counts as a missed signal
MISSED = (SkipReason.MISSED_STALE, SkipReason.BACKFILL_AMBIGUOUS)
#: how the executor's ``OrderOutcome.error`` begins when the broker refused the order
REJECTED = "rejected: "


@dataclass(frozen=True, slots=True)
class Alert:
    event: str  # one of config.model.NOTIFY_EVENTS
    text: str


Sender = Callable[[str, str, str], bool]  # (url, title, body) -> delivered


def apprise_send(url: str, title: str, body: str) -> bool:
    """Send one message to one Apprise URL; False when it failed (Apprise logs why)."""
    sender = apprise.Apprise()
    if not sender.add(url):
        log.warning("notify: %s is not a URL Apprise can send to", mask(url))
        return False
    return bool(sender.notify(body=body, title=title))


def alerts_for(event: BotEvent, day: date, loss_days: set[tuple[int, date]]) -> list[Alert]:
    """The alerts ``event`` raises. ``loss_days`` remembers which algorithms were already
    reported refused by the daily-loss limit today (one alert when it starts, not per signal)."""
    match event:
        case SignalHandled(signal=signal, result=result):
            return _signal_alerts(signal.algo_id, result, day, loss_days)
        case FillsRecorded(fills=fills):
            return [
                Alert(
                    "fill",
                    f"fill: {f.side} {f.qty} {f.symbol} at {f.price} (algorithm "
                    f"{f.algo_id}, {f.client_order_id})",
                )
                for f in fills
            ]
        case LapseReported(algo_id=algo_id, windows=windows):
            spans = ", ".join(f"{a:%H:%M:%S}-{b:%H:%M:%S} UTC" for a, b in windows)
            return [
                Alert(
                    "lapse",
                    f"lapse: algorithm {algo_id} was not subscribed ({spans}); "
                    "a signal may have been missed",
                )
            ]
        case DriftFound(drifts=drifts):
            return [Alert("drift", "drift: " + "; ".join(str(d) for d in drifts))]
        case KillSwitchChanged(state=state):
            why = f" ({state.reason})" if state.reason else ""
            return [Alert("kill_switch", f"kill switch: {state.mode}{why}")]
        case ErrorRecorded(detail=detail, algo_id=algo_id):
            algo = f" (algorithm {algo_id})" if algo_id is not None else ""
            return [Alert("error", f"error{algo}: {detail}")]
        case BackfillDelivered(algo_id=algo_id, skipped=skipped):
            return _missed(algo_id, skipped)
        case Stopped(error=error):
            how = "cleanly" if error is None else f"because of {type(error).__name__}: {error}"
            return [Alert("stopped", f"tradebot stopped {how}")]
        case _:
            return []


def _signal_alerts(
    algo_id: int, result: ExecutionResult, day: date, loss_days: set[tuple[int, date]]
) -> list[Alert]:
    alerts: list[Alert] = []
    for outcome in result.outcomes:
        intent, snapshot = outcome.intent, outcome.snapshot
        what = f"{intent.side} {intent.qty} {intent.symbol} (algorithm {intent.algo_id})"
        if snapshot is None and (outcome.error or "").startswith(REJECTED):
            # the executor's words for a refusal (OrderRejected): the broker said no
            alerts.append(Alert("order_rejected", f"order {outcome.error}: {what}"))
        elif snapshot is None or outcome.error is not None:
            alerts.append(Alert("order_failed", f"order failed: {what}: {outcome.error}"))
        elif snapshot.status is OrderStatus.REJECTED:
            alerts.append(Alert("order_rejected", f"order rejected by the broker: {what}"))
        elif snapshot.filled_qty > 0:
            price = f" at {snapshot.filled_avg_price}" if snapshot.filled_avg_price else ""
            alerts.append(Alert("fill", f"fill: {what}: {snapshot.filled_qty}{price}"))
    for skip in result.plan.skipped:
        if (
            skip.reason is SkipReason.RISK_LIMIT
            and "max_daily_loss" in skip.detail
            and (algo_id, day) not in loss_days
        ):
            loss_days.add((algo_id, day))
            alerts.append(Alert("daily_loss", f"daily loss limit: {skip.detail}"))
    alerts += _missed(algo_id, result.plan.skipped)
    return alerts


def _missed(algo_id: int, skipped: Sequence[SkippedLeg]) -> list[Alert]:
    missed = [s for s in skipped if s.reason in MISSED]
    if not missed:
        return []
    details = "; ".join(s.detail for s in missed[:5]) + (" ..." if len(missed) > 5 else "")
    return [
        Alert(
            "missed_signal",
            f"missed signal: algorithm {algo_id}, {len(missed)} leg(s) "
            f"recovered from the history and not traded: {details}",
        )
    ]


def register_url(url: str) -> None:
    """Mask ``url`` and the tokens inside it: a service may log a token alone (Telegram's bot
    token is the URL's host part). A token is a piece of 10 or more characters with letters and
    digits, so host names, ports and plain words ("hooks", "tradebot") stay readable."""
    register(url)
    register_found_in(url)  # the password, secret-named query values
    for segment in re.split(r"[/@?&=#]+", url.split("://", 1)[-1]):
        for piece in (segment, *segment.split(":")):
            if len(piece) >= 10 and re.search(r"\d", piece) and re.search(r"[A-Za-z]", piece):
                register(piece)


class Alerts:
    """The observer (:meth:`notice`) and its sending worker (:meth:`run`, a bot task)."""

    def __init__(
        self,
        targets: Sequence[NotifyTarget],
        *,
        send: Sender = apprise_send,
        coalesce: float = COALESCE,
        size: int = QUEUE_SIZE,
    ) -> None:
        for target in targets:
            register_url(target.url.get_secret_value())
        self._targets = tuple(targets)
        self._send = send
        self._coalesce = coalesce
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=size)
        self._loss_days: set[tuple[int, date]] = set()
        self._dropped = 0
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self.sent: list[tuple[int, bool]] = []  # (target index, delivered), for tests and logs

    # -- the bot's side: never blocks, never raises -----------------------------------------

    def notice(self, event: BotEvent) -> None:
        wanted = {e for t in self._targets for e in t.events}
        for alert in alerts_for(event, utcnow().date(), self._loss_days):
            if alert.event in wanted:
                self._put(alert)
        if isinstance(event, Stopped):
            self._start()  # a bot that failed before its tasks ran still says it stopped
            self._put(None)

    def _put(self, alert: Alert | None) -> None:
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1:
                log.warning("notify: alerts are arriving faster than they can be sent; dropping")

    async def run(self) -> None:
        """The bot task: starts the worker and waits for the stop. The worker outlives the
        task to send the ``stopped`` alert; :meth:`flush` waits for it."""
        self._start()
        await asyncio.Event().wait()

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> None:
        """Wait (at most ``timeout`` s) for the worker to send what is queued after the stop."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="alerts", daemon=True)
                self._worker.start()

    # -- the worker ---------------------------------------------------------------------------

    def _work(self) -> None:
        done = False
        while not done:
            first = self._queue.get()
            if first is None:
                break
            burst = [first]
            deadline = time.monotonic() + self._coalesce
            while (left := deadline - time.monotonic()) > 0:
                try:
                    more = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if more is None:
                    done = True
                    break
                burst.append(more)
            self._deliver(burst)

    def _deliver(self, burst: list[Alert]) -> None:
        dropped, self._dropped = self._dropped, 0
        for index, target in enumerate(self._targets):
            lines = [a.text for a in burst if a.event in target.events]
            if not lines:
                continue
            if dropped:
                lines.append(f"({dropped} more alert(s) dropped: they came too fast)")
            events = sorted({a.event for a in burst if a.event in target.events})
            title = f"tradebot: {', '.join(events)}"
            ok = self._safe_send(target.url.get_secret_value(), title, "\n".join(lines))
            self.sent.append((index, ok))

    def _safe_send(self, url: str, title: str, body: str) -> bool:
        try:
            ok = self._send(url, title, mask(body))
        except Exception:
            log.exception("notify: sending to %s failed", mask(url))
            return False
        if not ok:
            log.warning("notify: %s did not take the message", mask(url))
        return ok


def send_test(targets: Sequence[NotifyTarget], send: Sender = apprise_send) -> list[bool]:
    """``tradebot notify test``: one message to each URL, in order; whether each was taken."""
    for target in targets:
        register_url(target.url.get_secret_value())
    results = []
    for target in targets:
        url = target.url.get_secret_value()
        try:
            ok = send(url, "tradebot: test", "a test message from tradebot notify test")
        except Exception:
            log.exception("notify: sending to %s failed", mask(url))
            ok = False
        results.append(ok)
    return results
