"""Journal benchmark: durable write throughput, and the review query on a large journal.

    python benchmarks/journal.py [--events 1000000] [--keep DIR]

Prints:
* durable events/s, every commit fsynced (synchronous=FULL, WAL): one event per transaction
  (the intent path: nothing batched) and batched (events recorded together in one transaction);
* the time of ``tradebot journal --algo X --since D`` on a journal of ``--events`` rows: in
  process (open + query + format, what the command does) and as a fresh process (adds Python
  start-up and imports).

* ``tradebot report`` (P&L, counts, and the execution review of every order, read from the
  journal's summaries; and ``--from-rows``, every row read) and the full CSV export
  (``journal --limit 0 --format csv``) on that journal, each as a new process: time and peak
  RSS.

Targets: >= 5,000 events/s; the query under 200 ms (issue 5); report <= 1 s and <= 100 MB peak
on 1,000,000 rows (issue 24; printed with PASS/MISS), export in flat memory whatever the size
(issue 11). ``--writes`` shrinks the write runs (a smoke run).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from targets import check

from tradebot.cli.main import cli
from tradebot.core.events import OrderFilled
from tradebot.core.order_shape import MARKET
from tradebot.core.orders import IntentRole, OrderIntent, Plan, TimeInForce
from tradebot.core.signal import LegId, LegKind, Side
from tradebot.journal import Status, open_journal
from tradebot.journal.records import intent_data
from tradebot.journal.rows import Row

START = datetime(2026, 1, 1, tzinfo=UTC)
SYMBOLS = [f"SYM{n}" for n in range(200)]
STATUSES = [
    Status.SIGNAL,
    Status.LEG,
    Status.PLAN,
    Status.INTENT,
    Status.SUBMITTED,
    Status.ACCEPTED,
    Status.FILLED,
    Status.SKIPPED,
]


#: an INTENT row's data as the executor writes it (the execution review reads it)
INTENT_DATA = intent_data(
    OrderIntent(
        "tb1-SYM-o-0000000000000000",
        1,
        "SYM",
        Side.BUY,
        Decimal(10),
        MARKET,
        TimeInForce.DAY,
        IntentRole.OPEN,
        (LegId(1, LegKind.OPEN, "SYM", Side.BUY, START),),
        Decimal("123.45"),
    )
)


def event(n: int, at: datetime, rng: random.Random) -> Row:
    """Row ``n``: eight rows make one order's story (signal, leg, plan, intent, submitted,
    accepted, filled, a skip), sharing its client order id and leg, as the review reads them."""
    status = STATUSES[n % len(STATUSES)]
    symbol = rng.choice(SYMBOLS)
    story = n // 8
    return Row(
        at,
        status,
        f"{status} buy 10 {symbol} market",
        algo_id=rng.randrange(1, 41),
        symbol=symbol,
        client_order_id=f"tb1-SYM-o-{story:016x}",
        signal_id=story + 1,
        leg=f"1:open:SYM:buy:{story}" if status in (Status.LEG, Status.INTENT) else None,
        side="buy",
        qty=Decimal(10),
        price=Decimal("123.45"),
        cum_qty=Decimal(n) if status is Status.FILLED else None,
        data=INTENT_DATA if status is Status.INTENT else {"broker_order_id": f"b-{n}"},
    )


def throughput(directory: Path, *, single: int, batched: int, batch: int) -> tuple[float, float]:
    """Events made up front: what is timed is the journal (encode, insert, commit, fsync)."""
    rng = random.Random(1)
    rows = [event(n, START + timedelta(microseconds=n), rng) for n in range(single + batched)]
    with open_journal(directory / "throughput.sqlite") as journal:
        t0 = time.perf_counter()
        for row in rows[:single]:
            journal.write_rows([row])
        one = single / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for start in range(single, single + batched, batch):
            journal.write_rows(rows[start : start + batch])
        many = batched / (time.perf_counter() - t0)
    return one, many


def fill_events(count: int, orders: int) -> tuple[list[OrderIntent], list[OrderFilled]]:
    """``orders`` intents, each filled in ``count // orders`` fills (the last one final)."""
    leg_at = START
    intents = [
        OrderIntent(
            f"tb1-SYM-o-{n:016x}",
            1,
            "SYM",
            Side.BUY,
            Decimal(1000),
            MARKET,
            TimeInForce.DAY,
            IntentRole.OPEN,
            (LegId(1, LegKind.OPEN, "SYM", Side.BUY, leg_at + timedelta(seconds=n)),),
            Decimal("12.5"),
        )
        for n in range(orders)
    ]
    per = count // orders
    events = [
        OrderFilled(
            client_order_id=i.client_order_id,
            broker_order_id="b",
            at=START,
            symbol="SYM",
            side=Side.BUY,
            qty=Decimal(1),
            price=Decimal("12.51"),
            cum_qty=Decimal(k + 1),
            order_qty=i.qty,
            partial=k + 1 < per,
        )
        for k in range(per)
        for i in intents
    ]
    return intents, events


def event_throughput(directory: Path, *, single: int, batched: int) -> tuple[float, float]:
    """Broker fill events through the exactly-once path (lookups, dedup, insert, fsync)."""
    intents, events = fill_events(single + batched, orders=(single + batched) // 2)
    with open_journal(directory / "events.sqlite") as journal:
        journal.record_plan(None, Plan(tuple(intents)))
        t0 = time.perf_counter()
        for e in events[:single]:
            journal.record_event(e)
        one = single / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for start in range(single, single + batched, 500):
            journal.record_events(events[start : start + 500])
        many = batched / (time.perf_counter() - t0)
    return one, many


def build(path: Path, events: int) -> None:
    rng = random.Random(2)
    span = timedelta(days=60).total_seconds()
    with open_journal(path) as journal:
        for start in range(0, events, 20_000):
            rows = [
                event(n, START + timedelta(seconds=span * n / events), rng)
                for n in range(start, min(events, start + 20_000))
            ]
            journal.write_rows(rows)


def query_times(path: Path, args: list[str], runs: int = 7) -> tuple[float, float]:
    runner = CliRunner()
    in_process = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = runner.invoke(cli, ["journal", "--journal", str(path), *args])
        in_process.append(time.perf_counter() - t0)
        assert result.exit_code == 0, result.output
    fresh = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tradebot", "journal", "--journal", str(path), *args],
            check=True,
            capture_output=True,
        )
        fresh.append(time.perf_counter() - t0)
    return statistics.median(in_process), statistics.median(fresh)


# Runs the command and prints its own peak RSS. A child's peak counts the memory it had before
# exec, i.e. its parent's; this launcher is small, the benchmark process that built the journal
# is not.
_LAUNCHER = """
import os, sys, time
t0 = time.perf_counter()
pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "tradebot", *sys.argv[1:]], os.environ,
                     file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - t0, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def measured(args: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of ``tradebot ARGS`` as a new process, output discarded."""
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *args], check=True, capture_output=True, text=True
    ).stdout
    seconds, peak_kib, code = out.split()
    if code != "0":
        raise SystemExit(f"tradebot {' '.join(args)} exited {code}")
    return float(seconds), int(peak_kib) / 1024  # ru_maxrss is in KiB on Linux


#: issue 24: the report on a million rows
REPORT_SECONDS = 1.0
REPORT_MB = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--writes",
        type=int,
        default=2_000,
        help="events timed one per commit (the batched runs are 50x this)",
    )
    parser.add_argument("--keep", type=Path, help="build the large journal here and keep it")
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="tradebot-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        w = args.writes
        one, many = throughput(directory, single=w, batched=50 * w, batch=500)
        print(f"durable events/s, one per commit (fsync each): {one:,.0f}")
        print(f"durable events/s, 500 per commit:              {many:,.0f}")
        check("journal durable events/s, one per commit", one, ">=", 5000, "/s")
        one, many = event_throughput(directory, single=w, batched=25 * w)
        print(f"broker fill events/s (dedup + insert), one per commit: {one:,.0f}")
        print(f"broker fill events/s (dedup + insert), 500 per commit: {many:,.0f}")
        path = directory / "large.sqlite"
        if not path.exists():
            t0 = time.perf_counter()
            build(path, args.events)
            print(
                f"built {args.events:,} events in {time.perf_counter() - t0:.1f} s "
                f"({path.stat().st_size / 1e6:.0f} MB)"
            )
        since = (START + timedelta(days=45)).strftime("%Y-%m-%d")
        for extra in ([], ["--limit", "0", "--format", "csv"]):
            cmd = ["--algo", "7", "--since", since, *extra]
            inside, fresh = query_times(path, cmd)
            print(
                f"tradebot journal {' '.join(cmd)}: {inside * 1000:.0f} ms in process, "
                f"{fresh * 1000:.0f} ms as a new process"
            )
            if not extra:
                check("journal --algo --since query, in process", inside * 1000, "<", 200, "ms")
        # review at scale: the report reads the journal's summaries (kept as rows are written)
        seconds, peak = measured(["report", "--journal", str(path)])
        check(f"report on {args.events:,} rows", seconds, "<=", REPORT_SECONDS, "s")
        check("report peak RSS", peak, "<=", REPORT_MB, "MB")
        seconds, peak = measured(["report", "--journal", str(path), "--from-rows"])
        print(
            f"tradebot report --from-rows (every row read): {seconds:.2f} s, peak RSS {peak:.0f} MB"
        )
        # the export is streamed, so memory stays flat whatever the journal's size
        cmd = ["journal", "--journal", str(path), "--limit", "0", "--format", "csv"]
        seconds, peak = measured(cmd)
        print(f"tradebot {' '.join(cmd[:1] + cmd[3:])}: {seconds:.2f} s, peak RSS {peak:.0f} MB")
        check(f"CSV export on {args.events:,} rows", seconds, "<=", 10, "s")
        check("CSV export peak RSS (flat memory)", peak, "<=", 100, "MB")
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
