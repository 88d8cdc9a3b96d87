"""After a restart, each algorithm's last signal is read from the journal: ``tradebot status``
and the Now page never say "no signal yet" for an algorithm the journal has a signal of."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

from tests.execution.fixed_planner import make_signal
from tradebot.alphahub.listener import Listener
from tradebot.config.model import AlphaHubConfig, Config, Mode
from tradebot.journal import open_journal
from tradebot.runtime.killswitch import HaltMode, KillSwitchState
from tradebot.runtime.status import read_status, render
from tradebot.runtime.status_feed import StatusFeed
from tradebot.web.views import now_view

AT = datetime(2026, 11, 24, 14, 30, 5, tzinfo=UTC)
CONFIG = Config.model_validate(
    {
        "algorithms": {
            a: {"name": f"A{a}", "strategy": "percent_of_equity", "params": {"pct": 10}}
            for a in (7, 8)
        }
    }
)


def test_the_last_signal_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with open_journal(path) as journal:  # the bot before its restart
        journal.record_signal(make_signal(7, opens=(("AAPL", "buy", "100"),), received_at=AT))
    with open_journal(path) as journal:  # the bot after it: nothing in memory
        feed = StatusFeed(
            journal,
            Listener(AlphaHubConfig(), (7, 8)),
            CONFIG,
            mode=Mode.PAPER,
            broker="sim",
            account="SIM",
            journal_path=path,
            kill_switch=lambda: KillSwitchState(HaltMode.RUNNING),
            out=io.StringIO(),
            interval=60,
        )
        asyncio.run(feed.refresh())
        view = now_view(journal, datetime.now(UTC))
    _raw, document = read_status(feed.path)
    status = document.model_dump(mode="json")
    [seven, eight] = status["algorithms"]
    assert datetime.fromisoformat(seven["last_signal_at"]) == AT
    assert "0 close, 1 open" in seven["last_signal"]
    assert eight["last_signal_at"] is None  # no signal on record: said so
    lines = render(status).splitlines()
    assert "no signal yet" not in next(line for line in lines if " A7 " in line)
    assert "no signal yet" in next(line for line in lines if " A8 " in line)
    assert view["last_signals"][7]["at"] == AT.strftime("%Y-%m-%d %H:%M:%S")
    assert 8 not in view["last_signals"]
