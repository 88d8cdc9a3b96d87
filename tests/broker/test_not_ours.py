"""An order placed by hand on the account (at the local Alpaca server, through its REST API) is
journaled once as "not ours", shown so, and is in no algorithm's position: it is drift, never
traded against."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from tests.broker.conftest import KEY_ID, SECRET_KEY, wait_until
from tradebot.broker.alpaca import AlpacaBroker
from tradebot.core.events import OrderEvent
from tradebot.execution import Executor
from tradebot.execution.recovery import compare_positions
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.counts import per_algo, row_not_ours
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.web.views import now_view, row

BY_HAND = "placed-in-the-browser-1"


def _place_by_hand(server: AlpacaServer) -> None:
    """What a person does in Alpaca's web page: a market buy of 5 AAPL, on the same account."""
    body = {
        "symbol": "AAPL",
        "qty": "5",
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": BY_HAND,
    }
    request = urllib.request.Request(
        f"{server.url}/v2/orders",
        data=json.dumps(body).encode(),
        headers={
            "APCA-API-KEY-ID": KEY_ID,
            "APCA-API-SECRET-KEY": SECRET_KEY,
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


async def test_a_hand_placed_order_is_journaled_once_as_not_ours(
    server: AlpacaServer, broker: AlpacaBroker, tmp_path: Path
) -> None:
    with open_journal(tmp_path / "journal.sqlite") as journal:
        executor = Executor(journal, broker, journal.rebuild_book())
        seen: list[OrderEvent] = []

        consumer = asyncio.create_task(executor.consume_events(on_events=seen.extend))
        try:
            await asyncio.to_thread(_place_by_hand, server)
            mine = EntryFilter(client_order_ids=(BY_HAND,))
            await wait_until(lambda: any(e.status is Status.FILLED for e in journal.entries(mine)))
            # the same report again (a stream replay after a reconnect): nothing new
            assert await executor.apply_events(list(seen)) == ()
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        rows = journal.entries(mine)
        statuses = sorted(str(e.status) for e in rows)
        assert statuses == ["accepted", "filled"], statuses  # journaled once
        for entry in rows:
            assert entry.algo_id is None
            assert entry.detail.startswith("not ours: ")
            assert row_not_ours(entry) and row(entry)["not_ours"]
        # never an algorithm's: no ledger holds it, so the broker's 5 AAPL are drift
        assert executor.book.net_positions() == {}
        assert journal.rebuild_book().net_positions() == {}
        drifts, _ = await compare_positions(journal, broker, executor.book)
        assert [(d.symbol, d.journal, d.broker) for d in drifts] == [("AAPL", 0, 5)]
        counted = per_algo(journal, since=datetime(2000, 1, 1, tzinfo=UTC))
        assert set(counted) == {None} and counted[None]["not ours"] == 1
        assert now_view(journal, datetime.now(UTC))["today"]["fills"] == 0
