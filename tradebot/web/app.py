"""The dashboard's Starlette app: pages, partials, JSON endpoints, live events and controls.

Every URL is relative (no leading slash in any link), so the app works behind a reverse proxy
under a sub-path. Endpoints (GET unless said):

====================  ==========================================================================
``/``                 Now: mode, account, connections, last signal, today's counts, newest rows
``/partials/now``     the Now page's summary (htmx refreshes it when a row arrives)
``/events``           server-sent events: ``entry`` (one rendered row) as rows are journaled
``/journal``          the journal, filtered like ``tradebot journal``, newest first, paged
``/story?id=ID``      ``tradebot explain ID``
``/positions``        per algorithm and net, beside the broker's, drift highlighted
``/performance``      ``tradebot report`` and the realised P&L curve
``/config``           the effective config, secrets masked
``/api/<page>``       the same data as JSON (now, journal, story, positions, performance,
                      config, status)
``POST /control/X``   halt, reduce-only or resume: token and same origin required
====================  ==========================================================================
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import click
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tradebot.cli.journal_common import parse_when
from tradebot.config.display import effective_config_yaml
from tradebot.exceptions import StatusUnreadable, TradebotError
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Entry, Status
from tradebot.masking import mask, register_found_in
from tradebot.runtime.killswitch import (
    HaltMode,
    clear_kill_switch,
    read_kill_switch,
    write_kill_switch,
)
from tradebot.runtime.status import read_status
from tradebot.web import views
from tradebot.web.book import LiveBook
from tradebot.web.security import SecurityHeaders, same_origin, token_matches
from tradebot.web.sources import Sources

STATIC = Path(__file__).parent / "static"
#: seconds between journal polls for live events when no in-process feed wakes them
POLL = 0.2
#: seconds between keep-alive comments on an idle event stream (proxies close silent ones)
KEEPALIVE = 15.0
#: rows sent in one burst of live events
BURST = 200
#: seconds the Positions page waits for the broker's view before showing the journal's alone
BROKER_TIMEOUT = 3.0
CONTROLS = {"halt": "halt", "reduce-only": "reduce_only", "resume": "resume"}


def create_app(sources: Sources) -> Starlette:
    """The dashboard over ``sources``; nothing is read until a page is asked for."""
    if sources.config is not None:
        register_found_in(sources.config)  # mask() then hides every secret on every page
    pages = Pages(sources)
    routes = [
        Route("/", pages.now),
        Route("/partials/now", pages.now_partial),
        Route("/events", pages.events),
        Route("/journal", pages.journal),
        Route("/story", pages.story),
        Route("/positions", pages.positions),
        Route("/performance", pages.performance),
        Route("/config", pages.config),
        Route("/api/{what}", pages.api),
        Route("/control/{action}", pages.control, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])


class BadQuery(ValueError):
    """A filter the person typed that cannot be read; shown on the page, status 400."""


class Pages:
    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.book = LiveBook()
        self.env = Environment(
            loader=PackageLoader("tradebot.web", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- rendering ----------------------------------------------------------------------------
    def html(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("controls", self.sources.token is not None)
        # the masker runs over every page: no secret is rendered, whatever a row's text holds
        text = mask(self.env.get_template(name).render(**context))
        return HTMLResponse(text, status_code=status_code)

    @staticmethod
    def json(data: Any, status_code: int = 200) -> Response:
        text = mask(json.dumps(data, default=str, indent=1))
        return Response(text, status_code=status_code, media_type="application/json")

    async def guarded(self, request: Request, name: str, build: Callable[[], Any]) -> Response:
        """Render ``name`` with what ``build`` returns; a missing journal or a bad filter is
        a page that says so, never a stack trace."""
        as_json = request.query_params.get("format") == "json" or name == "api"
        try:
            context = await build()
        except (BadQuery, TradebotError) as exc:
            code = 400 if isinstance(exc, BadQuery) else 503
            if as_json:
                return self.json({"error": str(exc)}, code)
            return self.html("problem.html", code, page=name, problem=str(exc))
        if as_json:
            return self.json(context)
        return self.html(f"{name}.html", page=name, **context)

    # -- pages --------------------------------------------------------------------------------
    async def now(self, request: Request) -> Response:
        return await self.guarded(request, "now", self._now)

    async def now_partial(self, request: Request) -> Response:
        try:
            context = await self._now()
        except TradebotError as exc:
            return self.html("problem_inline.html", problem=str(exc))
        return self.html("_now_summary.html", **context)

    async def _now(self) -> dict[str, Any]:
        view = await self.sources.read(lambda j: views.now_view(j, datetime.now(UTC)))
        return {**view, **(await self._live_state())}

    async def _live_state(self) -> dict[str, Any]:
        """The status file and the kill switch: small reads, still off the loop."""
        return await self.sources.run(self._read_state)

    def _read_state(self) -> dict[str, Any]:
        status, problem = None, None
        if self.sources.status_path is not None:
            try:
                status = read_status(self.sources.status_path)[1].model_dump(mode="json")
            except StatusUnreadable as exc:
                problem = str(exc)
        switch = read_kill_switch(self.sources.kill_switch_path)
        names = {}
        if self.sources.config is not None:
            names = {a: c.name for a, c in self.sources.config.algorithms.items()}
        return {
            "status": status,
            "status_problem": problem,
            "switch": {"mode": str(switch.mode), "reason": switch.reason, "since": switch.since},
            "switch_configured": self.sources.kill_switch_path is not None,
            "names": names,
        }

    async def journal(self, request: Request) -> Response:
        return await self.guarded(request, "journal", lambda: self._journal(request))

    async def _journal(self, request: Request) -> dict[str, Any]:
        where, form = _filter(request)
        before = _int(request.query_params.get("before"), "before")
        page = await self.sources.read(lambda j: views.journal_page(j, where, before=before))
        query = urlencode({k: v for k, v in form.items() if v})
        return {
            "rows": page.rows,
            "next_before": page.next_before,
            "form": form,
            "query": query,
            "statuses": [str(s) for s in Status],
            "first": before is None,
        }

    async def story(self, request: Request) -> Response:
        ident = request.query_params.get("id", "").strip()

        async def build() -> dict[str, Any]:
            if not ident:
                raise BadQuery("which story? open one from the journal page")
            rows = await self.sources.read(lambda j: views.story_view(j, ident))
            if not rows:
                raise BadQuery(f"nothing in the journal matches {ident!r}")
            return {"ident": ident, "rows": rows}

        return await self.guarded(request, "story", build)

    async def positions(self, request: Request) -> Response:
        return await self.guarded(request, "positions", self._positions)

    async def _positions(self) -> dict[str, Any]:
        broker, note = None, "broker not queried"
        if self.sources.broker_positions is not None:
            try:
                broker, note = await asyncio.wait_for(
                    self.sources.broker_positions(), BROKER_TIMEOUT
                )
            except TimeoutError:  # the page shows the journal's side without it
                note = f"the broker did not answer within {BROKER_TIMEOUT:g} s"
        rows = await self.sources.read(lambda j: views.positions_view(j, broker, self.book))
        return {"rows": rows, "broker_note": note, "with_broker": broker is not None}

    async def performance(self, request: Request) -> Response:
        return await self.guarded(request, "performance", self._performance)

    async def _performance(self) -> dict[str, Any]:
        return await self.sources.read(views.performance_view)

    async def config(self, request: Request) -> Response:
        async def build() -> dict[str, Any]:
            if self.sources.config is None:
                return {"yaml": None}
            return {"yaml": mask(effective_config_yaml(self.sources.config))}

        return await self.guarded(request, "config", build)

    async def api(self, request: Request) -> Response:
        what = request.path_params["what"]
        builders: dict[str, Callable[[], Any]] = {
            "now": self._now,
            "journal": lambda: self._journal(request),
            "positions": self._positions,
            "performance": self._performance,
            "status": self._live_state,
        }
        if what == "story":
            return await self.story(_as_json(request))
        if what == "config":
            return await self.config(_as_json(request))
        if what not in builders:
            return self.json({"error": f"no such endpoint: api/{what}"}, 404)
        return await self.guarded(request, "api", builders[what])

    # -- live events --------------------------------------------------------------------------
    async def events(self, request: Request) -> Response:
        """Rows as they are journaled. Resumes after ``Last-Event-ID`` (the browser sends it
        when it reconnects) or ``?after=ID``; with neither, starts from now."""
        start = request.headers.get("last-event-id") or request.query_params.get("after")
        after = _int(start, "after") if start else None
        return StreamingResponse(
            self._stream(request, after),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},  # nginx: do not hold events back
        )

    async def _stream(self, request: Request, after: int | None) -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        last = after
        while not await request.is_disconnected():
            try:
                if last is None:
                    last = await self.sources.read(lambda j: j.last_id())
                rows = await self.sources.read(partial(_rows_after, last))
            except TradebotError:
                rows = []  # no journal yet: the bot has not written one; keep waiting
            for entry in rows:
                html = mask(self.env.get_template("_row.html").render(r=views.row(entry)))
                data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
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

    # -- controls -----------------------------------------------------------------------------
    async def control(self, request: Request) -> Response:
        """Halt, reduce-only or resume: the same kill switch file ``tradebot halt`` writes,
        so the running bot journals the change with its next signal, as for the CLI."""
        action = CONTROLS.get(request.path_params["action"])
        if action is None:
            return self.html("problem.html", 404, page="now", problem="no such control")
        if self.sources.token is None:
            return self.html(
                "problem.html", 403, page="now", problem="read-only: no dashboard.token set"
            )
        if not same_origin(request):
            return self.html(
                "problem.html", 403, page="now", problem="refused: not sent from this dashboard"
            )
        form = await _small_form(request)
        if not token_matches(form.get("token"), self.sources.token):
            return self.html("problem.html", 403, page="now", problem="refused: wrong token")
        path = self.sources.kill_switch_path
        if path is None:
            return self.html(
                "problem.html",
                409,
                page="now",
                problem="risk.kill_switch_file is not set in the config: nothing to write",
            )
        reason = str(form.get("reason") or "").strip() or "from the dashboard"
        try:
            await self.sources.run(partial(_apply, path, action, f"dashboard: {reason}"))
        except OSError as exc:
            return self.html(
                "problem.html",
                500,
                page="now",
                problem=f"cannot change the kill switch {path}: {exc.strerror or exc}",
            )
        # relative: back to the Now page under whatever prefix a proxy serves us at
        return RedirectResponse("../", status_code=303)


async def _small_form(request: Request) -> dict[str, str]:
    """An HTML form's fields (urlencoded, as the page posts it), at most 4 KiB read: a control
    carries a token and a reason, nothing more (and no multipart parser is needed)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > 4096:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
    return {k: v[0] for k, v in fields.items() if v}


def _rows_after(mark: int, journal: Journal) -> list[Entry]:
    return list(journal.iter_entries(EntryFilter(after_id=mark, limit=BURST)))


def _apply(path: Path, action: str, reason: str) -> None:
    if action == "resume":
        clear_kill_switch(path)
    else:
        reduce_only = action == HaltMode.REDUCE_ONLY
        write_kill_switch(path, reduce_only=reduce_only, reason=reason, now=datetime.now(UTC))


def _as_json(request: Request) -> Request:
    scope = dict(request.scope)
    query = request.scope.get("query_string", b"")
    scope["query_string"] = (query + b"&" if query else b"") + b"format=json"
    return Request(scope, request.receive)


def _int(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise BadQuery(f"{name}: {text!r} is not a whole number") from None


def _filter(request: Request) -> tuple[EntryFilter, dict[str, str]]:
    """``tradebot journal``'s filters from the query string. Like the CLI's repeatable options,
    algo, symbol, status and coid take several values (repeated, or separated by commas)."""
    q = request.query_params
    many = {k: _values(q.getlist(k)) for k in ("algo", "symbol", "status", "coid")}
    form = {k: ",".join(v) for k, v in many.items()}
    form |= {k: q.get(k, "").strip() for k in ("since", "until")}
    known = {str(s) for s in Status}
    for status in many["status"]:
        if status not in known:
            raise BadQuery(f"status: {status!r} is not a journal status")
    algos = tuple(a for a in (_int(text, "algo") for text in many["algo"]) if a is not None)
    now = datetime.now(UTC)
    try:
        since = parse_when(form["since"], now) if form["since"] else None
        until = parse_when(form["until"], now) if form["until"] else None
    except click.BadParameter as exc:
        raise BadQuery(exc.format_message()) from None
    where = EntryFilter(
        algo_ids=algos,
        symbols=tuple(s.upper() for s in many["symbol"]),
        statuses=tuple(Status(s) for s in many["status"]),
        client_order_ids=tuple(many["coid"]),
        since=since,
        until=until,
    )
    return where, form


def _values(given: list[str]) -> list[str]:
    return [part.strip() for text in given for part in text.split(",") if part.strip()]
