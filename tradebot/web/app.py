"""The dashboard's Starlette app: pages, partials, JSON endpoints, live events and controls.

Every URL is relative (no leading slash in any link), so the app works behind a reverse proxy
under a sub-path. Endpoints (GET unless said):

====================  ==========================================================================
``/``                 Now: mode, account (equity, cash, day P&L), connections, last signal,
                      today's counts, newest rows
``/partials/now``     the Now page's summary (htmx refreshes it when a row arrives)
``/events``           server-sent events: ``entry`` (one rendered row) as rows are journaled
``/journal``          the journal, filtered like ``tradebot journal``, newest first, paged
``/story?id=ID``      ``tradebot explain ID``
``/positions``        per algorithm and net, beside the broker's last snapshot (with its age),
                      drift highlighted, valued at the snapshot's last prices; a page of the
                      table at a time (``?page=&sort=&algo=&symbol=``, :mod:`.positions_page`)
``/performance``      ``tradebot report`` with unrealised P&L, per day and per symbol, and the
                      realised P&L curve
``/config``           the effective config, secrets masked
``/api/<page>``       the same data as JSON (now, journal, story, positions, performance,
                      config, status)
``POST /control/X``   halt, reduce-only or resume: token and an allowed origin required
``/healthz``          200 when fit to trade (``halted`` still 200), 503 with the failing checks
``/readyz``           200 when ready for traffic, 503 while halted, not subscribed or not running
``/metrics``          Prometheus text (served by the running bot; 404 from ``tradebot dashboard``)
====================  ==========================================================================

A request whose ``Host`` is not one of the dashboard's names gets 421 and reaches none of them
(:mod:`.security`); a query value that cannot be read gets 400 with the reason (:mod:`.query`).
Every page takes ``?account=NAME`` (a config of several accounts shows a picker; 404 for an
account the config lacks): a picked account's Positions, Performance and Now counts are its
figures alone; with several accounts and none picked they are shown each apart, never added
together (``api/performance`` then keyed by account). :mod:`.accounts` says what each page
does with it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tradebot.config.display import effective_config_yaml
from tradebot.exceptions import StatusUnreadable, TradebotError
from tradebot.journal.interface import Journal
from tradebot.journal.records import Entry, Status
from tradebot.masking import mask, register_found_in
from tradebot.runtime.killswitch import (
    read_kill_switch,
)
from tradebot.runtime.liveness import HEARTBEAT_EVERY
from tradebot.runtime.processes import listed
from tradebot.runtime.status import liveness_of, read_status
from tradebot.web import accounts, positions_page, views
from tradebot.web.controls import Controls
from tradebot.web.health import Health, from_status
from tradebot.web.live import LiveEvents
from tradebot.web.query import BadQuery, entry_filter, ident, whole
from tradebot.web.security import Allowed, HostGuard, SecurityHeaders
from tradebot.web.sources import Sources
from tradebot.web.tracking_page import TrackingCache, tracking_view, untracked

STATIC = Path(__file__).parent / "static"
#: what a page is built from: the account ``?account=`` picks (None: every account)
Build = Callable[[str | None], Awaitable[dict[str, Any]]]
#: the Prometheus text exposition format
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def create_app(sources: Sources, allowed: Allowed) -> Starlette:
    """The dashboard over ``sources``, answering to the names and origins of ``allowed``;
    nothing is read until a page is asked for."""
    if sources.config is not None:
        register_found_in(sources.config)  # mask() then hides every secret on every page
    pages = Pages(sources)
    routes = [
        Route("/", pages.now),
        Route("/partials/now", pages.now_partial),
        Route("/events", LiveEvents(sources, pages.render_row).endpoint),
        Route("/journal", pages.journal),
        Route("/story", pages.story),
        Route("/positions", pages.positions),
        Route("/performance", pages.performance),
        Route("/tracking", pages.tracking),
        Route("/config", pages.config),
        Route("/api/{what}", pages.api),
        Route("/healthz", pages.healthz),
        Route("/readyz", pages.readyz),
        Route("/metrics", pages.metrics),
        Route(
            "/control/{action}",
            Controls(sources, allowed, pages.refuse).endpoint,
            methods=["POST"],
        ),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),  # outermost: a refusal carries the headers too
        Middleware(HostGuard, allowed=allowed, refuse=pages.refuse),
    ]
    return Starlette(routes=routes, middleware=middleware)


class Pages:
    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        #: the Tracking page's figures: seconds to compute on a large journal, so never on the
        #: request's time (:class:`~tradebot.web.tracking_page.TrackingCache`)
        self._tracked: dict[str | None, TrackingCache] = {}  # per account shown
        self.env = Environment(
            loader=PackageLoader("tradebot.web", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- rendering ----------------------------------------------------------------------------
    def html(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("controls", self.sources.token is not None)
        context.setdefault("root", "")  # the way back to the top from this URL: "../" ...
        # the account picker (several accounts only) and the query every link carries
        config = self.sources.config
        context.setdefault("account", None)
        context["account_names"] = accounts.names(config) if accounts.several(config) else []
        context["aq"] = accounts.account_query(context["account"])
        # the masker runs over every page: no secret is rendered, whatever a row's text holds
        text = mask(self.env.get_template(name).render(**context))
        return HTMLResponse(text, status_code=status_code)

    @staticmethod
    def json(data: Any, status_code: int = 200) -> Response:
        text = mask(json.dumps(data, default=str, indent=1))
        return Response(text, status_code=status_code, media_type="application/json")

    async def guarded(
        self,
        request: Request,
        name: str,
        build: Build,
        page: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Response:
        """Render ``name`` with what ``build(account)`` returns (``account``: the one
        ``?account=`` picks, None for every account), through ``page`` when given (the
        template's context; JSON is always ``build``'s); a missing journal, a bad filter or an
        unknown account is a page that says so, never a stack trace."""
        as_json = request.query_params.get("format") == "json" or name == "api"
        try:
            account = accounts.picked(request.query_params, self.sources.config)
            context = await build(account)
        except (BadQuery, TradebotError) as exc:
            code = 503
            if isinstance(exc, BadQuery):
                code = 404 if isinstance(exc, accounts.UnknownAccount) else 400
            if as_json:
                return self.json({"error": str(exc)}, code)
            return self.html("problem.html", code, page=name, problem=str(exc))
        if as_json:
            return self.json(context)
        if page is not None:
            context = page(context)
        return self.html(f"{name}.html", page=name, account=account, **context)

    # -- pages --------------------------------------------------------------------------------
    async def now(self, request: Request) -> Response:
        return await self.guarded(request, "now", self._now)

    async def now_partial(self, request: Request) -> Response:
        try:
            account = accounts.picked(request.query_params, self.sources.config)
            context = await self._now(account)
        except (BadQuery, TradebotError) as exc:
            return self.html("problem_inline.html", problem=str(exc))
        return self.html("_now_summary.html", account=account, **context)

    async def _now(self, account: str | None = None) -> dict[str, Any]:
        view = await self.sources.read(lambda j: views.now_view(j, datetime.now(UTC), account))
        money = views.money_view(self.sources.broker_state(account))
        health = (await self.health()).shown(datetime.now(UTC))
        state = await self._live_state()
        rows = []
        if accounts.several(self.sources.config):
            known = {} if self.sources.account_health is None else self.sources.account_health()
            states = self.sources.broker_states()
            switch = state["switch"]["mode"]
            rows = accounts.account_rows(self.sources.config, states, known, switch)
        return {**view, **state, "money": money, "health": health, "account_rows": rows}

    async def _live_state(self) -> dict[str, Any]:
        """The status file and the kill switch: small reads, still off the loop."""
        return await self.sources.run(self._read_state)

    def _read_state(self) -> dict[str, Any]:
        status, problem, document, now = None, None, None, datetime.now(UTC)
        if self.sources.status_path is not None:
            try:
                document = read_status(self.sources.status_path)[1]
            except StatusUnreadable as exc:
                problem = str(exc)
            else:  # "running" judged by the heartbeat's age (runtime/liveness.py)
                status = document.model_dump(mode="json")
                status["liveness"] = liveness_of(document, now).as_dict()
        config = self.sources.config
        every = config.journal.heartbeat_every if config is not None else HEARTBEAT_EVERY
        processes = listed(self.sources.journal, document, now, every=every)
        switch = read_kill_switch(self.sources.kill_switch_path)
        names: dict[int, str] = {}
        if config is not None:  # every account's algorithms (one name each: the first's)
            for followed in reversed(list(config.accounts.values())):
                names |= {a: c.name for a, c in followed.algorithms.items()}
        return {
            "status": status,
            "status_problem": problem,
            "processes": [p.as_dict() for p in processes],
            "switch": {"mode": str(switch.mode), "reason": switch.reason, "since": switch.since},
            "switch_configured": self.sources.kill_switch_path is not None,
            "names": names,
        }

    async def journal(self, request: Request) -> Response:
        return await self.guarded(request, "journal", lambda a: self._journal(request, a))

    async def _journal(self, request: Request, account: str | None) -> dict[str, Any]:
        where, form = entry_filter(request.query_params, datetime.now(UTC))
        if account is not None:  # its rows, and the rows every account shares
            where = replace(where, accounts=views.account_rows(account))
            form["account"] = account
        before = whole(request.query_params.get("before"), "before")
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
        async def build(account: str | None) -> dict[str, Any]:
            subject = ident(request.query_params.get("id", ""))
            if not subject:
                raise BadQuery("which story? open one from the journal page")
            rows = await self.sources.read(lambda j: views.story_view(j, subject))
            if not rows:
                raise BadQuery(f"nothing in the journal matches {subject!r}")
            return {"ident": subject, "rows": rows}

        return await self.guarded(request, "story", build)

    async def positions(self, request: Request) -> Response:
        return await self.guarded(request, "positions", lambda a: self._positions(request, a))

    async def _shown(self, account: str | None) -> list[str | None]:
        """The accounts a page of figures shows, each apart (:func:`accounts.shown`)."""
        if account is not None:
            return [account]
        in_journal = await self.sources.read(lambda j: j.summary_accounts())
        return accounts.shown(self.sources.config, in_journal)

    async def _positions(self, request: Request, account: str | None) -> dict[str, Any]:
        """One page of the table (:mod:`.positions_page`: the filters, order and page the URL
        asks for) with the totals of every position, each account beside its own broker's
        last snapshot (never the broker itself: a hanging broker delays no page)."""
        asked, form = positions_page.wanted(request.query_params)  # a bad value: 400
        shown = await self._shown(account)
        states = {name: self.sources.broker_state(name) for name in shown}

        def read(journal: Journal) -> dict[str, Any]:
            # read, valued, sorted and cut in the worker thread: the loop (the bot's own, when
            # the bot serves the page) waits for none of it
            found = {n: views.positions_view(journal, states[n], n) for n in shown}
            if len(shown) > 1:
                return positions_page.page_of(views.positions_apart(found, states), asked)
            ((name, view),) = found.items()
            state = states[name]
            whole = {
                **view,
                "broker_note": state.note,
                "broker": state.as_dict(),
                "with_broker": state.positions is not None,
            }
            return positions_page.page_of(whole, asked)

        paged = await self.sources.read(read)
        self._watch(paged["held"])  # every symbol held, not only the page's
        return paged | {"form": form, "query": positions_page.links(form, account)}

    def _watch(self, held: list[str]) -> None:
        """The snapshots price the journal's symbols too from their next refresh."""
        self.sources.watch(held)

    async def performance(self, request: Request) -> Response:
        return await self.guarded(request, "performance", self._performance, sections)

    async def _performance(self, account: str | None) -> dict[str, Any]:
        """One account's figures (or a journal of one account's), as ``tradebot report``
        shows them; with several accounts and none picked, each account's apart: ``accounts``
        (name -> its figures), never added together."""
        shown = await self._shown(account)
        states = {name: self.sources.prices_state(name) for name in shown}

        def read(journal: Journal) -> dict[str | None, dict[str, Any]]:
            return {n: views.performance_view(journal, states[n], n) for n in shown}

        found = await self.sources.read(read)
        self._watch(sorted({s for view in found.values() for s in view["held"]}))
        if len(found) > 1:
            return {"accounts": found}
        return next(iter(found.values()))

    async def tracking(self, request: Request) -> Response:
        return await self.guarded(request, "tracking", self._tracking)

    async def _tracking(self, account: str | None) -> dict[str, Any]:
        # track compares an algorithm with one account's fills: with several accounts and none
        # picked it would add theirs together, so the page asks for one instead
        if account is None and len(await self._shown(None)) > 1:
            return {**untracked(), "every_account": accounts.TRACKING_EVERY_ACCOUNT}
        cache = self._tracked.get(account)
        if cache is None:
            cache = self._tracked[account] = TrackingCache(functools.partial(self._track, account))
        return {**(await cache.get()), "every_account": None}

    async def _track(self, account: str | None) -> dict[str, Any]:
        config = self.sources.config
        return await self.sources.read(lambda j: tracking_view(j, config, account))

    async def config(self, request: Request) -> Response:
        async def build(account: str | None) -> dict[str, Any]:
            if self.sources.config is None:
                return {"yaml": None}
            return {"yaml": mask(effective_config_yaml(self.sources.config))}

        return await self.guarded(request, "config", build)

    async def api(self, request: Request) -> Response:
        what = request.path_params["what"]
        builders: dict[str, Build] = {
            "now": self._now,
            "journal": lambda a: self._journal(request, a),
            "positions": lambda a: self._positions(request, a),
            "performance": self._performance,
            "tracking": self._tracking,
            "status": lambda a: self._live_state(),
        }
        if what == "story":
            return await self.story(_as_json(request))
        if what == "config":
            return await self.config(_as_json(request))
        if what not in builders:
            return self.json({"error": f"no such endpoint: api/{what}"}, 404)
        return await self.guarded(request, "api", builders[what])

    async def health(self) -> Health:
        """In-process checks when the bot serves the page, else the status file's word; with
        the kill switch as its file says now."""
        if self.sources.health is not None:
            health = self.sources.health()
        else:
            now = datetime.now(UTC)
            health = await self.sources.run(lambda: from_status(self.sources.status_path, now))
        switch = await self.sources.run(lambda: read_kill_switch(self.sources.kill_switch_path))
        return health.switched(str(switch.mode))

    async def healthz(self, request: Request) -> Response:
        health = await self.health()
        return self.json(health.as_dict(), 200 if health.ok else 503)

    async def readyz(self, request: Request) -> Response:
        health = await self.health()
        return self.json(health.readiness(), 200 if health.ready else 503)

    async def metrics(self, request: Request) -> Response:
        if self.sources.metrics is None:
            return self.json({"error": "metrics are served by the running bot's dashboard"}, 404)
        return Response(mask(self.sources.metrics().decode()), media_type=METRICS_TYPE)

    def refuse(self, status_code: int, why: str, path: str = "/") -> HTMLResponse:
        """The styled page of a refusal at ``path``; its links lead back to the pages."""
        root = "../" * max(0, path.count("/") - 1)
        return self.html("problem.html", status_code, page="", problem=why, root=root)

    def render_row(self, entry: Entry) -> str:
        return mask(self.env.get_template("_row.html").render(r=views.row(entry)))


def sections(context: dict[str, Any]) -> dict[str, Any]:
    """The Performance page's context: its sections, ``(account, figures)``; one (None) for
    one account's figures, one per account when they are shown apart."""
    if "accounts" in context:
        return {"sections": list(context["accounts"].items())}
    return {"sections": [(None, context)]}


def _as_json(request: Request) -> Request:
    scope = dict(request.scope)
    query = request.scope.get("query_string", b"")
    scope["query_string"] = (query + b"&" if query else b"") + b"format=json"
    return Request(scope, request.receive)
