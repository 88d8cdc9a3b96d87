"""Money on the dashboard: each algorithm's open positions at its own average cost and the
broker's last price (Positions), realised plus unrealised, per day and per symbol
(Performance), the account on Now, and a broker that stops answering (the last snapshot shown
with its age; no page waits)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.journal.generate import Generated
from tests.scripted_broker import ScriptedBroker
from tests.web.conftest import served
from tests.web.scripted_reader import ACCOUNT, ScriptedReader
from tests.web.test_broker_snapshot import POSITIONS, Clock, alpaca_config, dashboard, get
from tradebot.broker.sim import SimBroker
from tradebot.config.model import Mode, SimBrokerConfig
from tradebot.core.account import AccountSnapshot
from tradebot.exceptions import BrokerUnavailable
from tradebot.execution import Executor
from tradebot.journal import open_journal
from tradebot.journal.review import money_text
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.models import Position
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.web.snapshot import BrokerSnapshots, BrokerState, OwnBroker
from tradebot.web.sources import Sources
from tradebot.web.views import performance_view, positions_view

D = Decimal
DEADLINE = 20  # a generous bound on waits for events, never a measure of speed
MONEY = ("avg_cost", "last", "market_value", "unrealised")


async def traded(
    path: Path, algo_id: int, symbol: str, prices: tuple[str, ...], day: int, side: str = "buy"
) -> None:
    """Algorithm ``algo_id`` opens 10 ``symbol`` (``side``) at ``prices[0]`` and, given a
    second price, closes them at it; the scripted broker fills 0.01 worse, journaled by the
    real executor with the journal's clock on Feb ``day`` (the summaries' UTC day)."""
    at = datetime(2026, 2, day, 15, tzinfo=UTC)
    with open_journal(path, clock=lambda: at) as writer:
        broker = ScriptedBroker()
        executor = Executor(writer, broker, writer.rebuild_book())
        for n, price in enumerate(prices):
            kind, leg_side = ("opens", side) if n == 0 else ("closes", _other(side))
            legs = ((symbol, leg_side, price),)
            signal = make_signal(algo_id, received_at=at, leg_time=at, **{kind: legs})
            await executor.handle(signal, simple_plan)
            broker.end_stream()
            await executor.consume_events()
            at += timedelta(hours=1)


def _other(side: str) -> str:
    return "sell" if side == "buy" else "buy"


async def opened(path: Path, algo_id: int, symbol: str, side: str, price: str, day: int) -> None:
    await traded(path, algo_id, symbol, (price,), day, side)


async def three_algorithms(path: Path) -> None:
    """1 and 2 long 10 AAPL each (at 100.01 and 110.01), 3 short 10 MSFT (at 49.99)."""
    await opened(path, 1, "AAPL", "buy", "100", day=2)
    await opened(path, 2, "AAPL", "buy", "110", day=3)
    await opened(path, 3, "MSFT", "sell", "50", day=3)


def state(prices: dict[str, Decimal], positions: dict[str, Decimal] | None = None) -> BrokerState:
    return BrokerState(positions, "scripted", prices=prices)


def money(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {(r["algo"], r["symbol"]): (r["qty"], *(r[k] for k in MONEY)) for r in rows}


async def test_positions_value_each_algorithm_at_its_own_cost_and_the_net(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await three_algorithms(path)
    with open_journal(path, readonly=True) as reader:
        view = positions_view(reader, state({"AAPL": D("120"), "MSFT": D("45")}))
        unpriced = positions_view(reader, state({"AAPL": D("120")}))
    assert money(view["rows"]) == {
        ("1", "AAPL"): ("10", "100.0100", "120.0000", "1200.00", "+199.90"),
        ("2", "AAPL"): ("10", "110.0100", "120.0000", "1200.00", "+99.90"),
        ("3", "MSFT"): ("-10", "49.9900", "45.0000", "-450.00", "+49.90"),  # short, gaining
        ("NET", "AAPL"): ("20", "105.0100", "120.0000", "2400.00", "+299.80"),
        ("NET", "MSFT"): ("-10", "49.9900", "45.0000", "-450.00", "+49.90"),
    }
    assert view["totals"] == [
        {"algo": "1", "market_value": "1200.00", "unrealised": "+199.90"},
        {"algo": "2", "market_value": "1200.00", "unrealised": "+99.90"},
        {"algo": "3", "market_value": "-450.00", "unrealised": "+49.90"},
        {"algo": "ALL", "market_value": "1950.00", "unrealised": "+349.70"},
    ]
    assert view["held"] == ["AAPL", "MSFT"]
    # no price for MSFT: said so, never a number; a total missing a part is unknown
    assert money(unpriced["rows"])["3", "MSFT"] == ("-10", "49.9900", None, None, None)
    assert unpriced["totals"][2:] == [
        {"algo": "3", "market_value": None, "unrealised": None},
        {"algo": "ALL", "market_value": None, "unrealised": None},
    ]
    assert unpriced["totals"][0]["unrealised"] == "+199.90"


async def test_the_positions_page_says_no_price_rather_than_a_number(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await three_algorithms(path)
    reader = ScriptedReader([{}], prices={"AAPL": D("120")})  # the broker shows nothing held
    snapshots = BrokerSnapshots(reader, "scripted")
    await snapshots.refresh()
    assert reader.asked_prices == []  # nothing to price yet: no page said what the journal holds
    with served(Sources(journal_path=path, brokers={"default": snapshots})) as dash:
        first = await asyncio.to_thread(requests.get, f"{dash.url}positions", timeout=DEADLINE)
        assert "no price" in first.text and "120.0000" not in first.text
        await snapshots.refresh()  # the page asked for the journal's symbols to be priced
        assert reader.asked_prices == [("AAPL", "MSFT")]
        page = await asyncio.to_thread(requests.get, f"{dash.url}positions", timeout=DEADLINE)
    html = page.text
    assert "no price for MSFT" in html
    msft = html.split("<td>3</td><td>MSFT</td>")[1].split("</tr>")[0]
    assert 'class="no-price">no price<' in msft and "45" not in msft
    aapl = html.split("<td>1</td><td>AAPL</td>")[1].split("</tr>")[0]
    assert "+199.90" in aapl and "1200.00" in aapl


async def test_performance_adds_unrealised_and_shows_pnl_per_day_and_per_symbol(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    await traded(path, 1, "AAPL", ("100", "110"), day=1)  # +99.80 on Feb 1
    await traded(path, 4, "MSFT", ("50", "45"), day=2)  # 10 x (44.99 - 50.01) = -50.20
    await traded(path, 1, "AAPL", ("100", "110"), day=2)  # +99.80 on Feb 2
    await opened(path, 1, "AAPL", "buy", "100", day=3)  # 10 at 100.01, open
    with open_journal(path, readonly=True) as reader:
        view = performance_view(reader, state({"AAPL": D("101")}))
        unpriced = performance_view(reader, state({}))
    by_algo = {
        r["algo_id"]: (r["realised_pnl"], r["unrealised_pnl"], r["total_pnl"])
        for r in view["report"]
    }
    assert by_algo == {1: ("199.6", "+9.90", "+209.50"), 4: ("-50.2", "0.00", "-50.20")}
    assert view["days"] == [  # newest first; a day with fills that realised nothing too
        {"day": "2026-02-03", "realised": "0.00", "cumulative": "+149.40"},
        {"day": "2026-02-02", "realised": "+49.60", "cumulative": "+149.40"},
        {"day": "2026-02-01", "realised": "+99.80", "cumulative": "+99.80"},
    ]
    assert view["symbols"] == [
        {"symbol": "AAPL", "realised": "+199.60", "unrealised": "+9.90", "total": "+209.50"},
        {"symbol": "MSFT", "realised": "-50.20", "unrealised": "0.00", "total": "-50.20"},
    ]
    assert view["held"] == ["AAPL"]
    # without a price: unknown, never realised alone passed off as the total
    assert unpriced["symbols"][0] == {
        "symbol": "AAPL",
        "realised": "+199.60",
        "unrealised": None,
        "total": None,
    }
    assert [r["total_pnl"] for r in unpriced["report"]] == [None, "-50.20"]
    reader = ScriptedReader([{"AAPL": D(10)}], prices={"AAPL": D("101")})
    snapshots = BrokerSnapshots(reader, "scripted")
    await snapshots.refresh()
    with served(Sources(journal_path=path, brokers={"default": snapshots})) as dash:
        page = await asyncio.to_thread(requests.get, f"{dash.url}performance", timeout=DEADLINE)
    per_symbol = page.text.split('id="per-symbol"')[1].split("</table>")[0]
    per_day = page.text.split('id="per-day"')[1].split("</table>")[0]
    assert "+209.50" in per_symbol and "-50.20" in per_symbol
    assert per_day.index("2026-02-03") < per_day.index("2026-02-02") < per_day.index("2026-02-01")


async def test_now_shows_the_account_then_the_last_snapshot_with_its_age_when_the_broker_hangs(
    known: Generated,
) -> None:
    clock = Clock()
    with AlpacaServer() as server:
        with server.lock:
            server.account.positions["AAPL"] = Position(qty=D(5))
            server.account.asset("AAPL").price = D("150")
            server.account.last_equity = D("100500.25")
        own = OwnBroker(alpaca_config(server).broker, Mode.PAPER)
        snapshots = BrokerSnapshots(own, "alpaca", every=0, now=clock)
        try:
            async with dashboard(
                Sources(journal_path=known.path, brokers={"default": snapshots})
            ) as dash:
                async with asyncio.timeout(DEADLINE):
                    await snapshots.wait_refreshed(1)
                fresh = (await get(f"{dash.url}api/now")).json()["money"]
                # equity: cash 100000 + 5 x 150; the day: against the previous close
                assert fresh["equity"] == "100750.00" and fresh["cash"] == "100000.00"
                assert fresh["buying_power"] == "100000.00"
                assert fresh["day_pnl"] == "+249.75" and fresh["day_pnl_pct"] == "+0.25"
                assert fresh["as_of"] == "2026-03-02 15:00:00 UTC" and fresh["age"] == "0 s"

                server.add_fault(Fault.hang(times=1000, method="GET", path="/v2/positions"))
                assert await asyncio.to_thread(server.wait_held, 1, DEADLINE)
                with server.lock:
                    server.account.asset("AAPL").price = D("10")  # unseen: the broker hangs
                clock.at += timedelta(seconds=42)
                asked = server.requests.count(POSITIONS)
                page = await get(dash.url)
                partial = await get(f"{dash.url}partials/now")
                # answered while the server holds the refresh: the page asked no broker
                assert server.held == 1 and server.requests.count(POSITIONS) == asked
                for html in (page.text, partial.text):
                    assert 'id="equity">100750.00<' in html
                    assert "the broker answered at 2026-03-02 15:00:00 UTC (42 s ago)" in html
                    assert "no answer to the refresh asked 42 s ago" in html
                server.release()
        finally:
            server.release()
            await own.aclose()


async def test_a_failed_refresh_keeps_the_last_account_and_says_why(known: Generated) -> None:
    clock = Clock()
    reader = ScriptedReader([{"AAPL": D(1)}])
    snapshots = BrokerSnapshots(reader, "scripted", now=clock)
    with served(Sources(journal_path=known.path, brokers={"default": snapshots})) as dash:

        def now() -> dict[str, Any]:
            response = requests.get(f"{dash.url}api/now", timeout=DEADLINE)
            return dict(response.json()["money"])

        never = await asyncio.to_thread(now)
        assert never == {
            "known": False,
            "note": "broker positions: never reached (scripted)",
            "error": None,
            "hanging": False,
        }
        await snapshots.refresh()
        reader.account_answer = BrokerUnavailable("HTTP 503 from the broker")
        clock.at += timedelta(seconds=30)
        await snapshots.refresh()
        clock.at += timedelta(seconds=5)
        kept = await asyncio.to_thread(now)
        assert kept["equity"] == "100000.00" and kept["age"] == "35 s"
        assert kept["error"] == "HTTP 503 from the broker"
        html = (await asyncio.to_thread(requests.get, dash.url, timeout=DEADLINE)).text
        assert "the last refresh failed 5 s ago: HTTP 503 from the broker" in html
        assert 'id="money-note" class="tone-warn"' in html


async def test_prices_that_cannot_be_read_leave_the_refresh_answered() -> None:
    reader = ScriptedReader([{"AAPL": D(1)}], prices={"AAPL": D("10")})
    snapshots = BrokerSnapshots(reader, "scripted")
    snapshots.watch(["MSFT"])  # held in the journal, not at the broker
    await snapshots.refresh()
    shown = snapshots.state()
    assert reader.asked_prices == [("AAPL", "MSFT")]
    assert shown.prices == {"AAPL": D("10")} and shown.prices_note == "no price for MSFT"
    reader.prices_error = BrokerUnavailable("market data: HTTP 403")
    await snapshots.refresh()
    shown = snapshots.state()
    assert shown.error is None and shown.positions == {"AAPL": D(1)}
    assert shown.prices == {} and shown.prices_note == "no prices: market data: HTTP 403"


def test_money_is_printed_with_fixed_decimals_and_a_sign() -> None:
    assert money_text(D("1234.5")) == "1234.50"
    assert money_text(D("1234.5"), signed=True) == "+1234.50"
    assert money_text(D("-3.999"), signed=True) == "-4.00"
    assert money_text(D("-0.001"), signed=True) == "0.00"  # never "-0.00" nor "+0.00"
    assert money_text(D("0.005")) == "0.00" and money_text(D("0.015")) == "0.02"  # half even
    assert money_text(D("12345678901234.125")) == "12345678901234.12"  # no float on the way


async def test_the_brokers_say_the_previous_close() -> None:
    sim = SimBroker(SimBrokerConfig(cash=D("25000")))
    account = await sim.account()
    assert account.last_equity == D("25000") and account.day_pnl == D(0)
    assert ACCOUNT.day_pnl == D(0)
    assert AccountSnapshot("x", D(5), D(0), D(0)).day_pnl is None  # not said: unknown
