"""Signal frame sent by the AlphaHub simulator -> order received by the local Alpaca server.

The bots run as real processes against the same simulators, in one run, alternating rounds:
``tradebot run`` (journaled, planned, checked) and a minimal bot that only parses the frame and
calls ``TradingClient.submit_order`` (benchmarks/e2e_minimal_bot.py). Timestamps are taken in
this process (monotonic clock) when the frame is pushed and when the server reads the order.

A third bot is the minimal one plus one reference-price request per signal and one fsynced SQLite
commit per leg before the order leaves (``--durable``): the least a safe bot must do
(docs/design.md: a signal's price is checked against the broker's market data, and each intent is
durable before it leaves the process). Its ratio to the minimal bot is the floor those rules set on
this machine, whatever the rest of the code does.

Each signal opens or closes one share of one of ten symbols, alternately, so symbols repeat (as
they do in real feeds) and every signal makes exactly one order. Signals are 50 ms apart: on this
machine an idle pause that long leaves every process's next few hundred microseconds of work
several times slower (caches and CPU wake-up), the regime a bot waiting for real signals is in.

Target (issue 11): tradebot / (minimal + price + commit), ratio of medians <= 1.3: a bot that
makes each intent durable and checks its price cannot be faster than that floor, so the ratio is
what the rest of tradebot costs. (Issue 6's tradebot / minimal <= 1.5 predates the price check.)

    python benchmarks/e2e.py [--signals 100] [--rounds 2] [--profile DIR] [--spy DIR]
                             [--baseline PYTHON]

``--baseline PYTHON`` A/B: another checkout's interpreter (its ``.venv/bin/python``, whose
``-m tradebot`` is that checkout's code, e.g. main's) runs as a fourth bot in every round, right
after this one, with its own journal: both are measured against the same floor, in the same
minutes of a busy machine. Each round's figures are printed too.

``--profile DIR`` runs tradebot under cProfile, one ``tradebot-<round>.prof`` per round in DIR
(read with ``python -m pstats``); its figures are then the profiler's, not tradebot's.
``--spy DIR`` attaches py-spy (``pip install py-spy``) to tradebot once it is up, sampling only
the thread holding the GIL (``--gil``: the bot mostly waits, and what it waits on costs no
GIL), one raw ``tradebot-<round>.txt`` per round, for ``benchmarks/spy_summary.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from targets import check, note

from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status
from tradebot.journal.sqlite import open_journal
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

HERE = Path(__file__).resolve().parent
WARMUP = 6  # pushes that warm caches and connections; an even count ends every round flat
ALGO = 14
SYMBOLS = [f"SYM{chr(65 + i)}" for i in range(10)]
TARGET = 1.3  # tradebot / (minimal + price + commit), ratio of medians


class TimedServer(AlpacaServer):
    """The local Alpaca server, noting when each order request arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, float] = {}
        self.arrived = threading.Condition()

    def handle(self, method: str, path: str, query: dict[str, str], body: object) -> Any:
        if method == "POST" and path == "/v2/orders" and isinstance(body, dict):
            key = str(body.get("symbol")) + ":" + str(body.get("side"))
            with self.arrived:
                self.arrivals.setdefault(key, time.perf_counter())  # the first request counts
                self.arrived.notify_all()
        return super().handle(method, path, query, body)

    def forget(self) -> None:
        """Drop arrivals nobody waited for: a request sent again after a timeout (the adapter
        retries under the same client order id) must not be taken for the next signal's order,
        or that signal's latency comes out negative."""
        with self.arrived:
            self.arrivals.clear()

    def wait_for(self, key: str, timeout: float = 10.0) -> float:
        with self.arrived:
            if not self.arrived.wait_for(lambda: key in self.arrivals, timeout):
                raise TimeoutError(f"no order for {key}")
            return self.arrivals.pop(key)


def config_text(hub: str, server: AlpacaServer) -> str:
    """tradebot's config. Backfill is off: the signals pushed to the other bots between two
    tradebot rounds are in AlphaHub's history, and traded at the next start they sent a burst of
    orders that the measurement took for live ones (and closed positions a live close then
    found flat, so it sent nothing)."""
    return f"""\
alphahub: {{url: {hub}, email: demo@example.com, password: demo, connections: 1, backfill: "off"}}
broker:
  name: alpaca
  alpaca: {{url: {server.url}, stream_url: {server.stream_url}, data_url: {server.url},
           key_id: k, secret_key: s}}
journal: {{path: journal/bench.sqlite}}
risk: {{kill_switch_file: null}}
algorithms:
  {ALGO}: {{strategy: fixed_shares, params: {{shares: 1}}}}
"""


async def start(args: list[str], cwd: Path, ready: str) -> asyncio.subprocess.Process:
    """Start a bot with its output in a file (an undrained pipe would block it once full),
    and return once that output shows ``ready``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "ALPHAHUB_"))}
    log = cwd / f"{Path(args[-1]).stem}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 60
    # another process's output: polling the file is the only way to watch it
    while ready not in log.read_text(errors="replace"):
        if proc.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{args} did not start:\n{log.read_text(errors='replace')}")
        await asyncio.sleep(0.05)
    return proc


def fills_recorded(journal: Path) -> int:
    """Fill rows in the bot's journal (read-only, as the review commands read it)."""
    if not journal.exists():
        return 0
    store = open_journal(journal, readonly=True)
    try:
        return len(store.entries(EntryFilter(statuses=(Status.FILLED,))))
    finally:
        store.close()


async def measure(
    hub: AlphaHubSimulator,
    server: TimedServer,
    signals: int,
    settle: float,
    journal: Path | None = None,
) -> list[float]:
    """Push signals one at a time; with ``journal``, wait for each fill to be on record first,
    so a close never overtakes the fill of the open it closes."""
    start_fills = fills_recorded(journal) if journal else 0
    await hub.wait_joined(ALGO, 1)
    samples = []
    signals += signals % 2
    for i in range(signals + WARMUP):
        symbol = SYMBOLS[(i // 2) % len(SYMBOLS)]
        kind, side = ("open", "buy") if i % 2 == 0 else ("close", "sell")
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        leg = {"price": 100.0, "side": side, "symbol": symbol, "timestamp": at + f".{i:06d}"}
        server.forget()
        sent = time.perf_counter()
        await hub.push(ALGO, {kind: [leg]})
        arrived = await asyncio.to_thread(server.wait_for, f"{symbol}:{side}")
        if i >= WARMUP:
            samples.append(arrived - sent)
        # the journal belongs to another process: polling is the only way to watch it
        while journal is not None and fills_recorded(journal) < start_fills + i + 1:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        await asyncio.sleep(settle)  # idle between signals, the same for both bots
    return samples


def summary(name: str, samples: list[float]) -> float:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"  {name:<40} median {median * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   n={len(samples)}"
    )
    return median


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=100, help="signals per bot per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=0.05, help="seconds between signals")
    parser.add_argument("--profile", type=Path, help="run tradebot under cProfile, output here")
    parser.add_argument("--spy", type=Path, help="sample tradebot with py-spy, output here")
    parser.add_argument(
        "--baseline", type=Path, help="A/B: the python of another checkout, a fourth bot"
    )
    args = parser.parse_args()
    ours: list[float] = []
    base: list[float] = []
    durable: list[float] = []
    other: list[float] = []
    rounds: list[tuple[float, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = TimedServer()
        server.start()
        try:
            async with AlphaHubSimulator(port=0) as hub:
                (folder / "config.yaml").write_text(config_text(hub.url, server))
                minimal = [sys.executable, str(HERE / "e2e_minimal_bot.py"), hub.url, server.url]
                tradebot = [sys.executable, "-m", "tradebot", "run", "--config", "config.yaml"]
                journal = folder / "journal" / "bench.sqlite"
                for n in range(args.rounds):
                    profiled = tradebot
                    if args.profile is not None:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        out = str(args.profile.resolve() / f"tradebot-{n}.prof")
                        profiled = [sys.executable, "-m", "cProfile", "-o", out, *tradebot[1:]]
                    spy = None
                    if args.spy is not None:
                        args.spy.mkdir(parents=True, exist_ok=True)
                        spy = args.spy.resolve() / f"tradebot-{n}.txt"
                    got = await run_bot(
                        profiled, folder, "algorithms:", hub, server, args, journal, spy
                    )
                    ours += got
                    figures = [statistics.median(got)]
                    if args.baseline is not None:
                        got = await run_bot(
                            [str(args.baseline), *tradebot[1:]],
                            other_folder(folder, hub.url, server),
                            "algorithms:",
                            *(hub, server, args, folder / "baseline" / "journal" / "bench.sqlite"),
                        )
                        other += got
                        figures.append(statistics.median(got))
                    base += await run_bot([*minimal, str(ALGO)], folder, "ready", hub, server, args)
                    log = str(folder / f"minimal-{time.monotonic_ns()}.sqlite")
                    durable_bot = [*minimal, str(ALGO), "--durable", log]
                    got = await run_bot(durable_bot, folder, "ready", hub, server, args)
                    durable += got
                    rounds.append((*figures, statistics.median(got)))
        finally:
            server.stop()
    print("signal frame pushed -> order at the local Alpaca server (loopback)")
    m_ours = summary("tradebot run (journal, plan, checks)", ours)
    m_base = summary("minimal parse + submit_order", base)
    m_durable = summary("minimal + price request + fsynced commit", durable)
    print(f"  ratio of medians, tradebot / minimal: {m_ours / m_base:.2f}")
    print(
        f"  the safety floor, minimal + price + commit / minimal: {m_durable / m_base:.2f} "
        f"(one price request and one fsynced commit here: {(m_durable - m_base) * 1000:.2f} ms)"
    )
    if other:
        m_other = summary(f"baseline {args.baseline}", other)
        print(
            f"  ratio of medians, baseline / (minimal + price + commit): {m_other / m_durable:.2f}"
        )
    for n, (mine, *also, floor) in enumerate(rounds):
        line = f"  round {n}: tradebot {mine * 1000:.2f} ms, / floor {mine / floor:.2f}"
        if also:
            line += f"; baseline {also[0] * 1000:.2f} ms, / floor {also[0] / floor:.2f}"
        print(line + f" (floor {floor * 1000:.2f} ms)")
    ratio = m_ours / m_durable
    check("e2e tradebot / (minimal + price + commit)", ratio, "<=", TARGET)
    note("e2e tradebot run, median", m_ours * 1000, "ms")
    bots = 4 if other else 3
    pushes = len(ours) + len(other) + len(base) + len(durable) + bots * WARMUP * args.rounds
    again = server.requests.count(("POST", "/v2/orders")) - pushes
    if again:  # a loaded machine: a submission timed out and was sent again (same order id)
        print(f"  order requests sent again after a timeout: {again}")


def other_folder(folder: Path, hub: str, server: AlpacaServer) -> Path:
    """The baseline bot's folder: its own config and journal (``--baseline``)."""
    where = folder / "baseline"
    if not where.exists():
        where.mkdir()
        (where / "config.yaml").write_text(config_text(hub, server))
    return where


async def run_bot(
    command: list[str],
    folder: Path,
    ready: str,
    hub: AlphaHubSimulator,
    server: TimedServer,
    args: argparse.Namespace,
    journal: Path | None = None,
    spy: Path | None = None,
) -> list[float]:
    """Start a bot, measure it, and stop it even when the measurement fails (no bot outlives
    the benchmark). ``spy``: sample it with py-spy into that file meanwhile."""
    bot = await start(command, folder, ready)
    sampler = None
    try:
        if spy is not None:
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            sampler = await asyncio.create_subprocess_exec(
                *(py_spy, "record", "--pid", str(bot.pid), "--gil", "--threads", "-r", "1000"),
                *("-f", "raw", "-o", str(spy)),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await asyncio.sleep(1)  # py-spy attaches
        return await measure(hub, server, args.signals, args.settle, journal)
    finally:
        await stop(bot)
        if sampler is not None:
            await sampler.wait()  # it writes its file once the bot has exited


async def stop(bot: asyncio.subprocess.Process) -> None:
    bot.terminate()
    await bot.wait()


if __name__ == "__main__":
    asyncio.run(main())
