"""Record before acting, end to end: `tradebot run` killed with SIGKILL at each moment of a close's
cancel-then-sell, and while the broker refuses an order and the next signal arrives, then
started again with AlphaHub's signal history unavailable (404): what the journal held is all the
restart has. Each time: exactly one sell, no exit left working, the journal's positions equal
the broker's; the signal that arrived while the broker was refusing is traded once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.harness import (
    Env,
    book_from_journal,
    broker_orders,
    broker_positions,
    entries,
    leg,
    running_bot,
    until,
)
from tests.e2e.kill_points import kill_at, mark, refuse, sent
from tests.e2e.test_run_exits import at_broker, bought, exiting_bot, held
from tradebot.core.ids import exit_id
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import Fault

#: orders the broker still works (an exit left live after the close would be one)
WORKING = ("new", "accepted", "held", "pending_new", "partially_filled")


def positions_agree(env: Env) -> bool:
    """The journal's net position per symbol equals the broker's."""
    ours: dict[str, Decimal] = {}
    for (_, symbol), qty in book_from_journal(env.journal).items():
        ours[symbol] = ours.get(symbol, Decimal(0)) + qty
    theirs = broker_positions(env.server)
    return {s: q for s, q in ours.items() if q} == {s: q for s, q in theirs.items() if q}


def close_on_record(env: Env, algo_id: int, symbol: str) -> bool:
    """Whether a close leg of ``algo_id`` in ``symbol`` is in the journal."""
    rows = entries(env.journal, algo_ids=(algo_id,), symbols=(symbol,), statuses=(Status.LEG,))
    return any(r.data.get("kind") == "close" for r in rows)


def exits_live(env: Env, algo_id: int, entry: str) -> bool:
    """The position's exits are working at the broker: a bracket's legs (14) or the trailing
    stop placed after the fill (16)."""
    if algo_id == 14:
        legs = env.server.legs(entry)
        return bool(legs) and all(leg["status"] == "new" for leg in legs)
    placed = env.server.orders(exit_id(entry, "ts"))
    return bool(placed) and placed[0]["status"] in WORKING


def exit_orders(env: Env, algo_id: int, entry: str) -> list[dict[str, str]]:
    """The position's exits as the broker holds them."""
    if algo_id == 14:
        return env.server.legs(entry)
    return env.server.orders(exit_id(entry, "ts"))


@pytest.mark.parametrize("algo_id", [14, 16], ids=["bracket", "trailing"])
@pytest.mark.parametrize("moment", ["before_the_cancel", "after_the_cancel", "before_the_sell"])
async def test_kill_9_in_a_closes_cancel_then_sell_is_finished_from_the_journal_alone(
    tmp_path: Path, moment: str, algo_id: int
) -> None:
    async with exiting_bot(tmp_path) as env:
        server = env.server
        entry = await bought(env, algo_id, "FFF")  # 10 FFF, protected by live exits
        await until(lambda: exits_live(env, algo_id, entry), "the exits live at the broker")
        env.hub.history_fault("404")  # from now on the history cannot bring the close back
        since = mark(env)
        if moment == "before_the_cancel":  # the cancel never reaches the broker
            server.add_fault(refuse("DELETE", None))
        elif moment == "after_the_cancel":  # the broker cancels; the bot never hears it
            server.add_fault(Fault.slow(5, process=True, method="DELETE", path=None))
        else:  # canceled and confirmed; the sell never reaches the broker
            server.add_fault(refuse("POST", "/v2/orders"))
        await env.hub.push(algo_id, {"close": [leg("FFF", "sell", "100", env.at)]})
        if moment == "before_the_cancel":
            await kill_at(env, since, "DELETE", what="the exit's cancel, refused")
            assert exits_live(env, algo_id, entry)
        elif moment == "after_the_cancel":
            await until(
                lambda: any(o["status"] == "canceled" for o in exit_orders(env, algo_id, entry)),
                "an exit canceled",
            )
            await env.bot.kill9()
            server.clear_faults()
        else:
            await kill_at(env, since, "POST", "/v2/orders", what="the close's sell, refused")
            assert not any(o["status"] in WORKING for o in exit_orders(env, algo_id, entry))
        assert at_broker(env, "FFF") == 10  # nothing sold yet
        assert close_on_record(env, algo_id, "FFF")  # the close is on record

        await env.bot.start()
        await until(lambda: at_broker(env, "FFF") == 0, "FFF closed after the restart")
        await until(lambda: held(env, algo_id, "FFF") == 0, "FFF flat on the ledger")
        exits = exit_orders(env, algo_id, entry)
        ids = {o["client_order_id"] for o in exits}
        sells = [
            o
            for o in server.orders()
            if o["symbol"] == "FFF" and o["side"] == "sell" and o["client_order_id"] not in ids
        ]
        assert [(o["qty"], o["status"]) for o in sells] == [("10", "filled")]  # one sell
        assert [o["status"] for o in exits if o["status"] != "canceled"] == []  # none filled
        working = [o for o in broker_orders(server) if o.symbol == "FFF" and o.status in WORKING]
        assert working == []  # no exit left working
        await until(lambda: positions_agree(env), "the journal's positions equal the broker's")
        assert await env.bot.stop() == 0


async def test_a_signal_arriving_while_the_broker_refuses_an_order_survives_kill_9(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as env:
        server = env.server
        for symbol in ("VRTX", "JBHT"):
            server.set_price(symbol, Decimal(100))
        env.hub.history_fault("404")  # the restart cannot read back what was missed
        since = mark(env)
        server.add_fault(refuse("POST", "/v2/orders"))  # the broker answers 503, and retries
        await env.hub.push(14, {"open": [leg("VRTX", "buy", "100", env.at)]})
        await until(lambda: sent(env, since, "POST", "/v2/orders"), "the VRTX order refused")
        await env.hub.push(16, {"open": [leg("JBHT", "buy", "100", env.at)]})
        await until(
            lambda: bool(entries(env.journal, algo_ids=(16,), statuses=(Status.SIGNAL,))),
            "the JBHT signal on record",
        )
        # on record while the VRTX order is still in its retries (it has not given up yet)
        assert not entries(env.journal, algo_ids=(14,), statuses=(Status.ERROR,))
        assert not entries(env.journal, algo_ids=(16,), statuses=(Status.PLAN,))
        await env.bot.kill9()
        server.clear_faults()

        await env.bot.start()
        await until(lambda: env.orders("JBHT") == ["buy 10"], "the JBHT signal traded")
        await until(lambda: env.orders("VRTX") == ["buy 10"], "the VRTX order sent again")
        await until(lambda: positions_agree(env), "the journal's positions equal the broker's")
        assert len(broker_orders(server)) == 2  # each once
        assert await env.bot.stop() == 0
