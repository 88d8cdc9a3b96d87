"""Exits end to end: `tradebot run` as a real process against the local Alpaca server, its prices
moved by the test: a bracket's stop-loss fires through a gap, then the algorithm's close arrives
(skipped ``not_held``, naming the exit; nothing sold twice); a close cancels a live trailing stop
first, then sells what the ledger holds; a stop that fills while the close's cancel is in flight
(the close finds nothing held); kill -9 while exits are live, and the stop's fill after the
restart still lands on the algorithm's ledger."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path

from tests.e2e.harness import (
    ALGOS,
    Env,
    book_from_journal,
    broker_positions,
    configured_bot,
    entries,
    leg,
    unresolved,
    until,
    wait_subscribed,
)
from tradebot.core.ids import exit_id
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import Fault

#: algorithm 14: a bracket (take-profit 5%, stop-loss 2%); 16: a trailing stop of 1%
EXITS = {
    "  14:\n    name: Minotaur 1-Stock\n": "    exits: {take_profit_pct: 5, stop_loss_pct: 2}\n",
    "  16:\n    name: Minotaur 3-Stock\n": "    exits: {trailing_stop_pct: 1}\n",
}


def exiting_bot(folder: Path) -> AbstractAsyncContextManager[Env]:
    return configured_bot(folder, EXITS)


def entry_of(env: Env, symbol: str) -> str:
    rows = entries(env.journal, symbols=(symbol,), statuses=(Status.INTENT,))
    opens = [r for r in rows if r.data.get("role") == "open"]
    assert len(opens) == 1, [r.detail for r in rows]
    assert opens[0].client_order_id is not None
    return opens[0].client_order_id


def held(env: Env, algo_id: int, symbol: str) -> Decimal:
    return book_from_journal(env.journal).get((algo_id, symbol), Decimal(0))


def at_broker(env: Env, symbol: str) -> Decimal:
    return broker_positions(env.server).get(symbol, Decimal(0))


async def bought(env: Env, algo_id: int, symbol: str) -> str:
    """Open 10 ``symbol`` at 100 for ``algo_id``; the entry's id once it has filled."""
    await env.push_and_wait(algo_id, {"open": [leg(symbol, "buy", "100", env.at)]})
    await until(lambda: held(env, algo_id, symbol) == 10, f"10 {symbol} held by {algo_id}")
    return entry_of(env, symbol)


async def close(env: Env, algo_id: int, symbol: str, price: str = "100") -> None:
    """The algorithm's close leg at ``price``; the broker's market stays where it is."""
    await env.push_and_wait(
        algo_id, {"close": [leg(symbol, "sell", price, env.at)]}, move_market=False
    )


def sold(env: Env, symbol: str) -> Decimal:
    return sum(
        (
            Decimal(o["filled_qty"])
            for o in env.server.orders()
            if o["symbol"] == symbol and o["side"] == "sell"
        ),
        Decimal(0),
    )


def exit_rows(env: Env, symbol: str) -> list[str]:
    return [e.detail for e in entries(env.journal, symbols=(symbol,), statuses=(Status.EXIT,))]


async def test_a_stop_gaps_then_the_close_is_skipped_and_nothing_is_sold_twice(
    tmp_path: Path,
) -> None:
    async with exiting_bot(tmp_path) as env:
        entry = await bought(env, 14, "AAA")
        stop, take = exit_id(entry, "sl"), exit_id(entry, "tp")
        # the entry went as one bracket: its legs are live at the broker
        assert [o["order_class"] for o in env.server.orders(entry)] == ["bracket"]
        legs = {leg["type"]: leg for leg in env.server.legs(entry)}
        assert (legs["limit"]["limit_price"], legs["stop"]["stop_price"]) == ("105", "98")
        await until(lambda: all(leg["status"] == "new" for leg in env.server.legs(entry)), "legs")

        # the market gaps through the stop (98): it fills at 96, worse than its stop
        env.server.set_price("AAA", Decimal(96))
        await until(lambda: held(env, 14, "AAA") == 0, "the stop's fill on algorithm 14's ledger")
        fills = entries(env.journal, client_order_ids=(stop,), statuses=(Status.FILLED,))
        assert [(f.qty, f.price) for f in fills] == [(Decimal(10), Decimal(96))]
        # no signal asked for it: the bot says so on its output
        await until(
            lambda: (
                f"exit: stop-loss {stop} filled sell 10 AAA @ 96; algorithm 14 now holds 0"
                in env.bot.output()
            ),
            "the exit's fill told on the bot's output",
        )
        await until(
            lambda: (
                [leg["status"] for leg in env.server.legs(entry)]
                in (["filled", "canceled"], ["canceled", "filled"])
            ),
            "the take-profit canceled by its sibling's fill",
        )

        # the algorithm's own close arrives: nothing is held, nothing is sold again
        await close(env, 14, "AAA")
        (skip,) = entries(env.journal, symbols=("AAA",), statuses=(Status.SKIPPED,))
        assert skip.data["reason"] == "not_held" and stop in skip.detail
        assert sold(env, "AAA") == 10 and at_broker(env, "AAA") == 0
        assert not entries(env.journal, client_order_ids=(take,), statuses=(Status.FILLED,))
        assert await env.bot.stop() == 0


async def test_a_close_cancels_the_live_trailing_stop_first_then_sells_the_ledger(
    tmp_path: Path,
) -> None:
    async with exiting_bot(tmp_path) as env:
        entry = await bought(env, 16, "BBB")
        trailing = exit_id(entry, "ts")
        # placed by the bot once the entry filled, priced from the fill
        await until(lambda: bool(env.server.orders(trailing)), "the trailing stop at the broker")
        (placed,) = env.server.orders(trailing)
        assert (placed["type"], placed["side"], placed["qty"]) == ("trailing_stop", "sell", "10")
        assert Decimal(placed["trail_percent"]) == 1

        await close(env, 16, "BBB")
        await until(lambda: at_broker(env, "BBB") == 0, "the position closed")
        await until(lambda: held(env, 16, "BBB") == 0, "the close on algorithm 16's ledger")
        assert env.server.orders(trailing)[0]["status"] == "canceled"
        assert sold(env, "BBB") == 10
        assert any(
            d.startswith("canceling exit " + trailing) and "for the close" in d
            for d in exit_rows(env, "BBB")
        ), exit_rows(env, "BBB")
        # the cancel was journaled before the close's order was
        rows = entries(env.journal, symbols=("BBB",), statuses=(Status.EXIT, Status.INTENT))
        kinds = [(str(r.status), r.data.get("role")) for r in rows]
        assert kinds.index(("exit", None)) < kinds.index(("intent", "close")), kinds
        assert await env.bot.stop() == 0


async def test_a_stop_filling_while_the_close_cancels_it_is_never_sold_twice(
    tmp_path: Path,
) -> None:
    async with exiting_bot(tmp_path) as env:
        # wholly: the exit fills 10 while its cancel is in flight: the close finds nothing
        whole = await bought(env, 14, "CCC")
        await until(lambda: all(leg["status"] == "new" for leg in env.server.legs(whole)), "legs")
        env.server.race_cancels(None)
        await close(env, 14, "CCC")
        await until(lambda: held(env, 14, "CCC") == 0, "the raced exit on the ledger")
        (skip,) = entries(env.journal, symbols=("CCC",), statuses=(Status.SKIPPED,))
        assert skip.data["reason"] == "not_held" and whole in skip.detail
        assert sold(env, "CCC") == 10 and at_broker(env, "CCC") == 0

        # in part: 4 fill while the cancel is in flight: the close sells the other 6
        part = await bought(env, 14, "DDD")
        await until(lambda: all(leg["status"] == "new" for leg in env.server.legs(part)), "legs")
        env.server.race_cancels(Decimal(4))
        await close(env, 14, "DDD")
        await until(lambda: at_broker(env, "DDD") == 0, "DDD closed")
        await until(lambda: held(env, 14, "DDD") == 0, "DDD flat on the ledger")
        assert sold(env, "DDD") == 10
        closes = [
            o for o in env.server.orders() if o["symbol"] == "DDD" and o["order_class"] == "simple"
        ]
        assert [(o["side"], o["qty"]) for o in closes] == [("sell", "6")]
        assert await env.bot.stop() == 0


async def test_kill_9_with_live_exits_and_in_a_close_cancel_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    async with exiting_bot(tmp_path) as env:
        server = env.server
        # 1. the stop fills while the bot is dead: the restart still puts it on the ledger
        gapped = await bought(env, 14, "EEE")
        await until(lambda: all(leg["status"] == "new" for leg in server.legs(gapped)), "legs")
        await env.bot.kill9()
        server.set_price("EEE", Decimal(95))
        await until(lambda: at_broker(env, "EEE") == 0, "the stop filled at the broker")
        await env.bot.start()
        await until(lambda: held(env, 14, "EEE") == 0, "the stop's fill found after the restart")
        await wait_subscribed(env.hub, ALGOS)
        await close(env, 14, "EEE", "95")
        assert "not_held" in env.skips("EEE"), [
            (str(e.status), e.detail) for e in entries(env.journal, symbols=("EEE",))
        ]
        assert sold(env, "EEE") == 10

        # 2. killed while the close's cancel of a trailing stop is on the wire
        trailed = await bought(env, 16, "FFF")
        trailing = exit_id(trailed, "ts")
        await until(lambda: bool(server.orders(trailing)), "the trailing stop at the broker")
        server.add_fault(Fault.slow(3, process=False, method="DELETE", path=None))
        mark = len(server.requests)
        await env.hub.push(16, {"close": [leg("FFF", "sell", "100", env.at)]})
        await until(
            lambda: any(m == "DELETE" for m, _ in list(server.requests)[mark:]),
            "the exit's cancel on the wire",
        )
        await env.bot.kill9()
        await until(lambda: server.orders(trailing)[0]["status"] == "canceled", "the cancel")
        await env.bot.start()  # the close comes back from the journal: sold once
        await until(lambda: at_broker(env, "FFF") == 0, "FFF closed after the restart")
        await until(lambda: held(env, 16, "FFF") == 0, "FFF flat on the ledger")
        assert sold(env, "FFF") == 10
        assert await env.bot.stop() == 0
        assert unresolved(env.journal) == 0 or all(
            o["status"] not in ("new", "held", "accepted") for o in server.orders()
        )
