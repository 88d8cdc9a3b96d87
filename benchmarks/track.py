"""Tracking benchmark: ``tradebot track`` on a large journal, as a new process.

    python benchmarks/track.py [--events 1000000] [--runs 3] [--journal FILE]

Builds a journal of ``--events`` rows with benchmarks/journal.py's generator (the journal the
report and the dashboard are measured on: 40 algorithms, 200 symbols, eight rows per order's
story) and a config that holds every algorithm (``allocation``, so each open leg is sized), then
times ``tradebot track --format json`` over it, every algorithm, as a fresh process (start-up and
imports included), and one algorithm (``--algo 7``). Prints the median of ``--runs`` runs and the
largest peak RSS beside the targets of issue 24 (PASS/MISS): ≤ 2 s and ≤ 150 MB on 1,000,000
rows. ``--journal`` times an existing journal instead (``--events``: its size, for the label).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--journal", type=Path, help="time this journal instead of building one")
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


if __name__ == "__main__":
    sys.exit(main())
