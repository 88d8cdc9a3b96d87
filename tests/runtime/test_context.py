from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from tests.scripted_broker import ScriptedBroker
from tradebot.core.account import AccountSnapshot
from tradebot.journal.sqlite import open_journal
from tradebot.runtime.context import PlanningContext


class CountingBroker(ScriptedBroker):
    def __init__(self) -> None:
        super().__init__()
        self.account_reads = 0
        self.read = asyncio.Event()

    async def account(self) -> AccountSnapshot:
        self.account_reads += 1
        self.read.set()
        return await super().account()


def now() -> datetime:
    return datetime.now(UTC)


async def test_a_burst_of_stale_marks_costs_one_account_read(tmp_path: Path) -> None:
    broker = CountingBroker()
    with open_journal(tmp_path / "j.sqlite") as journal:
        ctx = PlanningContext(
            broker, journal, kill_switch=None, track_pnl=False, account_min_interval=0.05
        )
        assert (await ctx.account_for(now())).account_id == "ACCT"  # the first signal waits
        assert broker.account_reads == 1
        assert await ctx.account_for(now()) is ctx.account  # later ones never do
        assert broker.account_reads == 1
        refresher = asyncio.create_task(ctx.keep_account_fresh(now))
        try:
            broker.read.clear()
            for _ in range(20):  # orders and fills in a burst
                ctx.account_stale()
            async with asyncio.timeout(5):
                await broker.read.wait()
            # a slow machine can only lower this count, never raise it
            assert broker.account_reads == 2
        finally:
            refresher.cancel()


async def test_a_daily_loss_limit_added_by_a_live_edit_binds_at_once(tmp_path: Path) -> None:
    from decimal import Decimal

    from tests.execution.fixed_planner import make_signal, simple_plan
    from tradebot.config.loader import load_config
    from tradebot.core.order_snapshot import OrderSnapshot, OrderStatus

    def filled(intent: object, price: str) -> OrderSnapshot:
        cid, side = intent.client_order_id, intent.side  # type: ignore[attr-defined]
        qty = Decimal(10)
        return OrderSnapshot(
            cid, "b", "AAPL", side, qty, qty, Decimal(price), OrderStatus.FILLED, now()
        )

    def config(extra: str) -> object:
        path = tmp_path / "config.yaml"
        path.write_text(
            f"{extra}algorithms:\n  7: {{strategy: fixed_shares, params: {{shares: 10}}}}\n"
        )
        return load_config(path)

    with open_journal(tmp_path / "j.sqlite") as journal:
        # algorithm 7 bought 10 AAPL at 189 and sold them at 179 today: -100 realised
        for spec, price in ((("opens", "buy"), "189"), (("closes", "sell"), "179")):
            signal = make_signal(7, **{spec[0]: (("AAPL", spec[1], price),)})  # type: ignore[arg-type]
            _, (intent,) = journal.record_signal_and_plan(
                signal, simple_plan(signal, journal.rebuild_book())
            )
            journal.record_snapshot(filled(intent, price), source="submit")
        ctx = PlanningContext(CountingBroker(), journal, kill_switch=None, track_pnl=False)
        await ctx.follow_config(config(""))  # type: ignore[arg-type]
        assert (await ctx.day_state(now())).realised_pnl == {}
        await ctx.follow_config(config("risk: {max_daily_loss: 50}\n"))  # type: ignore[arg-type]
        assert (await ctx.day_state(now())).realised_pnl == {7: Decimal(-100)}


async def test_reference_prices_are_one_request_per_signal_and_a_failure_is_no_reference(
    tmp_path: Path,
) -> None:
    from decimal import Decimal

    from tradebot.exceptions import AuthenticationError, BrokerUnavailable

    broker = ScriptedBroker()
    broker.prices = {"AAPL": Decimal("189.50"), "MSFT": Decimal("415.30")}
    with open_journal(tmp_path / "j.sqlite") as journal:
        ctx = PlanningContext(broker, journal, kill_switch=None, track_pnl=False)
        market = await ctx.market_for(["AAPL", "MSFT", "AAPL", "NVDA"])  # a signal's legs
        assert broker.price_requests == [["AAPL", "MSFT", "NVDA"]]
        assert market.price("AAPL") == Decimal("189.50") and market.price("NVDA") is None
        assert (await ctx.market_for([])).prices == {}  # no legs: nothing asked
        assert len(broker.price_requests) == 1
        for fault in (BrokerUnavailable("data API down"), AuthenticationError("data keys")):
            broker.price_faults.append(fault)
            failed = await ctx.market_for(["AAPL"])  # never raises: the signal goes on
            assert failed.price("AAPL") is None
            assert failed.unavailable is not None and str(fault) in failed.unavailable
        assert (await ctx.market_for(["AAPL"])).price("AAPL") == Decimal("189.50")


async def test_a_hung_price_lookup_is_given_up_as_no_reference(tmp_path: Path) -> None:
    from collections.abc import Sequence

    from tradebot.core.market import MarketPrices

    class HungBroker(ScriptedBroker):
        async def reference_prices(self, symbols: Sequence[str]) -> MarketPrices:
            await asyncio.Event().wait()  # the market-data API never answers
            raise AssertionError("unreachable")

    with open_journal(tmp_path / "j.sqlite") as journal:
        ctx = PlanningContext(
            HungBroker(), journal, kill_switch=None, track_pnl=False, price_timeout=0.05
        )
        market = await ctx.market_for(["AAPL"])
    assert market.price("AAPL") is None
    assert market.unavailable is not None and "no answer within 0.05s" in market.unavailable
