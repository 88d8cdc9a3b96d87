"""Server-sent events: each journal row, rendered as a table row, as soon as it is journaled.

The journal is tailed by row id (``after_id``) in the dashboard's reader threads, every
:data:`POLL` seconds, or at once when the running bot's :class:`~.sources.LiveFeed` says it
wrote. A reconnecting browser sends ``Last-Event-ID`` and misses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from tradebot.exceptions import TradebotError
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Entry
from tradebot.web.accounts import UnknownAccount, picked
from tradebot.web.query import BadQuery, whole
from tradebot.web.sources import Sources
from tradebot.web.views import account_rows

#: seconds between journal polls when no in-process feed wakes the stream
POLL = 0.2
#: seconds between keep-alive comments on an idle stream (proxies close silent ones)
KEEPALIVE = 15.0
#: rows sent in one burst
BURST = 200


class LiveEvents:
    """The ``events`` endpoint; ``render`` turns one entry into the HTML the page inserts."""

    def __init__(self, sources: Sources, render: Callable[[Entry], str]) -> None:
        self.sources = sources
        self.render = render

    async def endpoint(self, request: Request) -> Response:
        """Rows after ``Last-Event-ID`` (sent by a reconnecting browser) or ``?after=ID``;
        with neither, from now on. ``?account=NAME``: that account's rows and the shared ones
        (:mod:`.accounts`)."""
        start = request.headers.get("last-event-id") or request.query_params.get("after", "")
        try:
            after = whole(start, "after")
            account = picked(request.query_params, self.sources.config)
        except BadQuery as exc:
            code = 404 if isinstance(exc, UnknownAccount) else 400
            return PlainTextResponse(str(exc), status_code=code)
        return StreamingResponse(
            self.stream(request, after, account_rows(account)),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},  # nginx: do not hold events back
        )

    async def stream(
        self, request: Request, after: int | None, accounts: tuple[str, ...] = ()
    ) -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        last = after
        while not await request.is_disconnected():
            try:
                if last is None:
                    last = await self.sources.read(lambda j: j.last_id())
                rows = await self.sources.read(partial(_rows_after, last, accounts))
            except TradebotError:
                rows = []  # no journal yet: the bot has not written one; keep waiting
            for entry in rows:
                lines = self.render(entry).splitlines() or [""]
                data = "".join(f"data: {line}\n" for line in lines)
                yield f"event: entry\nid: {entry.id}\n{data}\n"
                last = entry.id
            if rows:
                quiet_since = loop.time()
                continue  # a burst may have more behind it
            if loop.time() - quiet_since > KEEPALIVE:
                yield ": keep-alive\n\n"
                quiet_since = loop.time()
            if self.sources.feed is not None:
                await self.sources.feed.wait(POLL)
            else:
                await asyncio.sleep(POLL)


def _rows_after(mark: int, accounts: tuple[str, ...], journal: Journal) -> list[Entry]:
    return list(journal.iter_entries(EntryFilter(after_id=mark, limit=BURST, accounts=accounts)))
