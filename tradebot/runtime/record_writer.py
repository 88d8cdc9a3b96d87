"""Journal writes asked for by synchronous callbacks, made by one task off the event loop.

The listener's bad-input callback, the config watcher's callbacks and the kill-switch check run
synchronously (inside a reader, or between two awaits of the signal loop) and must not wait for
an fsync. They ask this writer, which queues the write; :meth:`RecordWriter.run` makes them one
at a time in a worker thread, in the order asked, and the bot calls :meth:`drain` at stop, after
every other task has ended, so nothing asked for is lost on a clean stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from tradebot.journal.interface import Journal
from tradebot.runtime.observer import BotEvent, ErrorRecorded


class RecordWriter:
    def __init__(self, journal: Journal, *, notify: Callable[[BotEvent], None]) -> None:
        self._journal = journal
        self._notify = notify
        self._queue: asyncio.Queue[Callable[[Journal], object]] = asyncio.Queue()

    def error(self, detail: str, *, algo_id: int | None = None) -> None:
        """Journal an ERROR row (and tell the observers) without waiting for it."""
        self._queue.put_nowait(lambda j: j.record_error(detail, algo_id=algo_id))
        self._notify(ErrorRecorded(detail, algo_id))

    def config(self, detail: str, data: Mapping[str, object]) -> None:
        """Journal a CONFIG row (a reload, a kill-switch change) without waiting for it."""
        self._queue.put_nowait(lambda j: j.record_config(detail, data))

    async def run(self) -> None:
        while True:
            write = await self._queue.get()
            # A stop cancels this task, possibly mid-write. The write in its thread finishes
            # anyway; waiting for it keeps drain() from writing beside it or ahead of it.
            doing = asyncio.ensure_future(asyncio.to_thread(write, self._journal))
            try:
                await asyncio.shield(doing)
            except asyncio.CancelledError:
                await asyncio.wait({doing})
                raise

    async def drain(self) -> None:
        """Make the writes still queued (at stop, once :meth:`run` is cancelled)."""
        while not self._queue.empty():
            await asyncio.to_thread(self._queue.get_nowait(), self._journal)
