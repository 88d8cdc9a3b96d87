"""``limit_then_market`` end to end: `tradebot run` as a real process against the local Alpaca
server, its prices driven by a price path: a limit that fills; one that times out and finishes
at market; the cancel/fill race; kill -9 in the middle of a chase and of a cancel. Every leg
ends with exactly its planned quantity, at the broker and in the journal."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path

from tests.e2e.harness import (
    Env,
    book_from_journal,
    broker_orders,
    broker_positions,
    configured_bot,
    entries,
    leg,
    until,
)
from tradebot.core.ids import remainder_id
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import Fault, FillScript
from tradebot.simulators.alpaca.prices import parse_price_path

#: algorithm 14 chases only on the price (a long timer); 16 after one second
CHASING = {
    "  14:\n    name: Minotaur 1-Stock\n": "    order_type: limit_then_market\n"
    "    chase_after: 600\n",
    "  16:\n    name: Minotaur 3-Stock\n": "    order_type: limit_then_market\n"
    "    chase_after: 1\n",
}


def chasing_bot(folder: Path) -> AbstractAsyncContextManager[Env]:
    return configured_bot(folder, CHASING, FillScript(limits_cross=True))


def limit_of(env: Env, symbol: str) -> str:
    (intent,) = entries(env.journal, symbols=(symbol,), statuses=(Status.INTENT,))
    assert intent.client_order_id is not None
    return intent.client_order_id


def filled(env: Env, symbol: str) -> Decimal:
    return sum(
        (Decimal(o["filled_qty"]) for o in env.server.orders() if o["symbol"] == symbol),
        Decimal(0),
    )


async def open_leg(env: Env, algo_id: int, symbol: str) -> str:
    """Push a buy of ``symbol`` at 100 and return its limit's id once the broker holds it."""
    await env.push_and_wait(algo_id, {"open": [leg(symbol, "buy", "100", env.at)]})
    limit = limit_of(env, symbol)
    await until(lambda: bool(env.server.orders(limit)), f"the {symbol} limit at the broker")
    return limit


async def finished(env: Env, symbol: str, algo_id: int) -> None:
    """Wait until the leg has its 10 shares at the broker and in the journal's book."""
    await until(lambda: filled(env, symbol) == 10, f"10 {symbol} filled at the broker")
    await until(
        lambda: book_from_journal(env.journal).get((algo_id, symbol)) == Decimal(10),
        f"10 {symbol} in the journal",
    )


async def test_a_limit_fills_times_out_or_races_and_the_total_is_exact(tmp_path: Path) -> None:
    async with chasing_bot(tmp_path) as env:
        server = env.server
        # 1. a limit that fills: the price path goes up within chase_pct, then through it
        fills = await open_leg(env, 14, "AAA")
        server.load_price_path(
            parse_price_path(
                '{"at": 0, "symbol": "AAA", "price": "100.20"}\n'
                '{"at": 1, "symbol": "AAA", "price": "99.90"}\n'
            )
        )
        server.step_price_path()
        assert server.orders(fills)[0]["status"] == "new"
        server.step_price_path()
        await finished(env, "AAA", 14)
        assert [o.client_order_id for o in broker_orders(server) if o.symbol == "AAA"] == [fills]

        # 2. a limit that times out: canceled, all 10 at market
        timed_out = await open_leg(env, 16, "BBB")
        await finished(env, "BBB", 16)
        remainder = server.orders(remainder_id(timed_out))
        assert [(r["type"], r["qty"]) for r in remainder] == [("market", "10")]
        assert server.orders(timed_out)[0]["status"] == "canceled"

        # 3. the race: 4 fill while the cancel is in flight; exactly 6 go at market
        server.race_cancels(Decimal(4))
        raced = await open_leg(env, 16, "CCC")
        await finished(env, "CCC", 16)
        assert [r["qty"] for r in server.orders(remainder_id(raced))] == ["6"]

        # 4. the race lost outright: the limit fills completely; nothing goes at market
        server.race_cancels(None)
        whole = await open_leg(env, 16, "DDD")
        await finished(env, "DDD", 16)
        await until(
            lambda: any(
                "while its cancel" in e.detail for e in entries(env.journal, symbols=("DDD",))
            ),
            "the chase of DDD to end",
        )
        assert server.orders(remainder_id(whole)) == []

        # the chain, as `tradebot explain` reads it: the limit, the cancel, the remainder
        chain = entries(env.journal, symbols=("CCC",), statuses=(Status.INTENT, Status.CHASE))
        assert sorted(str(e.status) for e in chain) == ["chase", "intent", "intent"]
        assert len({e.leg for e in chain}) == 1  # every child linked to the one leg
        assert await env.bot.stop() == 0


async def test_kill_9_in_a_chase_and_in_a_cancel_ends_with_the_exact_quantity(
    tmp_path: Path,
) -> None:
    async with chasing_bot(tmp_path) as env:
        server = env.server
        # a chase in progress: the limit is working, 3 filled, when the process dies
        working = await open_leg(env, 14, "EEE")
        server.fill(working, Decimal(3))
        # a cancel in flight: the chase row is journaled, the cancel is on the wire (slow)
        server.add_fault(Fault.slow(3, process=False, method="DELETE", path=None))
        canceling = await open_leg(env, 16, "FFF")
        await until(
            lambda: bool(entries(env.journal, symbols=("FFF",), statuses=(Status.CHASE,))),
            "the FFF chase to ask for its cancel",
        )
        # the row is written before the request leaves: wait until the server has it
        await until(
            lambda: any(method == "DELETE" for method, _ in list(server.requests)),
            "the cancel on the wire",
        )
        await env.bot.kill9()
        # the cancel lands after the process died: only the journal says it was the bot's
        await until(lambda: server.orders(canceling)[0]["status"] == "canceled", "the cancel")

        await env.bot.start()  # the restart resumes both chases from the journal and broker
        await finished(env, "FFF", 16)
        assert [r["qty"] for r in server.orders(remainder_id(canceling))] == ["10"]
        server.set_price("EEE", Decimal("100.50"))  # 0.5% past the limit: chased on the price
        await finished(env, "EEE", 14)
        assert [r["qty"] for r in server.orders(remainder_id(working))] == ["7"]
        assert await env.bot.stop() == 0
        assert len([o for o in broker_orders(server) if o.symbol in ("EEE", "FFF")]) == 4


async def test_a_close_during_a_chase_cancels_the_limit_first_and_sells_what_it_filled(
    tmp_path: Path,
) -> None:
    async with chasing_bot(tmp_path) as env:
        server = env.server
        working = await open_leg(env, 14, "GGG")
        server.fill(working, Decimal(3))  # 3 of 10 filled; the limit keeps working
        await until(
            lambda: book_from_journal(env.journal).get((14, "GGG")) == Decimal(3),
            "3 GGG on the ledger",
        )
        await env.push_and_wait(14, {"close": [leg("GGG", "sell", "100", env.at)]})
        await until(
            lambda: any(o.side == "sell" for o in broker_orders(server) if o.symbol == "GGG"),
            "the close at the broker",
        )
        server.set_price("GGG", Decimal("100.10"))  # the close's sell limit trades
        await until(lambda: filled(env, "GGG") == 6, "the close's 3 sold")  # 3 bought, 3 sold
        await until(
            lambda: book_from_journal(env.journal).get((14, "GGG"), Decimal(0)) == 0,
            "GGG flat on the ledger",
        )
        # the limit was canceled before the close went out: it can never fill after it
        assert server.orders(working)[0]["status"] == "canceled"
        assert server.orders(remainder_id(working)) == []
        sells = [o for o in broker_orders(server) if o.symbol == "GGG" and o.side == "sell"]
        assert [o.qty for o in sells] == [Decimal(3)]
        assert await env.bot.stop() == 0
        assert broker_positions(server).get("GGG", Decimal(0)) == 0
