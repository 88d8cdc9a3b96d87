"""The Performance page's latency table: the report's figures, over a real journal, served on
loopback; too few samples said in the cell."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests.journal.test_latency import write_known
from tests.web.conftest import served
from tradebot.web.sources import Sources


def test_performance_page_shows_the_latency_percentiles(tmp_path: Path) -> None:
    path = write_known(tmp_path / "journal.sqlite")
    where = Sources(journal_path=path, config=None, kill_switch_path=tmp_path / "tradebot.halt")
    with served(where) as dash:
        api = requests.get(f"{dash.url}api/performance", timeout=10).json()
        html = requests.get(f"{dash.url}performance", timeout=10).text
    rows = {(r["algo_id"], r["interval"]): r for r in api["latency"]}
    assert rows[1, "signal_to_order"] == {
        "algo_id": 1,
        "interval": "signal_to_order",
        "n": 10,
        "p50_s": "0.5",
        "p90_s": "0.9",
        "p99_s": "<100 samples",
    }
    assert (rows[1, "order_to_first_fill"]["p50_s"], rows[1, "order_to_last_fill"]["p50_s"]) == (
        "5",
        "50",
    )
    table = html[html.index('id="latency"') :]
    row = re.search(r'<tr data-algo="1" data-interval="order_to_last_fill">(.*?)</tr>', table, re.S)
    assert row is not None
    cells = re.findall(r'data-col="(\w+)">([^<]*)<', row.group(1))
    assert cells == [("n", "10"), ("p50_s", "50"), ("p90_s", "90"), ("p99_s", "&lt;100 samples")]
