"""The coverage audit (:mod:`tradebot.tracking.coverage`) in the running bot: the gauge
``tradebot_history_coverage_ratio{algo}`` and the daily summary's ``history coverage:`` line.

:meth:`HistoryCoverage.run` (a bot task) audits the last :data:`WINDOW` every :data:`EVERY`
seconds (one history read per algorithm each time, off the loop) and sets the gauge to each
algorithm's ratio over it: 1 when every leg of AlphaHub's history in that window reached the
journal in time (live or by backfill), lower when one was missed or recovered too late. An
algorithm whose history cannot be read has no sample (absent, never a guessed 1 or 0): the
journal alone cannot know what it lacks. :meth:`HistoryCoverage.summary_line` audits the
summary's own period, updates the gauge too, and answers the line. Nothing here raises into
the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Gauge

from tradebot.alphahub.auth import TokenSource
from tradebot.clock import utcnow
from tradebot.config.alphahub_section import AlphaHubConfig
from tradebot.exceptions import TradebotError
from tradebot.journal.interface import Journal
from tradebot.tracking.coverage import Coverage, summary_line
from tradebot.tracking.coverage_sources import coverage_of

log = logging.getLogger(__name__)

GAUGE = "tradebot_history_coverage_ratio"
#: the gauge's window, and how often it is audited again (seconds)
WINDOW = timedelta(hours=24)
EVERY = 3600.0


class HistoryCoverage:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        journal: Callable[[], Journal | None],
        settings: Callable[[], AlphaHubConfig | None],
        unread: str = "not read (alphahub.backfill: off)",
        tokens: Callable[[], TokenSource | None] = lambda: None,
        algorithms: Callable[[], Sequence[int]],
        now: Callable[[], datetime] = utcnow,
        every: float = EVERY,
        ready: asyncio.Event | None = None,
    ) -> None:
        self.gauge = Gauge(
            GAUGE,
            "Share of AlphaHub's history legs the journal got in time (live or by backfill), "
            "over the last 24 hours; absent when the history cannot be read",
            ["algo"],
            registry=registry,
        )
        self._journal = journal
        self._settings = settings
        self._unread = unread
        self._tokens = tokens  # the listener's session: no login of our own
        self._algorithms = algorithms
        self._now = now
        self._every = every
        self._ready = ready  # set once the bot's journal and listener are up
        self.audits = 0  # audits finished (tests wait on it)

    async def audit(self, since: datetime, until: datetime) -> Coverage | None:
        """The audit of ``since``..``until``, the gauge set from it; None when the journal is
        not open yet or the audit failed (logged)."""
        journal = self._journal()
        if journal is None:
            return None
        try:
            settings, unread = self._settings(), self._unread
            tokens = self._tokens() if settings is not None else None
            token = None
            if tokens is not None:
                try:
                    token = (await tokens.get()).value.get_secret_value()
                except TradebotError as exc:  # the login refused or unreachable: said
                    settings, unread = None, f"not read: {exc}"
            coverage = await asyncio.to_thread(
                functools.partial(coverage_of, unread=unread, token=token),
                journal,
                settings,
                list(self._algorithms()),
                since,
                until,
            )
        except asyncio.CancelledError:
            raise
        except Exception:  # an audit must never stop the bot (a login refused: logged)
            log.exception("the history coverage audit failed")
            return None
        finally:
            self.audits += 1
        self.set_gauge(coverage)
        return coverage

    def set_gauge(self, coverage: Coverage) -> None:
        for algo in coverage.algorithms:
            label = str(algo.algo_id)
            if algo.ratio is None:
                with contextlib.suppress(KeyError):  # never set
                    self.gauge.remove(label)
            else:
                self.gauge.labels(label).set(float(algo.ratio))

    async def summary_line(self, since: datetime, until: datetime) -> str | None:
        coverage = await self.audit(since, until)
        return None if coverage is None else summary_line(coverage)

    async def run(self) -> None:
        """The bot task: the gauge's audit, once the journal is open, then every ``every``
        seconds."""
        if self._ready is not None:
            await self._ready.wait()
        while True:
            now = self._now()
            await self.audit(now - WINDOW, now)
            await asyncio.sleep(self._every)
