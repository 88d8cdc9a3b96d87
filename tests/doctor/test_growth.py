"""The journal's growth, measured from its own recent history."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tradebot.doctor.findings import Finding, Level, as_text, exit_code
from tradebot.doctor.local import GROWTH_WINDOW, growth
from tradebot.journal.records import Status
from tradebot.journal.rows import Row
from tradebot.journal.sqlite import open_journal

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def test_rows_a_day_over_the_last_week_only(tmp_path: Path) -> None:
    store = open_journal(tmp_path / "j.sqlite")
    try:
        old = NOW - GROWTH_WINDOW - timedelta(days=30)
        store.write_rows([Row(old, Status.START, "long ago")] * 500)  # outside the window
        recent = [Row(NOW - timedelta(hours=h), Status.START, "recent") for h in range(140)]
        store.write_rows(recent)
        seen = growth(store, NOW, size=64_000)
    finally:
        store.close()
    assert seen is not None
    assert seen.rows_per_day == pytest.approx(140 / 7)
    assert seen.bytes_per_row == pytest.approx(64_000 / 640)


def test_a_young_journal_is_measured_over_its_life(tmp_path: Path) -> None:
    store = open_journal(tmp_path / "j.sqlite")
    try:
        store.write_rows([Row(NOW - timedelta(days=2), Status.START, "first")] * 10)
        seen = growth(store, NOW, size=None)
    finally:
        store.close()
    assert seen is not None
    assert seen.rows_per_day == pytest.approx(5)
    assert seen.bytes_per_day is None


def test_an_empty_journal_has_no_growth(tmp_path: Path) -> None:
    store = open_journal(tmp_path / "j.sqlite")
    try:
        assert growth(store, NOW, size=4096) is None
    finally:
        store.close()


def test_the_worst_finding_decides_the_exit_code() -> None:
    findings = [Finding("a", Level.OK, "x"), Finding("b", Level.SKIPPED, "y")]
    assert exit_code(findings) == 0
    assert exit_code([*findings, Finding("c", Level.WARNING, "z")]) == 1
    assert exit_code([Finding("c", Level.ERROR, "z"), Finding("d", Level.WARNING, "w")]) == 2
    assert as_text(findings).endswith("this machine is ready")


def test_a_reason_is_one_masked_line() -> None:
    finding = Finding("x", Level.ERROR, "postgresql://bot:hunter22@db/tradebot\nrefused")
    assert finding.reason == "postgresql://***@db/tradebot refused"


def test_bytes_a_row_count_the_rows_held_not_the_ids(tmp_path: Path) -> None:
    """After an archive the ids run far ahead of the rows: the size is shared by the rows."""
    path = tmp_path / "j.sqlite"
    with open_journal(path) as store:
        store.write_rows([Row(NOW - timedelta(days=1), Status.START, "x")] * 10)
    with sqlite3.connect(path) as conn:  # what an archive leaves: the first rows gone
        conn.execute("DELETE FROM entries WHERE id <= 6")
    conn.close()
    store = open_journal(path, readonly=True)
    try:
        seen = growth(store, NOW, size=4_000)
    finally:
        store.close()
    assert seen is not None
    assert seen.bytes_per_row == pytest.approx(1_000)
