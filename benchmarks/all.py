"""Run every benchmark in sequence and write their figures, against their targets, as a table.

    python benchmarks/all.py [--quick] [--only NAME ...] [--out benchmarks/RESULTS.md]

Each benchmark runs as its own process, one after the other (run it on a quiet machine: the
figures are only as steady as the machine), its output shown as it comes. Every figure a
benchmark reports through ``benchmarks/targets.py`` is collected; the table (figure, target,
measured, PASS or MISS) goes to ``--out`` with the date and the machine (CPU model, cores,
memory, Python), and docs/operations.md quotes it.

``--quick`` runs each benchmark at a small size: a smoke test that they all still run and the
table is written (CI runs it); its figures mean nothing. A benchmark that fails is a row saying
so, the others still run, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from targets import RESULTS_ENV

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Bench:
    name: str  # benchmarks/<name>.py
    what: str
    quick: tuple[str, ...]  # its arguments for --quick
    full: tuple[str, ...] = ()


BENCHES = (
    Bench("plan", "plan() for a 6-leg signal, 20 algos x 50 symbols", ("--runs", "300")),
    Bench(
        "listener",
        "frame -> Signal handoff; drop -> rejoined; rejoin -> backfilled order",
        ("--frames", "500", "--signals", "50", "--drops", "2", "--lapses", "1"),
    ),
    Bench("broker", "adapter submit vs bare TradingClient", ("--orders", "20", "--rounds", "2")),
    Bench(
        "journal",
        "durable events/s; query, report, CSV export on 1,000,000 rows",
        ("--events", "20000", "--writes", "200"),
    ),
    Bench(
        "e2e",
        "signal frame -> order at the broker, vs the safety floor",
        ("--signals", "5", "--rounds", "1"),
    ),
    Bench(
        "dashboard",
        "pages on 1,000,000 rows; the bot with and without a browser",
        ("--events", "20000", "--signals", "3", "--rounds", "1"),
    ),
    Bench(
        "failover",
        "kill -9 the leader -> the new leader's order; SQLite vs PostgreSQL",
        ("--kills", "1", "--signals", "5"),
    ),
    Bench(
        "execution",
        "market vs limit vs limit_then_market",
        ("--signals", "30", "--symbols", "2"),
    ),
    Bench("replay", "tradebot replay: a year of 4 algorithms", ("--days", "20", "--runs", "1")),
    Bench("track", "tradebot track on 1,000,000 rows", ("--events", "20000", "--runs", "1")),
    Bench(
        "accounts",
        "one signal, 1 to 10 accounts: the k-th account's order after the first's",
        ("--accounts", "1", "2", "--signals", "2"),
    ),
)


@dataclass
class Ran:
    bench: Bench
    args: tuple[str, ...]
    seconds: float
    code: int
    figures: list[dict[str, str]] = field(default_factory=list)


def machine() -> dict[str, str]:
    """CPU model, cores, memory, Python, OS: what the figures were measured on."""
    model = platform.processor() or platform.machine()
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": str(os.cpu_count() or "?"),
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }


def load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def run(bench: Bench, args: tuple[str, ...], index: int, total: int) -> Ran:
    """Run one benchmark, its output passed through; collect the figures it reported."""
    command = [sys.executable, str(HERE / f"{bench.name}.py"), *args]
    print(f"\n[{index}/{total}] {bench.name}: {bench.what}", flush=True)
    print(f"      {' '.join(['python', f'benchmarks/{bench.name}.py', *args])}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.jsonl"
        env = {**os.environ, RESULTS_ENV: str(results)}
        started = time.perf_counter()
        code = subprocess.run(command, env=env, cwd=HERE.parent, check=False).returncode
        seconds = time.perf_counter() - started
        lines = results.read_text().splitlines() if results.exists() else []
    figures = [json.loads(line) for line in lines if line.strip()]
    state = "done" if code == 0 else f"FAILED (exit {code})"
    print(f"      {state} in {seconds:.0f} s, {len(figures)} figures", flush=True)
    return Ran(bench, args, seconds, code, figures)


def cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"


def table(ran: list[Ran], *, quick: bool, started: datetime, load_at_start: float | None) -> str:
    box = machine()
    took = sum(r.seconds for r in ran)
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python benchmarks/all.py{' --quick' if quick else ''}` on "
        f"{started:%Y-%m-%d %H:%M} UTC ({took / 60:.1f} min in all).",
        "",
        f"Machine: {box['cpu']}, {box['cores']} cores, {box['memory']} memory, "
        f"Python {box['python']}, {box['os']}"
        + (
            f"; load average {load_at_start:.2f} at the start."
            if load_at_start is not None
            else "."
        ),
        "",
    ]
    if quick:
        lines += [
            "**Quick mode**: every benchmark at a small size, to show that each runs and reports;",
            "the figures below mean nothing.",
            "",
        ]
    lines += ["| figure | target | measured | PASS/MISS |", "|---|---|---|---|"]
    for r in ran:
        for f in r.figures:
            verdict = f["verdict"] or "—"
            lines.append(
                f"| {cell(f['figure'])} | {cell(f['target'])} | {cell(f['measured'])} | {verdict} |"
            )
        if r.code != 0:
            lines.append(f"| `benchmarks/{r.bench.name}.py` | runs | exit {r.code} | FAILED |")
    lines += ["", "| benchmark | arguments | seconds | figures |", "|---|---|---|---|"]
    for r in ran:
        args = " ".join(r.args) or "(defaults)"
        status = str(len(r.figures)) if r.code == 0 else f"failed (exit {r.code})"
        lines.append(f"| `{r.bench.name}.py` | `{args}` | {r.seconds:.0f} | {status} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument(
        "--only", nargs="+", choices=[b.name for b in BENCHES], help="just these benchmarks"
    )
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="the table")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    started = datetime.now(UTC)
    load_at_start = load()
    cores = os.cpu_count() or 1
    if load_at_start is not None and load_at_start > 0.5 * cores and not args.quick:
        print(
            f"note: load average {load_at_start:.1f} on {cores} cores: the machine is not quiet,"
            " the figures will be noisy",
            flush=True,
        )
    ran = []
    for index, bench in enumerate(chosen, 1):
        ran.append(run(bench, bench.quick if args.quick else bench.full, index, len(chosen)))
    text = table(ran, quick=args.quick, started=started, load_at_start=load_at_start)
    args.out.write_text(text, encoding="utf-8")
    misses = sum(f["verdict"] == "MISS" for r in ran for f in r.figures)
    failed = [r.bench.name for r in ran if r.code != 0]
    print(f"\nwrote {args.out}: {sum(len(r.figures) for r in ran)} figures, {misses} MISS", end="")
    print(f", failed: {', '.join(failed)}" if failed else "", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
