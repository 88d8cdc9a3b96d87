"""``tradebot track`` with AlphaHub's history, end to end: the bundled AlphaHub simulator on
127.0.0.1 holds legs that never reached the journal (a real SQLite journal written through the
journal's own API); the algorithm's result holds them and ``parts.missed`` values them. Without
the history (--offline, no credentials, AlphaHub unreachable, an odd or hostile answer), the
journal's legs only, and the output says why; a saved history FILE stands in for AlphaHub."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.alphahub.conftest import EMAIL, PASSWORD
from tests.tracking.history import ALGO, Clock, play
from tradebot.cli.main import cli
from tradebot.journal import open_journal
from tradebot.replay.history_file import history_text
from tradebot.simulators.alphahub import AlphaHubSimulator

D = Decimal
DAY = "2026-03-02"
#: the journal: one open received live (its signal at 14:30:30), bought at the signal's price;
#: then the listener lost its connection
SCENE: list[tuple[Any, ...]] = [("open", "AAA", "buy", D(80), "market", 1, D(1), D(80)), ("gap",)]
GAPS = "1 listener gaps in the period: a leg sent during one and not backfilled is in"


def hist(symbol: str, side: str, hhmmss: str, price: float) -> dict[str, Any]:
    return {"price": price, "side": side, "symbol": symbol, "timestamp": f"{DAY}T{hhmmss}"}


#: AlphaHub's history: the open the journal got, then three legs it never received: AAA closed
#: at 90 (+10 a share), BBB opened at 50 and closed at 55 (+5)
HISTORY = [
    hist("AAA", "buy", "14:30:30", 80),
    hist("AAA", "sell", "15:00:00", 90),
    hist("BBB", "buy", "15:10:00", 50),
    hist("BBB", "sell", "15:20:00", 55),
]


@pytest.fixture
async def sim() -> AsyncIterator[AlphaHubSimulator]:
    async with AlphaHubSimulator() as simulator:
        yield simulator


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHAHUB_EMAIL", EMAIL)
    monkeypatch.setenv("ALPHAHUB_PASSWORD", PASSWORD)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite"
    clock = Clock()
    with open_journal(path, clock=clock) as store:
        play(store, clock, SCENE)
    return path


async def track_cli(tmp_path: Path, url: str, *extra: str) -> tuple[int, str]:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"alphahub:\n  url: {url}\n  request_timeout: 2\n"
        f"algorithms:\n  {ALGO}: {{strategy: fixed_shares, params: {{shares: 1}}}}\n"
    )
    args = ["track", "--config", str(config), "--journal", str(tmp_path / "journal.sqlite")]
    result = await asyncio.to_thread(CliRunner().invoke, cli, [*args, *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


async def track_json(tmp_path: Path, url: str, *extra: str) -> dict[str, Any]:
    code, out = await track_cli(tmp_path, url, "--format", "json", *extra)
    assert code == 0, out
    (row,) = json.loads(out)
    parts = {k: D(v) for k, v in row["parts"].items()}
    assert sum(parts.values(), D(0)) == D(row["gap"])  # to the cent, history or not
    assert row["reconciled"] is True
    return row  # type: ignore[no-any-return]


@pytest.mark.usefixtures("env", "journal")
async def test_legs_never_received_are_in_the_algorithms_result_and_in_missed(
    sim: AlphaHubSimulator, tmp_path: Path
) -> None:
    sim.history.add(ALGO, HISTORY)
    row = await track_json(tmp_path, sim.url)
    assert row["history"] == {
        "read": True,
        "reason": None,
        "since": f"{DAY}T14:30:30+00:00",
        "never_received": 3,
        "left_out": 0,
        "unreadable": 0,
    }
    # the algorithm: 1 AAA bought at 80 sold at 90, 1 BBB bought at 50 sold at 55
    assert row["algorithm_pnl"] == "15.00"
    # the account: 1 AAA still held, at its mark (its fill, 80)
    assert row["account_pnl"] == "0.00"
    assert row["gap"] == "15.00"
    assert row["parts"]["missed"] == "15.00"
    assert {k for k, v in row["parts"].items() if D(v)} == {"missed"}
    assert any("3 leg(s) never received are in the algorithm's result" in n for n in row["notes"])
    assert f"{GAPS} the algorithm's result (from the history)" in row["notes"]


@pytest.mark.usefixtures("env", "journal")
async def test_offline_is_the_journals_legs_only_and_says_so(
    sim: AlphaHubSimulator, tmp_path: Path
) -> None:
    sim.history.add(ALGO, HISTORY)
    row = await track_json(tmp_path, sim.url, "--offline")
    assert sim.history.requests == 0
    assert row["history"]["read"] is False
    assert row["history"]["reason"] == "not read (--offline)"
    assert row["algorithm_pnl"] == "0.00" and row["parts"]["missed"] == "0.00"
    note = (
        "journal's legs only: AlphaHub's history not read (--offline); legs never received and"
        " never backfilled are not counted"
    )
    assert note in row["notes"]
    assert f"{GAPS} neither result" in row["notes"]
    code, out = await track_cli(tmp_path, sim.url, "--offline")
    assert code == 0 and f"note: {note}" in out


@pytest.mark.usefixtures("env", "journal")
async def test_the_text_says_what_the_history_added(sim: AlphaHubSimulator, tmp_path: Path) -> None:
    sim.history.add(ALGO, HISTORY)
    code, out = await track_cli(tmp_path, sim.url)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"algorithm {ALGO}"
    assert lines[1].split() == ["algorithm's", "result", "+15.00"]
    assert lines[4].split() == ["missed", "+15.00"]
    assert (
        f"  note: AlphaHub's history read from {DAY} 14:30 UTC (the algorithm's first leg in the"
        " journal): 3 leg(s) never received are in the algorithm's result, valued in missed"
    ) in lines


@pytest.mark.usefixtures("env", "journal")
@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("404", "not read: the history answered HTTP 404 (Not Found)"),
        ("html", "not read: the history answered an HTML page instead of JSON"),
        ("garbage", "not read: the history answered text that is not JSON"),
        ("shape", 'not read: the history answered JSON that is not {"data": {"signals": [...]}}'),
        ("500", "not read: signal history: HTTP 500"),
    ],
)
async def test_an_odd_or_hostile_answer_is_refused_with_its_reason(
    sim: AlphaHubSimulator, tmp_path: Path, fault: str, said: str
) -> None:
    sim.history.add(ALGO, HISTORY)
    sim.history_fault(fault)
    row = await track_json(tmp_path, sim.url)
    assert row["history"]["read"] is False and row["history"]["reason"] == said
    assert row["algorithm_pnl"] == "0.00"  # the journal's legs only
    note = f"journal's legs only: AlphaHub's history {said}"
    assert any(n.startswith(note) for n in row["notes"])


@pytest.mark.usefixtures("env", "journal")
async def test_bad_legs_of_the_answer_are_left_out_and_counted(
    sim: AlphaHubSimulator, tmp_path: Path
) -> None:
    hostile = [
        {"price": "abc", "side": "buy", "symbol": "CCC", "timestamp": f"{DAY}T15:30:00"},
        {"price": 1e308, "side": "sell", "symbol": "CCC", "timestamp": f"{DAY}T15:40:00"},
        {"side": "buy", "symbol": "'; DROP TABLE entries", "timestamp": f"{DAY}T15:50:00"},
        ["not", "a", "leg"],
        hist("DDD", "buy", "15:50:00", 60) | {"timestamp": "2099-01-01T00:00:00"},  # not yet sent
    ]
    sim.history.add(ALGO, [*HISTORY, *hostile])
    row = await track_json(tmp_path, sim.url)
    assert row["history"]["never_received"] == 3
    assert row["history"]["unreadable"] == 3  # the list is not a leg the simulator keeps
    assert row["parts"]["missed"] == "15.00"
    assert "3 leg(s) of the history could not be read (left out)" in row["notes"]


@pytest.mark.usefixtures("journal")
async def test_no_credentials_or_no_alphahub_is_said_never_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> None:
    monkeypatch.delenv("ALPHAHUB_EMAIL", raising=False)
    monkeypatch.delenv("ALPHAHUB_PASSWORD", raising=False)
    row = await track_json(tmp_path, f"http://127.0.0.1:{unused_tcp_port}")
    assert row["history"]["reason"].startswith("not read: no AlphaHub credentials")
    monkeypatch.setenv("ALPHAHUB_EMAIL", EMAIL)
    monkeypatch.setenv("ALPHAHUB_PASSWORD", PASSWORD)
    row = await track_json(tmp_path, f"http://127.0.0.1:{unused_tcp_port}")
    assert row["history"]["reason"].startswith("not read: AlphaHub login failed")
    assert row["algorithm_pnl"] == "0.00"


@pytest.mark.usefixtures("journal")
async def test_a_saved_history_file_stands_in_for_alphahub(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    saved = tmp_path / "history.json"
    saved.write_text(history_text({ALGO: HISTORY}), encoding="utf-8")
    nowhere = f"http://127.0.0.1:{unused_tcp_port}"  # never asked: the FILE is the history
    row = await track_json(tmp_path, nowhere, "--history", str(saved))
    assert row["history"]["read"] is True and row["history"]["never_received"] == 3
    assert row["parts"]["missed"] == "15.00" and row["algorithm_pnl"] == "15.00"
    # a FILE without the algorithm: said, the journal's legs only
    saved.write_text(history_text({ALGO + 1: HISTORY}), encoding="utf-8")
    row = await track_json(tmp_path, nowhere, "--history", str(saved))
    assert row["history"]["reason"] == f"not read: {saved} holds no history of it"


@pytest.mark.usefixtures("journal")
@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("[1, 2]", "one history answer per algorithm id"),
        ('{"5": {"data": {"signals": [{"pri', "not JSON"),
        (
            '{"5": {"signals": []}}',
            'algorithm 5\'s answer is JSON that is not {"data": {"signals": [...]}}',
        ),
        ('{"abc": {}}', "'abc' is not an algorithm id"),
    ],
)
async def test_a_history_file_that_is_not_one_is_refused_with_a_reason(
    tmp_path: Path, content: str, said: str
) -> None:
    saved = tmp_path / "history.json"
    saved.write_text(content, encoding="utf-8")
    code, out = await track_cli(tmp_path, "http://127.0.0.1:9", "--history", str(saved))
    assert code == 2 and said in out


@pytest.mark.usefixtures("journal")
async def test_offline_and_a_history_file_do_not_go_together(tmp_path: Path) -> None:
    saved = tmp_path / "history.json"
    saved.write_text(history_text({ALGO: HISTORY}), encoding="utf-8")
    nowhere = "http://127.0.0.1:9"
    code, out = await track_cli(tmp_path, nowhere, "--offline", "--history", str(saved))
    assert code == 2 and "--offline reads no history" in out
    code, out = await track_cli(tmp_path, nowhere, "--coverage", "--history", str(saved))
    assert code == 2 and "not with --coverage" in out
