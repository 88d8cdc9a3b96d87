"""What the replay tests share: configs written to a folder, generated histories, the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tradebot.cli.main import main
from tradebot.config.loader import load_config
from tradebot.config.model import Config
from tradebot.replay.history_file import History, history_text, parse_file
from tradebot.replay.synthetic import generate
from tradebot.replay.timeline import Arrival, timeline

ALGOS = (1, 2)


def write_config(
    folder: Path, name: str = "config.yaml", *, pct: int = 20, extra: str = ""
) -> Path:
    """Two allocation algorithms of ``pct`` percent each over two positions, no slippage."""
    text = f"""\
broker:
  name: sim
  sim: {{cash: 100000, slippage_bps: 0}}
journal:
  path: journal.sqlite
risk:
  max_signal_age: 300
  price_collar_pct: 5
algorithms:
  1: {{strategy: allocation, params: {{pct: {pct}, max_positions: 2}}, allow_short: true}}
  2: {{strategy: allocation, params: {{pct: {pct}, max_positions: 2}}, allow_short: true}}
{extra}"""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def history_answers(days: int = 30, algos: tuple[int, ...] = ALGOS) -> dict[int, list[Any]]:
    return dict(generate(algos, date(2026, 3, 2), days, positions=2))


def write_history(folder: Path, days: int = 30, algos: tuple[int, ...] = ALGOS) -> Path:
    path = folder / "history.json"
    path.write_text(history_text(history_answers(days, algos)), encoding="utf-8")
    return path


def load(path: Path) -> Config:
    return load_config(path)


def arrivals_of(config: Config, days: int = 30) -> list[Arrival]:
    data = json.loads(history_text(history_answers(days)))
    history: History = parse_file(data, config.alphahub.zone)
    return timeline(history, known=config.algorithms)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["replay", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run_cli(capsys, "--format", "json", *args)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data
