"""Tracking benchmark: ``tradebot track`` on a large journal, as a new process.

    python benchmarks/track.py [--events 1000000] [--runs 3] [--journal FILE]

Builds a journal of ``--events`` rows with benchmarks/journal.py's generator (the journal the
report and the dashboard are measured on: 40 algorithms, 200 symbols, eight rows per order's
story) and a config that holds every algorithm (``allocation``, so each open leg is sized), then
times ``tradebot track --format json`` over it, every algorithm, as a fresh process (start-up and
imports included), and one algorithm (``--algo 7``). Prints the median of ``--runs`` runs and the
largest peak RSS beside the targets of issue 24 (PASS/MISS): ≤ 2 s and ≤ 150 MB on 1,000,000
rows. ``--journal`` times an existing journal instead (``--events``: its size, for the label).

``--floor`` prints, on the same journal, what no faster tracking code can go under: the
interpreter with the command's imports (a new process running ``track --help``), the tracking
summary's SQL for every algorithm (the rows fetched, nothing made of them), and the strategies'
own sizing of every open leg (``chain.ideal_sizes`` with the config's strategy asked as
``tracking/sizing.py`` asks it, the core's ``Leg`` built for each; no rules records, no ledger).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from targets import check, note

HERE = Path(__file__).resolve().parent
#: issue 24: the tracking report on a million rows
TRACK_SECONDS = 2.0
TRACK_MB = 150
ALGORITHMS = range(1, 41)  # benchmarks/journal.py's


def sibling(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_text(journal: Path) -> str:
    lines = [f"journal:\n  path: {journal}\nalgorithms:"]
    for algo in ALGORITHMS:
        lines.append(
            f"  {algo}:\n    strategy: allocation\n    params: {{pct: 2, max_positions: 20}}"
        )
    return "\n".join(lines) + "\n"


def floors(path: Path, config: Path) -> None:
    """Print the floors ``--floor`` names (module docstring), each the best of three."""
    from decimal import Decimal

    from tradebot.config.loader import load_config
    from tradebot.journal import open_journal
    from tradebot.tracking.chain import ideal_sizes
    from tradebot.tracking.journal_facts import read_periods
    from tradebot.tracking.sizing import strategy_sizer

    journal_bench = sibling("journal")
    start = min(journal_bench.measured(["track", "--help"])[0] for _ in range(3))
    algos = list(ALGORITHMS)
    with open_journal(path, readonly=True) as journal:
        sql = []
        for _ in range(3):
            t0 = time.process_time()
            for algo in algos:
                journal.tracking_summary(algo)
            sql.append(time.process_time() - t0)
        periods = read_periods(journal, algos, since=None, until=None)
    algorithms = load_config(config, env={}).algorithms
    sizing = []
    for _ in range(3):
        t0 = time.process_time()
        for algo in algos:
            size = strategy_sizer(algorithms[algo].sizer, algo, Decimal(100_000))
            ideal_sizes(periods[algo], size)  # each leg with the ideal's holdings at the time
        sizing.append(time.process_time() - t0)
    opens = sum(leg.is_open for p in periods.values() for leg in p.legs)
    print(f"floor: start-up and imports (track --help, new process) {start:.2f} s")
    print(f"floor: the summary's SQL, {len(algos)} algorithms (CPU) {min(sql):.2f} s")
    print(f"floor: the strategies' sizing of {opens:,} open legs (CPU) {min(sizing):.2f} s")
    print(f"floor: together {start + min(sql) + min(sizing):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--journal", type=Path, help="time this journal instead of building one")
    parser.add_argument("--floor", action="store_true", help="print the floors too (docstring)")
    args = parser.parse_args()
    journal_bench = sibling("journal")
    with tempfile.TemporaryDirectory(prefix="tradebot-bench-track-") as tmp:
        path = args.journal
        if path is None:
            path = Path(tmp) / "large.sqlite"
            t0 = time.perf_counter()
            journal_bench.build(path, args.events)
            print(f"built a journal of {args.events:,} rows in {time.perf_counter() - t0:.1f} s")
        config = Path(tmp) / "config.yaml"
        config.write_text(config_text(path), encoding="utf-8")
        base = [
            "track",
            "--journal",
            str(path),
            "--config",
            str(config),
            "--format",
            "json",
            "--offline",
        ]
        for label, extra in (
            ("every algorithm", []),
            ("one algorithm (--algo 7)", ["--algo", "7"]),
        ):
            runs = [journal_bench.measured([*base, *extra]) for _ in range(args.runs)]
            seconds = statistics.median(s for s, _ in runs)
            peak = max(mb for _, mb in runs)
            print(
                f"tradebot track, {label}: {', '.join(f'{s:.2f}' for s, _ in runs)} s, "
                f"peak RSS {peak:.0f} MB"
            )
            if extra:
                note(f"track --algo 7 on {args.events:,} rows", seconds, "s")
            else:
                check(f"track on {args.events:,} rows", seconds, "<=", TRACK_SECONDS, "s")
                check("track peak RSS", peak, "<=", TRACK_MB, "MB")
        if args.floor:
            floors(path, config)


if __name__ == "__main__":
    sys.exit(main())
