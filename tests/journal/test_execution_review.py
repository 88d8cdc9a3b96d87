"""Execution quality per algorithm and style (``tradebot report``'s second table), on a journal
written by the real executor through the real Alpaca adapter to the local Alpaca server.

The journal's clock is moved by hand and fills are recorded when the test looks the order up,
so every time to fill is exact; prices come from the server's market and its limit crossing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.core.helpers import make_config
from tests.execution.alpaca_rig import fast_adapter
from tests.execution.chase_limits import Limits
from tests.execution.fixed_planner import make_signal
from tradebot.broker.alpaca import AlpacaBroker
from tradebot.cli.main import cli
from tradebot.core.book import PositionBook
from tradebot.core.events import OrderFilled
from tradebot.core.ids import client_order_id, exit_id, remainder_id
from tradebot.core.order_shape import MARKET, ChaseTerms, Limit, Stop
from tradebot.core.orders import IntentRole, OrderIntent, Plan, TimeInForce
from tradebot.core.signal import Side, Signal
from tradebot.execution import Executor
from tradebot.execution.chaser import Chaser
from tradebot.journal import SqliteJournal, open_journal
from tradebot.journal.execution_review import execution_report
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer

KEY, SECRET = "PKEXECREVIEW000001", "exec-review-secret"
T0 = datetime(2026, 11, 24, 14, 30, 5, tzinfo=UTC)


@dataclass
class Desk:
    """The executor, its broker and journal, and the hand-moved clock they share."""

    server: AlpacaServer
    journal: SqliteJournal
    broker: AlpacaBroker
    executor: Executor
    now: list[datetime]
    monotonic: list[float]

    def at(self, seconds: float) -> None:
        self.now[0] = T0 + timedelta(seconds=seconds)
        self.monotonic[0] = 1000.0 + seconds

    async def send(
        self,
        algo: int,
        symbol: str,
        side: str,
        signal_price: str,
        *,
        qty: str = "10",
        limit: str | None = None,
        chase: bool = False,
    ) -> str:
        """A signal for one open leg, journaled, planned as one order of this style and sent."""
        signal = make_signal(algo, opens=((symbol, side, signal_price),), received_at=self.now[0])
        intent = _intent(signal, Decimal(qty), limit, chase)
        signal_id = self.journal.record_signal(signal)
        await self.executor.execute(Plan(intents=(intent,)), signal_id=signal_id)
        return intent.client_order_id

    async def look_up(self, *coids: str) -> None:
        """Record what the broker shows of these orders now (fills, outcome)."""
        async with asyncio.timeout(10):
            while any(o["status"] == "new" and o["type"] == "market" for o in self.server.orders()):  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # the server fills market orders on its own thread
        for coid in coids:
            snapshot = await self.broker.get_order(coid)
            assert snapshot is not None, coid
            await self.executor.record_snapshot(snapshot, "lookup")

    def chaser(self) -> Chaser:
        return Chaser(
            self.executor,
            busy=asyncio.Lock(),
            stopping=asyncio.Event(),
            max_age=timedelta(days=3650),
            now=lambda: self.now[0],
            limits=Limits(self.broker, make_config({16: {}, 18: {}})).in_force(),
            monotonic=lambda: self.monotonic[0],
        )


def _intent(signal: Signal, qty: Decimal, limit: str | None, chase: bool) -> OrderIntent:
    leg = signal.legs[0]
    return OrderIntent(
        client_order_id=client_order_id("ACCT", [leg.id], "open"),
        algo_id=leg.algo_id,
        symbol=leg.symbol,
        side=leg.side,
        qty=qty,
        price=MARKET if limit is None else Limit(Decimal(limit), CHASE if chase else None),
        time_in_force=TimeInForce.DAY,
        role=IntentRole.OPEN,
        leg_ids=(leg.id,),
        reference_price=leg.price,
    )


CHASE = ChaseTerms(chase_after=60.0, chase_pct=Decimal("0.33"))


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer(key=KEY, secret=SECRET) as running:
        running.script_fills(FillScript(limits_cross=True))
        yield running


@pytest.fixture
async def desk(server: AlpacaServer, tmp_path: Path) -> AsyncIterator[Desk]:
    now = [T0]
    with open_journal(tmp_path / "journal.sqlite", clock=lambda: now[0]) as journal:
        assert isinstance(journal, SqliteJournal)
        async with fast_adapter(server, KEY, SECRET) as broker:
            executor = Executor(journal, broker, PositionBook())
            yield Desk(server, journal, broker, executor, now, [1000.0])


def rows(desk: Desk, **kw: Any) -> dict[tuple[int, str], dict[str, Any]]:
    report = execution_report(desk.journal, **kw)
    return {(r.algo_id, r.style): r.as_dict() for r in report.rows}


async def test_market_legs_slippage_is_signed_against_us_for_buys_and_sells(desk: Desk) -> None:
    desk.server.set_price("AAPL", Decimal("100.05"))  # a buy 0.05 above the signal: worse
    desk.server.set_price("MSFT", Decimal("200.20"))  # a sell 0.20 above the signal: better
    buy = await desk.send(16, "AAPL", "buy", "100.00")
    desk.at(1)
    sell = await desk.send(16, "MSFT", "sell", "200.00", qty="5")
    desk.at(2)
    await desk.look_up(buy)  # intent at 0 s, its fill recorded at 2 s
    desk.at(5)
    await desk.look_up(sell)  # intent at 1 s, fill at 5 s
    figures = rows(desk)[16, "market"]
    # (+0.05 x 10 - 0.20 x 5) / (100 x 10 + 200 x 5) = -0.5 / 2000 = -2.5 bps; a sign lost on
    # either side would read 7.5, -7.5 or 2.5
    assert figures["slippage_bps"] == "-2.5"
    assert (figures["legs"], figures["filled"], figures["fill_rate_pct"]) == (2, 2, "100")
    assert (figures["median_fill_s"], figures["p90_fill_s"]) == ("2", "4")


async def test_limits_filled_partial_unfilled_and_working(desk: Desk) -> None:
    for symbol, price in (("AAPL", "100.05"), ("MSFT", "200"), ("NVDA", "50"), ("AMD", "80")):
        desk.server.set_price(symbol, Decimal(price))
    filled = await desk.send(17, "AAPL", "buy", "100.00", limit="99.90")  # rests: 100.05 > limit
    partial = await desk.send(17, "NVDA", "buy", "50.00", limit="49.95")
    unfilled = await desk.send(17, "MSFT", "sell", "200.00", limit="201.00")
    await desk.send(17, "AMD", "buy", "80.00", limit="79.00")  # still working at the end
    desk.at(10)
    desk.server.set_price("AAPL", Decimal("99.80"))  # trades through 99.90: fills at the limit
    desk.server.fill(partial, Decimal(4))  # 4 of 10 at 49.95
    desk.server.cancel(partial)
    desk.server.cancel(unfilled)  # nothing filled (the day ended, say)
    await asyncio.sleep(0.05)
    await desk.look_up(filled, partial, unfilled)
    figures = rows(desk)[17, "limit"]
    assert (figures["legs"], figures["filled"], figures["partial"]) == (4, 1, 1)
    assert (figures["unfilled"], figures["working"]) == (1, 1)
    assert (figures["planned_qty"], figures["filled_qty"]) == ("40", "14")
    assert figures["fill_rate_pct"] == "35"
    assert figures["median_fill_s"] == figures["p90_fill_s"] == "10"  # only the complete one
    # (99.90 - 100) x 10 + (49.95 - 50) x 4 = -1.2 over 1000 + 200 of signal notional
    assert figures["slippage_bps"] == "-10"


async def test_a_chased_leg_counts_the_limit_and_its_market_remainder_together(
    desk: Desk,
) -> None:
    desk.server.set_price("AAPL", Decimal("100.10"))  # above the buy limit: it rests
    limit = await desk.send(18, "AAPL", "buy", "100.00", limit="100.00", chase=True)
    chaser = desk.chaser()
    await chaser.tick()
    desk.server.fill(limit, Decimal(3))  # 3 at the limit, 100.00
    desk.at(60)
    desk.server.set_price("AAPL", Decimal("100.30"))
    await chaser.tick()  # the timer: cancel the limit
    await chaser.tick()  # canceled with 3 filled: 7 at market, at 100.30
    desk.at(61)
    await desk.look_up(limit, remainder_id(limit))
    by_style = rows(desk)
    assert set(by_style) == {(18, "limit_then_market")}  # the remainder is no leg of its own
    figures = by_style[18, "limit_then_market"]
    assert (figures["legs"], figures["filled"], figures["filled_qty"]) == (1, 1, "10")
    assert figures["median_fill_s"] == "61"
    # (3 x 0 + 7 x 0.30) / (10 x 100) = 21 bps
    assert figures["slippage_bps"] == "21"


def _exit(entry: str, algo: int, signal: Signal) -> OrderIntent:
    return OrderIntent(
        client_order_id=exit_id(entry, "sl"),
        algo_id=algo,
        symbol="AAPL",
        side=Side.SELL,
        qty=Decimal(10),
        price=Stop(Decimal(95)),
        time_in_force=TimeInForce.GTC,
        role=IntentRole.EXIT,
        leg_ids=(signal.legs[0].id,),
        reference_price=Decimal(100),
    )


async def test_exits_are_rows_of_their_own_measured_against_their_stop(desk: Desk) -> None:
    desk.server.set_price("AAPL", Decimal("100.00"))
    entry = await desk.send(19, "AAPL", "buy", "100.00")
    await desk.look_up(entry)
    signal = make_signal(19, opens=(("AAPL", "buy", "100.00"),), received_at=T0)
    stop = _exit(entry, 19, signal)
    desk.journal.record_plan(None, Plan(intents=(stop,)))
    desk.at(30)
    gap = OrderFilled(
        client_order_id=stop.client_order_id,
        broker_order_id="b-stop",
        at=desk.now[0],
        symbol="AAPL",
        side=Side.SELL,
        qty=Decimal(10),
        price=Decimal("94.50"),  # gapped through the 95 stop
        cum_qty=Decimal(10),
        order_qty=Decimal(10),
        partial=False,
    )
    desk.journal.record_event(gap)
    by_style = rows(desk)
    assert by_style[19, "market"]["slippage_bps"] == "0"  # the entry, undisturbed by the exit
    stop_row = by_style[19, "exit stop"]
    assert stop_row["slippage_bps"] == "52.63"  # 0.50 x 10 below a 950 stop notional
    assert stop_row["median_fill_s"] == "30"


def _report(path: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["report", "--journal", str(path), *args])
    assert result.exit_code == 0, result.output
    return result


async def test_the_window_and_the_cli_formats(desk: Desk) -> None:
    desk.server.set_price("AAPL", Decimal("100.00"))
    desk.server.set_price("MSFT", Decimal("200.00"))
    first = await desk.send(16, "AAPL", "buy", "100.00")
    await desk.look_up(first)
    desk.at(3600)
    second = await desk.send(16, "MSFT", "buy", "200.00")
    await desk.look_up(second)
    assert rows(desk)[16, "market"]["legs"] == 2
    later = rows(desk, since=T0 + timedelta(seconds=1800))
    assert later[16, "market"]["legs"] == 1
    path = desk.journal.path
    data = json.loads(_report(path, "--execution", "--format", "json").stdout)
    assert [(r["style"], r["legs"]) for r in data["rows"]] == [("market", 2)]
    assert data["skipped_rows"] == {}
    csv_lines = _report(path, "--execution", "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("algo_id,style,legs,filled") and len(csv_lines) == 2
    text = _report(path).stdout
    assert "ALGO_ID  SIGNALS" in text and "STYLE" in text and "market" in text


def test_an_empty_journal_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    with open_journal(path):
        pass
    text = _report(path).stdout
    assert "nothing in the journal for that period" in text
    assert "no orders in the journal for that period" in text
    assert json.loads(_report(path, "--execution", "--format", "json").stdout) == {
        "rows": [],
        "skipped_rows": {},
    }


HOSTILE = [
    # (status, algo_id, client_order_id, side, qty, price, data)
    ("intent", 16, "bad-json", "buy", "10", "100", "{not json"),
    ("intent", 16, "bad-list", "buy", "10", "100", "[1, 2]"),
    ("intent", 16, "bad-type", "buy", "10", "100", '{"role": "open"}'),
    ("intent", 16, "bad-side", "up", "10", "100", '{"order_type": "market", "role": "open"}'),
    ("intent", 16, "bad-qty", "buy", "NaN", "100", '{"order_type": "market", "role": "open"}'),
    ("intent", 16, "neg-qty", "buy", "-5", "100", '{"order_type": "market", "role": "open"}'),
    ("intent", "x", "bad-algo", "buy", "10", "100", '{"order_type": "market", "role": "open"}'),
    ("intent", 16, None, "buy", "10", "100", '{"order_type": "market", "role": "open"}'),
]


async def test_garbage_rows_are_skipped_and_counted_never_fatal(desk: Desk) -> None:
    desk.server.set_price("AAPL", Decimal("100.05"))
    desk.server.set_price("MSFT", Decimal("200.00"))
    good = await desk.send(16, "AAPL", "buy", "100.00")
    working = await desk.send(16, "MSFT", "buy", "200.00", limit="199.00")  # rests
    await desk.look_up(good, working)
    before = rows(desk)
    plain = _report(desk.journal.path).stdout
    path = desk.journal.path
    conn = sqlite3.connect(path)
    with conn:
        ts = int(desk.now[0].timestamp() * 1_000_000) + 1
        for status, algo, coid, side, qty, price, data in HOSTILE:
            conn.execute(
                "INSERT INTO entries (ts, status, algo_id, symbol, client_order_id, side, qty,"
                " price, detail, data) VALUES (?, ?, ?, 'AAPL', ?, ?, ?, ?, '', ?)",
                (ts, status, algo, coid, side, qty, price, data),
            )
        # fills of an order of ours that cannot be read: a price that is text, a quantity of 0
        for cum, qty, price in (("11", "1", "abc"), ("12", "0", "100"), ("13", "1", "Infinity")):
            conn.execute(
                "INSERT INTO entries (ts, status, algo_id, symbol, client_order_id, side, qty,"
                " price, cum_qty, detail, data) VALUES (?, 'partial', 16, 'AAPL', ?, 'buy', ?,"
                " ?, ?, '', '{}')",
                (ts, working, qty, price, cum),
            )
    conn.close()
    report = execution_report(desk.journal)
    assert {(r.algo_id, r.style): r.as_dict() for r in report.rows} == before
    assert report.skipped == {"intent that cannot be read": 7, "fill that cannot be read": 3}
    # rows put in by hand never passed through the journal: its summaries did not see them,
    # the report from the summaries is unchanged, and verify says the two disagree
    assert _report(path).stdout == plain
    verified = CliRunner().invoke(cli, ["journal", "verify", "--journal", str(path)])
    assert verified.exit_code == 1, verified.output
    assert "sum_skipped" in verified.output and "DISAGREES" in verified.output
    # from the rows: the whole report, P&L and counts too, never a crash
    text = _report(path, "--from-rows").stdout
    assert "skipped 7 journal row(s): intent that cannot be read" in text
    assert "skipped 3 journal row(s): fill that cannot be read" in text
    # the execution table of the readable rows is what it was before the garbage
    assert _execution_table(text) == _execution_table(plain)


def _execution_table(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("execution, per algorithm and style (legs decided in the period):")
    return lines[start : start + 4]


async def test_damaged_rows_never_cut_a_page_short(desk: Desk) -> None:
    """A page whose rows are all damaged still leads to the next one: the stream pages on the
    rows it read, not on the fills it kept."""
    for n, symbol in enumerate(("AAPL", "MSFT", "NVDA")):
        desk.server.set_price(symbol, Decimal("100.05"))
        desk.at(n)
        await desk.look_up(await desk.send(16, symbol, "buy", "100.00"))
    conn = sqlite3.connect(desk.journal.path)
    with conn:  # the oldest fill of all, and damaged
        conn.execute(
            "INSERT INTO entries (ts, status, algo_id, symbol, client_order_id, side, qty, price,"
            " cum_qty, detail, data) VALUES (?, 'filled', 16, 'AAPL', 'x', 'buy', 'abc', '1', '1',"
            " '', '{}')",
            (int(T0.timestamp() * 1_000_000) - 1,),
        )
    conn.close()
    whole = list(desk.journal.fill_history())
    assert len(whole) == 3
    assert list(desk.journal.fill_history(page=1)) == whole
    rows = list(desk.journal.order_history())
    for page in (1, 2):
        assert list(desk.journal.order_history(page=page)) == rows
    assert [r.key for r in rows] == sorted(r.key for r in rows)  # one stream, in time order
