"""The simulator itself: what the service accepts (null refs), script playback, HTTP control."""

from __future__ import annotations

import asyncio
import json

import requests
from websockets.asyncio.client import connect

from tests.alphahub.conftest import EMAIL, PASSWORD, leg
from tradebot.simulators.alphahub import AlphaHubSimulator, parse_script


def login(url: str) -> str:
    form = {"user[email]": EMAIL, "user[password]": PASSWORD}
    response = requests.post(url + "/api/v1/session", data=form, timeout=5)
    response.raise_for_status()
    token = response.json()["data"]["token"]
    assert isinstance(token, str)
    return token


async def test_join_with_null_refs_like_older_clients(sim: AlphaHubSimulator) -> None:
    token = await asyncio.to_thread(login, sim.url)
    ws_url = sim.url.replace("http", "ws") + f"/socket/websocket?vsn=2.0.0&api_token={token}"
    async with connect(ws_url, proxy=None) as ws:
        await ws.send(json.dumps([None, None, "algorithms:14", "phx_join", {}]))
        reply = json.loads(await ws.recv())
        assert reply == [None, None, "algorithms:14", "phx_reply", {"status": "ok", "response": {}}]
        await sim.wait_joined(14)
        await sim.push(14, {"open": [leg("AAA")]})
        pushed = json.loads(await ws.recv())
        assert pushed[2:4] == ["algorithms:14", "new_signals"]
        assert pushed[4]["open"][0]["symbol"] == "AAA"


async def test_bad_topic_join_is_refused_and_bad_token_gets_403(sim: AlphaHubSimulator) -> None:
    token = await asyncio.to_thread(login, sim.url)
    base = sim.url.replace("http", "ws") + "/socket/websocket?vsn=2.0.0&api_token="
    async with connect(base + token, proxy=None) as ws:
        await ws.send(json.dumps(["1", "1", "rooms:lobby", "phx_join", {}]))
        reply = json.loads(await ws.recv())
        assert reply[:4] == ["1", "1", "rooms:lobby", "phx_reply"]
        assert reply[4]["status"] == "error"
    try:
        async with connect(base + "forged", proxy=None):
            raise AssertionError("a forged token was accepted")
    except Exception as exc:  # websockets.InvalidStatus
        assert "403" in str(exc)


async def test_script_plays_from_the_first_join() -> None:
    script = parse_script(
        "# comment\n"
        + json.dumps({"at": 0.05, "algo_id": 14, "payload": {"open": [leg("LATE")]}})
        + "\n"
        + json.dumps({"at": 0, "algo_id": 14, "payload": {"open": [leg("FIRST")]}})
        + "\n"
    )
    assert [e.at for e in script] == [0, 0.05]
    async with AlphaHubSimulator(script=script) as sim:
        token = await asyncio.to_thread(login, sim.url)
        url = sim.url.replace("http", "ws") + f"/socket/websocket?vsn=2.0.0&api_token={token}"
        async with connect(url, proxy=None) as ws:
            await ws.send(json.dumps(["1", "1", "algorithms:14", "phx_join", {}]))
            frames = [json.loads(await ws.recv()) for _ in range(3)]
    assert frames[0][3] == "phx_reply"
    assert [f[4]["open"][0]["symbol"] for f in frames[1:]] == ["FIRST", "LATE"]


async def test_http_control_push_and_fault(sim: AlphaHubSimulator) -> None:
    def post(path: str, body: object) -> requests.Response:
        return requests.post(sim.url + path, json=body, timeout=5)

    response = await asyncio.to_thread(post, "/_sim/fault", {"fault": "fail_logins", "count": 1})
    assert response.status_code == 200
    refused = await asyncio.to_thread(
        requests.post, sim.url + "/api/v1/session", data={"user[email]": EMAIL}, timeout=5
    )
    assert refused.status_code == 503
    response = await asyncio.to_thread(post, "/_sim/push", {"algo_id": 14, "payload": {}})
    assert response.json() == {"reached": 0}
    response = await asyncio.to_thread(post, "/_sim/fault", {"fault": "nonsense"})
    assert response.status_code == 400


async def test_script_history_lines_are_served_not_pushed() -> None:
    script = parse_script(
        json.dumps({"algo_id": 16, "history": [leg("OLD", ts="2021-04-20T14:30:00")]})
        + "\n"
        + json.dumps({"at": 0, "algo_id": 16, "payload": {"open": [leg("NEW")]}})
        + "\n"
    )
    assert [e.history for e in script] == [True, False]
    async with AlphaHubSimulator(script=script) as sim:
        token = await asyncio.to_thread(login, sim.url)

        def history() -> list[str]:
            url = sim.url + "/api/v1/algorithms/16/signals?after=2021-01-01"
            answer = requests.get(url, headers={"Authorization": token}, timeout=5).json()
            return [x["symbol"] for x in answer["data"]["signals"]]

        assert await asyncio.to_thread(history) == ["OLD"]
        url = sim.url.replace("http", "ws") + f"/socket/websocket?vsn=2.0.0&api_token={token}"
        async with connect(url, proxy=None) as ws:
            await ws.send(json.dumps(["1", "1", "algorithms:16", "phx_join", {}]))
            frames = [json.loads(await ws.recv()) for _ in range(2)]
        assert frames[1][4]["open"][0]["symbol"] == "NEW"  # only the pushed line is pushed
        assert await asyncio.to_thread(history) == ["NEW", "OLD"]  # what it pushed joins it


async def test_http_control_history_and_renewal_faults(sim: AlphaHubSimulator) -> None:
    def post(path: str, body: object, **kwargs: object) -> requests.Response:
        return requests.post(sim.url + path, json=body, timeout=5, **kwargs)  # type: ignore[arg-type]

    fault = {"fault": "history", "mode": "html", "count": 1}
    assert (await asyncio.to_thread(post, "/_sim/fault", fault)).status_code == 200
    token = await asyncio.to_thread(login, sim.url)
    url = sim.url + "/api/v1/algorithms/16/signals?after=2021-01-01"
    page = await asyncio.to_thread(requests.get, url, headers={"Authorization": token}, timeout=5)
    assert page.headers["content-type"] == "text/html"
    again = await asyncio.to_thread(requests.get, url, headers={"Authorization": token}, timeout=5)
    assert again.json() == {"data": {"signals": []}}
    bad = {"fault": "history", "mode": "teapot"}
    assert (await asyncio.to_thread(post, "/_sim/fault", bad)).status_code == 400

    form = {"user[email]": EMAIL, "user[password]": PASSWORD}
    granted = await asyncio.to_thread(
        requests.post, sim.url + "/api/v1/session", data=form, timeout=5
    )
    renewal = granted.json()["data"]["renew_token"]
    assert (await asyncio.to_thread(post, "/_sim/fault", {"fault": "refuse_renewals"})).ok
    headers = {"Authorization": renewal}
    refused = await asyncio.to_thread(post, "/api/v1/session/renew", None, headers=headers)
    renewed = await asyncio.to_thread(post, "/api/v1/session/renew", None, headers=headers)
    assert (refused.status_code, renewed.status_code) == (401, 200)
    assert set(renewed.json()["data"]) == {"token", "renew_token"}
    assert sim.renewals == 2
