"""The AlphaHub signal listener: N independent connections, de-duplicated legs, recorded gaps.

Usage::

    listener = Listener(config.alphahub, config.subscribed_algorithms, on_gap=journal_gap)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(listener.run())
        async for signal in listener.signals():
            ...

Contract:

- ``run()`` keeps ``settings.connections`` sessions connected until it is cancelled; it returns
  only by raising :class:`~tradebot.exceptions.AuthenticationError` (wrong credentials).
- Each leg is handed on once across connections and reconnects (:class:`~.dedup.LegDeduper`); a
  re-pushed signal comes out with only its unseen legs, or not at all. A leg its signal's rules
  refused is remembered as seen too: decided once, never traded later by another path. Signals
  go into an unbounded ``asyncio.Queue`` (``listener.queue``), so the reader never waits for the
  consumer.
- A malformed frame or payload is logged and reported to ``on_bad_input``, with the algorithm
  when its topic can be read; bad legs travel in ``Signal.rejected``, and the valid legs of the
  same frame go on. Bad input is reported once per delivery, not once per connection, and again
  when a later push repeats it (:mod:`.dedup`). Nothing bad ever stops the listener.
- Every lapse of a subscription is a :class:`~.gaps.Gap` in ``listener.gaps``; ``on_gap`` is
  called when the gap closes (the channel is joined again).
- Callbacks are called synchronously from the reader: they must not block. An exception in one is
  logged and otherwise ignored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tradebot.alphahub.auth import TokenSource
from tradebot.alphahub.dedup import LegDeduper, digest
from tradebot.alphahub.gaps import Gap, GapRecorder
from tradebot.alphahub.protocol import frame_identity, raw_excerpt
from tradebot.alphahub.session import Session, StateChange
from tradebot.clock import utcnow
from tradebot.config.model import AlphaHubConfig
from tradebot.core.signal import LegId, Signal, parse_signal
from tradebot.exceptions import AuthenticationError, InvalidSignal

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DroppedInput:
    """A report: a frame or payload was dropped, with the reason and a bounded excerpt of it.

    Not the :class:`~tradebot.exceptions.BadInput` error (which a parser raises); this is what
    the listener hands ``on_bad_input`` after catching one.
    """

    connection: int
    algo_id: int | None
    reason: str
    raw: str


class Listener:
    """Receives AlphaHub signals for ``algorithms`` over ``settings.connections`` connections."""

    def __init__(
        self,
        settings: AlphaHubConfig,
        algorithms: Sequence[int],
        *,
        on_gap: Callable[[Gap], object] | None = None,
        on_state: Callable[[StateChange], object] | None = None,
        on_bad_input: Callable[[DroppedInput], object] | None = None,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not algorithms:
            raise ValueError("no algorithms to listen to")
        self.settings = settings
        self.algorithms = tuple(dict.fromkeys(algorithms))
        self.queue: asyncio.Queue[Signal] = asyncio.Queue()
        self._on_gap = on_gap
        self._on_state = on_state
        self._on_bad_input = on_bad_input
        self._clock = clock
        self._mono = monotonic
        self._zone = settings.zone
        self._dedup = LegDeduper(settings.dedup_window, settings.dedup_max_ids)
        self._gaps = GapRecorder()
        self._joined: dict[int, set[int]] = {i: set() for i in range(settings.connections)}
        self._changed = asyncio.Event()
        self._tokens = TokenSource(
            settings.url,
            settings.email,
            settings.password,
            request_timeout=settings.request_timeout,
            max_age=settings.token_max_age,
            clock=monotonic,
        )

    # -- public -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run every connection until cancelled; raises AuthenticationError on wrong credentials."""
        sessions = [
            Session(i, self.settings, self.algorithms, self._tokens, self, monotonic=self._mono)
            for i in range(self.settings.connections)
        ]
        try:
            async with asyncio.TaskGroup() as tg:
                for session in sessions:
                    tg.create_task(session.run(), name=f"alphahub-connection-{session.index}")
        except BaseExceptionGroup as group:
            auth = group.subgroup(AuthenticationError)
            if auth is not None and len(group.exceptions) == len(auth.exceptions):
                raise _first(auth) from None
            raise

    async def signals(self) -> AsyncIterator[Signal]:
        """Every signal, in arrival order, forever (stop by breaking out or cancelling)."""
        while True:
            yield await self.queue.get()

    @property
    def tokens(self) -> TokenSource:
        """The session shared by the connections (the history reader uses it too)."""
        return self._tokens

    def legs_seen(self, ids: Sequence[LegId]) -> bool:
        """Whether any of ``ids`` came through this listener (within the de-dup window)."""
        return self._dedup.seen(ids, self._mono())

    def claim_legs(self, ids: Sequence[LegId]) -> None:
        """Legs that came another way (the history): the same legs arriving live are dropped."""
        self._dedup.claim(ids, self._mono())

    @property
    def gaps(self) -> tuple[Gap, ...]:
        """Every gap so far: closed ones in order, then the ones still open."""
        return self._gaps.gaps

    def joined(self, connection: int) -> frozenset[int]:
        """The algorithms connection ``connection`` is subscribed to right now."""
        return frozenset(self._joined[connection])

    @property
    def all_joined(self) -> bool:
        return all(len(j) == len(self.algorithms) for j in self._joined.values())

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds; re-checked whenever the listener's state moves."""
        while not condition():
            await self._changed.wait()

    # -- SessionSink: called by the sessions, never blocking --------------------------------------

    def _moved(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def state(self, change: StateChange) -> None:
        level = logging.WARNING if change.state in ("lost", "retrying") else logging.INFO
        log.log(level, "connection %d %s %s", change.connection, change.state, change.detail)
        self._call(self._on_state, change)
        self._moved()

    def joined_channel(self, connection: int, algo_id: int) -> None:
        self._joined[connection].add(algo_id)
        gap = self._gaps.rejoined(algo_id, connection, self._clock())
        if gap is not None:
            log.info("connection %d rejoined algorithm %d after a gap", connection, algo_id)
            self._call(self._on_gap, gap)
        self._moved()

    def lost(self, connection: int, algo_ids: Sequence[int], reason: str) -> None:
        now = self._clock()
        for algo_id in algo_ids:
            self._joined[connection].discard(algo_id)
            self._gaps.lost(algo_id, connection, now, reason)
        self._moved()

    def push(self, connection: int, algo_id: int, payload: Any, raw: str) -> None:
        try:
            signal = parse_signal(
                algo_id, payload, received_at=self._clock(), zone=self._zone, raw=raw
            )
        except InvalidSignal as exc:
            self.bad_frame(connection, str(exc), raw, algo_id)
            return
        except Exception as exc:
            # parse_signal raises only InvalidSignal by contract; anything else is a bug in it,
            # and one odd payload must still not stop the listener.
            log.exception("algorithm %d: payload could not be parsed", algo_id)
            self.bad_frame(connection, f"parser failure: {type(exc).__name__}", raw, algo_id)
            return
        now = self._mono()
        fresh = self._dedup.filter(signal, now, connection)
        # a leg its signal's rules refused (weights, a contradiction) is decided: the same leg
        # again, re-pushed or read back from the history, is not traded either
        self._dedup.claim([r.leg_id for r in signal.rejected if r.leg_id is not None], now)
        if fresh is None:
            return
        for rejected in fresh.rejected:
            log.warning("algorithm %d: leg rejected: %s", algo_id, rejected.reason)
        self.queue.put_nowait(fresh)

    def bad_frame(self, connection: int, reason: str, raw: str, algo_id: int | None = None) -> None:
        """A frame (``raw``, its whole text) that was dropped: reported once per delivery.

        ``algo_id``: the algorithm, when known; otherwise read from the frame's topic if it is
        one we joined.
        """
        topic_algo, content = frame_identity(raw)
        if algo_id is None and topic_algo in self.algorithms:
            algo_id = topic_algo
        key = ("frame", algo_id, digest(content))
        if not self._dedup.new_report(key, connection, self._mono()):
            log.debug("connection %d: bad input already reported: %s", connection, reason)
            return
        log.warning("connection %d: dropped bad input: %s", connection, reason)
        bad = DroppedInput(connection, algo_id, reason, raw_excerpt(raw))
        self._call(self._on_bad_input, bad)

    def _call(self, callback: Callable[[T], object] | None, value: T) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception:
            # A broken observer must not take the listener down with it.
            log.exception("listener callback %r failed", callback)


def _first(group: BaseExceptionGroup[AuthenticationError]) -> AuthenticationError:
    error = group.exceptions[0]
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
