"""The latency histograms scraped over HTTP from a real running bot (the AlphaHub simulator,
the sim broker, the journal) after a signal and its fill, and the report's table agreeing on
what was timed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from tests.web.test_served_dashboard import get, running_bot, until_ok
from tradebot.cli.main import cli

FILL_DELAY = 0.05  # the sim broker's, in test_served_dashboard's CONFIG


def _value(text: str, name: str) -> float:
    found = re.search(rf'^{name}\{{account="default",algo="17"\}} (\S+)$', text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found[1])


async def test_metrics_time_a_signal_its_order_and_its_fill(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as run:
        handle = run.plugged.dashboard.handle
        assert handle is not None and handle.url
        await run.push_open("AAPL", 189.4)

        async def filled() -> bool:
            text = (await get(handle.url + "metrics")).text
            series = 'tradebot_order_to_last_fill_seconds_count{account="default",algo="17"}'
            return f"{series} 1.0" in text

        await until_ok(filled)
        text = (await get(handle.url + "metrics")).text
        journal = run.journal
    assert _value(text, "tradebot_signal_to_order_seconds_count") == 1
    assert _value(text, "tradebot_order_to_first_fill_seconds_count") == 1
    to_order = _value(text, "tradebot_signal_to_order_seconds_sum")
    first = _value(text, "tradebot_order_to_first_fill_seconds_sum")
    last = _value(text, "tradebot_order_to_last_fill_seconds_sum")
    assert 0 <= to_order < 5
    # the broker fills after its delay: timed from the send, first and last the one fill
    assert FILL_DELAY <= first == last < 5
    # the buckets run from a millisecond to half an hour
    bucket = 'tradebot_order_to_last_fill_seconds_bucket{account="default",algo="17",le='
    assert bucket + '"0.001"} 0.0' in text
    assert bucket + '"1800.0"} 1.0' in text
    out = CliRunner().invoke(
        cli, ["report", "--journal", str(journal), "--latency", "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.output)["rows"]
    counts = [
        row[f"{n}_n"] for n in ("signal_to_order", "order_to_first_fill", "order_to_last_fill")
    ]
    assert counts == [1, 1, 1]
    assert row["order_to_first_fill_p50_s"] is None  # one sample: fewer than p50 needs
