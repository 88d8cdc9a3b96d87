"""1,000 signals while connections are dropped at random, one at a time: none lost, none twice."""

from __future__ import annotations

import asyncio
import random

from tests.alphahub.conftest import leg, make_listener, running
from tradebot.core.signal import LegId
from tradebot.simulators.alphahub import AlphaHubSimulator

SIGNALS = 1000
ALGOS = (14, 16)


async def test_thousand_signals_with_random_drops(sim: AlphaHubSimulator) -> None:
    rng = random.Random(20210426)
    listener, _ = make_listener(sim, ALGOS, connections=2)
    received: list[LegId] = []

    def all_joined_on_sim() -> bool:
        return all(len(sim.joined(a)) == 2 for a in ALGOS)

    async def consume() -> None:
        async for signal in listener.signals():
            received.extend(leg.id for leg in signal.legs)
            if received[-1].symbol == "END":
                return

    drops = 0
    async with running(listener), asyncio.TaskGroup() as tg:
        consumer = tg.create_task(consume())
        for i in range(SIGNALS):
            if i % 5 == 0:
                # One connection at a time: drop only while both are subscribed everywhere, so
                # the other one carries the signals published during the gap.
                await asyncio.wait_for(sim.wait_until(all_joined_on_sim), 10)
                sim.drop(rng.choice(sim.connections))
                drops += 1
            algo = ALGOS[i % 2]
            seconds = f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
            reached = await sim.push(algo, {"open": [leg(f"S{i}", ts=f"2021-04-26T{seconds}")]})
            assert reached >= 1
        # A last marker: everything pushed before it, duplicates included, arrives before it.
        await asyncio.wait_for(sim.wait_until(all_joined_on_sim), 10)
        await sim.push(14, {"open": [leg("END")]})
        await asyncio.wait_for(consumer, 30)

    symbols = [leg_id.symbol for leg_id in received[:-1]]
    assert len(symbols) == SIGNALS  # zero duplicates
    assert set(symbols) == {f"S{i}" for i in range(SIGNALS)}  # zero lost
    assert drops == SIGNALS // 5
    assert sum(1 for g in listener.gaps if g.rejoined_at is not None) >= drops  # each recorded
