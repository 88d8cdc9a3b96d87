"""The scripted day again, under faults: dropped connections, broker 429/5xx, slow and lost
responses, and ``kill -9`` of the bot at random moments followed by a restart.

After a kill, the frame in flight is pushed again once the bot is back (the strongest case: the
same legs arrive twice, once before and once after the crash). Whatever happened, the broker must
end with exactly the day's orders, one each, and the journal with every one of them, filled, and
positions equal to the broker's.
"""

from __future__ import annotations

import asyncio
import random
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.day import EXPECTED_LEDGERS, EXPECTED_NET, EXPECTED_ORDERS, day
from tests.e2e.harness import (
    ALGOS,
    book_from_journal,
    broker_orders,
    broker_positions,
    entries,
    last_id,
    leg,
    move_market_to,
    planned_after,
    running_bot,
    unresolved,
    until,
    wait_subscribed,
)
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import Fault


def broker_fault(rng: random.Random) -> Fault:
    return rng.choice(
        [
            Fault.rate_limited("0.2"),
            Fault.error(500),
            Fault.error(503),
            Fault.error(504, process=True),  # placed, but the answer says gateway timeout
            Fault.drop(),  # placed, and the connection dies before the answer
            Fault.slow(3.0),  # placed, answered after the adapter's 2 s timeout
        ]
    )


@pytest.mark.parametrize("seed", [11, 22, 33])
async def test_the_day_under_faults_orders_every_leg_exactly_once(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    kills = faults = drops = 0
    async with running_bot(tmp_path) as env:
        server, hub, bot, journal = env.server, env.hub, env.bot, env.journal
        for push in day(at):
            await wait_subscribed(hub, ALGOS)
            move_market_to(server, push.payload)
            if rng.random() < 0.5:
                server.add_fault(broker_fault(rng))
                faults += 1
            if rng.random() < 0.3:
                hub.drop(rng.choice(hub.connections))  # the other one stays joined
                drops += 1
            mark = last_id(journal)
            await hub.push(push.algo_id, push.payload)
            if rng.random() < 0.4:
                await asyncio.sleep(rng.uniform(0.0, 0.3))  # a random moment to die
                await bot.kill9()
                kills += 1
                await bot.start()
                await wait_subscribed(hub, ALGOS)
                # the push is planned by now, or comes back by the start-up backfill, or by
                # this live copy: whichever comes first plans it, and the others add nothing
                await hub.push(push.algo_id, push.payload)  # the same legs again
            await until(lambda a=push.algo_id, m=mark: planned_after(journal, a, m), "plan")
        await until(lambda: unresolved(journal) == 0, "every order settled", 60)
        await until(lambda: all(o.status == "filled" for o in broker_orders(server)), "fills")
        assert await bot.stop(signal.SIGTERM) == 0

    assert kills + faults + drops > 0
    placed = broker_orders(server)
    # one broker order per leg's order, whatever happened; nothing else
    assert len(placed) == len(EXPECTED_ORDERS), bot.output()[-4000:]
    assert len({o.client_order_id for o in placed}) == len(placed)
    got = sorted((o.symbol, o.side, o.qty) for o in placed)
    assert got == sorted((e.symbol, e.side, e.qty) for e in EXPECTED_ORDERS)
    # the journal has every order's intent and its fill
    intents = {e.client_order_id for e in entries(journal, statuses=(Status.INTENT,))}
    filled = {e.client_order_id for e in entries(journal, statuses=(Status.FILLED,))}
    assert {o.client_order_id for o in placed} == intents == filled
    assert book_from_journal(journal) == EXPECTED_LEDGERS
    assert broker_positions(server) == EXPECTED_NET


async def test_an_order_lost_to_a_long_outage_is_sent_once_the_broker_is_back(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as env:
        env.server.add_fault(Fault.error(503, times=8))  # every attempt the adapter makes
        await env.push_and_wait(14, {"open": [leg("VRTX", "buy", "216.08", env.at)]})

        def outcome_unknown() -> bool:
            errors = entries(env.journal, statuses=(Status.ERROR,))
            return any("outcome unknown" in e.detail for e in errors)

        await until(outcome_unknown, "the adapter giving up")
        # no restart: the running bot looks the order up, finds nothing, and sends it
        await until(lambda: env.orders("VRTX") == ["buy 10"], "the order sent again")
        await until(lambda: unresolved(env.journal) == 0, "the fill on record")
        assert "never reached the broker; sent again" in env.bot.output()
        assert await env.bot.stop(signal.SIGTERM) == 0
    (placed,) = broker_orders(env.server)
    (intent,) = entries(env.journal, statuses=(Status.INTENT,))
    assert placed.client_order_id == intent.client_order_id
    story = [e.status for e in entries(env.journal, client_order_ids=(intent.client_order_id,))]
    assert story[:2] == [Status.INTENT, Status.ERROR]  # unknown first, then sent and filled
    assert Status.FILLED in story and Status.FAILED not in story
