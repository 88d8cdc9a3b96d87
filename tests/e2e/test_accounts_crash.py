"""kill -9 at random moments (seeded) while two accounts trade the day of tests/e2e/day.py, and
a restart each time: every leg reaches each account's broker exactly once, at that account's
size, and each broker's positions equal the journal's book of that account.

The moments are events, not times: the signal on record (no account has acted), the first
order of the push at one account's server (the other may not have sent its own yet), and the
push planned by every account (orders may be in flight)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.accounts_harness import (
    FAMILY,
    MAIN,
    Accounts,
    assert_every_order_is_its_accounts,
    journal_positions,
    running_accounts,
    server_orders,
    server_positions,
    settled,
    signatures,
    until_planned,
    wanted,
)
from tests.e2e.day import day
from tests.e2e.harness import entries, last_id, until
from tradebot.journal.records import Status

MOMENTS = ("signal_recorded", "first_order_at_one_account", "planned_by_every_account")
SEEDS = (2203, 7)
#: the index in day() of the push that orders nothing
NOTHING = 4


async def push_then_kill(
    accounts: Accounts, algo_id: int, payload: dict[str, Any], moment: str, rng: random.Random
) -> None:
    """Push one frame and kill -9 the bot at ``moment``."""
    accounts.move_market(payload)
    mark = last_id(accounts.journal)
    before = {n: len(server_orders(s)) for n, s in accounts.servers.items()}
    await accounts.hub.push(algo_id, payload)
    if moment == "signal_recorded":
        await until(
            lambda: bool(entries(accounts.journal, statuses=(Status.SIGNAL,), after_id=mark)),
            "the signal on record",
        )
    elif moment == "first_order_at_one_account":
        name = rng.choice(sorted(accounts.servers))
        server = accounts.servers[name]
        await until(lambda: len(server_orders(server)) > before[name], f"an order at {name}")
    else:
        await until_planned(accounts.journal, list(accounts.servers), algo_id, mark)
    await accounts.bot.kill9()


@pytest.mark.parametrize("seed", SEEDS)
async def test_kill_9_at_random_moments_each_leg_once_per_account(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    async with running_accounts(tmp_path, [MAIN, FAMILY]) as accounts:
        pushes = day(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        # a push that orders nothing (14's close of MSFT) has no "first order" to wait for
        with_orders = [i for i in range(len(pushes)) if i != NOTHING]
        kills = set(rng.sample(with_orders, 3))
        for index, push in enumerate(pushes):
            if index in kills:
                moment = rng.choice(MOMENTS)
                await push_then_kill(accounts, push.algo_id, push.payload, moment, rng)
                await accounts.restart()
            else:
                await accounts.push_and_wait(push.algo_id, push.payload)
        await settled(accounts)
        assert await accounts.bot.stop() == 0
    assert_every_order_is_its_accounts(accounts.servers)
    for name, server in accounts.servers.items():
        assert signatures(server) == wanted(name), (seed, name)
        assert journal_positions(accounts.journal, name) == server_positions(server), name
