"""A replay reads the journal, read-only, and leaves it byte for byte as it was."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tradebot.core.account import AccountSnapshot
from tradebot.core.book import PositionBook
from tradebot.core.market import MarketPrices
from tradebot.core.planner import plan
from tradebot.core.signal import Leg, LegKind, Side, Signal
from tradebot.journal.opener import open_journal

from .helpers import load, run_json, write_config, write_history


def _journal(path: Path, config: Path) -> None:
    """A journal with one signal of algorithm 1 and its order, on the history's first day."""
    at = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    leg = Leg(1, LegKind.OPEN, "S001", Side.BUY, Decimal("100"), at)
    signal = Signal(1, at, (), (leg,))
    account = AccountSnapshot("replay", Decimal(100000), Decimal(100000), Decimal(100000))
    market = MarketPrices({"S001": Decimal(100)}, as_of={"S001": at})
    found = plan(signal, PositionBook(), account, load(config).planning, at, market=market)
    assert len(found.intents) == 1
    with open_journal(path, clock=lambda: at) as store:
        store.record_plan(store.record_signal(signal), found)


def test_the_journal_is_byte_identical_after_a_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    journal = tmp_path / "journal.sqlite"
    _journal(journal, config)
    before = hashlib.sha256(journal.read_bytes()).hexdigest()
    data = run_json(capsys, "--history", str(write_history(tmp_path)), "--config", str(config))
    assert data["columns"] == ["replay config.yaml", "journal"]
    assert data["algorithms"][0]["columns"]["journal"]["orders"] == 1
    # compared over the history's whole days (UTC): its first leg is at 14:30, its last on 3-31
    assert (data["from"], data["to"]) == ("2026-03-02T00:00:00+00:00", "2026-04-01T00:00:00+00:00")
    assert hashlib.sha256(journal.read_bytes()).hexdigest() == before


def test_no_journal_is_said_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    data = run_json(capsys, "--history", str(write_history(tmp_path)), "--config", str(config))
    assert data["columns"] == ["replay config.yaml"]
    assert any("Journal: none to compare with" in line for line in data["lines"])
    assert not (tmp_path / "journal.sqlite").exists()
