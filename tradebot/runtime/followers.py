"""The followers: what watches orders after they left, and acts, run by one task.

A :class:`Follower` looks at the journal and the broker and acts on what it sees, one
:meth:`~Follower.step` at a time: the re-check of orders whose outcome is unknown
(:mod:`.recheck`), the chaser of ``limit_then_market`` limits
(:mod:`tradebot.execution.chaser`), the exit manager (:mod:`tradebot.execution.exit_manager`), and,
when other processes journal signals here, the pick-up of theirs
(:class:`~.leadership.ForeignSignals`).

:class:`Followers` runs them all from one task. A follower steps

* **when an order event concerns it**: the broker's event stream hands every batch of events to
  :meth:`Followers.notice` once the journal has made it durable, and each follower whose
  :meth:`~Follower.cares` says yes steps at once (a chase limit's cancel confirmed: its
  remainder goes now; an entry filled: its exits go now);
* **every ``interval`` seconds** otherwise, the safety net: a timer (a chase's ``chase_after``),
  an event lost in a reconnect, a state only a lookup shows, an order the broker never answered
  for. A step, woken or ticked, starts the interval again;
* once at start when its :attr:`~Follower.at_start` says so (to pick up what the last run
  left), else one interval after it.

One step at a time, in the followers' order: a follower never runs beside another, and each
keeps its own guarantees (the re-check holds the signal lock for its whole step; the others take
it to act). A step that raises does not stop the others: a
:class:`~tradebot.exceptions.TransientError` is logged as a warning (the broker did not answer;
the next step tries again), any other error is logged and reported (``on_error``: an
:class:`~.observer.ErrorRecorded` for the observers), except a
:class:`~tradebot.exceptions.FatalError` (the journal failing, a lost lease), which stops the
bot. Once the bot is stopping, no follower steps again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from tradebot.core.events import OrderEvent
from tradebot.exceptions import FatalError, TransientError

log = logging.getLogger(__name__)


class Follower(Protocol):
    """Watches some orders and acts on them, one step at a time (see the module docstring)."""

    @property
    def name(self) -> str:
        """For the log and the error reports."""
        ...

    @property
    def interval(self) -> float:
        """Seconds between two steps when no event wakes it."""
        ...

    @property
    def at_start(self) -> bool:
        """Step once as soon as the bot runs (else the first step is one interval later)."""
        ...

    def cares(self, event: OrderEvent) -> bool:
        """Whether ``event`` (durable in the journal already) concerns one of its orders: it
        then steps at once. Cheap and synchronous: it runs on the event stream's path."""
        ...

    async def step(self) -> None:
        """Look once, and act on what it sees."""
        ...


class Followers:
    """Runs every follower from one task: woken by the order events they care about, ticked
    every interval otherwise. Build it with the followers, run :meth:`run` as a task, and feed
    :meth:`notice` every durable batch of broker events."""

    def __init__(
        self,
        followers: Sequence[Follower],
        *,
        stopping: asyncio.Event,
        on_error: Callable[[str], None] = lambda detail: None,
    ) -> None:
        self._followers = tuple(followers)
        self._stopping = stopping
        self._on_error = on_error
        self._woken: set[int] = set()  # followers an event asked to step (by position)
        self._wake = asyncio.Event()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self._followers)

    def notice(self, events: Sequence[OrderEvent]) -> None:
        """The broker's event stream made ``events`` durable: wake whoever cares."""
        for i, follower in enumerate(self._followers):
            if i in self._woken:
                continue
            try:
                cares = any(follower.cares(event) for event in events)
            except Exception:  # a bug in one follower never stops the event stream
                log.exception("follower %s: cares() failed; stepping it", follower.name)
                cares = True
            if cares:
                self._woken.add(i)
        if self._woken:
            self._wake.set()

    async def run(self) -> None:
        """Step the followers as they are due, until the bot is stopping (cancel to end)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        due = [start if f.at_start else start + f.interval for f in self._followers]
        while not self._stopping.is_set():
            now = loop.time()
            ready = [i for i, at in enumerate(due) if i in self._woken or at <= now]
            if not ready:
                self._wake.clear()  # nothing woken since the look above: no await between
                timeout = min(due, default=now + 3600) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            self._woken.difference_update(ready)
            for i in ready:
                if self._stopping.is_set():
                    return
                follower = self._followers[i]
                await self._step(follower)
                due[i] = loop.time() + follower.interval

    async def _step(self, follower: Follower) -> None:
        try:
            await follower.step()
        except FatalError:
            raise  # the journal failing, a lost lease: the bot stops
        except TransientError as exc:
            log.warning("%s: the broker did not answer: %s", follower.name, exc)
        except Exception as exc:
            log.exception("%s failed", follower.name)
            self._on_error(f"{follower.name} failed: {exc!r}")
