"""The broker's circuit breaker: after repeated failures, stop sending orders; probe; resume.

One per account, beside its executor: a failing broker stops that account's orders, never
another's. The rules, as :class:`Circuit` decides them:

* **closed** (orders go out). A *failure* is an order submission that ended without the broker's
  answer after the one retry layer (:mod:`tradebot.broker.retry`) gave up: 5xx, 429s past the
  last attempt, timeouts, refused connections (:class:`~tradebot.exceptions.TransientError`,
  :class:`~tradebot.exceptions.OrderOutcomeUnknown`). A refusal of an order for its content
  (:class:`~tradebot.exceptions.OrderRejected`) is the broker answering: it is no failure, and
  like an accepted order it starts the count again. ``failures`` in a row open the circuit.
* **open** (no order is sent). Every ``probe_every`` seconds of the monotonic clock after it
  opened, one cheap read (the account) asks whether the broker answers. The first answer closes
  the circuit; a probe that gets none leaves it open until the next.

What happens to an order planned while the circuit is open (the executor's side): its intent is
durable already (record before acting); it is not sent, an ERROR row with its client order id
says ``broker_unavailable`` and why, and the intent stays *unanswered*. That is the state of an
order whose submission got no answer, and the re-check (:mod:`tradebot.runtime.recheck`)
settles it by the project's one rule: once the broker answers, look the client order id up,
send it (same id: never a second order) while its signal is younger than
``journal.recovery_max_age``, else record it as failed, stale. So a leg planned during a short
outage still trades, a leg older than the freshness rule never does, nothing is lost (the next
start's recovery settles whatever the re-check did not) and nothing is sent twice. Refusing it
for good at once (a FAILED row) would give the leg its one fate while the broker might be back
in fifteen seconds: a missed signal is recovered, not just reported.

:class:`Circuit` decides and does no I/O: the monotonic time comes in as an argument.
:class:`BrokerCircuit` is its driver: it journals each change (an ERROR row when it opens, a
RECOVERY row when it closes), tells ``notify`` (the observers: alerts, metrics, the status),
and probes, as a follower of the running bot (:mod:`tradebot.runtime.followers`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tradebot.core.events import OrderEvent
from tradebot.exceptions import FatalError, TradebotError
from tradebot.journal.interface import Journal
from tradebot.masking import mask

log = logging.getLogger(__name__)

#: the reason an order not sent because the circuit is open is journaled with
BROKER_UNAVAILABLE = "broker_unavailable"
#: seconds between two looks at whether a probe is due (the follower's tick)
TICK = 1.0


@dataclass(frozen=True, slots=True)
class CircuitChange:
    """The circuit opened (``open``: after ``failures`` failures in a row, the last one
    ``detail``) or closed (the broker answered after ``open_for`` seconds open)."""

    open: bool
    failures: int
    detail: str
    open_for: float = 0.0


class Circuit:
    """The state machine (see the module docstring). No I/O; ``now`` is monotonic seconds."""

    def __init__(self, *, failures: int, probe_every: float) -> None:
        if failures < 1 or not probe_every > 0:
            raise ValueError("failures must be >= 1 and probe_every > 0")
        self.threshold = failures
        self.probe_every = probe_every
        self.failures = 0  # consecutive, since the last answer
        self.opened_at: float | None = None
        self._next_probe = 0.0
        self.last_error = ""

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def failed(self, now: float, error: str) -> CircuitChange | None:
        """A call got no answer after the retries: the change when this one opens the circuit."""
        self.failures += 1
        self.last_error = error
        if self.opened_at is not None or self.failures < self.threshold:
            return None
        self.opened_at = now
        self._next_probe = now + self.probe_every
        return CircuitChange(True, self.failures, error)

    def answered(self, now: float) -> CircuitChange | None:
        """The broker answered (an order, a refusal, a probe): the change when it closes."""
        failures, self.failures = self.failures, 0
        opened, self.opened_at = self.opened_at, None
        if opened is None:
            return None
        return CircuitChange(False, failures, self.last_error, max(now - opened, 0.0))

    def probe_due(self, now: float) -> bool:
        """Whether to probe now (open, and ``probe_every`` since it opened or the last probe)."""
        return self.opened_at is not None and now >= self._next_probe

    def probed(self, now: float) -> None:
        """A probe was made (whatever it got): the next one is ``probe_every`` later."""
        self._next_probe = now + self.probe_every


class BrokerCircuit:
    """The account's breaker: the executor asks :meth:`allows` before each order and reports
    what each submission got (:meth:`failed`, :meth:`answered`); the running bot steps it as a
    follower, and each step probes when one is due.

    ``probe`` is the cheap read (the broker's ``account``); ``clock`` the monotonic one, for the
    rules; ``notify`` is told of each change once it is journaled.
    """

    name = "broker circuit"
    at_start = False

    def __init__(
        self,
        circuit: Circuit,
        journal: Journal,
        probe: Callable[[], Awaitable[object]],
        *,
        notify: Callable[[CircuitChange], None] = lambda change: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.circuit = circuit
        self._journal = journal
        self._probe = probe
        self._notify = notify
        self._clock = clock

    @property
    def interval(self) -> float:
        return min(TICK, self.circuit.probe_every)

    def allows(self) -> bool:
        """Whether an order may be sent now (the circuit is closed)."""
        return not self.circuit.is_open

    def refusal(self) -> str:
        """What an order not sent now is journaled with (the reason first)."""
        c = self.circuit
        return (
            f"{BROKER_UNAVAILABLE}: not sent, the broker circuit is open after {c.failures} "
            f"failures in a row (last: {c.last_error}); held for the re-check, which sends it "
            "(same client order id) once the broker answers, if its signal is still fresh"
        )

    async def failed(self, error: BaseException | str) -> None:
        change = self.circuit.failed(self._clock(), mask(str(error))[:300])
        if change is not None:
            await self._tell(change)

    async def answered(self) -> None:
        change = self.circuit.answered(self._clock())
        if change is not None:
            await self._tell(change)

    def cares(self, event: OrderEvent) -> bool:
        return False  # the stream says nothing of whether orders can be sent

    async def step(self) -> None:
        """Probe, when one is due: one read, awaited to its end.

        The read goes through the broker's retries, like every request: against a broker that
        hangs, one probe lasts as long as they do (the other followers wait meanwhile; they have
        nothing to do with a broker that does not answer). Never cut short by a timeout here: an
        abandoned read would go on in its worker thread, and probes piling up there would take
        the threads the journal writes need.
        """
        circuit = self.circuit
        if not circuit.probe_due(self._clock()):
            return
        try:
            await self._probe()
        except FatalError:
            raise  # refused keys, the journal failing: the bot stops, as it would anyway
        except TradebotError as exc:
            log.info("broker circuit: the probe got no answer (%s)", mask(str(exc))[:200])
            return
        finally:
            circuit.probed(self._clock())  # the next one is probe_every after this one ended
        await self.answered()

    async def _tell(self, change: CircuitChange) -> None:
        # journaled first, then told: the alert never announces what the journal lacks
        if change.open:
            detail = (
                f"{BROKER_UNAVAILABLE}: broker circuit open after {change.failures} failures in "
                f"a row (last: {change.detail}); no order is sent until the broker answers a "
                f"probe (every {_seconds(self.circuit.probe_every)})"
            )
            log.error("%s", detail)
            await asyncio.to_thread(self._journal.record_error, detail)
        else:
            detail = (
                f"broker circuit closed: the broker answers again after "
                f"{_seconds(change.open_for)} open; orders held meanwhile go out with the "
                "re-check while their signal is fresh"
            )
            log.warning("%s", detail)
            data = {"circuit": "closed", "open_for": round(change.open_for, 3)}
            await asyncio.to_thread(self._journal.record_recovery, detail, data)
        self._notify(change)


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"
