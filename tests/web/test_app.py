"""The dashboard's pages, endpoints and controls, over a real journal, served on loopback."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from tests.journal.generate import Generated
from tests.web.conftest import round_trip, served
from tests.web.scripted_reader import ScriptedReader
from tradebot.config.model import Config
from tradebot.journal import open_journal
from tradebot.journal.counts import with_extras
from tradebot.journal.interface import EntryFilter
from tradebot.journal.review import report
from tradebot.runtime.killswitch import HaltMode, read_kill_switch
from tradebot.web.snapshot import BrokerSnapshots
from tradebot.web.sources import Sources
from tradebot.web.views import journal_page

TOKEN = "dash-token-5f1e9a7c"


def config_with(password: str = "hub-password-93ab", **dashboard: object) -> Config:
    return Config.model_validate(
        {
            "alphahub": {"email": "me@example.com", "password": password},
            "broker": {"alpaca": {"key_id": "AKTESTKEY123", "secret_key": "alpaca-secret-77c2"}},
            "dashboard": dashboard,
        }
    )


def sources(known: Generated, tmp_path: Path, config: Config | None = None) -> Sources:
    return Sources(
        journal_path=known.path,
        config=config,
        kill_switch_path=tmp_path / "tradebot.halt",
    )


def test_journal_page_lists_newest_first_and_rows_open_their_story(
    known: Generated, tmp_path: Path
) -> None:
    with served(sources(known, tmp_path)) as dash:
        page = requests.get(f"{dash.url}journal?format=json", timeout=10).json()
        ids = [r["id"] for r in page["rows"]]
        assert ids == sorted(ids, reverse=True) and ids
        buy = known.coid(0)
        row = next(r for r in page["rows"] if r["client_order_id"] == buy)
        assert row["story"] == buy
        html = requests.get(f"{dash.url}story?id={buy}", timeout=10).text
        assert "filled" in html and "serves: open buy AAPL" in html
        story = requests.get(f"{dash.url}api/story?id={buy}", timeout=10).json()
        assert {r["status"] for r in story["rows"]} >= {"signal", "intent", "filled"}
        filtered = requests.get(f"{dash.url}api/journal?status=rejected", timeout=10).json()
        assert [r["symbol"] for r in filtered["rows"]] == ["TSLA"]
        either = requests.get(
            f"{dash.url}api/journal?status=rejected&status=skipped", timeout=10
        ).json()
        assert sorted(r["symbol"] for r in either["rows"]) == ["MSFT", "TSLA"]
        assert either["form"]["status"] == "rejected,skipped"
        nope = requests.get(f"{dash.url}api/journal?status=nope", timeout=10)
        assert nope.status_code == 400 and "not a journal status" in nope.json()["error"]
        bad = requests.get(f"{dash.url}journal?since=yesterday-ish", timeout=10)
        assert bad.status_code == 400 and "not a date" in bad.text


def test_journal_pages_walk_every_row_once_newest_first(known: Generated) -> None:
    store = open_journal(known.path, readonly=True)
    try:
        everything = [e.id for e in store.entries(EntryFilter())]
        seen: list[int] = []
        before = None
        while True:
            page = journal_page(store, EntryFilter(), before=before, size=3)
            seen += [r["id"] for r in page.rows]
            if page.next_before is None:
                break
            before = page.next_before
        assert seen == everything and len(everything) > 6
    finally:
        store.close()


async def fetch(url: str) -> Any:
    """GET ``url`` as JSON from a worker thread (the test's loop stays free)."""
    response = await asyncio.to_thread(requests.get, url, timeout=10)
    return response.json()


async def test_performance_and_positions_show_the_report_figures(
    known: Generated, tmp_path: Path
) -> None:
    with served(sources(known, tmp_path)) as dash:
        perf = await fetch(f"{dash.url}api/performance")
        store = open_journal(known.path, readonly=True)
        try:
            expected = with_extras([r.as_dict() for r in report(store)], store)
        finally:
            store.close()
        extra = ("unrealised_pnl", "total_pnl")  # the money beside the report's figures
        assert [{k: v for k, v in r.items() if k not in extra} for r in perf["report"]] == expected
        assert perf["report"][0]["realised_pnl"] == "99.8"
        chart = perf["chart"]
        assert chart["labels"] == ["algo 1", "all"]
        assert chart["data"][-1][-1] == pytest.approx(99.8)  # the curve ends at the report's P&L
        await round_trip(known.path, 1, "AAPL", "100", "110", day=1)  # another 99.80
        await round_trip(known.path, 4, "MSFT", "50", "45", day=2)  # 10 x (44.99 - 50.01)
        perf = await fetch(f"{dash.url}api/performance")
        by_algo = {r["algo_id"]: r["realised_pnl"] for r in perf["report"]}
        assert by_algo == {1: "199.6", 2: "0", 4: "-50.2"}
        chart = perf["chart"]
        assert chart["labels"] == ["algo 1", "algo 4", "all"]
        assert [series[-1] for series in chart["data"][1:]] == pytest.approx([199.6, -50.2, 149.4])
        positions = await fetch(f"{dash.url}api/positions")
        assert positions["rows"] == []  # every algorithm bought and sold: flat


async def test_positions_show_drift_against_the_broker(known: Generated, tmp_path: Path) -> None:
    snapshots = BrokerSnapshots(ScriptedReader([{"AAPL": Decimal(5)}]), "scripted")
    await snapshots.refresh()  # what the refresher task does every few seconds
    with served(Sources(journal_path=known.path, brokers={"default": snapshots})) as dash:
        response = await asyncio.to_thread(requests.get, f"{dash.url}api/positions", timeout=10)
        rows = response.json()["rows"]
        assert rows == [
            {"algo": "NET", "symbol": "AAPL", "qty": "0", "broker": "5", "drift": "5"}
            | dict.fromkeys(("avg_cost", "last", "market_value", "unrealised"))
            | {"valued": False}
        ]
        page = await asyncio.to_thread(requests.get, f"{dash.url}positions", timeout=10)
        html = page.text
        assert 'class="net tone-bad drift"' in html
        assert "broker positions as of 0 s ago (scripted)" in html


def test_no_secret_is_rendered_and_pages_forbid_other_hosts(
    known: Generated, tmp_path: Path
) -> None:
    # unique to this test: the masking registry is per process, and the journal's writer masks
    # what it knows, so this row holds the secret in clear only if no test registered it before
    leaked = f"hub-password-{uuid.uuid4().hex[:12]}"
    config = config_with(leaked, token=TOKEN)
    with open_journal(known.path) as writer:  # a row written by a process that did not know it
        writer.record_error(f"login refused for password {leaked}", algo_id=1)
    with served(sources(known, tmp_path, config)) as dash:
        rows = requests.get(f"{dash.url}api/journal?status=error", timeout=10).json()["rows"]
        assert any("login refused for password ***" in r["detail"] for r in rows)
        page = requests.get(f"{dash.url}config", timeout=10)
        assert "***" in page.text and "dashboard:" in page.text
        for path in ("", "journal", "config", "api/config", "api/now", "performance"):
            text = requests.get(dash.url + path, timeout=10).text
            for secret in (TOKEN, leaked, "alpaca-secret-77c2", "AKTESTKEY123"):
                assert secret not in text, (path, secret)
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "http" not in csp  # no other host is allowed anything
        assert "https://" not in requests.get(dash.url, timeout=10).text


def test_controls_need_the_token_a_post_and_an_allowed_origin(
    known: Generated, tmp_path: Path
) -> None:
    switch = tmp_path / "tradebot.halt"
    with served(sources(known, tmp_path)) as dash:  # no token configured: read-only
        home = requests.get(dash.url, timeout=10).text
        assert "control/halt" not in home and "read-only" in home
        origin = {"Origin": dash.url.rstrip("/")}
        refused = requests.post(f"{dash.url}control/halt", data={"token": "x"}, headers=origin)
        assert refused.status_code == 403 and not switch.exists()
    with served(sources(known, tmp_path, config_with(token=TOKEN))) as dash:
        assert "control/halt" in requests.get(dash.url, timeout=10).text
        origin = {"Origin": dash.url.rstrip("/")}
        url = f"{dash.url}control/halt"
        assert requests.get(url, timeout=10).status_code == 405
        wrong = requests.post(url, data={"token": TOKEN + "x"}, headers=origin, timeout=10)
        assert wrong.status_code == 403 and "wrong token" in wrong.text
        elsewhere = {"Origin": "http://evil.example"}
        foreign = requests.post(url, data={"token": TOKEN}, headers=elsewhere, timeout=10)
        assert foreign.status_code == 403
        nowhere = requests.post(url, data={"token": TOKEN}, timeout=10)  # no Origin, no Referer
        assert nowhere.status_code == 403
        crowded = {"token": TOKEN, **{f"f{n}": "x" for n in range(10)}}
        assert requests.post(url, data=crowded, headers=origin, timeout=10).status_code == 400
        huge = {"token": TOKEN, "reason": "x" * 5000}
        assert requests.post(url, data=huge, headers=origin, timeout=10).status_code == 400
        assert not switch.exists()
        done = requests.post(
            f"{dash.url}control/reduce-only",
            data={"token": TOKEN, "reason": "checking fills"},
            headers={"Referer": dash.url},
            allow_redirects=False,
            timeout=10,
        )
        assert done.status_code == 303 and done.headers["location"] == "../"
        state = read_kill_switch(switch)
        assert state.mode is HaltMode.REDUCE_ONLY and state.reason == "dashboard: checking fills"
        page = requests.get(dash.url, timeout=10).text
        assert 'id="kill-switch"' in page and "reduce-only" in page
        requests.post(f"{dash.url}control/resume", data={"token": TOKEN}, headers=origin)
        assert not switch.exists()


def test_live_events_push_rows_as_they_are_journaled(known: Generated, tmp_path: Path) -> None:
    with served(sources(known, tmp_path)) as dash:
        now = requests.get(f"{dash.url}api/now", timeout=10).json()
        start = now["last_id"]
        with requests.get(f"{dash.url}events?after={start}", stream=True, timeout=10) as stream:
            with open_journal(known.path) as writer:
                gap = writer.record_gap("listener reconnected", algo_id=7)
            lines = stream.iter_lines(decode_unicode=True)
            got: list[str] = []
            for line in lines:
                got.append(line)
                if line == "" and f"id: {gap}" in got:
                    break  # the end of the gap's event
        assert "event: entry" in got
        assert any(f'data-id="{gap}"' in line for line in got)


def test_a_missing_journal_is_a_page_that_says_so(tmp_path: Path) -> None:
    with served(Sources(journal_path=tmp_path / "nothing.sqlite")) as dash:
        page = requests.get(f"{dash.url}journal", timeout=10)
        assert page.status_code == 503 and "no journal at" in page.text
        assert requests.get(f"{dash.url}api/nope", timeout=10).status_code == 404


def test_api_json_is_json(known: Generated, tmp_path: Path) -> None:
    with served(sources(known, tmp_path, config_with())) as dash:
        for what in ("now", "journal", "positions", "performance", "config", "status"):
            response = requests.get(f"{dash.url}api/{what}", timeout=10)
            assert response.status_code == 200, what
            assert isinstance(json.loads(response.text), dict)
        assert requests.get(f"{dash.url}api/config", timeout=10).json()["yaml"]
        assert SecretStr  # the config's secrets are SecretStr: masked, checked above
