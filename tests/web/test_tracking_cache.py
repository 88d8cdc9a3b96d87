"""The Tracking page never waits for a long computation: the last figures, or a page that says
they are being computed (tradebot/web/tracking_page.py TrackingCache). The computation here is a
coroutine the test releases; the clock is the test's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tradebot.web.tracking_page import TrackingCache


class Track:
    """A computation that ends when the test says so, counting its runs."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.runs = 0
        self.fail: Exception | None = None

    async def __call__(self) -> dict[str, Any]:
        self.runs += 1
        await self.release.wait()
        self.release.clear()
        if self.fail is not None:
            raise self.fail
        return {"rows": [{"algo_id": 16, "run": self.runs}], "chart": None}


async def test_a_slow_first_computation_answers_at_once_that_it_is_computing() -> None:
    track, now = Track(), [0.0]
    cache = TrackingCache(track, max_age=60, budget=0.01, clock=lambda: now[0])
    first = await cache.get()
    assert first["computing"] is True and first["rows"] == []
    again = await cache.get()  # still under way: not started twice
    assert again["computing"] is True and track.runs == 1
    track.release.set()
    await cache.wait()
    now[0] = 5.0
    shown = await cache.get()
    assert shown["rows"] == [{"algo_id": 16, "run": 1}] and "computing" not in shown
    assert shown["computed_ago"] == 5 and shown["refreshing"] is False


async def test_stale_figures_are_shown_while_fresh_ones_are_computed() -> None:
    track, now = Track(), [0.0]
    cache = TrackingCache(track, max_age=60, budget=0.01, clock=lambda: now[0])
    track.release.set()
    await cache.get()
    await cache.wait()
    now[0] = 30.0
    assert (await cache.get())["rows"][0]["run"] == 1 and track.runs == 1  # fresh enough
    now[0] = 61.0
    stale = await cache.get()
    assert stale["rows"][0]["run"] == 1 and stale["refreshing"] is True and track.runs == 2
    track.release.set()
    await cache.wait()
    assert (await cache.get())["rows"][0]["run"] == 2


async def test_a_quick_computation_is_answered_fresh_within_the_budget() -> None:
    async def quick() -> dict[str, Any]:
        return {"rows": [1], "chart": None}

    cache = TrackingCache(quick, budget=5)
    shown = await cache.get()
    assert shown["rows"] == [1] and shown["refreshing"] is False


async def test_a_failed_computation_is_reported_and_tried_again() -> None:
    track = Track()
    cache = TrackingCache(track, budget=5)
    track.fail = RuntimeError("journal unreadable")
    track.release.set()
    with pytest.raises(RuntimeError, match="journal unreadable"):
        await cache.get()
    track.fail = None
    track.release.set()
    assert (await cache.get())["rows"][0]["run"] == 2
