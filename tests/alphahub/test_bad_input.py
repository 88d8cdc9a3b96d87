"""Hostile frames over the real websocket (issue 10 §2): what is valid goes on, what is bad is
reported once per delivery (not once per connection), with the algorithm when the topic reads."""

from __future__ import annotations

import asyncio

from tests.alphahub.conftest import make_listener, next_signal, running, until
from tradebot.alphahub import Listener
from tradebot.simulators.alphahub import AlphaHubSimulator

STAMP = "2021-04-26T14:30:01"


def leg_text(symbol: str, *, dup: bool = False) -> str:
    extra = '"symbol": "RKB", ' if dup else ""
    return f'{{"symbol": "{symbol}", {extra}"side": "buy", "price": 10.5, "timestamp": "{STAMP}"}}'


async def two_connections(sim: AlphaHubSimulator, listener: Listener) -> None:
    await until(lambda: listener.all_joined, listener)
    await asyncio.wait_for(sim.wait_joined(14, 2), 10)


async def test_an_undecodable_frame_is_reported_once_with_its_algorithm(
    sim: AlphaHubSimulator,
) -> None:
    listener, rec = make_listener(sim, connections=2)
    async with running(listener):
        await two_connections(sim, listener)
        # invalid UTF-8 in a binary frame, then JSON cut short in a text frame
        assert sim.send_raw(b'[null, null, "algorithms:14", "new_signals", {"open": [\xff]}]') == 2
        sim.send_raw('["7", null, "algorithms:14", "new_signals", {"open": [')
        sim.send_raw(
            '[null, null, "algorithms:14", "new_signals", {"open": [' + leg_text("OK") + "]}]"
        )
        signal = await next_signal(listener)  # both connections delivered everything before it
        await until(lambda: len(rec.bad) >= 2, listener)
    assert [leg.symbol for leg in signal.legs] == ["OK"]
    assert [(b.algo_id, b.reason) for b in rec.bad] == [
        (14, "not JSON: UnicodeDecodeError"),
        (14, "not JSON: JSONDecodeError"),
    ]


async def test_the_same_bad_frame_pushed_again_is_reported_again(sim: AlphaHubSimulator) -> None:
    listener, rec = make_listener(sim, connections=2)
    async with running(listener):
        await two_connections(sim, listener)
        for _ in range(2):
            sim.send_raw('[null, null, "algorithms:14", "new_signals", {nope}]')
        sim.send_raw(
            '[null, null, "algorithms:14", "new_signals", {"open": [' + leg_text("OK") + "]}]"
        )
        await next_signal(listener)
    assert len(rec.bad) == 2 and {b.algo_id for b in rec.bad} == {14}


async def test_a_leg_with_a_repeated_key_is_rejected_and_its_neighbours_trade(
    sim: AlphaHubSimulator,
) -> None:
    listener, _ = make_listener(sim, connections=2)
    async with running(listener):
        await two_connections(sim, listener)
        legs = ", ".join([leg_text("RKA", dup=True), leg_text("GOOD")])
        sim.send_raw(f'[null, null, "algorithms:14", "new_signals", {{"open": [{legs}]}}]')
        signal = await next_signal(listener)
        # a later signal repeats the bad leg: reported again, while GOOD is not handed on twice
        legs = ", ".join([leg_text("RKA", dup=True), leg_text("GOOD"), leg_text("NEW")])
        sim.send_raw(f'[null, null, "algorithms:14", "new_signals", {{"open": [{legs}]}}]')
        later = await next_signal(listener)
        assert listener.queue.empty()
    assert [leg.symbol for leg in signal.legs] == ["GOOD"]
    assert len(signal.rejected) == 1 and "'symbol' appears 2 times" in signal.rejected[0].reason
    assert [leg.symbol for leg in later.legs] == ["NEW"]
    assert [r.index for r in later.rejected] == [0]


async def test_a_control_frame_with_a_repeated_key_is_refused(sim: AlphaHubSimulator) -> None:
    listener, rec = make_listener(sim)
    async with running(listener):
        await until(lambda: listener.all_joined, listener)
        sim.send_raw('[null, null, "algorithms:14", "presence", {"a": 1, "a": 2}]')
        sim.send_raw(
            '[null, null, "algorithms:14", "new_signals", {"open": [' + leg_text("OK") + "]}]"
        )
        await next_signal(listener)
    assert [b.reason for b in rec.bad] == ["'presence' frame repeats the key 'a'"]
