"""Alerts: the bot's notable events, sent through Apprise to the URLs under ``notify:``.

Delivery runs off the trading path. :meth:`Alerts.notice` (on the bot's loop) only turns an
event into a line and puts it in a bounded queue; one worker thread of its own (never a thread
of the loop's pool, where the broker calls run) sends them. A burst (every line arriving within
:data:`COALESCE` seconds of the first) is one message per URL, titled with the bot's ``name``,
its mode and its account, typed by its worst line's severity (Apprise's info, success, warning,
failure). Every URL is sent to at once, each with its own ``timeout``
(:mod:`.alert_delivery`): a hanging one never delays the others, and a failure is logged naming
the entry (``notify[2] (tgram): timed out after 10 s``). A full queue drops the line and says
so in the next message. Nothing here raises into the bot.

:meth:`Alerts.run` also watches, every tick, what no single event says
(:mod:`.alert_watch`): an algorithm subscribed on no connection for ``outage_after`` seconds
(told while it lasts, and again when it ends) and the clock of the daily summary.

**Accounts.** With several accounts (``accounts:``), every line an account causes (its orders,
fills, refusals, daily loss, drift, kill switch, broker and circuit, errors) begins with its
name in brackets (``[family] fill: ...``), and the title names the accounts the burst is about
(``tradebot NAME (paper, accounts family, main): fill``). What every account shares (lapses,
outages, the backfill, the summary, the stop) names none. With one account every text is as
it always was.

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
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from tradebot.alphahub.gaps import Gap
from tradebot.clock import utcnow
from tradebot.config.model import NotifyTarget
from tradebot.core.order_snapshot import OrderStatus
from tradebot.core.orders import SkippedLeg, SkipReason
from tradebot.execution.executor import ExecutionResult
from tradebot.journal.interface import Journal
from tradebot.journal.summary_sql import Summaries
from tradebot.masking import register, register_found_in
from tradebot.runtime.alert_delivery import (
    Message,
    Sender,
    Severity,
    apprise_send,
    deliver,
    worst,
)
from tradebot.runtime.alert_watch import (
    OutageWatch,
    covered_share,
    duration_text,
    summary_due,
    summary_text,
)
from tradebot.runtime.killswitch import HaltMode
from tradebot.runtime.observer import (
    BackfillDelivered,
    BotEvent,
    BrokerCircuitChanged,
    BrokerReachability,
    DriftFound,
    ErrorRecorded,
    FillsRecorded,
    KillSwitchChanged,
    LapseReported,
    SignalHandled,
    Started,
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
#: seconds between two looks at coverage and the summary's clock (shorter when an entry's
#: ``outage_after`` is short: a quarter of it)
WATCH_TICK = 1.0


@dataclass(frozen=True, slots=True)
class Alert:
    event: str  # one of config.model.NOTIFY_EVENTS
    text: str
    severity: Severity = "info"
    #: the entries (places under notify:) it is for; None: every entry that wants ``event``
    targets: frozenset[int] | None = None
    #: the account that caused it (None: what every account shares)
    account: str | None = None


#: what the daily-loss alert remembers: (account, algorithm, day) already told
LossDays = set[tuple[str, int, date]]


def alerts_for(event: BotEvent, day: date, loss_days: LossDays) -> list[Alert]:
    """The alerts ``event`` raises, each with the account that caused it. ``loss_days``
    remembers which algorithms of which account were already reported refused by the
    daily-loss limit today (one alert when it starts, not per signal)."""
    account = account_of(event)
    alerts = _alerts_for(event, day, loss_days, account)
    return alerts if account is None else [replace(a, account=account) for a in alerts]


def account_of(event: BotEvent) -> str | None:
    """The account ``event`` is about; None for what every account shares."""
    match event:
        case (
            SignalHandled(account=account)
            | FillsRecorded(account=account)
            | DriftFound(account=account)
            | KillSwitchChanged(account=account)
            | BrokerReachability(account=account)
            | BrokerCircuitChanged(account=account)
            | ErrorRecorded(account=account)
        ):
            return account
        case _:
            return None


def _alerts_for(
    event: BotEvent, day: date, loss_days: LossDays, account: str | None
) -> list[Alert]:
    match event:
        case SignalHandled(signal=signal, result=result):
            return _signal_alerts(signal.algo_id, result, day, loss_days, account or "")
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
                    "warning",
                )
            ]
        case DriftFound(drifts=drifts):
            # one line for every algorithm's drift; the same drift told twice in a burst
            # (after two algorithms' lapses) is one line (Alerts delivers each line once)
            listed = "; ".join(sorted(str(d) for d in drifts))
            return [Alert("drift", f"drift (recorded, never traded away): {listed}", "warning")]
        case KillSwitchChanged(state=state):
            why = f" ({state.reason})" if state.reason else ""
            severity: Severity = "success" if state.mode is HaltMode.RUNNING else "warning"
            return [Alert("kill_switch", f"kill switch: {state.mode}{why}", severity)]
        case BrokerReachability(reachable=False, since=since, detail=detail):
            return [
                Alert(
                    "broker",
                    f"broker unreachable since {since:%H:%M:%S} UTC: {detail}",
                    "failure",
                )
            ]
        case BrokerReachability(reachable=True, since=since, at=at):
            return [
                Alert(
                    "broker",
                    f"broker reachable again after {duration_text(at - since)} "
                    f"({since:%H:%M:%S} to {at:%H:%M:%S} UTC)",
                    "success",
                )
            ]
        case BrokerCircuitChanged(change=change, at=at) if change.open:
            return [
                Alert(
                    "broker",
                    f"broker circuit open at {at:%H:%M:%S} UTC after {change.failures} failures "
                    f"in a row (last: {change.detail}): no order is sent until the broker "
                    "answers; orders meanwhile are held (broker_unavailable) and go out when it "
                    "does, while their signal is fresh",
                    "failure",
                )
            ]
        case BrokerCircuitChanged(change=change, at=at):
            return [
                Alert(
                    "broker",
                    f"broker circuit closed at {at:%H:%M:%S} UTC: the broker answers again "
                    f"after {duration_text(timedelta(seconds=change.open_for))}; sending resumes",
                    "success",
                )
            ]
        case ErrorRecorded(detail=detail, algo_id=algo_id):
            algo = f" (algorithm {algo_id})" if algo_id is not None else ""
            return [Alert("error", f"error{algo}: {detail}", "failure")]
        case BackfillDelivered(algo_id=algo_id, skipped=skipped):
            return _missed(algo_id, skipped)
        case Stopped(error=error):
            if error is None:
                return [Alert("stopped", "tradebot stopped cleanly", "warning")]
            how = f"because of {type(error).__name__}: {error}"
            return [Alert("stopped", f"tradebot stopped {how}", "failure")]
        case _:
            return []


def _signal_alerts(
    algo_id: int, result: ExecutionResult, day: date, loss_days: LossDays, account: str
) -> list[Alert]:
    alerts: list[Alert] = []
    for outcome in result.outcomes:
        intent, snapshot = outcome.intent, outcome.snapshot
        what = f"{intent.side} {intent.qty} {intent.symbol} (algorithm {intent.algo_id})"
        if snapshot is None and (outcome.error or "").startswith(REJECTED):
            # the executor's words for a refusal (OrderRejected): the broker said no
            alerts.append(Alert("order_rejected", f"order {outcome.error}: {what}", "warning"))
        elif snapshot is None or outcome.error is not None:
            text = f"order failed: {what}: {outcome.error}"
            alerts.append(Alert("order_failed", text, "failure"))
        elif snapshot.status is OrderStatus.REJECTED:
            text = f"order rejected by the broker: {what}"
            alerts.append(Alert("order_rejected", text, "warning"))
        elif snapshot.filled_qty > 0:
            price = f" at {snapshot.filled_avg_price}" if snapshot.filled_avg_price else ""
            alerts.append(Alert("fill", f"fill: {what}: {snapshot.filled_qty}{price}"))
    for skip in result.plan.skipped:
        if (
            skip.reason is SkipReason.RISK_LIMIT
            and "max_daily_loss" in skip.detail
            and (account, algo_id, day) not in loss_days
        ):
            loss_days.add((account, algo_id, day))
            alerts.append(Alert("daily_loss", f"daily loss limit: {skip.detail}", "warning"))
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
            "warning",
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


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the outage watch reads from the running bot's listener."""

    gaps: Sequence[Gap]
    algorithms: Sequence[int]
    connections: int


#: the coverage audit's line for the daily summary over ``since``..``until`` (None: no line)
HistoryLine = Callable[[datetime, datetime], Awaitable[str | None]]


@dataclass
class _Summary:
    """One entry's daily summary: the journal's figures at its last one, and since when."""

    at: str
    since: datetime
    before: Summaries | None = None
    lapses: Counter[int] = field(default_factory=Counter)


class Alerts:
    """The observer (:meth:`notice`), its sending worker and its watches (:meth:`run`, a bot
    task). ``name`` and ``mode`` (and the account, from the start event) head every message;
    ``accounts``: the config's account names (with several, each line names its account)."""

    def __init__(
        self,
        targets: Sequence[NotifyTarget],
        *,
        name: str = "tradebot",
        mode: str = "paper",
        send: Sender = apprise_send,
        coalesce: float = COALESCE,
        size: int = QUEUE_SIZE,
        coverage: Callable[[], Coverage | None] = lambda: None,
        journal: Callable[[], Journal | None] = lambda: None,
        now: Callable[[], datetime] = utcnow,
        history: HistoryLine | None = None,
        accounts: Sequence[str] = (),
    ) -> None:
        for target in targets:
            register_url(target.url.get_secret_value())
        self._targets = tuple(targets)
        self._name, self._mode, self._account = name, mode, ""
        self._several = len(accounts) > 1
        self._send = send
        self._coalesce = coalesce
        self._coverage = coverage
        self._journal = journal
        self._now = now
        self._history = history
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=size)
        self._loss_days: LossDays = set()
        self._dropped = 0
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._outages = OutageWatch(
            {i: t.outage_after for i, t in enumerate(targets) if "outage" in t.events}
        )
        started = now()
        self._summaries = {
            i: _Summary(t.daily_summary_at, started)
            for i, t in enumerate(targets)
            if "daily_summary" in t.events
        }
        self.sent: list[tuple[int, bool]] = []  # (target index, delivered), for tests and logs

    # -- the bot's side: never blocks, never raises -----------------------------------------

    def notice(self, event: BotEvent) -> None:
        if isinstance(event, Started):
            self._account = event.account_id
        if isinstance(event, LapseReported):
            for summary in self._summaries.values():
                summary.lapses[event.algo_id] += 1
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
        """The bot task: starts the worker, then watches coverage and the daily summary's
        clock. The worker outlives the task to send the ``stopped`` alert; :meth:`flush`
        waits for it."""
        self._start()
        thresholds = [t.outage_after for t in self._targets if "outage" in t.events]
        tick = min([WATCH_TICK, *(a / 4 for a in thresholds)])
        while True:
            await asyncio.sleep(tick)
            try:
                self.watch_outages()
                await self._daily_summaries()
            except Exception:  # watching must never stop the bot
                log.exception("notify: watching for outages and the summary failed")

    def watch_outages(self) -> None:
        """One look at coverage (each tick of :meth:`run`)."""
        coverage = self._coverage()
        if coverage is None or not self._outages.thresholds:
            return
        now = self._now()
        step = self._outages.step(coverage.gaps, coverage.algorithms, coverage.connections, now)
        for news in step:
            severity: Severity = "failure" if news.ended is None else "success"
            self._put(Alert("outage", news.text(), severity, news.targets))

    async def _daily_summaries(self) -> None:
        journal = self._journal()
        if journal is None or not self._summaries:
            return
        now = self._now()
        for index, summary in self._summaries.items():
            if summary.before is None:  # the figures the first summary starts from
                summary.before = await asyncio.to_thread(journal.summaries)
                summary.since = now
                continue
            if not summary_due(summary.at, summary.since, now):
                continue
            after = await asyncio.to_thread(journal.summaries)
            coverage = self._coverage()
            shares = (
                {
                    a: covered_share(coverage.gaps, a, coverage.connections, summary.since, now)
                    for a in coverage.algorithms
                }
                if coverage is not None
                else {}
            )
            line = None if self._history is None else await self._history(summary.since, now)
            text = summary_text(
                summary.before,
                after,
                since=summary.since,
                lapses=summary.lapses,
                coverage=shares,
                history=line,
            )
            self._put(Alert("daily_summary", text, "info", frozenset({index})))
            summary.before, summary.since, summary.lapses = after, now, Counter()

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
        messages = []
        for index, target in enumerate(self._targets):
            mine = [
                a
                for a in burst
                if a.event in target.events and (a.targets is None or index in a.targets)
            ]
            if not mine:
                continue
            lines = list(dict.fromkeys(self._line(a) for a in mine))  # each line once
            if dropped:
                lines.append(f"({dropped} more alert(s) dropped: they came too fast)")
            events = ", ".join(sorted({a.event for a in mine}))
            messages.append(
                Message(
                    index,
                    target.url.get_secret_value(),
                    f"tradebot {self._name} ({self._mode}, {self._about(mine)}): {events}",
                    "\n".join(lines),
                    worst([a.severity for a in mine]),
                    target.timeout,
                )
            )
        self.sent += deliver(messages, self._send)

    def _line(self, alert: Alert) -> str:
        """The alert's line, led by its account's name when there are several."""
        if self._several and alert.account is not None:
            return f"[{alert.account}] {alert.text}"
        return alert.text

    def _about(self, burst: Sequence[Alert]) -> str:
        """The title's account part: the broker's account (one account), or the accounts the
        burst's lines name (several)."""
        if self._several:
            names = sorted({a.account for a in burst if a.account is not None})
            if not names:
                return "every account"
            return ("account " if len(names) == 1 else "accounts ") + ", ".join(names)
        return f"account {self._account}" if self._account else "account not read yet"


def send_test(targets: Sequence[NotifyTarget], send: Sender = apprise_send) -> list[bool]:
    """``tradebot notify test``: one message to each URL, all at once; whether each was taken
    (a failure is logged naming the entry, see :func:`.alert_delivery.deliver`)."""
    for target in targets:
        register_url(target.url.get_secret_value())
    messages = [
        Message(
            i,
            t.url.get_secret_value(),
            "tradebot: test",
            "a test message from tradebot notify test",
            "info",
            t.timeout,
        )
        for i, t in enumerate(targets)
    ]
    return [ok for _, ok in deliver(messages, send)]
