"""``tradebot positions``, ``report`` and ``explain`` on a generated journal, output parsed back."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.execution.fixed_planner import make_signal, simple_plan
from tests.journal.generate import Generated, generate
from tests.pgserver import PgServer
from tests.scripted_broker import ScriptedBroker
from tradebot.cli.main import cli
from tradebot.core.book import PositionBook
from tradebot.execution import Executor
from tradebot.journal import EntryFilter, Status, open_journal
from tradebot.journal.review import position_rows as rows


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gen(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """The generated journal on each backend: the commands read it through the protocol."""
    if request.param == "sqlite":
        return generate(tmp_path_factory.mktemp("gen") / "journal.sqlite")
    server: PgServer = request.getfixturevalue("pg_server")
    return generate(server.create_database())


def run(gen: Generated, command: str, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, [command, "--journal", str(gen.path), *args])
    assert result.exit_code == code, result.output
    return result.stdout


# -- positions ------------------------------------------------------------------------------------


def test_positions_of_a_flat_journal(gen: Generated) -> None:
    # the generated journal ends flat: AAPL was bought and sold, TSLA rejected
    with open_journal(gen.path, readonly=True) as journal:
        assert journal.rebuild_book() == PositionBook()
    out = json.loads(run(gen, "positions", "--no-broker", "--format", "json"))
    assert out == {"positions": [], "broker": "broker not queried"}
    assert run(gen, "positions", "--no-broker").strip() == "no positions"


def test_positions_rows_put_the_broker_beside_the_journal() -> None:
    book = PositionBook({(1, "AAPL"): Decimal(10), (2, "AAPL"): Decimal(-4), (2, "X"): Decimal(1)})
    got = rows(book, {"AAPL": Decimal(6), "GME": Decimal(3)})
    assert got == [
        {"algo": "1", "symbol": "AAPL", "qty": "10"},
        {"algo": "2", "symbol": "AAPL", "qty": "-4"},
        {"algo": "2", "symbol": "X", "qty": "1"},
        {"algo": "NET", "symbol": "AAPL", "qty": "6", "broker": "6", "drift": ""},
        {"algo": "NET", "symbol": "GME", "qty": "0", "broker": "3", "drift": "3"},
        {"algo": "NET", "symbol": "X", "qty": "1", "broker": "0", "drift": "-1"},
    ]


def test_positions_table_of_an_open_book(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"

    async def trade() -> None:
        with open_journal(path) as journal:
            broker = ScriptedBroker()
            executor = Executor(journal, broker, PositionBook())
            await executor.handle(make_signal(4, opens=(("NVDA", "sell", "120"),)), simple_plan)
            broker.end_stream()
            await executor.consume_events()

    asyncio.run(trade())
    result = CliRunner().invoke(cli, ["positions", "--journal", str(path), "--no-broker"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ALGO", "SYMBOL", "QTY"]
    assert lines[1].split() == ["4", "NVDA", "-10"]
    assert lines[2].split() == ["NET", "NVDA", "-10"]


def test_positions_without_a_config_says_why_the_broker_is_absent(
    gen: Generated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.yaml here
    result = CliRunner().invoke(cli, ["positions", "--journal", str(gen.path)])
    assert result.exit_code == 0
    assert "broker not queried: no config" in result.stderr


def test_positions_do_not_ask_the_stateless_sim_broker(
    gen: Generated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.yaml").write_text("broker:\n  name: sim\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["positions", "--journal", str(gen.path)])
    assert result.exit_code == 0, result.output
    assert "sim broker keeps no positions" in result.stderr


# -- report ---------------------------------------------------------------------------------------


def report(gen: Generated, *args: str) -> dict[int, dict[str, Any]]:
    data = json.loads(run(gen, "report", "--format", "json", *args))
    return {row["algo_id"]: row for row in data}


def test_report_pnl_counts_and_slippage(gen: Generated) -> None:
    by_algo = report(gen)
    assert by_algo[1] == {
        "algo_id": 1,
        "signals": 2,
        "orders": 2,
        "fills": 2,
        "skips": 0,
        "rejections": 0,
        "refused_legs": 0,
        "failed": 0,
        "lapses": 0,
        "realised_pnl": "99.8",
        "slippage": "0.2",
        "slippage_bps": "0.95",
    }
    assert by_algo[2]["signals"] == 1 and by_algo[2]["orders"] == 1
    assert by_algo[2]["skips"] == 1 and by_algo[2]["rejections"] == 1
    assert by_algo[2]["fills"] == 0 and by_algo[2]["slippage_bps"] is None


def test_report_since_counts_only_the_window_but_keeps_the_cost_basis(gen: Generated) -> None:
    with open_journal(gen.path, readonly=True) as journal:
        (second,) = journal.entries(EntryFilter(ids=(gen.signal_ids[1],)))
        assert second.status is Status.SIGNAL
    by_algo = report(gen, "--since", second.as_dict()["at"])
    assert by_algo[1]["signals"] == 1 and by_algo[1]["fills"] == 1
    assert by_algo[1]["realised_pnl"] == "99.8"  # bought before the window, sold inside it
    assert by_algo[1]["slippage"] == "0.1"


def test_report_table_and_csv(gen: Generated) -> None:
    table = run(gen, "report").splitlines()
    assert table[0].split()[:3] == ["ALGO_ID", "SIGNALS", "ORDERS"] and table[3] == ""
    # then the execution table, one row per algorithm and style
    assert table[5].split()[:3] == ["ALGO_ID", "STYLE", "LEGS"]
    assert [line.split()[:3] for line in table[6:8]] == [["1", "market", "2"], ["2", "market", "1"]]
    parsed = list(csv.DictReader(io.StringIO(run(gen, "report", "--format", "csv"))))
    assert [r["realised_pnl"] for r in parsed] == ["99.8", "0"]


# -- explain --------------------------------------------------------------------------------------


def explain(gen: Generated, ident: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(run(gen, "explain", ident, "--format", "json"))
    return out


def test_explain_an_order_from_raw_frame_to_fill(gen: Generated) -> None:
    story = explain(gen, gen.coid(1))
    assert [r["status"] for r in story] == [
        "signal",
        "leg",
        "plan",
        "intent",
        "submitted",
        "accepted",
        "filled",
    ]
    assert "AAPL" in story[0]["data"]["raw"]
    text = run(gen, "explain", gen.coid(1))
    assert "raw frame:" in text and "FILLED" in text and "serves: close sell AAPL" in text
    assert "; reference price " in text and "signal price" not in text


def test_explain_a_signal_shows_every_leg_and_outcome(gen: Generated) -> None:
    story = explain(gen, f"#{gen.signal_ids[2]}")
    statuses = [r["status"] for r in story]
    assert statuses[0] == "signal" and statuses.count("leg") == 2
    assert "skipped" in statuses and "rejected" in statuses
    details = " ".join(r["detail"] for r in story)
    assert "not_held" in details and "insufficient buying power" in details


def test_explain_a_leg_by_its_key(gen: Generated) -> None:
    leg = gen.results[2].plan.skipped[0].leg_id
    assert leg is not None
    story = explain(gen, leg.key)
    assert [r["status"] for r in story] == ["signal", "leg", "plan", "skipped"]


def test_explain_unknown_id(gen: Generated) -> None:
    result = CliRunner().invoke(cli, ["explain", "--journal", str(gen.path), "nope"])
    assert result.exit_code == 1 and "nothing in the journal matches" in result.output


def test_explain_shows_a_signal_recovered_by_backfill(tmp_path: Path) -> None:
    from dataclasses import replace

    from tradebot.core.orders import Plan
    from tradebot.core.signal import SignalSource

    path = tmp_path / "j.sqlite"
    with open_journal(path) as store:
        live = store.record_signal(make_signal(16, opens=(("AAPL", "buy", "150"),)))
        recovered = replace(
            make_signal(16, opens=(("MU", "buy", "87"),)), source=SignalSource.BACKFILL
        )
        backfilled, _ = store.record_signal_and_plan(recovered, Plan())

    def text(ident: str) -> str:
        result = CliRunner().invoke(cli, ["explain", "--journal", str(path), ident])
        assert result.exit_code == 0, result.output
        return result.output

    assert "source: live" in text(f"#{live}") and "raw frame:" in text(f"#{live}")
    shown = text(f"#{backfilled}")
    assert "source: backfill" in shown and "recovered by backfill" in shown
