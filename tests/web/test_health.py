"""``tradebot dashboard`` alone: /healthz judges by the bot's status file (or says it cannot);
/metrics belongs to the running bot's own server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from tests.web.conftest import served
from tradebot.runtime.status import AlgoLine, StatusBoard, status_path, write_status
from tradebot.web.sources import Sources


def board(*, state: str = "running", age: float = 0, joined: int = 1) -> StatusBoard:
    now = datetime.now(UTC)
    status = StatusBoard("paper", "sim", "acct", 1, "j.sqlite", now, state=state)
    status.updated_at = now - timedelta(seconds=age)
    status.algos[17] = AlgoLine(17, "minotaur", joined=joined)
    return status


def health(tmp_path: Path, status: StatusBoard | None) -> requests.Response:
    journal = tmp_path / "j.sqlite"
    path = status_path(journal)
    if status is not None:
        write_status(path, status.as_dict())
    with served(Sources(journal_path=journal, status_path=path)) as handle:
        assert handle.url
        return requests.get(handle.url + "healthz", timeout=10)


def test_a_fresh_status_of_a_subscribed_running_bot_is_healthy(tmp_path: Path) -> None:
    answer = health(tmp_path, board())
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "source": "status file",
        "checks": {"bot": "ok", "subscriptions": "ok"},
        "failing": {},
    }


def test_stale_stopped_or_unsubscribed_is_503_with_the_failing_check(tmp_path: Path) -> None:
    stale = health(tmp_path, board(age=120))
    assert stale.status_code == 503
    assert stale.json()["failing"]["bot"].startswith("the status file is not fresh")
    stopped = health(tmp_path, board(state="stopped"))
    assert stopped.status_code == 503
    assert stopped.json()["failing"] == {"bot": "the bot is stopped"}
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
