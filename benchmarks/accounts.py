"""One signal, many accounts: how much later the k-th account's order leaves than the first's.

``tradebot run`` runs as a real process with an ``accounts:`` config of 1, 2, 5 and 10 accounts,
each following the same algorithm with its own local Alpaca server (its own key pair), and the
AlphaHub simulator pushes signals one at a time. Each server notes (monotonic clock, in this
process) when the signal's order reaches it; per signal, the arrivals are put in order, and the
figure for the k-th account is its arrival minus the first account's. Printed per number of
accounts: signal -> first order, signal -> last order, and last - first, median and p90.

Each signal opens or closes one share of one of ten symbols, alternately, so every signal makes
exactly one order at each account; the next signal waits until every account's fill is on
record. Signals are ``--settle`` apart (the idle regime a bot waiting for real signals is in;
see benchmarks/e2e.py).

Target: the last account's order leaves at most ``TARGET_MS_PER_ACCOUNT`` (5 ms) per extra
account after the first's, median: (last - first) / (accounts - 1) <= 5 ms. Why 5 ms: the
accounts share one interpreter, so the k-th account's own work on the signal (its plan, its
fsynced commit of the intents, the order request: about 1.5 to 3 ms of a signal's 7 ms path
here, benchmarks/README.md) necessarily queues behind the others'; what must not queue is the
waiting (the broker's answer, the fsync). An account that waited for the one before it to be
answered (accounts served one after the other) costs a whole path, 7 ms or more per account on
this machine, and misses; accounts served side by side cost their CPU only, and pass.

A second target, for each count of two or more: the same run with the last account's broker
hanging every order (its requests held unanswered, a 2 s timeout), the healthy accounts' last
order at most ``TARGET_HANGING_RATIO`` (1.25) times as late as with every account healthy,
median: one account's outage must not delay the others' orders (the hanging account still
plans each signal before its order hangs, so the ratio is about 1 when nothing is shared).

    python benchmarks/accounts.py [--accounts 1 2 5 10] [--signals 40] [--settle 0.05]
                                  [--no-hanging]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from e2e import SYMBOLS, TimedServer, fills_recorded
from targets import check, note

from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alphahub.server import AlphaHubSimulator

ALGO = 14
WARMUP = 4  # pushes that warm caches and connections; an even count ends flat
#: ms per extra account: the last account's order after the first's, median (module docstring)
TARGET_MS_PER_ACCOUNT = 5.0
START_TIMEOUT = 90.0  # seconds for the bot to join AlphaHub (10 accounts on a busy machine)
STOP_TIMEOUT = 60.0
#: seconds an order may take to arrive (a late one is measured, however late, up to this)
ORDER_WAIT = 120.0
#: the healthy accounts' last order with one account's broker hanging, over the same number of
#: accounts all healthy (module docstring)
TARGET_HANGING_RATIO = 1.25
LOTS = 1_000_000  # a fault that outlasts the run


def account_name(k: int) -> str:
    return f"acct{k:02d}"


def config_text(hub: str, servers: list[TimedServer], *, hanging: bool = False) -> str:
    """One account per server, each with its own key pair, following ``ALGO`` with one share.
    Backfill off (as in e2e.py: the previous run's signals are in AlphaHub's history).
    ``hanging``: the last account's requests time out after 2 s (its broker never answers)."""
    blocks = []
    for k, server in enumerate(servers, 1):
        name = account_name(k)
        timeout = ", timeout: 2" if hanging and k == len(servers) else ""
        blocks.append(f"""\
  {name}:
    broker:
      name: alpaca
      alpaca: {{url: {server.url}, stream_url: {server.stream_url}, data_url: {server.url},
               key_id: {name}-key, secret_key: {name}-secret{timeout}}}
    algorithms:
      {ALGO}: {{strategy: fixed_shares, params: {{shares: 1}}}}
""")
    return f"""\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 1, backfill: "off"}}
journal: {{path: journal/bench.sqlite}}
risk: {{kill_switch_file: null}}
dashboard: {{enabled: false}}
accounts:
{"".join(blocks)}"""


async def start_bot(folder: Path, hub: AlphaHubSimulator) -> asyncio.subprocess.Process:
    """``tradebot run`` with its output in a file; returns once it has joined the algorithm."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "ALPHAHUB_"))}
    log = folder / "tradebot.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tradebot", "run", "--config", "config.yaml"),
            cwd=folder,
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
    joined = asyncio.create_task(hub.wait_joined(ALGO, 1))
    exited = asyncio.create_task(proc.wait())
    done, _ = await asyncio.wait(
        {joined, exited}, timeout=START_TIMEOUT, return_when="FIRST_COMPLETED"
    )
    if joined not in done:
        joined.cancel()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        raise RuntimeError(f"tradebot run did not start:\n{log.read_text(errors='replace')}")
    exited.cancel()
    return proc


async def stop_bot(proc: asyncio.subprocess.Process) -> None:
    """Stop it (SIGTERM: it finishes the signal in hand); killed if that takes a minute (an
    order held by a hanging broker)."""
    if proc.returncode is None:
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def measure(
    hub: AlphaHubSimulator,
    servers: list[TimedServer],
    journal: Path,
    signals: int,
    settle: float,
    *,
    healthy: int,
) -> list[list[float]]:
    """Per measured signal, the order arrival of each of the first ``healthy`` accounts in
    seconds after the push, in order of arrival (the first account's first)."""
    rows: list[list[float]] = []
    signals += signals % 2
    for i in range(signals + WARMUP):
        symbol = SYMBOLS[(i // 2) % len(SYMBOLS)]
        kind, side = ("open", "buy") if i % 2 == 0 else ("close", "sell")
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        leg = {"price": 100.0, "side": side, "symbol": symbol, "timestamp": at + f".{i:06d}"}
        for server in servers:
            server.forget()
        sent = time.perf_counter()
        await hub.push(ALGO, {kind: [leg]})
        key = f"{symbol}:{side}"
        waits = (asyncio.to_thread(s.wait_for, key, ORDER_WAIT) for s in servers[:healthy])
        arrived = await asyncio.gather(*waits)
        if i >= WARMUP:
            rows.append(sorted(a - sent for a in arrived))
        deadline = time.monotonic() + ORDER_WAIT
        # the journal belongs to another process: polling is the only way to watch it
        while fills_recorded(journal) < healthy * (i + 1):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the fills of signal {i} are not on record")
            await asyncio.sleep(0.005)
        await asyncio.sleep(settle)
    return rows


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def report(count: int, rows: list[list[float]]) -> None:
    """The figures of one run of ``count`` accounts (``rows`` in seconds)."""
    first = [r[0] * 1000 for r in rows]
    last = [r[-1] * 1000 for r in rows]
    print(f"{count} account{'s' if count > 1 else ''}, {len(rows)} signals:")
    note(f"accounts {count}: signal -> first order, median", statistics.median(first), "ms")
    note(f"accounts {count}: signal -> last order, median", statistics.median(last), "ms")
    if count == 1:
        return
    spread = [r[-1] * 1000 - r[0] * 1000 for r in rows]
    kth = [statistics.median(r[k] * 1000 - r[0] * 1000 for r in rows) for k in range(1, count)]
    print("  k-th account's order after the first's, median ms (k = 2..):")
    print("    " + "  ".join(f"{k}: {v:.2f}" for k, v in enumerate(kth, 2)))
    note(f"accounts {count}: last - first order, p90", quantile(spread, 0.9), "ms")
    check(
        f"accounts {count}: last - first, per extra account",
        statistics.median(spread) / (count - 1),
        "<=",
        TARGET_MS_PER_ACCOUNT,
        "ms",
    )


def report_hanging(count: int, rows: list[list[float]], healthy: list[list[float]]) -> None:
    """The healthy accounts' figures with the last account's broker hanging, against the same
    number of accounts all healthy (``healthy``)."""
    last = statistics.median(r[-1] * 1000 for r in rows)
    print(f"{count} accounts, the last one's broker hanging every order, {len(rows)} signals:")
    note(f"accounts {count}, one hanging: signal -> last healthy order", last, "ms")
    check(
        f"accounts {count}, one hanging: last healthy order / all healthy",
        last / statistics.median(r[-1] * 1000 for r in healthy),
        "<=",
        TARGET_HANGING_RATIO,
    )


async def run(
    count: int, signals: int, settle: float, *, hanging: bool = False
) -> list[list[float]]:
    """One bot of ``count`` accounts, measured, stopped. ``hanging``: the last account's broker
    never answers an order (the others' arrivals are measured)."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        servers = []
        for _ in range(count):
            server = TimedServer()
            server.start()
            stack.callback(server.stop)
            servers.append(server)
        if hanging:
            servers[-1].add_fault(Fault.hang(times=LOTS))
        async with AlphaHubSimulator(port=0) as hub:
            (folder / "config.yaml").write_text(config_text(hub.url, servers, hanging=hanging))
            bot = await start_bot(folder, hub)
            try:
                journal = folder / "journal" / "bench.sqlite"
                healthy = count - 1 if hanging else count
                return await measure(hub, servers, journal, signals, settle, healthy=healthy)
            finally:
                for server in servers:  # held orders answered: the bot's stop need not wait
                    server.clear_faults()
                    server.release()
                await stop_bot(bot)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--signals", type=int, default=40, help="measured signals per run")
    parser.add_argument("--settle", type=float, default=0.05, help="seconds between signals")
    parser.add_argument(
        "--no-hanging", action="store_true", help="leave out the runs with one broker hanging"
    )
    args = parser.parse_args()
    if any(n < 1 for n in args.accounts):
        parser.error("--accounts: each count is at least 1")
    print("signal pushed -> order at each account's local Alpaca server (loopback)")
    for count in args.accounts:
        rows = await run(count, args.signals, args.settle)
        report(count, rows)
        if count > 1 and not args.no_hanging:
            hung = await run(count, args.signals, args.settle, hanging=True)
            report_hanging(count, hung, rows)


if __name__ == "__main__":
    asyncio.run(main())
