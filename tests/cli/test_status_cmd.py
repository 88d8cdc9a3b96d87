"""``tradebot status``: never a traceback; says when the bot that wrote the status is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.test_status import GARBAGE, board
from tradebot.cli.main import main
from tradebot.runtime.process import start_ticks


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("journal:\n  path: j.sqlite\n", encoding="utf-8")
    return path


def status_file(config: Path) -> Path:
    return config.parent / "j.sqlite.status.json"


def run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["status", "--config", str(config), *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def write(config: Path, **changes: Any) -> None:
    document = {**board(), "state": "running", "updated_at": datetime.now(UTC).isoformat()}
    status_file(config).write_text(json.dumps({**document, **changes}), encoding="utf-8")


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_gives_a_message_and_exit_1(
    config: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    content, why = GARBAGE[name]
    status_file(config).write_bytes(content)
    code, _, err = run(capsys, config)
    assert code == 1
    assert "is not a status file" in err and why in err


def test_a_directory_at_the_status_path(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status_file(config).mkdir()
    code, _, err = run(capsys, config)
    assert code == 1 and "Is a directory" in err


def test_a_live_bot_is_shown(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(config)  # this process wrote it, and runs
    code, out, err = run(capsys, config)
    assert code == 0 and "tradebot running | PAPER" in out and err == ""


def test_a_bot_whose_process_is_gone_is_not_responding(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    written = "2026-11-24T15:00:00+00:00"
    write(config, pid=int(gone.stdout), process_start=None, updated_at=written)
    for args in ((), ("--json",)):
        code, out, err = run(capsys, config, *args)
        assert code == 1
        # gone without a clean stop: a crash, never shown as a stop
        assert f"tradebot is not responding: process {int(gone.stdout)} is gone" in err
        assert "without a clean stop (killed or crashed)" in err
        assert f"last written {written}" in err
        assert out  # the last status is still shown


def test_a_reused_pid_is_not_the_bot(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = start_ticks(os.getpid())
    assert started is not None  # Linux /proc
    write(config, pid=os.getpid(), process_start=started - 1)
    code, _, err = run(capsys, config)
    assert code == 1 and "is another program now" in err


def test_a_cleanly_stopped_bot_says_so(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(config, state="stopped")
    code, _, err = run(capsys, config)
    assert code == 0 and "tradebot is not running: it stopped" in err


def _shared(tmp_path: Path, pg_url: str) -> Path:
    """A leader (epoch 1) on hostA and a standby on hostB sharing a PostgreSQL journal."""
    from tradebot.journal.postgres import ProcessBeat, open_postgres

    config = tmp_path / "config.yaml"
    config.write_text(f"journal:\n  path: j.sqlite\n  url: {pg_url}\n", encoding="utf-8")
    with open_postgres(pg_url) as store:
        assert store.take_lead("hostA:101:1", 60) == 1
        store.beat(ProcessBeat("hostA:101:1", "hostA", 101, "leader", "2/2 joined"))
        store.beat(ProcessBeat("hostB:202:1", "hostB", 202, "standby", "1/2 joined"))
    return config


def _age_heartbeat(pg_url: str, holder: str, seconds: float) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE tradebot_processes SET heartbeat_at = now() - make_interval(secs => %s) "
            "WHERE holder = %s",
            (seconds, holder),
        )


def test_every_process_sharing_a_postgresql_journal_is_listed(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _shared(tmp_path, pg_url)
    write(config, role="leader", epoch=1)
    code, out, _ = run(capsys, config)
    assert code == 0
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["hostA"].split()[0] == "leader" and "epoch 1" in lines["hostA"]
    assert "running" in lines["hostA"] and "2/2 joined" in lines["hostA"]
    assert lines["hostB"].split()[0] == "standby" and "pid 202" in lines["hostB"]
    assert "standby" in lines["hostB"].split()[4] and "epoch" not in lines["hostB"]
    assert "heartbeat 0 s ago" in lines["hostB"]
    assert "tradebot running" in out  # and the status board as before


def test_status_json_lists_the_leader_and_the_standby(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _shared(tmp_path, pg_url)
    write(config, role="leader", epoch=1)
    code, out, _ = run(capsys, config, "--json")
    assert code == 0
    document = json.loads(out)
    # the running one's fields stay at the top level, as before
    assert document["state"] == "running" and document["mode"] == "paper"
    assert document["role"] == "leader" and document["epoch"] == 1
    assert document["heartbeat_age"] < 5
    leader, standby = document["processes"]
    assert {k: leader[k] for k in ("role", "host", "pid", "state", "epoch")} == {
        "role": "leader",
        "host": "hostA",
        "pid": 101,
        "state": "running",
        "epoch": 1,
    }
    assert {k: standby[k] for k in ("role", "host", "pid", "state", "epoch")} == {
        "role": "standby",
        "host": "hostB",
        "pid": 202,
        "state": "standby",
        "epoch": None,
    }
    assert 0 <= standby["heartbeat_age"] < 5
    # a standby on another host three beats late: not responding, by its age alone
    _age_heartbeat(pg_url, "hostB:202:1", 16)
    code, out, _ = run(capsys, config, "--json")
    late = json.loads(out)["processes"][1]
    assert late["state"] == "not responding" and late["heartbeat_age"] >= 16
    assert "no heartbeat for 16 s" in late["why"]


def test_a_sole_bot_is_one_process_in_status_json(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(config)
    code, out, _ = run(capsys, config, "--json")
    document = json.loads(out)
    assert code == 0 and document["state"] == "running" and document["role"] == "sole"
    (only,) = document["processes"]
    assert only["role"] == "sole" and only["pid"] == os.getpid() and only["state"] == "running"


def test_a_silent_bot_is_not_responding(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    late = datetime.now(UTC) - timedelta(seconds=16)  # three 5 s beats missed
    write(config, updated_at=late.isoformat())
    code, out, err = run(capsys, config, "--json")
    assert code == 1 and "tradebot is not responding: no heartbeat for 16 s" in err
    assert json.loads(out)["state"] == "not responding"
    assert json.loads(out)["state_written"] == "running"
    on_time = datetime.now(UTC) - timedelta(seconds=12)  # two missed: still running
    write(config, updated_at=on_time.isoformat())
    code, out, _ = run(capsys, config)
    assert code == 0 and "tradebot running" in out


def test_the_writers_own_heartbeat_interval_is_honoured(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = datetime.now(UTC) - timedelta(seconds=7)  # fine at 5 s beats, late at 2 s beats
    write(config, updated_at=late.isoformat(), heartbeat_every=2.0)
    code, out, _ = run(capsys, config, "--json")
    assert code == 1 and json.loads(out)["state"] == "not responding"
    write(config, updated_at=late.isoformat(), heartbeat_every=5.0)
    code, out, _ = run(capsys, config, "--json")
    assert code == 0 and json.loads(out)["state"] == "running"
