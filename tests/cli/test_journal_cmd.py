"""``tradebot journal`` on a generated journal: filters, formats parsed back, --follow live."""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.journal.generate import Generated, generate
from tests.pgserver import PgServer
from tradebot.cli.main import cli, main
from tradebot.journal import open_journal


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gen(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """The generated journal on each backend: the commands read it through the protocol."""
    if request.param == "sqlite":
        return generate(tmp_path_factory.mktemp("gen") / "journal.sqlite")
    server: PgServer = request.getfixturevalue("pg_server")
    return generate(server.create_database())


def run(gen: Generated, *args: str) -> str:
    result = CliRunner().invoke(cli, ["journal", "--journal", str(gen.path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(gen: Generated, *args: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(run(gen, "--format", "json", *args))
    return rows


def test_newest_first_and_everything_is_there(gen: Generated) -> None:
    rows = as_json(gen)
    stamps = [str(r["at"]) for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    kinds = {r["status"] for r in rows}
    assert {
        "start",
        "config",
        "signal",
        "leg",
        "plan",
        "intent",
        "submitted",
        "accepted",
        "filled",
        "rejected",
        "skipped",
        "gap",
        "error",
        "stop",
    } <= kinds
    assert rows[0]["status"] == "stop"


def test_table_has_a_header_and_one_line_per_row(gen: Generated) -> None:
    lines = run(gen, "--algo", "2").splitlines()
    assert lines[0].split()[:4] == ["ID", "AT", "STATUS", "ALGO_ID"]
    assert len(lines) == 1 + len(as_json(gen, "--algo", "2"))
    assert any("insufficient buying power" in line for line in lines)


def test_filters(gen: Generated) -> None:
    assert {r["algo_id"] for r in as_json(gen, "--algo", "1")} == {1}
    assert {r["symbol"] for r in as_json(gen, "--symbol", "aapl")} == {"AAPL"}
    rejected = as_json(gen, "--status", "rejected")
    assert [r["detail"] for r in rejected] == ["insufficient buying power"]
    coid = gen.coid(0)
    statuses = [r["status"] for r in as_json(gen, "--client-order-id", coid)][::-1]
    assert statuses == ["intent", "submitted", "accepted", "filled"]
    two = as_json(gen, "--status", "skipped", "--status", "rejected")
    assert sorted(str(r["status"]) for r in two) == ["rejected", "skipped"]


def test_since_and_until(gen: Generated) -> None:
    everything = as_json(gen)
    middle = sorted(str(r["at"]) for r in everything)[len(everything) // 2]
    newer = as_json(gen, "--since", middle)
    older = as_json(gen, "--until", middle)
    assert newer and older and len(newer) + len(older) == len(everything)
    assert all(str(r["at"]) >= middle for r in newer)
    assert all(str(r["at"]) < middle for r in older)
    assert as_json(gen, "--since", "2d") == []  # the generated journal is from January 2026
    assert len(as_json(gen, "--since", "5000d")) == len(everything)


def test_csv_parses_back_exactly(gen: Generated) -> None:
    text = run(gen, "--format", "csv", "--status", "filled")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [Decimal(r["price"]) for r in rows] == [Decimal("109.99"), Decimal("100.01")]
    assert [r["side"] for r in rows] == ["sell", "buy"]
    assert json.loads(rows[0]["data"])["cum_qty"] == "10"
    assert rows[0]["client_order_id"] == gen.coid(1)


def test_limit(gen: Generated) -> None:
    assert len(as_json(gen, "--limit", "3")) == 3


def test_bad_input_and_missing_journal(gen: Generated, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["journal", "--journal", str(gen.path), "--since", "soon"])
    assert result.exit_code == 2 and "not a date" in result.output
    assert main(["journal", "--journal", str(tmp_path / "none.sqlite")]) == 4


def test_a_foreign_file_is_an_error_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    path.write_text("hello")
    assert main(["journal", "--journal", str(path)]) == 4
    assert path.read_text() == "hello"


def _reader(stream: io.TextIOBase, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def test_follow_prints_new_rows_live_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with open_journal(path) as journal:
        journal.record_start("first")
        cmd = [
            sys.executable,
            "-m",
            "tradebot",
            "journal",
            "--journal",
            str(path),
            "--follow",
            "--format",
            "json",
            "--interval",
            "0.05",
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        try:
            assert json.loads(lines.get(timeout=30))["detail"] == "first"
            journal.record_gap("second")
            journal.record_stop("third")
            assert json.loads(lines.get(timeout=30))["detail"] == "second"
            assert json.loads(lines.get(timeout=30))["detail"] == "third"
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=30)
    assert code == 0, proc.stderr.read() if proc.stderr else ""


def test_the_journal_is_found_through_the_config_relative_to_its_folder(
    gen: Generated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "bot"
    (folder / "data").mkdir(parents=True)
    if isinstance(gen.path, Path):
        (folder / "data" / "j.sqlite").write_bytes(gen.path.read_bytes())
        (folder / "config.yaml").write_text("journal:\n  path: data/j.sqlite\n")
    else:  # journal.url: the server's journal, whatever journal.path says
        (folder / "config.yaml").write_text(f"journal:\n  path: none.sqlite\n  url: {gen.path}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    args = ["journal", "--config", str(folder / "config.yaml"), "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == len(as_json(gen))
    monkeypatch.chdir(folder)  # ./config.yaml is used when present
    result = CliRunner().invoke(cli, ["journal", "--status", "stop", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [r["detail"] for r in json.loads(result.stdout)] == ["stopped by the user"]
