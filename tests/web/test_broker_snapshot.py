"""The Positions page reads the broker's last snapshot, refreshed in the background: a broker
that hangs never delays a page, which shows how old its snapshot is and why it is not newer.

The hanging broker is the local Alpaca server holding ``GET /v2/positions`` (a HANG fault)
behind the real adapter, as ``tradebot dashboard`` alone connects to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import requests

from tests.journal.generate import Generated
from tests.web.scripted_reader import ScriptedReader
from tradebot.config.model import Config, DashboardConfig, Mode
from tradebot.exceptions import BrokerUnavailable
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.models import Position
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.web.serve import DashboardHandle, serve_dashboard
from tradebot.web.snapshot import BrokerSnapshots, OwnBroker, ago
from tradebot.web.sources import Sources

DEADLINE = 20  # a generous bound on waits for events, never a measure of speed
POSITIONS = ("GET", "/v2/positions")


@asynccontextmanager
async def dashboard(sources: Sources) -> AsyncIterator[DashboardHandle]:
    """The dashboard served in this test's own loop, with the snapshot's refresher beside it
    (as ``tradebot dashboard`` runs them)."""
    handle = await serve_dashboard(DashboardConfig(port=0), sources)
    assert handle.url is not None, handle.error
    refreshers = [asyncio.create_task(s.run()) for s in sources.brokers.values()]
    try:
        yield handle
    finally:
        for refresher in refreshers:
            refresher.cancel()
        await asyncio.gather(*refreshers, return_exceptions=True)
        await handle.stop()


async def get(url: str) -> requests.Response:
    """GET from a worker thread: the test's loop (the dashboard's too) stays free."""
    return await asyncio.to_thread(requests.get, url, timeout=DEADLINE)


def alpaca_config(server: AlpacaServer) -> Config:
    return Config.model_validate(
        {
            "alphahub": {"email": "me@example.com", "password": "hub-password"},
            "broker": {
                "name": "alpaca",
                # the client waits longer than any test: only the server decides when it answers
                "alpaca": {
                    "url": server.url,
                    "data_url": server.url,
                    "key_id": "AKTESTKEY123",
                    "secret_key": "alpaca-secret-77c2",
                    "timeout": 120,
                },
            },
        }
    )


class Clock:
    """A wall clock the test moves: the ages shown are exact."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


async def test_a_hanging_broker_never_delays_the_page_which_shows_the_stale_snapshot(
    known: Generated,
) -> None:
    clock = Clock()
    with AlpacaServer() as server:
        with server.lock:
            server.account.positions["AAPL"] = Position(qty=Decimal(5))
        own = OwnBroker(alpaca_config(server).broker, Mode.PAPER)
        snapshots = BrokerSnapshots(own, "alpaca", every=0, now=clock)
        try:
            async with dashboard(
                Sources(journal_path=known.path, brokers={"default": snapshots})
            ) as dash:
                async with asyncio.timeout(DEADLINE):
                    await snapshots.wait_refreshed(1)
                server.add_fault(Fault.hang(times=1000, method="GET", path="/v2/positions"))
                # the refresher's next request is now held by the server, unanswered
                assert await asyncio.to_thread(server.wait_held, 1, DEADLINE)
                clock.at += timedelta(seconds=12)
                asked = server.requests.count(POSITIONS)

                page = await get(f"{dash.url}positions")
                api = (await get(f"{dash.url}api/positions")).json()

                # both answered while the server still holds the refresh: no page asked it
                assert server.held == 1 and server.in_flight >= 1  # still holding it
                assert server.requests.count(POSITIONS) == asked
                assert page.status_code == 200
                note = (
                    "broker positions as of 12 s ago (alpaca); "
                    "no answer to the refresh asked 12 s ago"
                )
                assert note in page.text
                assert [
                    {k: r[k] for k in ("algo", "symbol", "qty", "broker", "drift")}
                    for r in api["rows"]
                ] == [{"algo": "NET", "symbol": "AAPL", "qty": "0", "broker": "5", "drift": "5"}]
                assert api["broker"]["age_seconds"] == 12
                assert api["broker_note"] == note
                server.release()
        finally:
            server.release()
            await own.aclose()


async def test_never_reached_then_the_error_of_the_last_failed_refresh(known: Generated) -> None:
    clock = Clock()
    reader = ScriptedReader(
        [
            BrokerUnavailable("connection refused"),
            {"MSFT": Decimal(3)},
            BrokerUnavailable("HTTP 503 from the broker"),
        ]
    )
    snapshots = BrokerSnapshots(reader, "scripted", now=clock)
    sources = Sources(journal_path=known.path, brokers={"default": snapshots})

    async with dashboard(Sources(journal_path=known.path)) as plain:
        api = (await get(f"{plain.url}api/positions")).json()
        assert api["broker_note"] == "broker not queried" and api["broker"]["as_of"] is None

    # the refresher is driven by hand here: each step is one refresh
    handle = await serve_dashboard(DashboardConfig(port=0), sources)
    try:

        async def shown() -> dict[str, object]:
            response = await get(f"{handle.url}api/positions")
            return dict(response.json())

        first = await shown()
        assert first["broker_note"] == "broker positions: never reached (scripted)"
        assert first["with_broker"] is False

        await snapshots.refresh()
        clock.at += timedelta(seconds=4)
        failed = await shown()
        assert failed["broker_note"] == (
            "broker positions: never reached (scripted); "
            "the last refresh failed 4 s ago: connection refused"
        )

        await snapshots.refresh()
        clock.at += timedelta(seconds=75)
        fresh = await shown()
        assert fresh["broker_note"] == "broker positions as of 75 s ago (scripted)"
        assert fresh["with_broker"] is True

        clock.at += timedelta(minutes=10)
        await snapshots.refresh()
        clock.at += timedelta(seconds=1)
        stale = await get(f"{handle.url}positions")
        assert "broker positions as of 11 min ago (scripted); the last refresh failed 1 s ago:" in (
            stale.text
        )
        assert "HTTP 503 from the broker" in stale.text and "tone-warn" in stale.text
        assert snapshots.state().positions == {"MSFT": Decimal(3)}  # the last answer is kept
    finally:
        await handle.stop()


def test_ages_read_as_a_person_reads_them() -> None:
    shown: Callable[[float], str] = ago
    assert [shown(s) for s in (0, 12.9, 119, 120, 7199, 7200, -3)] == [
        "0 s",
        "12 s",
        "119 s",
        "2 min",
        "119 min",
        "2 h",
        "0 s",
    ]


async def test_a_nudge_refreshes_at_once_not_at_the_next_turn(known: Generated) -> None:
    held = {"AAPL": Decimal(5)}
    snapshots = BrokerSnapshots(ScriptedReader([held]), "scripted", every=3600)  # no turn comes
    refresher = asyncio.create_task(snapshots.run())
    try:
        async with asyncio.timeout(DEADLINE):
            await snapshots.wait_refreshed(1)
            held["AAPL"] = Decimal(15)  # a fill at the broker
            assert snapshots.state().positions == {"AAPL": Decimal(5)}
            snapshots.nudge()  # the bot journaled the fill
            await snapshots.wait_refreshed(2)
        assert snapshots.state().positions == {"AAPL": Decimal(15)}
    finally:
        refresher.cancel()
        await asyncio.gather(refresher, return_exceptions=True)
