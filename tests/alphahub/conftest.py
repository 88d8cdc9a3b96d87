"""Fixtures for the listener tests: a simulator on 127.0.0.1 and fast listener settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import pytest
from pydantic import SecretStr

from tradebot.alphahub import DroppedInput, Gap, Listener, StateChange
from tradebot.config.model import AlphaHubConfig, ReconnectConfig
from tradebot.core.signal import Signal
from tradebot.simulators.alphahub import AlphaHubSimulator

EMAIL, PASSWORD = "demo@example.com", "demo"


def fast_settings(url: str, **overrides: Any) -> AlphaHubConfig:
    """Short heartbeats and backoff so faults are detected and healed in milliseconds."""
    values: dict[str, Any] = {
        "url": url,
        "email": SecretStr(EMAIL),
        "password": SecretStr(PASSWORD),
        "connections": 1,
        "heartbeat_interval": 0.05,
        "heartbeat_timeout": 1.0,  # generous: a loaded CI machine must not fake a dead link
        "join_timeout": 0.5,
        "request_timeout": 2.0,
        "reconnect": ReconnectConfig(first_delay=0.01, max_delay=0.05, healthy_after=0.5),
    }
    values.update(overrides)
    return AlphaHubConfig(**values)


def leg(
    symbol: str, side: str = "buy", ts: str = "2021-04-26T14:30:00", price: float = 10.5
) -> dict[str, Any]:
    return {"price": price, "side": side, "symbol": symbol, "timestamp": ts}


def payload(*opens: str, closes: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"close": [leg(s, "sell") for s in closes], "open": [leg(s) for s in opens]}


class Recorder:
    """Collects what a listener reports through its callbacks."""

    def __init__(self) -> None:
        self.gaps: list[Gap] = []
        self.states: list[StateChange] = []
        self.bad: list[DroppedInput] = []


@pytest.fixture
async def sim() -> AsyncIterator[AlphaHubSimulator]:
    async with AlphaHubSimulator() as simulator:
        yield simulator


@asynccontextmanager
async def running(listener: Listener) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``listener`` in a task for the block; cancel it after, surfacing any crash."""
    task = asyncio.create_task(listener.run())
    try:
        yield task
    finally:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise AssertionError("listener stopped") from task.exception()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def make_listener(
    sim: AlphaHubSimulator, algorithms: tuple[int, ...] = (14,), **overrides: Any
) -> tuple[Listener, Recorder]:
    rec = Recorder()
    listener = Listener(
        fast_settings(sim.url, **overrides),
        algorithms,
        on_gap=rec.gaps.append,
        on_state=rec.states.append,
        on_bad_input=rec.bad.append,
    )
    return listener, rec


async def next_signal(listener: Listener) -> Signal:
    return await asyncio.wait_for(listener.queue.get(), timeout=10)


async def until(condition: Callable[[], bool], listener: Listener, limit: float = 10) -> None:
    """Wait (bounded, so a bug fails instead of hanging) until ``condition`` holds."""
    await asyncio.wait_for(listener.wait_until(condition), limit)
