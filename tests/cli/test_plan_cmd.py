"""``tradebot plan``: the real planner on a signal file; nothing is sent."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradebot.cli.main import main

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / "config.yaml")
FRAME = ROOT / "tests" / "fixtures" / "alphahub" / "new_signals_minotaur3.json"


def plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["plan", "--config", CONFIG, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = plan(capsys, "--format", "json", *args)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def test_a_frame_with_an_empty_book(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(capsys, "--signal", str(FRAME))
    # algorithm 16 holds nothing: every close is skipped, the three opens are sized at 10% each
    assert [(i["side"], i["qty"], i["symbol"]) for i in data["intents"]] == [
        ("buy", "59", "JBHT"),
        ("buy", "24", "ILMN"),
        ("sell", "69", "CDNS"),
    ]
    assert [(s["leg"].split(":")[2], s["reason"]) for s in data["skipped"]] == [
        ("VRTX", "not_held"),
        ("MU", "not_held"),
        ("BMRN", "not_held"),
    ]


def test_positions_and_equity(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(
        capsys,
        "--signal",
        str(FRAME),
        "--position",
        "16:VRTX:40",
        "--position",
        "16:mu:-100@87.1",
        "--position",
        "14:MU:30",
        "--equity",
        "50,000",
    )
    orders = [(i["group"], i["side"], i["qty"], i["symbol"]) for i in data["intents"]]
    assert orders == [
        ("close", "sell", "40", "VRTX"),
        ("close", "buy", "70", "MU"),  # 16's short of 100 against 14's long of 30: net -70
        ("open", "buy", "30", "MU"),  # ... then the rest, split at zero
        ("open", "buy", "29", "JBHT"),  # 10% of 50,000 per open
        ("open", "buy", "12", "ILMN"),
        ("open", "sell", "34", "CDNS"),
    ]


def test_buying_power_runs_out(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(
        capsys, "--signal", str(FRAME), "--position", "16:VRTX:40", "--buying-power", "0"
    )
    # only the 8,643.20 the VRTX sale frees: JBHT shrinks from 59 to 51, nothing is left after
    assert [(i["qty"], i["symbol"]) for i in data["intents"]] == [("40", "VRTX"), ("51", "JBHT")]
    assert "capped by buying power: 59 -> 51" in data["intents"][1]["notes"]
    assert [(s["leg"].split(":")[2], s["reason"], s["detail"]) for s in data["skipped"][2:]] == [
        ("ILMN", "risk_limit", "buying power leaves no room for ILMN"),
        ("CDNS", "risk_limit", "buying power leaves no room for CDNS"),
    ]


def test_a_bare_payload_needs_the_algorithm(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(json.loads(FRAME.read_text())[4]))
    code, _, err = plan(capsys, "--signal", str(payload))
    assert code == 2 and "--algo" in err
    data = plan_json(capsys, "--signal", str(payload), "--algo", "14")
    # Minotaur 1-Stock: one position of 20%; the first open takes the only slot
    assert [(i["qty"], i["symbol"]) for i in data["intents"]] == [("118", "JBHT")]
    reasons = {s["leg"].split(":")[2]: s["reason"] for s in data["skipped"]}
    assert reasons["ILMN"] == reasons["CDNS"] == "sized_to_zero"


def test_the_table_explains_every_skip(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = plan(capsys, "--signal", str(FRAME), "--position", "16:JBHT:5")
    assert code == 0
    assert out.startswith("Signal for algorithm 16 (Minotaur 3-Stock): 3 close and 3 open legs")
    assert "Nothing is sent." in out
    assert "already_held  algorithm 16 is already long 5 JBHT (no pyramiding)" in out
    assert "not_held      algorithm 16 holds no VRTX" in out


def test_stale_when_planned_later(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(capsys, "--signal", str(FRAME), "--now", "2021-04-26T15:00:00Z")
    assert data["intents"] == []
    assert {s["reason"] for s in data["skipped"]} == {"stale"}


def test_market_closed_and_account_id(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(capsys, "--signal", str(FRAME), "--market-closed", "--account-id", "PA9")
    assert data["notes"] == ["market closed: the broker queues these orders for the open"]
    other = plan_json(capsys, "--signal", str(FRAME))
    assert data["intents"][0]["client_order_id"] != other["intents"][0]["client_order_id"]


def test_the_same_signal_gives_the_same_ids(capsys: pytest.CaptureFixture[str]) -> None:
    first = plan_json(capsys, "--signal", str(FRAME))
    second = plan_json(capsys, "--signal", str(FRAME))
    assert first == second


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--position", "16:VRTX"], "is not ALGO:SYMBOL:QTY[@PRICE]"),
        (["--position", "x:VRTX:1"], "is not ALGO:SYMBOL:QTY[@PRICE]"),
        (["--equity", "lots"], "'lots' is not a number"),
        (["--equity", "-5"], "must be zero or more"),
        (["--now", "soon"], "is not an ISO date and time"),
        (["--algo", "14"], "disagrees with the frame's topic algorithms:16"),
    ],
)
def test_bad_options_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = plan(capsys, "--signal", str(FRAME), *args)
    assert code == 2
    assert message in err


def test_bad_signal_files_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = {
        "not json": "not a JSON file",
        json.dumps([None, None, "algorithms:16", "phx_reply", {}]): "a frame must be",
        json.dumps([None, None, "room:lobby", "new_signals", {}]): "is not 'algorithms:ID'",
        json.dumps(["open"]): "a frame must be",
    }
    for text, message in cases.items():
        path = tmp_path / "signal.json"
        path.write_text(text)
        code, _, err = plan(capsys, "--signal", str(path), "--algo", "16")
        assert code == 2, text
        assert message in err, err


def test_a_bad_config_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("risk:\n  max_orders_per_day: -1\n")
    code = main(["plan", "--config", str(config), "--signal", str(FRAME)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{config}:2: risk.max_orders_per_day: should be greater than or equal to 0" in err


# -- reference prices (issue 10 §1) ------------------------------------------------------------


def _payload(tmp_path: Path, *legs: tuple[str, str, float]) -> str:
    opens = [
        {"symbol": s, "side": side, "price": p, "timestamp": "2026-11-24T14:30:00"}
        for s, side, p in legs
    ]
    path = tmp_path / "signal.json"
    path.write_text(json.dumps({"open": opens}))
    return str(path)


def test_a_leg_far_from_the_sim_market_is_not_planned(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The issue's reproduction: the shipped config planned ``buy 100000000 AAPL``."""
    signal = _payload(tmp_path, ("AAPL", "buy", 0.0001))
    code, out, _ = plan(capsys, "--signal", signal, "--algo", "16")
    assert code == 0
    assert "100000000" not in out and "No orders." in out
    assert "price_off_market" in out and "189.5" in out
    assert "Reference prices from the sim broker (its price table): AAPL 189.5" in out


def test_the_sim_market_lets_the_signal_stand_in_where_it_has_no_price_and_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    signal = _payload(tmp_path, ("TSLA", "buy", 250))
    code, out, _ = plan(capsys, "--signal", signal, "--algo", "16")
    assert code == 0
    assert "none for TSLA (the signal's price stands in)" in out
    assert "~250 signal" in out
    assert "priced at the signal's 250" in out
    data = plan_json(capsys, "--signal", signal, "--algo", "16")
    assert data["intents"][0]["price_source"] == "signal"


def test_price_options_are_the_reference_offline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    signal = _payload(tmp_path, ("AAPL", "buy", 199.0), ("TSLA", "buy", 250))
    code, out, _ = plan(capsys, "--signal", signal, "--algo", "16", "--price", "aapl=200")
    assert code == 0
    assert "Reference prices from --price: AAPL 200; none for TSLA." in out
    data = plan_json(capsys, "--signal", signal, "--algo", "16", "--price", "AAPL=200")
    (intent,) = data["intents"]
    assert (intent["symbol"], intent["qty"], intent["reference_price"]) == ("AAPL", "50", "200")
    assert intent["price_source"] == "reference"
    skipped = {s["leg"].split(":")[2]: s for s in data["skipped"]}
    assert skipped["TSLA"]["reason"] == "no_reference_price"
    assert "--price has no price for TSLA" in skipped["TSLA"]["detail"]


@pytest.mark.parametrize("value", ["AAPL", "AAPL=", "=5", "AAPL=cheap", "AAPL=0", "AAPL=nan"])
def test_a_bad_price_option_exits_2(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, _, err = plan(capsys, "--signal", str(FRAME), "--price", value)
    assert code == 2
    assert "--price" in err


def _alpaca_config(tmp_path: Path, url: str) -> str:
    config = tmp_path / "alpaca.yaml"
    config.write_text(
        f"broker:\n  name: alpaca\n  alpaca:\n    url: {url}\n    data_url: {url}\n"
        "    timeout: 1\n    max_attempts: 1\n"
        "algorithms:\n  16:\n    strategy: fixed_notional\n    params: {notional: 10000}\n"
    )
    return str(config)


def test_alpaca_reference_prices_come_from_its_market_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradebot.simulators.alpaca.server import SNAPSHOTS, AlpacaServer

    monkeypatch.setenv("APCA_API_KEY_ID", "k")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "s")
    signal = _payload(tmp_path, ("AAPL", "buy", 190.0), ("MSFT", "buy", 0.42))
    with AlpacaServer() as server:
        server.set_price("AAPL", Decimal("200"))
        server.set_price("MSFT", Decimal("415.30"))
        config = _alpaca_config(tmp_path, server.url)
        code = main(["plan", "--config", config, "--signal", signal, "--algo", "16"])
        snapshots = [r for r in server.requests if r[1] == SNAPSHOTS]
    out = capsys.readouterr().out
    assert code == 0
    assert len(snapshots) == 1
    assert "Reference prices from the alpaca broker (iex feed): AAPL 200.0, MSFT 415.3" in out
    assert "buy   50   AAPL" in out  # 10,000 at 200, not at the signal's 190
    assert "price_off_market" in out  # MSFT at 0.42


def test_an_unreachable_broker_means_no_reference(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setenv("APCA_API_KEY_ID", "k")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "s")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    signal = _payload(tmp_path, ("AAPL", "buy", 190.0))
    config = _alpaca_config(tmp_path, url)
    code = main(["plan", "--config", config, "--signal", signal, "--algo", "16"])
    out = capsys.readouterr().out
    assert code == 0
    assert "No orders." in out
    assert "no_reference_price" in out and "could not be asked" in out


def test_a_repeated_key_hold_and_weight_in_a_signal_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "signal.json"
    path.write_text(
        '[null, null, "algorithms:16", "new_signals", {"open": ['
        '{"symbol": "RKA", "symbol": "RKB", "side": "buy", "price": 10,'
        ' "timestamp": "2021-04-26T14:30:01"},'
        '{"symbol": "KEEP", "side": "hold", "timestamp": "2021-04-26T14:30:01"},'
        '{"symbol": "JBHT", "side": "buy", "price": 168.56, "weight": 0.5,'
        ' "timestamp": "2021-04-26T14:30:01"}]}]'
    )
    code, out, err = plan(capsys, "--signal", str(path))
    assert code == 0, err
    orders, skipped = out.split("Skipped legs:")
    assert "JBHT" in orders and "RKA" not in orders and "RKB" not in orders
    assert "invalid" in skipped and "key 'symbol' appears 2 times" in skipped
    assert "16:open:KEEP:hold:2021-04-26T14:30:01Z  hold" in out
    assert "x the leg's weight 0.5" in out  # algorithm 16 uses the allocation strategy
