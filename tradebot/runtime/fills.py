"""The broker's event stream, recorded while the bot runs, with fills announced explicitly.

:meth:`Executor.consume_events <tradebot.execution.executor.Executor.consume_events>` records the
stream but tells nobody what it recorded. The running bot must know: a fill changes today's
realised P&L (the daily-loss limit must see it before the next plan), buying power, and what the
observers show. So the bot reads the stream here and, after each durable batch, calls
``on_fills`` with the fills the journal recorded for the first time (a duplicate event from a
reconnecting stream announces nothing). Batching is the executor's: events that arrive while a
write is in progress go into the next transaction together (one fsync for a burst).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from tradebot.core.events import OrderEvent
from tradebot.execution.executor import Executor
from tradebot.journal.records import AppliedFill

OnFills = Callable[[tuple[AppliedFill, ...]], None]


async def record_events(
    executor: Executor, events: AsyncIterator[OrderEvent], on_fills: OnFills
) -> None:
    """Journal ``events`` through ``executor`` until the stream ends (cancel to stop)."""
    queue: asyncio.Queue[OrderEvent | None] = asyncio.Queue()

    async def read() -> None:
        try:
            async for event in events:
                queue.put_nowait(event)
        finally:
            queue.put_nowait(None)  # the stream ended (or failed): stop after the last batch

    async with asyncio.TaskGroup() as tg:
        tg.create_task(read())
        ended = False
        while not ended:
            first = await queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < executor.max_batch and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None:
                    ended = True
                    break
                batch.append(nxt)
            fills = await executor.apply_events(batch)
            if fills:
                on_fills(fills)
