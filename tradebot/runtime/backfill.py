"""Backfill: after a lapse, read AlphaHub's signal history and recover what was missed.

AlphaHub delivers at most once (docs/alphahub.md#delivery-is-at-most-once): a signal pushed while no
connection is subscribed is gone from the websocket. Its history still has it. :class:`Backfiller`
reads that history

* after every lapse in coverage (no connection subscribed to the algorithm; the same windows
  :class:`~tradebot.runtime.lapses.LapseWatcher` journals), once a connection has rejoined: the
  window is the lapse, widened by ``alphahub.backfill_margin`` on both sides;
* at start-up, per algorithm, once it is joined: from the last frame journaled for it (or, with
  none, the previous start) to the join.

One request per algorithm per window, in a task of its own (never in the way of live signals),
retried with backoff on transient errors (timeouts, 5xx, 429) a bounded number of times. An
endpoint that is missing or odd (404, 401 even with a fresh token, HTML, another shape) is
warned about once per run and handed to ``on_unavailable`` once; live trading goes on, and each
later lapse makes a single request again (a deploy may bring it back), never a loop.

Every window has an outcome in plain words: what was found goes to ``deliver`` (which says what
became of it); a window that found nothing (the history unavailable, every try failed, a bug)
goes to ``on_nothing`` with the reason, every time, so the journal has a row for each lapse.

A history leg is *missed* when it falls in the window and neither the journal (a decision of
any kind: received, rejected or skipped, any source: :data:`KnownLegs`) nor this run's listener
(:meth:`Listener.legs_seen`, which also remembers the legs it saw rejected) has it. What happens
to the missed legs is up to ``deliver``, which claims in the listener the legs it hands on or
refuses (:meth:`Listener.claim_legs`), so the same leg arriving live later is filtered out: it is
decided once, whichever way comes first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from tradebot.alphahub.gaps import Gap
from tradebot.alphahub.history import HistoryLeg, fetch_history, parse_history
from tradebot.alphahub.listener import Listener
from tradebot.alphahub.session import backoff
from tradebot.core.signal import Leg, LegId, LegKind
from tradebot.exceptions import FatalError, HistoryUnavailable, TransientError
from tradebot.runtime.subscription_coverage import lapses_ended

log = logging.getLogger(__name__)

#: tries per window on transient errors, and the backoff between them (seconds)
ATTEMPTS = 5
FIRST_RETRY = 0.5
MAX_RETRY = 10.0


@dataclass(frozen=True, slots=True)
class Window:
    """A span of time in which ``algo_id`` may have missed signals; ``why`` names it."""

    algo_id: int
    start: datetime
    end: datetime
    why: str

    def describe(self) -> str:
        return f"{self.why} {self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True, slots=True)
class Found:
    """What one read of the history found for a window."""

    window: Window
    in_window: int  # history legs inside the window (margins included), holds too
    missed: tuple[HistoryLeg, ...]  # buy/sell legs nobody had: to classify
    holds: tuple[HistoryLeg, ...]  # hold legs nobody had: not trades
    bad: tuple[str, ...]  # reasons of legs that could not be parsed


#: leg keys (``LegId.key``) the journal already holds, out of the ones asked about
KnownLegs = Callable[[Sequence[str]], Awaitable[set[str]]]
Deliver = Callable[[Found], Awaitable[None]]
#: ``(algo_id, why)``: a window that delivered nothing, and why, in plain words
Nothing = Callable[[int, str], Awaitable[None]]


def identities(leg: HistoryLeg | Leg | LegId) -> tuple[LegId, LegId]:
    """The leg as an open and as a close: the history does not say which it was."""
    assert leg.side is not None
    return (
        LegId(leg.algo_id, LegKind.OPEN, leg.symbol, leg.side, leg.timestamp),
        LegId(leg.algo_id, LegKind.CLOSE, leg.symbol, leg.side, leg.timestamp),
    )


class Backfiller:
    """Reads the history for each window it is given and delivers what was missed."""

    def __init__(
        self,
        listener: Listener,
        *,
        known: KnownLegs,
        deliver: Deliver,
        since: Callable[[int], Awaitable[datetime | None]] | None,
        say: Callable[[str], None],
        on_unavailable: Callable[[str], Awaitable[None]] | None = None,
        on_nothing: Nothing | None = None,
        gaps: asyncio.Queue[Gap] | None = None,
        now: Callable[[], datetime],
        attempts: int = ATTEMPTS,
        retry_delays: tuple[float, float] = (FIRST_RETRY, MAX_RETRY),
    ) -> None:
        self._listener = listener
        self._settings = listener.settings
        self._margin = timedelta(seconds=self._settings.backfill_margin)
        self._known = known
        self._deliver = deliver
        self._since = since
        self._say = say
        self._on_unavailable = on_unavailable
        self._on_nothing = on_nothing
        self._gaps = gaps  # closed gaps, read by run(); or given to gap_closed() by the caller
        self._now = now
        self._attempts = attempts
        self._retry_delays = retry_delays
        self._windows: asyncio.Queue[Window] = asyncio.Queue()
        self._handled: dict[int, datetime] = {}  # algo -> end of the last lapse queued
        self._unavailable: str | None = None  # the reason, once warned about
        self.completed = 0  # windows read (or given up on): tests and benchmarks wait on it
        self._progress = asyncio.Event()

    # -- what to read -----------------------------------------------------------------------------

    def gap_closed(self, gap: Gap) -> None:
        """A connection rejoined: queue the lapses in coverage this ends (synchronous)."""
        seen = self._handled.get(gap.algo_id)
        windows = lapses_ended(
            self._listener.gaps, gap, self._settings.connections, seen, now=self._now()
        )
        if windows:
            self._handled[gap.algo_id] = max(end for _, end in windows)
            start, end = min(s for s, _ in windows), max(e for _, e in windows)
            self._windows.put_nowait(Window(gap.algo_id, start, end, "lapse"))

    async def run(self) -> None:
        """Read windows until cancelled: first the start-up ones, then every lapse."""
        async with asyncio.TaskGroup() as tg:
            if self._since is not None:
                for algo_id in self._listener.algorithms:
                    tg.create_task(self._startup(algo_id, self._since))
            if self._gaps is not None:
                tg.create_task(self._follow(self._gaps))
            tg.create_task(self._serve())

    async def _follow(self, gaps: asyncio.Queue[Gap]) -> None:
        while True:
            self.gap_closed(await gaps.get())

    async def wait_completed(self, count: int) -> None:
        while self.completed < count:
            await self._progress.wait()

    async def _startup(
        self, algo_id: int, since: Callable[[int], Awaitable[datetime | None]]
    ) -> None:
        start = await since(algo_id)
        listener = self._listener
        await listener.wait_until(
            lambda: any(algo_id in listener.joined(c) for c in range(self._settings.connections))
        )
        if start is not None:
            self._windows.put_nowait(Window(algo_id, start, self._now(), "since"))

    async def _serve(self) -> None:
        while True:
            window = await self._windows.get()
            try:
                await self.backfill(window)
            except (TransientError, HistoryUnavailable):
                pass  # reported by backfill()
            except FatalError:
                raise  # the journal failing, credentials refused: the bot must stop
            except Exception as exc:
                # input from outside must never stop the bot; a bug here must not either
                log.exception("backfill for algorithm %d failed", window.algo_id)
                self._say(f"warning: backfill for algorithm {window.algo_id} failed (see log)")
                await self._nothing(
                    window,
                    f"failed on an internal error ({type(exc).__name__}, see the log); a signal"
                    " sent then may have been missed",
                )
            finally:
                self.completed += 1
                self._progress.set()
                self._progress = asyncio.Event()

    # -- reading ----------------------------------------------------------------------------------

    async def backfill(self, window: Window) -> Found:
        """Read the history for ``window``, deliver what was missed, return what was found.

        Raises :class:`TransientError` when every attempt failed and
        :class:`HistoryUnavailable` when the endpoint is missing or odd (both reported first).
        """
        try:
            items = await self._read(window)
        except HistoryUnavailable as exc:
            await self._unavailable_now(window, str(exc))
            why = (
                f"not read: AlphaHub's signal history answered {exc}; a signal sent then cannot "
                "be recovered (live trading goes on)"
            )
            await self._nothing(window, why)
            raise
        except TransientError as exc:
            detail = f"backfill for algorithm {window.algo_id} ({window.describe()}) failed: {exc}"
            self._say(f"warning: {detail}; a signal sent then may have been missed")
            why = (
                f"failed: none of {self._attempts} tries got an answer (the last: {exc}); a "
                "signal sent then may have been missed"
            )
            await self._nothing(window, why)
            raise
        found = await self._missed(window, items)
        # no await between the check above and the start of deliver: a deliver that claims
        # what it hands on (Listener.claim_legs) before its first await leaves no moment in
        # which a live copy could slip through as well
        await self._deliver(found)
        return found

    async def _read(self, window: Window) -> list[object]:
        zone = self._settings.zone
        # the service filters by day, in a zone it does not state: ask from the day before;
        # the window is applied exactly to the legs' own timestamps afterwards
        after = (window.start - self._margin).astimezone(zone).date() - timedelta(days=1)
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            wait=backoff(*self._retry_delays),
            stop=stop_after_attempt(self._attempts),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._fetch(window.algo_id, after)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _fetch(self, algo_id: int, after: date) -> list[object]:
        tokens = self._listener.tokens
        for fresh_token in (False, True):
            token = await tokens.get()
            try:
                return await asyncio.to_thread(
                    fetch_history,
                    self._settings.url,
                    token.value.get_secret_value(),
                    algo_id,
                    after,
                    self._settings.request_timeout,
                )
            except HistoryUnavailable as exc:
                if exc.status not in (401, 403) or fresh_token:
                    raise
                tokens.refused(token)  # maybe just expired: once more with a new one
        raise AssertionError("unreachable")  # pragma: no cover

    async def _missed(self, window: Window, items: list[object]) -> Found:
        legs, bad = parse_history(window.algo_id, items, self._settings.zone)
        low, high = window.start - self._margin, window.end + self._margin
        inside = [leg for leg in legs if low <= leg.timestamp <= high]
        trades = [leg for leg in inside if leg.side is not None]
        keys = [i.key for leg in trades for i in identities(leg)]
        journaled = await self._known(keys) if keys else set()
        missed = [
            leg
            for leg in trades
            if not any(i.key in journaled for i in identities(leg))
            and not self._listener.legs_seen(identities(leg))  # received live in this run
        ]
        holds = tuple(leg for leg in inside if leg.side is None)
        reasons = tuple(f"leg {b.index}: {b.reason}" for b in bad)
        return Found(window, len(inside), tuple(missed), holds, reasons)

    async def _nothing(self, window: Window, why: str) -> None:
        """Hand on a window that delivered nothing, and why (never raises but FatalError)."""
        if self._on_nothing is None:
            return
        detail = f"backfill for algorithm {window.algo_id} ({window.describe()}) {why}"
        try:
            await self._on_nothing(window.algo_id, detail)
        except FatalError:
            raise
        except Exception:
            log.exception("recording the backfill outcome for algorithm %d", window.algo_id)

    async def _unavailable_now(self, window: Window, reason: str) -> None:
        if self._unavailable is not None:
            log.debug(
                "signal history still unavailable for algorithm %d: %s", window.algo_id, reason
            )
            return
        self._unavailable = reason
        detail = (
            f"backfill unavailable: AlphaHub's signal history answered {reason}; signals missed "
            "during a lapse cannot be recovered (live trading goes on)"
        )
        self._say(f"warning: {detail}")
        if self._on_unavailable is not None:
            await self._on_unavailable(detail)
