"""The coverage audit end to end: AlphaHub's history from the simulator on 127.0.0.1 (scripted),
a real SQLite journal written by the journal's own ``record_signal_and_plan`` (as the bot's
signal loop writes it: a live signal, a recovered one, one recovered too old), and
``tradebot track --coverage`` reading both."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.alphahub.conftest import EMAIL, PASSWORD, leg
from tradebot.cli.main import cli
from tradebot.core.orders import Plan, SkippedLeg, SkipReason
from tradebot.core.signal import Leg, LegKind, Side, Signal, SignalSource
from tradebot.journal import open_journal
from tradebot.journal.interface import Journal
from tradebot.simulators.alphahub import AlphaHubSimulator

DAY1, DAY2 = "2021-04-26", "2021-04-27"


def at(day: str, hhmm: str = "14:30") -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


def jleg(symbol: str, when: datetime, side: Side = Side.BUY) -> Leg:
    return Leg(16, LegKind.OPEN, symbol, side, Decimal("10.5"), when)


def record(journal: Journal, source: SignalSource, *legs: Leg, stale: bool = False) -> None:
    signal = Signal(16, legs[0].timestamp, (), legs, source=source)
    skipped = tuple(
        SkippedLeg(x.id, SkipReason.MISSED_STALE, "recovered too old to trade", leg=x)
        for x in legs
        if stale
    )
    journal.record_signal_and_plan(signal, Plan(skipped=skipped))


@pytest.fixture
async def sim() -> AsyncIterator[AlphaHubSimulator]:
    async with AlphaHubSimulator() as simulator:
        yield simulator


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    store = open_journal(tmp_path / "j.sqlite")
    yield store
    store.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHAHUB_EMAIL", EMAIL)
    monkeypatch.setenv("ALPHAHUB_PASSWORD", PASSWORD)


def scripted(sim: AlphaHubSimulator, journal: Journal) -> None:
    """Day 1: two legs, both live. Day 2: one live, one backfilled in time, one backfilled too
    old (missed_stale), one never received (missed)."""
    sim.history.add(
        16,
        [
            leg("AAPL", "buy", f"{DAY1}T14:30:00"),
            leg("MSFT", "buy", f"{DAY1}T14:30:00"),
            leg("AAPL", "sell", f"{DAY2}T14:30:00"),
            leg("JBHT", "buy", f"{DAY2}T15:00:00"),
            leg("NVDA", "buy", f"{DAY2}T15:30:00"),
            leg("VRTX", "sell", f"{DAY2}T16:00:00"),
        ],
    )
    record(journal, SignalSource.LIVE, jleg("AAPL", at(DAY1)), jleg("MSFT", at(DAY1)))
    record(journal, SignalSource.LIVE, jleg("AAPL", at(DAY2), Side.SELL))
    record(journal, SignalSource.BACKFILL, jleg("JBHT", at(DAY2, "15:00")))
    record(journal, SignalSource.BACKFILL, jleg("NVDA", at(DAY2, "15:30")), stale=True)


async def audit_cli(tmp_path: Path, url: str, *extra: str) -> tuple[int, str]:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"alphahub:\n  url: {url}\n  request_timeout: 2\n"
        "algorithms:\n  16: {strategy: fixed_shares, params: {shares: 1}}\n"
    )
    args = [
        "track",
        "--coverage",
        "--config",
        str(config),
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--since",
        DAY1,
        "--until",
        "2021-04-28",
        *extra,
    ]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.mark.usefixtures("env")
async def test_each_day_counted_and_the_missing_legs_named(
    sim: AlphaHubSimulator, journal: Journal, tmp_path: Path
) -> None:
    scripted(sim, journal)
    code, out = await audit_cli(tmp_path, sim.url, "--format", "json")
    assert code == 0, out
    (algo,) = json.loads(out)["algorithms"]
    assert algo["history_unavailable"] is None
    one, two = algo["days"]
    counts = ("history", "live", "backfill", "late", "missed", "extra")
    assert [one[k] for k in counts] == [2, 2, 0, 0, 0, 0]
    assert one["ratio"] == "1" and one["lacking"] == []
    assert [two[k] for k in counts] == [4, 1, 1, 1, 1, 0]
    assert Decimal(two["ratio"]) == Decimal("0.5")
    assert two["lacking"] == [
        {"symbol": "NVDA", "side": "buy", "timestamp": "2021-04-27T15:30:00+00:00", "fate": "late"},
        {
            "symbol": "VRTX",
            "side": "sell",
            "timestamp": "2021-04-27T16:00:00+00:00",
            "fate": "missed",
        },
    ]
    assert Decimal(algo["ratio"]) == Decimal(4) / Decimal(6)


@pytest.mark.usefixtures("env")
async def test_the_text_names_the_legs_of_a_day_below_100_percent(
    sim: AlphaHubSimulator, journal: Journal, tmp_path: Path
) -> None:
    scripted(sim, journal)
    code, out = await audit_cli(tmp_path, sim.url)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[1].split() == [
        "ALGO_ID",
        "DAY",
        "HISTORY",
        "LIVE",
        "BACKFILL",
        "LATE",
        "ARCHIVED",
        "MISSED",
        "EXTRA",
        "COVERAGE",
    ]
    assert lines[2].split() == ["16", DAY1, "2", "2", "0", "0", "0", "0", "0", "100%"]
    assert lines[3].split() == ["16", DAY2, "4", "1", "1", "1", "0", "1", "0", "50%"]
    assert lines[4:] == [
        f"algorithm 16 on {DAY2}, lacking:",
        "  late: buy NVDA at 2021-04-27T15:30:00+00:00",
        "  missed: sell VRTX at 2021-04-27T16:00:00+00:00",
    ]


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("404", "history not read: the history answered HTTP 404 (Not Found)"),
        ("html", "history not read: the history answered an HTML page instead of JSON"),
    ],
)
async def test_history_unavailable_is_said_and_the_journal_side_shown(
    sim: AlphaHubSimulator, journal: Journal, tmp_path: Path, fault: str, said: str
) -> None:
    scripted(sim, journal)
    sim.history_fault(fault)
    code, out = await audit_cli(tmp_path, sim.url)
    assert code == 0, out
    assert f"algorithm 16: {said}; the journal's side only" in out
    assert out.splitlines()[3].split() == ["16", DAY2, "-", "1", "1", "1", "0", "-", "-", "unknown"]


@pytest.mark.usefixtures("env")
async def test_alphahub_unreachable_is_said_not_a_crash(
    journal: Journal, tmp_path: Path, unused_tcp_port: int
) -> None:
    record(journal, SignalSource.LIVE, jleg("AAPL", at(DAY1)))
    code, out = await audit_cli(tmp_path, f"http://127.0.0.1:{unused_tcp_port}", "--format", "json")
    assert code == 0, out
    (algo,) = json.loads(out)["algorithms"]
    assert algo["history_unavailable"].startswith("not read: AlphaHub login failed")
    assert algo["ratio"] is None
    assert [(d["live"], d["history"]) for d in algo["days"]] == [(1, None)]


async def test_no_credentials_and_offline_are_said(
    journal: Journal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALPHAHUB_EMAIL", raising=False)
    monkeypatch.delenv("ALPHAHUB_PASSWORD", raising=False)
    record(journal, SignalSource.LIVE, jleg("AAPL", at(DAY1)))
    _, out = await audit_cli(tmp_path, "http://127.0.0.1:9")
    assert "algorithm 16: history not read: no AlphaHub credentials" in out
    _, out = await audit_cli(tmp_path, "http://127.0.0.1:9", "--offline")
    assert "algorithm 16: history not read (--offline); the journal's side only" in out


@pytest.mark.usefixtures("env")
async def test_csv_has_a_row_per_day_with_the_lacking_legs(
    sim: AlphaHubSimulator, journal: Journal, tmp_path: Path
) -> None:
    scripted(sim, journal)
    code, out = await audit_cli(tmp_path, sim.url, "--format", "csv")
    assert code == 0, out
    one, two = csv.DictReader(io.StringIO(out))
    assert (one["day"], one["history"], one["live"], one["coverage"], one["lacking"]) == (
        DAY1,
        "2",
        "2",
        "1",
        "",
    )
    assert [two[k] for k in ("history", "live", "backfill", "late", "missed")] == [
        "4",
        "1",
        "1",
        "1",
        "1",
    ]
    assert Decimal(two["coverage"]) == Decimal("0.5")
    assert two["lacking"] == (
        "late buy NVDA 2021-04-27T15:30:00+00:00; missed sell VRTX 2021-04-27T16:00:00+00:00"
    )
