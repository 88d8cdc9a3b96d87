"""The signal loop the close tests drive by hand: a real :class:`SignalLoop` with its
:class:`CloseCanceler` (no wait between lookups, a counting clock), over a scripted broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from tradebot.config.model import Config
from tradebot.core.signal import Signal
from tradebot.execution import Executor
from tradebot.journal import SqliteJournal
from tradebot.runtime.close_cancel import CloseCanceler
from tradebot.runtime.context import PlanningContext
from tradebot.runtime.observer import BotEvent
from tradebot.runtime.record_writer import RecordWriter
from tradebot.runtime.signals import SignalLoop


def closing_loop(
    executor: Executor,
    journal: SqliteJournal,
    config: Config,
    *,
    now: datetime,
    told: list[BotEvent] | None = None,
    alert_after: float = 60.0,
    monotonic: Callable[[], float] = time.monotonic,
    queue: asyncio.Queue[Signal] | None = None,
    busy: asyncio.Lock | None = None,
    price_timeout: float = 5.0,
    on_signal: Callable[[Signal], None] = lambda signal: None,
) -> SignalLoop:
    """``told`` collects what the loop (and its records) tell the observers; ``queue``: the
    listener's, for a test that runs the loop's journal worker and loop as tasks; ``busy``:
    the lock the loop shares with the re-check and the stop; ``price_timeout``: how long the
    loop waits for reference prices; ``on_signal``: told as the loop takes each signal."""
    ctx = PlanningContext(
        executor.broker, journal, kill_switch=None, track_pnl=False, price_timeout=price_timeout
    )
    ticks = iter(range(10**6))
    notify: Callable[[BotEvent], None] = told.append if told is not None else lambda event: None
    return SignalLoop(
        queue if queue is not None else asyncio.Queue(),
        executor,
        ctx,
        RecordWriter(journal, notify=notify),
        config=lambda: config,
        busy=busy if busy is not None else asyncio.Lock(),
        stopping=asyncio.Event(),
        now=lambda: now,
        say=lambda line: None,
        notify=notify,
        on_signal=on_signal,
        in_the_way=CloseCanceler(executor, timeout=5, poll=0, monotonic=lambda: float(next(ticks))),
        alert_after=alert_after,
        monotonic=monotonic,
    )
