"""Shared test helpers. Fixture files live in tests/fixtures: the repo stands alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
#: the PostgreSQL server fixtures (pg_server, pg_url, journal_at: one journal per backend)
pytest_plugins = ["tests.pgserver"]


def load_fixture(name: str) -> Any:
    """A JSON fixture from tests/fixtures (e.g. ``alphahub/new_signals_minotaur3.json``)."""
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
