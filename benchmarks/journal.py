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

The floor the one-per-commit figure stands on is printed beside it: the same rows, made up
front, written by a bare ``sqlite3`` loop, one INSERT per transaction (``BEGIN IMMEDIATE`` ...
``COMMIT``), WAL and ``synchronous=FULL`` as the journal's, in the same directory (the same
disk): into a table of the same columns and no index (the disk's fsync and SQLite), and into
the journal's own tables (its indexes too, no summary), the floors and the journal taking turns
every 20 writes (the fsync rate of a shared disk moves from one second to the next: only
figures taken side by side compare). ``--floor`` measures only that, ``--rounds`` times, with
the medians and the journal's share of each floor::

    python benchmarks/journal.py --floor [--rounds 3] [--writes 2000] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from targets import check, note

from tradebot.cli.main import cli
from tradebot.core.events import OrderFilled
from tradebot.core.order_shape import MARKET
from tradebot.core.orders import IntentRole, OrderIntent, Plan, TimeInForce
from tradebot.core.signal import LegId, LegKind, Side
from tradebot.journal import Status, open_journal
from tradebot.journal.records import intent_data
from tradebot.journal.rows import INSERT, Row

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


def write_rows(count: int) -> list[Row]:
    """The one-per-commit run's rows (the mix of :func:`event`), made up front."""
    rng = random.Random(1)
    return [event(n, START + timedelta(microseconds=n), rng) for n in range(count)]


def one_per_commit(path: Path, rows: list[Row], profile: Path | None = None) -> float:
    """The journal's durable events/s, one row per ``write_rows`` (one fsynced commit each);
    ``profile``: the loop run under cProfile, its statistics written there."""
    profiler = cProfile.Profile() if profile else None
    with open_journal(path) as journal:
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        for row in rows:
            journal.write_rows([row])
        if profiler is not None:
            profiler.disable()
        rate = len(rows) / (time.perf_counter() - t0)
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    return rate


#: the floor's table without the journal: the entries' columns, no index
_BARE_TABLE = (
    "CREATE TABLE entries (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, status TEXT NOT NULL, "
    "algo_id INTEGER, symbol TEXT, client_order_id TEXT, signal_id INTEGER, leg TEXT, "
    "side TEXT, qty TEXT, price TEXT, cum_qty TEXT, detail TEXT NOT NULL DEFAULT '', "
    "data TEXT NOT NULL DEFAULT '{}', account TEXT NOT NULL DEFAULT 'default')"
)


def floor_connection(path: Path, *, indexed: bool) -> sqlite3.Connection:
    """A bare sqlite3 connection with the journal's pragmas (WAL, synchronous=FULL: the WAL
    fsynced on each commit) on a new file: ``indexed``, a new journal's own tables (its
    indexes and unique guards; no summary is written), else a table of its columns alone."""
    if indexed:
        open_journal(path).close()  # the journal's schema, every migration applied
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 10000")
    if not indexed:
        conn.execute(_BARE_TABLE)
    return conn


#: writes each of the three takes in turn (a slow moment of the disk slows them alike)
TURN = 20


def floor_round(directory: Path, rows: list[Row], n: int) -> dict[str, float]:
    """Events/s of the two floors and of the journal, each on a new file in ``directory``,
    taking turns every :data:`TURN` writes (the order rotating), each timed on its own turns.

    The floors are bare sqlite3 loops writing each row's stored values (made up front) by one
    INSERT in its own transaction (``BEGIN IMMEDIATE``, INSERT, ``COMMIT``); the journal is
    ``write_rows([row])``: the row's values, its summaries, the same one fsynced commit."""
    params = [row.params() for row in rows]
    bare = floor_connection(directory / f"bare-{n}.sqlite", indexed=False)
    tables = floor_connection(directory / f"tables-{n}.sqlite", indexed=True)
    spent = {"bare": 0.0, "tables": 0.0, "journal": 0.0}
    try:
        with open_journal(directory / f"journal-{n}.sqlite") as journal:
            for turn, start in enumerate(range(0, len(rows), TURN)):
                names = ("bare", "tables", "journal")
                for name in names[turn % 3 :] + names[: turn % 3]:
                    t0 = time.perf_counter()
                    if name == "journal":
                        for row in rows[start : start + TURN]:
                            journal.write_rows([row])
                    else:
                        execute = (bare if name == "bare" else tables).execute
                        for p in params[start : start + TURN]:
                            execute("BEGIN IMMEDIATE")
                            execute(INSERT, p)
                            execute("COMMIT")
                    spent[name] += time.perf_counter() - t0
    finally:
        bare.close()
        tables.close()
    return {name: len(rows) / seconds for name, seconds in spent.items()}


def floor_runs(directory: Path, writes: int, rounds: int, profile: Path | None) -> None:
    """``--floor``: ``rounds`` of :func:`floor_round`, their medians and the journal's share of
    each floor (and then, with ``profile``, the journal's loop alone under cProfile)."""
    rows = write_rows(writes)
    figures: dict[str, list[float]] = {"bare": [], "tables": [], "journal": []}
    for n in range(rounds):
        for name, rate in floor_round(directory, rows, n).items():
            figures[name].append(rate)
        print(
            f"round {n + 1}: floor bare {figures['bare'][-1]:,.0f}/s, "
            f"the journal's tables {figures['tables'][-1]:,.0f}/s, "
            f"the journal {figures['journal'][-1]:,.0f}/s",
            flush=True,
        )
    bare, tables, journal = (statistics.median(figures[k]) for k in ("bare", "tables", "journal"))
    note("floor: bare sqlite3, one INSERT per fsynced commit", bare, "/s")
    note("floor: into the journal's tables (no summary)", tables, "/s")
    check("journal durable events/s, one per commit", journal, ">=", 5000, "/s")
    ratios = [j / f for j, f in zip(figures["journal"], figures["bare"], strict=True)]
    note("journal / bare floor, median of the rounds' ratios", statistics.median(ratios))
    ratios = [j / f for j, f in zip(figures["journal"], figures["tables"], strict=True)]
    note("journal / floor into its tables, median of ratios", statistics.median(ratios))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if profile is not None:
        rate = one_per_commit(directory / "profiled.sqlite", rows, profile)
        print(f"the journal under cProfile: {rate:,.0f}/s; statistics in {profile}")


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
    parser.add_argument(
        "--floor",
        action="store_true",
        help="only the one-per-commit figure beside its floors (bare sqlite3 loops), alternated",
    )
    parser.add_argument("--rounds", type=int, default=3, help="--floor: rounds alternated")
    parser.add_argument(
        "--profile",
        type=Path,
        help="--floor: then the journal's one-per-commit loop under cProfile, stats written here",
    )
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="tradebot-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        w = args.writes
        if args.floor:
            floor_runs(directory, w, args.rounds, args.profile)
            return
        one, many = throughput(directory, single=w, batched=50 * w, batch=500)
        print(f"durable events/s, one per commit (fsync each): {one:,.0f}")
        print(f"durable events/s, 500 per commit:              {many:,.0f}")
        check("journal durable events/s, one per commit", one, ">=", 5000, "/s")
        beside = floor_round(directory, write_rows(w), 0)
        note("floor: bare sqlite3, one INSERT per fsynced commit", beside["bare"], "/s")
        note("journal / bare floor, taking turns", beside["journal"] / beside["bare"])
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
