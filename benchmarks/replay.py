"""Time of ``tradebot replay`` on a year of four algorithms: the preview for an allocation change.

A generated history (``tradebot.replay.synthetic``: each algorithm holds five positions and
rotates two of them every weekday, so most signals are a close and an open) is read from its
history FILE text, classified into signals, and replayed with the real planner and the sim
broker on a simulated clock, every risk limit that costs work on. Timed from the file's text to
the last fill, as the command does it (the journal's column and printing are left out).

    python benchmarks/replay.py [--days 365] [--runs 3]

Target: a year of four algorithms in at most 10 seconds (the median of the runs). The issue
asks for "seconds"; 10 s is what a person editing allocations waits at a terminal for each
try without leaving it, with room for a slower machine and a busier year. The figure is
signals per second: a bigger history scales with it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date

from targets import check, note

from tradebot.config.model import Config
from tradebot.replay.engine import run_replay
from tradebot.replay.history_file import history_text, parse_file
from tradebot.replay.synthetic import generate
from tradebot.replay.timeline import timeline

ALGORITHMS = (14, 16, 17, 18)
TARGET_S = 10.0


def make_config() -> Config:
    risk = {
        "max_order_notional": 25000,
        "max_symbol_exposure": 50000,
        "max_orders_per_day": 200,
        "max_daily_loss": 5000,
        "max_signal_age": 300,
        "price_collar_pct": 5,
        "deny_symbols": ["GME", "AMC"],
    }
    rule = {"strategy": "allocation", "params": {"pct": 20, "max_positions": 5}}
    algorithms = {a: rule | {"allow_short": True} for a in ALGORITHMS}
    return Config.model_validate(
        {"algorithms": algorithms, "risk": risk, "broker": {"name": "sim"}}
    )


def once(config: Config, text: str) -> tuple[float, int, int, int]:
    """Seconds from the history's text to the replay's end; signals, legs and orders."""
    start = time.perf_counter()
    history = parse_file(json.loads(text), config.alphahub.zone)
    arrivals = timeline(history, known=config.algorithms)
    done = run_replay(config, arrivals)
    seconds = time.perf_counter() - start
    legs = sum(len(a.signal.legs) for a in arrivals)
    return seconds, len(arrivals), legs, sum(done.tally.orders.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config = make_config()
    answers = generate(ALGORITHMS, date(2026, 1, 1), args.days, positions=5, rotations=2)
    text = history_text(answers)
    runs = [once(config, text) for _ in range(args.runs)]
    seconds = statistics.median(r[0] for r in runs)
    _, signals, legs, orders = runs[0]
    print(
        f"replay: {len(ALGORITHMS)} algorithms x {args.days} days: {signals} signals,"
        f" {legs} legs, {orders} orders ({len(text) // 1024} kB of history), {args.runs} runs"
    )
    check(f"replay of {args.days} days x 4 algorithms, total", seconds, "<=", TARGET_S, "s")
    note("replay, signals per second", signals / seconds, "/s")


if __name__ == "__main__":
    main()
