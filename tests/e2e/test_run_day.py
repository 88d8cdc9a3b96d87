"""`tradebot run` as a real process through a scripted day: exactly the expected orders."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

from tests.e2e.day import (
    EXPECTED_LEDGERS,
    EXPECTED_NET,
    EXPECTED_ORDERS,
    EXPECTED_SKIPS,
    day,
)
from tests.e2e.harness import (
    book_from_journal,
    broker_orders,
    broker_positions,
    entries,
    move_market_to,
    plans,
    running_bot,
    unresolved,
    until,
)
from tradebot.journal.records import Status


def _order_key(order: object) -> tuple[int, str, str, str]:
    cid = order.client_order_id  # type: ignore[attr-defined]
    algo = int(cid.split("-")[0].removeprefix("tb"))
    role = cid.split("-")[2]
    return (algo, order.symbol, order.side, role)  # type: ignore[attr-defined]


async def test_a_scripted_day_produces_exactly_the_expected_orders(tmp_path: Path) -> None:
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    pushes = day(at)
    async with running_bot(tmp_path) as env:
        server, hub, bot, journal = env.server, env.hub, env.bot, env.journal
        for number, push in enumerate(pushes, start=1):
            move_market_to(server, push.payload)
            await hub.push(push.algo_id, push.payload)
            await until(lambda n=number: len(plans(journal)) >= n, f"plan {number}")
        await until(lambda: unresolved(journal) == 0, "every order settled")
        await until(lambda: all(o.status == "filled" for o in broker_orders(server)), "fills")
        assert await bot.stop(signal.SIGTERM) == 0

    placed = broker_orders(server)
    # exactly one broker order per expected order, nothing else
    assert sorted((_order_key(o), o.qty) for o in placed) == sorted(
        ((e.algo_id, e.symbol, e.side, e.role), e.qty) for e in EXPECTED_ORDERS
    )
    assert len({o.client_order_id for o in placed}) == len(placed)
    # closes before opens within one signal: JBHT and CDNS reached the broker before MU
    sequence = [(o.symbol, o.side) for o in placed]
    assert sequence.index(("JBHT", "sell")) < sequence.index(("MU", "buy"))
    assert sequence.index(("CDNS", "buy")) < sequence.index(("MU", "buy"))
    # the flip: flatten (close group) goes out before the new short (open group)
    flip = [_order_key(o)[3] for o in placed if (o.symbol, o.side) == ("VRTX", "sell")]
    assert flip == ["c", "o"]

    skipped = entries(journal, statuses=(Status.SKIPPED,))
    reasons = {(e.algo_id, e.symbol, e.data.get("reason")) for e in skipped}
    assert reasons >= EXPECTED_SKIPS, reasons
    assert all(e.detail for e in skipped)  # every skip says why

    assert book_from_journal(journal) == EXPECTED_LEDGERS
    assert broker_positions(server) == EXPECTED_NET
    statuses = [e.status for e in entries(journal, statuses=(Status.START, Status.STOP))]
    assert statuses == [Status.START, Status.STOP]
    output = bot.output()
    assert "PAPER trading" in output
    assert "test-secret" not in output and "test-key" not in output
