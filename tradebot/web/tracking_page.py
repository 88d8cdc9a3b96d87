"""The dashboard's Tracking page: ``tradebot track``'s figures per algorithm, and a chart of the
algorithm's realised P&L beside the account's (uPlot's columns, as the Performance chart)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradebot.journal.interface import Journal
from tradebot.journal.records import from_micros
from tradebot.journal.review import money_text
from tradebot.tracking.render import as_dict
from tradebot.tracking.track import DEFAULT_EQUITY, track

#: at most this many points per curve (the newest kept)
POINTS = 1500


def tracking_view(journal: Journal, config: Any) -> dict[str, Any]:
    """Per algorithm: its figures (``--format json``'s), its parts with their basis points as
    text, and the chart's columns: one x axis of seconds, per algorithm the algorithm's
    realised P&L and the account's, carried forward between trades (floats only for drawing)."""
    tracked = track(journal, config, equity=DEFAULT_EQUITY, with_curves=True)
    rows = []
    for t in tracked:
        figures = as_dict(t)
        parts = [
            {
                "name": name,
                "money": money,
                "bps": figures["parts_bps"][name],
            }
            for name, money in figures["parts"].items()
        ]
        rows.append(figures | {"part_rows": parts})
    times = sorted({at for t in tracked for curve in t.curves for at, _ in curve})[-POINTS:]
    if not times:
        return {"rows": rows, "equity": money_text(DEFAULT_EQUITY), "chart": None}
    labels, series = [], []
    for t in tracked:
        for name, curve in zip(("algorithm", "account"), t.curves, strict=True):
            labels.append(f"{t.decomposition.algo_id} {name}")
            series.append(_carried(curve, times))
    return {
        "rows": rows,
        "equity": money_text(DEFAULT_EQUITY),
        "chart": {
            "labels": labels,
            "data": [[from_micros(at).timestamp() for at in times], *series],
        },
    }


def _carried(curve: list[tuple[int, Decimal]], times: list[int]) -> list[float]:
    """The curve's value at each time: its last point at or before it (0 before its first)."""
    out, value, i = [], Decimal(0), 0
    for at in times:
        while i < len(curve) and curve[i][0] <= at:
            value = curve[i][1]
            i += 1
        out.append(float(value))  # for drawing only, never for money
    return out
