"""Every order that leaves passes the limits in force when it leaves, end to end: `tradebot run`
as a real process against the local Alpaca server.

- A close that fills only in part (4 of 10) never leaves the rest naked without a word: the
  bracket it canceled is attached again, as an oco, for the 6 still held; an ``exit`` row, an
  ERROR row, the bot's output and the ``error`` alert (to a local webhook) say so.
- A chased limit's market remainder is checked again when it is to leave: the algorithm lost
  more than its ``max_daily_loss`` during the chase, so the rest of its open does not go; a
  ``chase`` row and the output name the limit, and the leg ends with what the limit filled."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.e2e.harness import Env, book_from_journal, configured_bot, entries, leg, until
from tests.e2e.test_run_exits import at_broker, bought, close, held
from tests.runtime.test_alerts import notify_yaml, receiving
from tradebot.core.ids import exit_id, remainder_id
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import FillScript

#: a top-level key goes in after this line of the harness's config
TOP = "mode: paper\n"
#: algorithm 14: a bracket (take-profit 5%, stop-loss 2%)
BRACKET = {
    "  14:\n    name: Minotaur 1-Stock\n": "    exits: {take_profit_pct: 5, stop_loss_pct: 2}\n"
}


def the_close(env: Env, symbol: str) -> str:
    rows = entries(env.journal, symbols=(symbol,), statuses=(Status.INTENT,))
    (found,) = [r for r in rows if r.data.get("role") == "close"]
    assert found.client_order_id is not None
    return found.client_order_id


async def test_a_close_filling_4_of_10_re_protects_the_6_left_and_says_so(
    tmp_path: Path,
) -> None:
    with receiving() as receiver:
        keys = {**BRACKET, TOP: notify_yaml((receiver.url, "error"))}
        async with configured_bot(tmp_path, keys) as env:
            entry = await bought(env, 14, "AAA")
            legs = env.server.legs(entry)
            await until(lambda: all(leg["status"] == "new" for leg in legs), "the bracket's legs")
            env.server.script_fills(FillScript(hold=True), "AAA")  # the close rests, by hand
            await close(env, 14, "AAA")
            close_id = the_close(env, "AAA")
            await until(lambda: bool(env.server.orders(close_id)), "the close at the broker")
            assert [leg["status"] for leg in env.server.legs(entry)] == ["canceled", "canceled"]
            env.server.fill(close_id, Decimal(4))
            env.server.cancel(close_id)  # the rest of the close is canceled at the broker

            oco = exit_id(close_id, "tp")
            await until(lambda: bool(env.server.orders(oco)), "the exits attached again")
            (placed,) = env.server.orders(oco)
            assert (placed["order_class"], placed["side"], placed["qty"]) == ("oco", "sell", "6")
            assert Decimal(placed["limit_price"]) == 105  # priced as the bracket was
            (stop,) = env.server.legs(oco)
            assert Decimal(stop["stop_price"]) == 98 and stop["qty"] == "6"
            assert held(env, 14, "AAA") == 6 and at_broker(env, "AAA") == 6

            (row,) = [
                r
                for r in entries(env.journal, symbols=("AAA",), statuses=(Status.EXIT,))
                if r.data.get("step") == "reprotect"
            ]
            assert f"close {close_id} filled 4 of 10 AAA" in row.detail
            assert "still holds 6 AAA" in row.detail and "attached again for 6 AAA" in row.detail
            (error,) = entries(env.journal, statuses=(Status.ERROR,))
            assert error.detail == row.detail
            await until(lambda: row.detail in env.bot.output(), "the output says so")
            (alert,) = await receiver.wait_for(1)
            # the title names the bot, its mode and its account (runtime/alerts.py)
            assert alert["title"].startswith("tradebot ") and alert["title"].endswith("): error")
            assert row.detail in alert["message"]
            assert await env.bot.stop() == 0


#: algorithm 16 chases its limits only on the price (a long timer), and may lose 50 a day
LOSS_LIMITED = {
    "  16:\n    name: Minotaur 3-Stock\n": "    order_type: limit_then_market\n"
    "    chase_after: 600\n"
    "    risk: {max_daily_loss: 50}\n",
}


def chase_steps(env: Env, limit: str) -> list[tuple[str, str]]:
    rows = entries(env.journal, client_order_ids=(limit,), statuses=(Status.CHASE,))
    return [(str(r.data.get("step")), str(r.data.get("limit", ""))) for r in rows]


async def test_a_loss_booked_during_the_chase_refuses_the_market_remainder(
    tmp_path: Path,
) -> None:
    async with configured_bot(tmp_path, LOSS_LIMITED, FillScript(limits_cross=True)) as env:
        server = env.server

        async def limit_at_broker(symbol: str, role: str) -> str:
            rows = entries(env.journal, symbols=(symbol,), statuses=(Status.INTENT,))
            (found,) = [r for r in rows if r.data.get("role") == role]
            assert found.client_order_id is not None
            coid = found.client_order_id
            await until(lambda: bool(server.orders(coid)), f"the {symbol} {role} at the broker")
            return coid

        def book(symbol: str) -> Decimal:
            return book_from_journal(env.journal).get((16, symbol), Decimal(0))

        # 16 buys 10 BBB at 100 (its limit fills once the market trades through it)
        await env.push_and_wait(16, {"open": [leg("BBB", "buy", "100", env.at)]})
        await limit_at_broker("BBB", "open")
        server.set_price("BBB", Decimal("99.90"))
        await until(lambda: book("BBB") == 10, "10 BBB held")

        # its AAA limit rests at 100 while the market stays there
        await env.push_and_wait(16, {"open": [leg("AAA", "buy", "100", env.at)]})
        limit = await limit_at_broker("AAA", "open")

        # meanwhile it closes BBB at 90: a loss of 100, over its max_daily_loss of 50
        await env.push_and_wait(16, {"close": [leg("BBB", "sell", "90", env.at)]})
        await limit_at_broker("BBB", "close")
        server.set_price("BBB", Decimal("90.10"))
        await until(lambda: book("BBB") == 0, "BBB closed at a loss")

        # AAA runs away from the limit: chased (the cancel goes), the rest may not leave
        server.set_price("AAA", Decimal("100.50"))
        await until(lambda: ("refused", "max_daily_loss") in chase_steps(env, limit), "refused")
        assert chase_steps(env, limit)[0][0] == "cancel"
        assert server.orders(limit)[0]["status"] == "canceled"
        assert server.orders(remainder_id(limit)) == []
        assert book("AAA") == 0  # the leg ends with what the limit filled: nothing
        await until(
            lambda: f"chase of {limit} ended without a remainder" in env.bot.output(),
            "the output says so",
        )
        assert "refused by max_daily_loss" in env.bot.output()
        assert await env.bot.stop() == 0
