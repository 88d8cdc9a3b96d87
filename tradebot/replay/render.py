"""``tradebot replay``'s output: the sources side by side, per algorithm, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradebot.replay.outcome import Tally

_METRICS = (
    ("orders", "orders"),
    ("rejected", "rejected"),
    ("chased", "chased remainders"),
    ("fills", "fills"),
    ("realised", "realised P&L"),
    ("unrealised", "unrealised P&L"),
    ("pnl", "P&L"),
    ("largest_position", "largest position"),
    ("worst_day", "worst day"),
    ("skips", "skips"),
)


@dataclass(frozen=True, slots=True)
class Column:
    """One source: a config replayed, or the journal."""

    name: str
    tally: Tally


def report_data(
    columns: Sequence[Column],
    algorithms: Sequence[int],
    marks: Mapping[str, Decimal],
    header: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything the output shows, as plain values (JSON's shape)."""
    blocks = []
    for algo_id in (None, *algorithms):
        blocks.append(
            {
                "algo_id": algo_id,
                "columns": {c.name: c.tally.summary(algo_id, marks) for c in columns},
            }
        )
    return {
        **header,
        "columns": [c.name for c in columns],
        "marks": dict(sorted(marks.items())),
        "algorithms": blocks,
    }


def report_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=1, default=_plain)


def _plain(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def report_text(data: Mapping[str, Any]) -> str:
    names: list[str] = list(data["columns"])
    lines = [str(line) for line in data["lines"]]
    for block in data["algorithms"]:
        algo = block["algo_id"]
        cells = block["columns"]
        title = "All algorithms" if algo is None else f"Algorithm {algo}"
        rows = [[title, *names]]
        for key, label in _METRICS:
            rows.append([f"  {label}", *(_cell(key, cells[n]) for n in names)])
        reasons = sorted({r for n in names for r in cells[n]["skips"]})
        for reason in reasons:
            rows.append([f"    {reason}", *(str(cells[n]["skips"].get(reason, 0)) for n in names)])
        unmarked = sorted({s for n in names for s in cells[n]["unmarked"]})
        lines.append("")
        lines.extend(_table(rows))
        if unmarked:
            lines.append(f"  open with no known price (left out of P&L): {', '.join(unmarked)}")
    return "\n".join(lines) + "\n"


def _cell(key: str, summary: Mapping[str, Any]) -> str:
    value = summary[key]
    if key == "largest_position":
        if value is None:
            return "-"
        return f"{value['symbol']} {value['qty']:g} ({_money(value['value'])})"
    if key == "worst_day":
        return "-" if value is None else f"{value['day']:%Y-%m-%d} {_money(value['pnl'])}"
    if key == "skips":
        return str(sum(value.values()))
    if isinstance(value, Decimal):
        return _money(value)
    return str(value)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _table(rows: list[list[str]]) -> list[str]:
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        first = row[0].ljust(width[0])
        rest = [cell.rjust(width[i + 1]) for i, cell in enumerate(row[1:])]
        out.append("  ".join([first, *rest]).rstrip())
    return out
