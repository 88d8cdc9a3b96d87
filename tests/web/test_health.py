"""``tradebot dashboard`` alone: /healthz and /readyz judge by the bot's status file (or say they
cannot) and the kill switch's file; /metrics belongs to the running bot's own server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from tests.web.conftest import served
from tradebot.runtime.killswitch import write_kill_switch
from tradebot.runtime.status import AlgoLine, StatusBoard, status_path, write_status
from tradebot.web.sources import Sources


def board(*, state: str = "running", age: float = 0, joined: int = 1) -> StatusBoard:
    now = datetime.now(UTC)
    status = StatusBoard("paper", "sim", "acct", 1, "j.sqlite", now, state=state)
    status.updated_at = now - timedelta(seconds=age)
    status.algos[17] = AlgoLine(17, "minotaur", joined=joined)
    return status


def health(tmp_path: Path, status: StatusBoard | None, which: str = "healthz") -> requests.Response:
    journal = tmp_path / "j.sqlite"
    path = status_path(journal)
    if status is not None:
        write_status(path, status.as_dict())
    switch = tmp_path / "tradebot.halt"
    sources = Sources(journal_path=journal, status_path=path, kill_switch_path=switch)
    with served(sources) as handle:
        assert handle.url
        return requests.get(handle.url + which, timeout=10)


def halt(tmp_path: Path, *, reduce_only: bool = False) -> None:
    write_kill_switch(
        tmp_path / "tradebot.halt", reduce_only=reduce_only, reason="test", now=datetime.now(UTC)
    )


def test_a_fresh_status_of_a_subscribed_running_bot_is_healthy(tmp_path: Path) -> None:
    answer = health(tmp_path, board())
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "source": "status file",
        "kill_switch": "off",
        "checks": {"bot": "ok", "subscriptions": "ok"},
        "failing": {},
    }


def test_stale_stopped_or_unsubscribed_is_503_with_the_failing_check(tmp_path: Path) -> None:
    stale = health(tmp_path, board(age=120))
    assert stale.status_code == 503
    assert stale.json()["failing"]["bot"].startswith(
        "the bot is not responding: no heartbeat for 120 s"
    )
    stopped = health(tmp_path, board(state="stopped"))
    assert stopped.status_code == 503
    assert stopped.json()["failing"] == {"bot": "the bot is stopped: it stopped cleanly"}
    alone = health(tmp_path, board(joined=0))
    assert alone.status_code == 503
    assert alone.json()["failing"] == {
        "subscriptions": "not subscribed on any connection: algorithm 17"
    }


def test_no_status_file_cannot_judge(tmp_path: Path) -> None:
    answer = health(tmp_path, None)
    assert answer.status_code == 503
    assert answer.json()["failing"]["status"].startswith("cannot judge: no status at")


def test_metrics_are_the_running_bots(tmp_path: Path) -> None:
    with served(Sources(journal_path=tmp_path / "j.sqlite")) as handle:
        assert handle.url
        answer = requests.get(handle.url + "metrics", timeout=10)
    assert answer.status_code == 404
    assert "running bot" in answer.json()["error"]


def test_halted_is_said_and_still_200(tmp_path: Path) -> None:
    assert health(tmp_path, board()).json()["status"] == "ok"
    halt(tmp_path)
    answer = health(tmp_path, board())
    assert answer.status_code == 200
    assert answer.json()["status"] == "halted" and answer.json()["kill_switch"] == "halt"
    halt(tmp_path, reduce_only=True)  # reduce-only is not halted
    answer = health(tmp_path, board())
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert answer.json()["kill_switch"] == "reduce_only"


def test_a_halted_bot_with_a_failing_check_is_503(tmp_path: Path) -> None:
    halt(tmp_path)
    answer = health(tmp_path, board(joined=0))
    assert answer.status_code == 503 and answer.json()["status"] == "failing"


def test_readyz_is_200_when_subscribed_and_not_halted(tmp_path: Path) -> None:
    answer = health(tmp_path, board(), "readyz")
    assert answer.status_code == 200
    assert answer.json() == {"ready": True, "kill_switch": "off", "why": []}
    halt(tmp_path, reduce_only=True)  # closes still go out: ready
    assert health(tmp_path, board(), "readyz").status_code == 200


def test_readyz_is_503_while_halted(tmp_path: Path) -> None:
    halt(tmp_path)
    answer = health(tmp_path, board(), "readyz")
    assert answer.status_code == 503
    assert answer.json() == {
        "ready": False,
        "kill_switch": "halt",
        "why": ["halted by the kill switch"],
    }


def test_readyz_is_503_while_not_subscribed_or_not_running(tmp_path: Path) -> None:
    alone = health(tmp_path, board(joined=0), "readyz")
    assert alone.status_code == 503
    assert alone.json()["why"] == ["subscriptions: not subscribed on any connection: algorithm 17"]
    silent = health(tmp_path, board(age=120), "readyz")
    assert silent.status_code == 503 and silent.json()["why"][0].startswith(
        "bot: the bot is not responding"
    )
    nothing = health(tmp_path, None, "readyz")
    assert nothing.status_code == 503
