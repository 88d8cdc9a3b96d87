"""The dashboard's Tracking page: ``tradebot track``'s figures per algorithm, and a chart of the
algorithm's realised P&L beside the account's (uPlot's columns, as the Performance chart)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from tradebot.journal.interface import Journal
from tradebot.journal.records import from_micros
from tradebot.journal.review import money_text
from tradebot.tracking.render import as_dict
from tradebot.tracking.track import DEFAULT_EQUITY, track

#: at most this many points per curve (the newest kept)
POINTS = 1500


def tracking_view(journal: Journal, config: Any, account: str | None = None) -> dict[str, Any]:
    """Per algorithm: its figures (``--format json``'s), its parts with their basis points as
    text, and the chart's columns: one x axis of seconds, per algorithm the algorithm's
    realised P&L and the account's, carried forward between trades (floats only for drawing).
    ``account``: the account tracked (``tradebot track --account``); None: the only one."""
    tracked = track(journal, config, equity=DEFAULT_EQUITY, with_curves=True, account=account)
    rows = []
    for t in tracked:
        figures = as_dict(t)
        parts = [
            {
                "name": name,
                "money": money,
                "bps": figures["parts_bps"][name],
            }
            for name, money in figures["parts"].items()
        ]
        rows.append(figures | {"part_rows": parts})
    times = sorted({at for t in tracked for curve in t.curves for at, _ in curve})[-POINTS:]
    if not times:
        return {**untracked(), "rows": rows}
    labels, series = [], []
    for t in tracked:
        for name, curve in zip(("algorithm", "account"), t.curves, strict=True):
            labels.append(f"{t.decomposition.algo_id} {name}")
            series.append(_carried(curve, times))
    return {
        "rows": rows,
        "equity": money_text(DEFAULT_EQUITY),
        "chart": {
            "labels": labels,
            "data": [[from_micros(at).timestamp() for at in times], *series],
        },
    }


def untracked() -> dict[str, Any]:
    """The page's figures when none are computed (a journal of several accounts)."""
    return {"rows": [], "equity": money_text(DEFAULT_EQUITY), "chart": None}


def _carried(curve: list[tuple[int, Decimal]], times: list[int]) -> list[float]:
    """The curve's value at each time: its last point at or before it (0 before its first)."""
    out, value, i = [], Decimal(0), 0
    for at in times:
        while i < len(curve) and curve[i][0] <= at:
            value = curve[i][1]
            i += 1
        out.append(float(value))  # for drawing only, never for money
    return out


class TrackingCache:
    """The Tracking page's figures, computed off the request, so the page never waits long.

    ``tradebot track`` replays every leg of the journal: seconds on a large one, far past what a
    page may take. A request uses the last figures while they are younger than ``max_age``
    seconds; older (or none yet), it starts one computation (never two at once) and waits for
    it at most ``budget`` seconds: a small journal is answered fresh, a large one gets the last
    figures, marked as being refreshed, or, the first time, a page that says they are being
    computed. A computation that fails is told to the request that waits for it, and the next
    request tries again.
    """

    def __init__(
        self,
        compute: Callable[[], Awaitable[dict[str, Any]]],
        *,
        max_age: float = 60.0,
        budget: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._max_age = max_age
        self._budget = budget
        self._clock = clock
        self._view: dict[str, Any] | None = None
        self._at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def get(self) -> dict[str, Any]:
        if self._view is not None and self._clock() - self._at < self._max_age:
            return self._shown()
        task = self._task
        if task is None:
            task = self._task = asyncio.create_task(self._refresh())
        done, _ = await asyncio.wait({task}, timeout=self._budget)
        if done:
            task.result()  # a failure is this request's to report
        if self._view is None:
            return {
                "rows": [],
                "chart": None,
                "equity": money_text(DEFAULT_EQUITY),
                "computing": True,
            }
        return self._shown()

    async def wait(self) -> None:
        """Until the computation under way (if any) has ended."""
        if self._task is not None:
            await asyncio.wait({self._task})

    async def _refresh(self) -> None:
        try:
            view = await self._compute()
            self._view, self._at = view, self._clock()
        finally:
            self._task = None

    def _shown(self) -> dict[str, Any]:
        assert self._view is not None
        age = round(self._clock() - self._at)
        return self._view | {"computed_ago": age, "refreshing": self._task is not None}
