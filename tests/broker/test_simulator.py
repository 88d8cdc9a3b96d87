"""The local Alpaca server itself: Alpaca's schemas, auth, the stream protocol, process mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
import yaml
from websockets.sync.client import connect

from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer

from .conftest import KEY_ID, SECRET_KEY
from .openapi import validate

SPEC = yaml.safe_load(
    (Path(__file__).parents[1] / "fixtures" / "alpaca-trading-openapi.yaml").read_text()
)
HEADERS = {"APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET_KEY}


def schema(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def call(server: AlpacaServer, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, server.url + path, headers=HEADERS, timeout=5, **kw)


def test_responses_match_alpacas_openapi_document(server: AlpacaServer) -> None:
    server.script_fills(FillScript(hold=True))
    order_body = {
        "symbol": "AAPL",
        "qty": "3",
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": "c1",
    }
    placed = call(server, "POST", "/v2/orders", json=order_body)
    assert placed.status_code == 200
    validate(SPEC, schema("Order"), placed.json())
    server.fill("c1", None)
    checks = [
        ("/v2/account", schema("Account")),
        ("/v2/clock", schema("Clock")),
        ("/v2/assets/AAPL", schema("Assets")),
        ("/v2/orders:by_client_order_id?client_order_id=c1", schema("Order")),
        (f"/v2/orders/{placed.json()['id']}", schema("Order")),
        ("/v2/orders?status=all", {"type": "array", "items": schema("Order")}),
        ("/v2/positions", {"type": "array", "items": schema("Position")}),
        ("/v2/positions/AAPL", schema("Position")),
    ]
    for path, expected in checks:
        answer = call(server, "GET", path)
        assert answer.status_code == 200, path
        validate(SPEC, expected, answer.json(), path)


def test_alpaca_semantics(server: AlpacaServer) -> None:
    body = {
        "symbol": "AAPL",
        "qty": "1",
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": "dup",
    }
    assert call(server, "POST", "/v2/orders", json=body).status_code == 200
    again = call(server, "POST", "/v2/orders", json=body)
    assert (again.status_code, again.json()["code"]) == (422, 40010001)
    order_id = server.orders("dup")[0]["id"]
    assert call(server, "DELETE", f"/v2/orders/{order_id}").status_code in (204, 422)
    assert call(server, "POST", "/v2/orders", json=body).status_code == 422  # unique forever
    too_big = dict(body, client_order_id="big", qty="100000")
    refused = call(server, "POST", "/v2/orders", json=too_big)
    assert (refused.status_code, refused.json()["message"]) == (403, "insufficient buying power")
    missing = call(server, "GET", "/v2/orders:by_client_order_id", params={"client_order_id": "x"})
    assert missing.status_code == 404


def test_requests_without_keys_get_401(server: AlpacaServer) -> None:
    answer = requests.get(server.url + "/v2/account", timeout=5)
    assert answer.status_code == 401
    assert answer.json()["code"] == 40110000
    wrong = requests.get(
        server.url + "/v2/account", headers=dict(HEADERS, **{"APCA-API-SECRET-KEY": "x"}), timeout=5
    )
    assert wrong.status_code == 401


def test_stream_protocol(server: AlpacaServer) -> None:
    with connect(server.stream_url) as ws:
        ws.send(
            json.dumps(
                {"action": "authenticate", "data": {"key_id": KEY_ID, "secret_key": SECRET_KEY}}
            )
        )
        assert json.loads(ws.recv(timeout=5))["data"]["status"] == "authorized"
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert json.loads(ws.recv(timeout=5)) == {
            "stream": "listening",
            "data": {"streams": ["trade_updates"]},
        }
        body = {
            "symbol": "MSFT",
            "qty": "2",
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
            "client_order_id": "s1",
        }
        call(server, "POST", "/v2/orders", json=body)
        events = [json.loads(ws.recv(timeout=5)) for _ in range(2)]
    assert [e["data"]["event"] for e in events] == ["new", "fill"]
    fill = events[1]["data"]
    validate(SPEC, schema("Order"), fill["order"], "trade_updates.order")
    assert (fill["qty"], fill["price"], fill["position_qty"]) == ("2", "100", "2")
    with connect(server.stream_url) as ws:
        ws.send(
            json.dumps({"action": "authenticate", "data": {"key_id": "bad", "secret_key": "bad"}})
        )
        assert json.loads(ws.recv(timeout=5))["data"]["status"] == "unauthorized"


def test_process_mode_prints_urls_and_serves_until_terminated(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tradebot",
            "simulate",
            "alpaca",
            "--port",
            "0",
            "--key",
            KEY_ID,
            "--secret",
            SECRET_KEY,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("REST:"), first
        url = first.split()[1]
        answer = requests.get(url + "/v2/account", headers=HEADERS, timeout=5)
        assert answer.status_code == 200 and answer.json()["status"] == "ACTIVE"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "stopped" in out
