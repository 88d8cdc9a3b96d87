"""The coverage audit in the running bot: the gauge ``tradebot_history_coverage_ratio{algo}``
scraped over HTTP from the dashboard's /metrics, and the daily summary's line (sent to a real
HTTP receiver), both from the simulator's scripted history and a real journal."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.alphahub.conftest import fast_settings, leg
from tests.runtime.test_alerts import notify_yaml, receiving
from tests.tracking.test_coverage_audit import DAY2, at, scripted
from tests.web.conftest import served
from tests.web.test_served_dashboard import DEADLINE, get, running_bot, until_ok
from tradebot.config.model import NotifyTarget
from tradebot.journal import open_journal
from tradebot.journal.interface import Journal
from tradebot.runtime.alerts import Alerts
from tradebot.runtime.history_coverage import GAUGE, HistoryCoverage
from tradebot.runtime.metrics import BotMetrics
from tradebot.simulators.alphahub import AlphaHubSimulator
from tradebot.web.sources import Sources

SINCE, UNTIL = at(DAY2, "00:00"), at(DAY2, "23:00")


@pytest.fixture
async def sim() -> AsyncIterator[AlphaHubSimulator]:
    async with AlphaHubSimulator() as simulator:
        yield simulator


def audited(journal: Journal, sim: AlphaHubSimulator, metrics: BotMetrics) -> HistoryCoverage:
    return HistoryCoverage(
        metrics.registry,
        journal=lambda: journal,
        settings=lambda: fast_settings(sim.url),
        algorithms=lambda: (16,),
    )


def samples(text: str) -> dict[str, float]:
    return {
        m[1]: float(m[2])
        for m in re.finditer(rf'^{GAUGE}\{{algo="(\d+)"\}} (\S+)$', text, re.MULTILINE)
    }


async def test_the_gauge_is_scraped_over_http_and_absent_without_the_history(
    sim: AlphaHubSimulator, tmp_path: Path
) -> None:
    metrics = BotMetrics()
    path = tmp_path / "j.sqlite"
    with open_journal(path) as journal:
        scripted(sim, journal)  # day 2: 4 legs, 1 live, 1 backfilled, 1 late, 1 missed
        history = audited(journal, sim, metrics)
        await history.audit(SINCE, UNTIL)
        with served(Sources(path, metrics=metrics.render)) as handle:
            assert handle.url is not None
            scraped = await asyncio.to_thread(requests.get, handle.url + "metrics", timeout=10)
            assert samples(scraped.text) == {"16": 0.5}
            sim.history_fault("404")
            await history.audit(SINCE, UNTIL)
            scraped = await asyncio.to_thread(requests.get, handle.url + "metrics", timeout=10)
            assert f"# HELP {GAUGE} " in scraped.text
            assert samples(scraped.text) == {}  # never a guessed value


async def test_the_daily_summary_has_the_coverage_line_naming_the_legs(
    sim: AlphaHubSimulator, tmp_path: Path
) -> None:
    start = at(DAY2, "14:00")
    clock = [start]
    with receiving() as receiver, open_journal(tmp_path / "j.sqlite") as journal:
        scripted(sim, journal)
        history = audited(journal, sim, BotMetrics())
        target = NotifyTarget(url=receiver.url, events=("daily_summary",), daily_summary_at="16:01")
        alerts = Alerts(
            [target],
            coalesce=0.05,
            journal=lambda: journal,
            now=lambda: clock[0],
            history=history.summary_line,
        )
        worker = asyncio.create_task(alerts.run())
        try:
            async with asyncio.timeout(DEADLINE):  # the baseline is read on the first tick
                while alerts._summaries[0].before is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            clock[0] = start + timedelta(hours=2, minutes=1, seconds=5)
            (message,) = await receiver.wait_for(1)
        finally:
            worker.cancel()
    assert message["message"].splitlines()[-1] == (
        "history coverage: algorithm 16 50% (lacking 16 buy NVDA 2021-04-27T15:30:00+00:00 "
        "(late); 16 sell VRTX 2021-04-27T16:00:00+00:00 (missed))"
    )


async def test_the_running_bot_serves_the_gauge(tmp_path: Path) -> None:
    """Wired in: the bot audits at start (nothing in the history yet: covered) and /metrics
    shows it."""
    async with running_bot(tmp_path) as run:
        handle = run.plugged.dashboard.handle
        assert handle is not None and handle.url
        url = handle.url + "metrics"

        async def shown() -> bool:
            return samples((await get(url)).text) == {"17": 1.0}

        await until_ok(shown)


async def test_the_running_bot_summary_line_reads_its_own_history(tmp_path: Path) -> None:
    """The bot's alerts audit with the bot's own AlphaHub settings: a leg in the history that
    the bot never received is named."""
    with receiving() as receiver:
        extra = notify_yaml((receiver.url, "daily_summary"))
        async with running_bot(tmp_path, extra=extra) as run:
            now = datetime.now(UTC).replace(microsecond=0)
            stamp = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
            run.hub.history.add(17, [leg("NVDA", "buy", stamp)])
            assert run.plugged.alerts is not None
            history = run.plugged.alerts._history
            assert history is not None
            line = await history(now - timedelta(hours=1), now)
            assert run.hub.logins == 1  # the listener's session, no login of its own
    assert line == (
        f"history coverage: algorithm 17 0% (lacking 17 buy NVDA {stamp}+00:00 (missed))"
    )
