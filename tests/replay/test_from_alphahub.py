"""``--from/--to`` read AlphaHub's history (the simulator on 127.0.0.1); ``--save-history``
writes it as a history FILE that replays the same."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tradebot.cli.main import main
from tradebot.simulators.alphahub import AlphaHubSimulator

from .helpers import history_answers, write_config

_EVE = "2026-03-01T20:00:00"  # the day before the period: asked for, then left out


async def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["replay", "--no-journal", "--format", "json", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_the_history_is_read_saved_and_replayed_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = history_answers(days=20)
    async with AlphaHubSimulator() as sim:
        for algo, legs in answers.items():
            sim.history.add(algo, list(reversed(legs)))
        hub = f"alphahub: {{url: '{sim.url}', email: {sim.email}, password: {sim.password}}}\n"
        config = write_config(tmp_path, extra=hub)
        saved = tmp_path / "saved.json"
        period = ("--from", "2026-03-02", "--to", "2026-03-31", "--config", str(config))
        code, live, err = await _run(capsys, *period, "--save-history", str(saved))
        assert code == 0, err
        assert sim.history.requests == 2  # one per configured algorithm
    saved_legs = {int(a): v["data"]["signals"] for a, v in json.loads(saved.read_text()).items()}
    assert sorted(saved_legs) == [1, 2]

    def key(leg: dict[str, object]) -> str:
        return json.dumps(leg, sort_keys=True)

    # AlphaHub's answer as it came, newest first: the same legs as the history it holds
    assert {a: sorted(v, key=key) for a, v in saved_legs.items()} == {
        a: sorted(v, key=key) for a, v in answers.items()
    }
    code, offline, err = await _run(capsys, "--history", str(saved), "--config", str(config))
    assert code == 0, err
    assert json.loads(offline)["algorithms"] == json.loads(live)["algorithms"]
    assert json.loads(live)["algorithms"][0]["columns"]["replay config.yaml"]["orders"] > 0


async def test_no_alphahub_credentials_is_refused_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    code, out, err = await _run(
        capsys, "--from", "2026-03-02", "--to", "2026-03-31", "--config", str(config)
    )
    assert code == 2 and out == ""
    assert "algorithm 1, 2: not read: no AlphaHub credentials" in err
    assert "a saved --history FILE replays offline" in err


async def test_the_history_is_read_by_the_coverage_audits_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One client: the reader asks from the day before (the service's zone is unstated), and
    its refusals of an odd answer are replay's, with their reasons, per algorithm."""
    async with AlphaHubSimulator() as sim:
        sim.history.add(1, [{"price": 10, "side": "buy", "symbol": "EVE", "timestamp": _EVE}])
        hub = f"alphahub: {{url: '{sim.url}', email: {sim.email}, password: {sim.password}}}\n"
        config = write_config(tmp_path, extra=hub)
        saved = tmp_path / "saved.json"
        period = ("--from", "2026-03-02", "--to", "2026-03-31", "--config", str(config))
        code, _, err = await _run(capsys, *period, "--save-history", str(saved))
        assert code == 2  # only the day before's leg: nothing in the period to replay
        assert "no buy or sell leg between 2026-03-02 and 2026-04-01" in err
        # what AlphaHub answered is saved as it came, the day before included
        assert json.loads(saved.read_text())["1"]["data"]["signals"][0]["symbol"] == "EVE"
        saved.unlink()
        sim.history_fault("shape", count=1)  # the first algorithm's answer only
        code, out, err = await _run(capsys, *period)
        assert code == 2 and out == ""
        assert (
            'algorithm 1: not read: the history answered JSON that is not {"data": {"signals"'
            in err
        )
        assert "algorithm 2" not in err  # its answer was read
        sim.history_fault("404")
        code, out, err = await _run(capsys, *period)
        assert code == 2 and "algorithm 1, 2: not read: the history answered HTTP 404" in err
    assert not saved.exists()  # nothing replayed, nothing saved


async def test_a_refused_login_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with AlphaHubSimulator() as sim:
        hub = f"alphahub: {{url: '{sim.url}', email: {sim.email}, password: wrong}}\n"
        config = write_config(tmp_path, extra=hub)
        period = ("--from", "2026-03-02", "--to", "2026-03-31", "--config", str(config))
        code, out, err = await _run(capsys, *period)
    assert code == 2 and out == ""
    assert "not read: AlphaHub refused the login" in err and "wrong" not in err
