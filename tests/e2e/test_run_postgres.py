"""`tradebot run` as a real process with ``journal.url``: the scripted day on PostgreSQL, the
password from the environment and nowhere in the output."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

from tests.e2e.day import EXPECTED_LEDGERS, EXPECTED_ORDERS, day
from tests.e2e.harness import (
    book_from_journal,
    broker_orders,
    entries,
    move_market_to,
    plans,
    running_bot,
    unresolved,
    until,
)
from tests.pgserver import PASSWORD, PgServer
from tradebot.journal.records import Status


async def test_a_day_on_a_postgresql_journal(tmp_path: Path, pg_server: PgServer) -> None:
    url = pg_server.create_database()
    in_config = url.replace(PASSWORD, "${TB_TEST_PG_PASSWORD}")
    env = {"TB_TEST_PG_PASSWORD": PASSWORD}
    pushes = day(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    async with running_bot(tmp_path, journal_url=in_config, env=env) as env_:
        server, hub, bot, journal = env_.server, env_.hub, env_.bot, env_.journal
        assert journal == url
        for number, push in enumerate(pushes, start=1):
            move_market_to(server, push.payload)
            await hub.push(push.algo_id, push.payload)
            await until(lambda n=number: len(plans(journal)) >= n, f"plan {number}")
        await until(lambda: unresolved(journal) == 0, "every order settled")
        await until(lambda: all(o.status == "filled" for o in broker_orders(server)), "fills")
        assert await bot.stop(signal.SIGTERM) == 0
        output = bot.output()

    assert len(broker_orders(server)) == len(EXPECTED_ORDERS)
    assert len(entries(journal, statuses=(Status.INTENT,))) == len(EXPECTED_ORDERS)
    book = book_from_journal(journal)
    assert {k: v for k, v in book.items() if v} == {k: v for k, v in EXPECTED_LEDGERS.items() if v}
    assert PASSWORD not in output
    assert not (tmp_path / "journal" / "tradebot.sqlite").exists()  # nothing went to the file
