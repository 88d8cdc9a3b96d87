"""The dashboard's Tracking page: ``tradebot track``'s figures and the chart of the algorithm's
realised P&L beside the account's, served over a real journal on loopback."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests.tracking.test_track_journal import ALGO, _scene
from tests.web.conftest import served
from tradebot.config.loader import load_config
from tradebot.web.sources import Sources


def test_the_tracking_page_shows_the_parts_and_draws_both_curves(tmp_path: Path) -> None:
    config = _scene(tmp_path)
    sources = Sources(
        journal_path=tmp_path / "journal.sqlite",
        config=load_config(config, env={}),
        kill_switch_path=tmp_path / "tradebot.halt",
    )
    with served(sources) as dash:
        view = requests.get(f"{dash.url}api/tracking", timeout=10).json()
        page = requests.get(f"{dash.url}tracking", timeout=10)
    (row,) = view["rows"]
    assert row["algo_id"] == ALGO and row["reconciled"] is True
    assert sum(map(Decimal, row["parts"].values()), Decimal(0)) == Decimal(row["gap"])
    chart = view["chart"]
    assert chart["labels"] == [f"{ALGO} algorithm", f"{ALGO} account"]
    xs, algorithm, account = chart["data"]
    assert len(xs) == len(algorithm) == len(account) and xs == sorted(xs)
    # the account's curve ends at its realised P&L: AAA's stop lost 61 x (80.10 - 79)
    assert account[-1] == pytest.approx(-67.10)
    assert page.status_code == 200
    assert 'data-chart="api/tracking"' in page.text
    assert 'data-part="execution:market"' in page.text
    assert "the account&#39;s result matches the review" in page.text
    assert 'href="tracking" class="here"' in page.text
