"""Two accounts (and a paper mirror of one) trade the demo's day in one `tradebot run`: the
scripted signals of tradebot/demo/scenario.py, a dropped connection, a duplicate push and a
push while no connection is subscribed (backfilled) included. Each account's server receives
every leg exactly once, at that account's size; each broker's positions equal the journal's
book of that account; the mirror trades as the account it mirrors, under its own ids."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from tests.e2e.accounts_harness import (
    FAMILY,
    MAIN,
    SIZES,
    TWIN,
    Accounts,
    assert_every_order_is_its_accounts,
    journal_positions,
    running_accounts,
    server_orders,
    server_positions,
    settled,
    signatures,
    until_planned,
)
from tests.e2e.harness import ALGOS, entries, last_id, wait_subscribed
from tradebot.demo.scenario import market_prices, steps
from tradebot.journal.records import Status

#: the orders of the demo's day, without exits (these accounts configure none): (algorithm,
#: symbol, side, role letter, the leg's price for a notional-sized open; None: sized in shares,
#: or a close of what the open bought)
DAY: list[tuple[int, str, str, str, str | None]] = [
    (16, "JBHT", "buy", "o", None),
    (16, "ILMN", "buy", "o", None),
    (16, "CDNS", "sell", "o", None),
    (14, "VRTX", "buy", "o", None),
    (17, "AAPL", "buy", "o", "189.50"),  # pushed twice: traded once
    (18, "NVDA", "buy", "o", "131.20"),
    (17, "AAPL", "sell", "c", "189.50"),  # pushed while no connection listened: backfilled
    (18, "MU", "buy", "o", "87.10"),
    (16, "JBHT", "sell", "c", None),
    (16, "CDNS", "buy", "c", None),
    (16, "MU", "buy", "o", None),
    (14, "VRTX", "sell", "c", None),
    (14, "VRTX", "sell", "o", None),
    (18, "NVDA", "sell", "c", "131.20"),  # no stop-loss here: the close sells it
]


def day_orders(account: str) -> Counter[tuple[int, str, str, Decimal, str]]:
    sizing = SIZES[account]
    wanted: Counter[tuple[int, str, str, Decimal, str]] = Counter()
    for algo_id, symbol, side, role, price in DAY:
        if price is None:
            qty = Decimal(sizing.shares)
        else:
            qty = (Decimal(sizing.notional) / Decimal(price)).quantize(1, rounding=ROUND_DOWN)
        wanted[(algo_id, symbol, side, qty, role)] += 1
    return wanted


def _readable(client_order_id: str) -> str:
    """``tb<algo>-<SYMBOL>-<role>`` of ``<account>.tb<algo>-<SYMBOL>-<role>-<digest>``."""
    return client_order_id.split(".", 1)[-1].rsplit("-", 1)[0]


async def play_the_demo_day(accounts: Accounts) -> None:
    """Each step of the demo's scenario, waiting until every account has planned it."""
    hub, names = accounts.hub, list(accounts.servers)
    for step in steps(lambda: datetime.now(UTC)):
        if step.fault == "drop":
            hub.drop(hub.connections[0])
        elif step.fault == "lapse":
            hub.drop()  # every connection: the push reaches nobody, the backfill brings it
        for symbol, price in market_prices(step).items():
            for server in accounts.servers.values():
                server.set_price(symbol, price)
        if step.payload is None:
            continue  # a market move for an exit these accounts do not configure
        mark = last_id(accounts.journal)
        await hub.push(step.algo_id, step.payload, times=step.times)
        await until_planned(accounts.journal, names, step.algo_id, mark)
        await wait_subscribed(hub, ALGOS)


async def test_two_accounts_and_a_mirror_trade_the_demo_day_each_leg_once(
    tmp_path: Path,
) -> None:
    names = [MAIN, FAMILY, TWIN]
    async with running_accounts(tmp_path, names, mirrors={TWIN: MAIN}) as accounts:
        await play_the_demo_day(accounts)
        await settled(accounts)
        assert await accounts.bot.stop() == 0
    servers = accounts.servers
    assert_every_order_is_its_accounts(servers)
    assert signatures(servers[MAIN]) == day_orders(MAIN)
    assert signatures(servers[FAMILY]) == day_orders(FAMILY)
    # the mirror: main's algorithms and sizes, on its own broker, under its own ids
    assert signatures(servers[TWIN]) == day_orders(MAIN)
    # (each id's digest holds its account, core/ids.py: the readable parts are main's)
    twin_ids = Counter(_readable(o["client_order_id"]) for o in server_orders(servers[TWIN]))
    main_ids = Counter(_readable(o["client_order_id"]) for o in server_orders(servers[MAIN]))
    assert twin_ids == main_ids
    twin_full = {o["client_order_id"] for o in server_orders(servers[TWIN])}
    main_full = {o["client_order_id"] for o in server_orders(servers[MAIN])}
    assert all(i.startswith("twin.") for i in twin_full), twin_full
    assert all(i.startswith("main.") for i in main_full), main_full
    # ... and never main's: the twin's orders are its own
    assert not {i.split(".", 1)[1] for i in twin_full} & {i.split(".", 1)[1] for i in main_full}
    for name, server in servers.items():
        assert journal_positions(accounts.journal, name) == server_positions(server), name
        assert {o["status"] for o in server_orders(server)} == {"filled"}, name
        intents = entries(accounts.journal, statuses=(Status.INTENT,), accounts=(name,))
        assert sorted(e.client_order_id or "" for e in intents) == sorted(
            o["client_order_id"] for o in server_orders(server)
        ), name
    # what the day leaves: main 10 ILMN, 10 MU (16), 57 MU (18), -10 VRTX; family at its sizes
    assert server_positions(servers[MAIN]) == {
        "ILMN": Decimal(10),
        "MU": Decimal(67),
        "VRTX": Decimal(-10),
    }
    assert server_positions(servers[FAMILY]) == {
        "ILMN": Decimal(3),
        "MU": Decimal(25),
        "VRTX": Decimal(-3),
    }
    # the skips are each account's own: 14's close of MSFT, 18's malformed leg and its AMD leg
    for name in names:
        skipped = entries(accounts.journal, statuses=(Status.SKIPPED,), accounts=(name,))
        reasons = sorted(str(e.data.get("reason")) for e in skipped)
        assert reasons == ["invalid", "not_held", "price_off_market"], (name, reasons)
