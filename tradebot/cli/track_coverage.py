"""The coverage audit on the command line: ``tradebot track --coverage`` (:func:`show_coverage`).

Per algorithm and day: the legs in AlphaHub's history, and how the journal got them (live, by
backfill, late: ``missed_stale``, archived) or did not (missed); a day below 100% names the legs
it lacks. Without the history (no credentials, offline, the endpoint odd), the journal's side
only, and the output says why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from tradebot.cli.journal_common import (
    csv_text,
    load_config_or_none,
    open_review,
    parse_when,
    table,
)
from tradebot.tracking.coverage import Coverage, DayCoverage, NamedLeg, ratio_text

COLUMNS = (
    "algo_id",
    "day",
    "history",
    "live",
    "backfill",
    "late",
    "archived",
    "missed",
    "extra",
    "coverage",
)
#: the period when --since is not given: the last week
DEFAULT_DAYS = 7


def show_coverage(
    journal_path: Path | str | None,
    config_path: Path | None,
    *,
    since: str | None,
    until: str | None,
    algos: Sequence[int] = (),
    fmt: str = "text",  # text, json or csv
    offline: bool = False,
) -> None:
    """Print the audit (what ``tradebot track --coverage`` calls)."""
    # imported here: the history client loads requests, and ``tradebot --help`` must not
    from tradebot.tracking.coverage_sources import coverage_of, journal_legs

    now = datetime.now(UTC)
    start = parse_when(since, now) if since else _midnight(now) - timedelta(days=DEFAULT_DAYS)
    end = parse_when(until, now) if until else now
    config = load_config_or_none(config_path)
    if config is None:
        from tradebot.config.model import Config

        config = Config()  # no config file: AlphaHub's defaults, credentials from the env
    settings = None if offline else alphahub_settings(config)
    with open_review(journal_path, config_path) as store:
        wanted = sorted(set(algos))
        if not wanted:
            known = set(config.algorithms)
            known |= {leg.identity[0] for leg in journal_legs(store, start, end)}
            wanted = sorted(known)
        result = coverage_of(store, settings, wanted, start, end)
    if fmt == "json":
        click.echo(json.dumps(as_json(result), indent=1))
    elif fmt == "csv":
        click.echo(as_csv(result), nl=False)
    else:
        click.echo(as_text(result))


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def alphahub_settings(config: Any) -> Any:
    """The config's AlphaHub section, credentials from the environment when it has none (as
    ``tradebot run`` and ``tradebot listen`` read them)."""
    from tradebot.cli.listen_cmd import _settings

    return _settings(config, None, None)


def as_text(coverage: Coverage) -> str:
    lines = [
        f"history coverage {coverage.since:%Y-%m-%d %H:%M} to {coverage.until:%Y-%m-%d %H:%M} UTC"
    ]
    rows: list[dict[str, object]] = []
    notes: list[str] = []
    for algo in coverage.algorithms:
        if algo.unavailable is not None:
            notes.append(
                f"algorithm {algo.algo_id}: history {algo.unavailable}; the journal's side only"
            )
        if not algo.days:
            rows.append({"algo_id": algo.algo_id, "day": "-", "coverage": ratio_text(algo.ratio)})
        for day in algo.days:
            rows.append(_row(day))
    lines.append(table(rows, COLUMNS) if rows else "no algorithm")
    for algo in coverage.algorithms:
        for day in algo.days:
            if day.named:
                lines.append(f"algorithm {algo.algo_id} on {day.day}, lacking:")
                lines += [f"  {_leg_text(n)}" for n in day.named]
    lines += notes
    return "\n".join(lines)


def _row(day: DayCoverage) -> dict[str, object]:
    unknown = "-"
    return {
        "algo_id": day.algo_id,
        "day": day.day.isoformat(),
        "history": unknown if day.history is None else day.history,
        "live": day.live,
        "backfill": day.backfill,
        "late": day.late,
        "archived": day.archived,
        "missed": unknown if day.missed is None else day.missed,
        "extra": unknown if day.history is None else day.extra,
        "coverage": ratio_text(day.ratio),
    }


def _leg_text(leg: NamedLeg) -> str:
    _, symbol, side, at = leg.identity
    return f"{leg.fate}: {side} {symbol} at {at.isoformat()}"


def as_csv(coverage: Coverage) -> str:
    """One row per algorithm and day; unknown figures (no history) empty; the lacking legs
    in one cell, ``;``-separated."""
    rows = [
        {
            **{k: v for k, v in day.items() if k not in ("ratio", "lacking")},
            "coverage": day["ratio"],
            "history_unavailable": algo["history_unavailable"],
            "lacking": "; ".join(
                f"{x['fate']} {x['side']} {x['symbol']} {x['timestamp']}" for x in day["lacking"]
            ),
        }
        for algo in as_json(coverage)["algorithms"]
        for day in algo["days"]
    ]
    return csv_text(rows, (*COLUMNS, "history_unavailable", "lacking"), header=True)


def as_json(coverage: Coverage) -> dict[str, Any]:
    return {
        "since": coverage.since.isoformat(),
        "until": coverage.until.isoformat(),
        "algorithms": [
            {
                "algo_id": algo.algo_id,
                "ratio": None if algo.ratio is None else str(algo.ratio),
                "history_unavailable": algo.unavailable,
                "days": [
                    {
                        **{k: v for k, v in _row(day).items() if k != "coverage"},
                        "history": day.history,
                        "missed": day.missed,
                        "extra": None if day.history is None else day.extra,
                        "ratio": None if day.ratio is None else str(day.ratio),
                        "lacking": [
                            {
                                "symbol": n.identity[1],
                                "side": n.identity[2],
                                "timestamp": n.identity[3].isoformat(),
                                "fate": str(n.fate),
                            }
                            for n in day.named
                        ],
                    }
                    for day in algo.days
                ],
            }
            for algo in coverage.algorithms
        ],
    }
