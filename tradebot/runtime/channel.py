"""A one-way channel: one publisher, any number of consumers, each with a queue of its own.

The listener publishes closed subscription gaps here from a synchronous callback; the lapse
watcher and the backfill each consume their own queue in their own task. So the listener never
knows who consumes its gaps, and no consumer is called from inside the listener's reader.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Channel(Generic[T]):
    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[T]] = []

    def subscribe(self) -> asyncio.Queue[T]:
        """A queue that receives every value published from now on (read it, or it grows)."""
        queue: asyncio.Queue[T] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def publish(self, value: T) -> None:
        """Hand ``value`` to every subscriber (synchronous, never blocks)."""
        for queue in self._queues:
            queue.put_nowait(value)
