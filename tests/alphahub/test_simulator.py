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
