"""Serving the dashboard inside a running event loop (the bot's), and the bot's hook for it.

The dashboard never stands between a person and trading: :func:`serve_dashboard` binds the
socket itself and, when the port is taken (a second bot on the same machine) or the address
cannot be used, returns a :class:`DashboardHandle` that says so instead of raising. Port 0
picks a free port; the handle says which, for the banner and ``tradebot status``.

Wiring it into the bot is a few lines::

    feed = LiveFeed()                   # optional: rows reach open pages at once, not at the
                                        # next 0.2 s poll; call feed.notify() from the bot's
                                        # observer whenever it has journaled something
    sources = sources_for(config, config_path, feed=feed, brokers={"default": snapshots})
    handle = await start_dashboard(config, sources)
    banner.line(handle.describe())      # "dashboard: http://127.0.0.1:8800/" or why not
    status["dashboard"] = handle.url    # for `tradebot status` (None when not served)
    ...                                 # on the way out:
    await handle.stop()

``brokers`` (optional) maps each account's name to a :class:`~tradebot.web.snapshot.BrokerSnapshots`
over its broker, each refreshed by a task of its own: the pages show the last snapshot and its
age, never waiting for a broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from tradebot.config.model import Config, DashboardConfig
from tradebot.journal.opener import open_journal
from tradebot.runtime.paths import config_relative
from tradebot.runtime.status import status_path
from tradebot.web.app import create_app
from tradebot.web.security import Allowed
from tradebot.web.snapshot import BrokerSnapshots
from tradebot.web.sources import LiveFeed, Sources

log = logging.getLogger(__name__)

#: seconds a stopping server waits for open pages (event streams never end by themselves)
GRACE = 1
#: seconds to wait for uvicorn to start listening on the bound socket
START_TIMEOUT = 10.0


class _QuietServer(uvicorn.Server):
    """uvicorn's server without its signal handlers: Ctrl-C and SIGTERM belong to the bot."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class DashboardHandle:
    """A started dashboard (``url`` and ``port`` set) or one that is not (``error`` says why)."""

    url: str | None = None
    port: int | None = None
    error: str | None = None
    _server: _QuietServer | None = field(default=None, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _sources: Sources | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def describe(self) -> str:
        """The banner's line."""
        if self.error is not None:
            return f"dashboard: {self.error}"
        return f"dashboard: {self.url}"

    async def wait(self) -> None:
        """Until the server stops (``tradebot dashboard`` runs until Ctrl-C)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sources is not None:
            await asyncio.to_thread(self._sources.close)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; raises OSError (EADDRINUSE when taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR lets a restarted bot rebind past TIME_WAIT; it never lets two listen
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_dashboard(settings: DashboardConfig, sources: Sources) -> DashboardHandle:
    """Start serving in the current event loop; returns once listening, or why not."""
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            why = f"not started: port {settings.port} in use on {settings.host}"
        else:
            why = f"not started: cannot listen on {settings.host}:{settings.port}: {exc.strerror}"
        log.warning("%s; trading goes on without it", why)
        return DashboardHandle(error=why)
    port = sock.getsockname()[1]
    allowed = Allowed.serving(settings.host, settings.allowed_hosts, port)
    config = uvicorn.Config(
        create_app(sources, allowed),
        lifespan="off",
        loop="none",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACE,
        proxy_headers=False,
        server_header=False,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="dashboard")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    # uvicorn sets a flag, not an event, once it listens
    while not server.started and not task.done() and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await task
        sock.close()
        return DashboardHandle(error=f"not started: {settings.host}:{port} did not come up")
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    return DashboardHandle(
        url=f"http://{shown}:{port}/",
        port=port,
        _server=server,
        _task=task,
        _sources=sources,
    )


def sources_for(
    config: Config,
    config_path: Path,
    *,
    brokers: Mapping[str, BrokerSnapshots] | None = None,
    feed: LiveFeed | None = None,
) -> Sources:
    """The files a bot run with ``config_path`` writes, as the dashboard reads them."""
    journal = config_relative(config_path, config.journal.path)
    switch = config.risk.kill_switch_file
    url = config.journal.url  # a PostgreSQL journal: the file path still places the status file
    return Sources(
        journal_path=journal,
        opener=None if url is None else (lambda: open_journal(url, readonly=True)),
        config=config,
        status_path=status_path(journal),
        kill_switch_path=None if switch is None else config_relative(config_path, switch),
        brokers=brokers or {},
        feed=feed,
    )


async def start_dashboard(config: Config, sources: Sources) -> DashboardHandle:
    """The running bot's one call: serve when ``dashboard.enabled``; never raises for a port.

    Returns a handle whose :meth:`DashboardHandle.describe` is the banner line and whose
    ``port`` goes into the status file. Stop it with :meth:`DashboardHandle.stop`.
    """
    if not config.dashboard.enabled:
        return DashboardHandle(error="off (dashboard.enabled: false)")
    return await serve_dashboard(config.dashboard, sources)
