"""The crash matrix's machinery: paths, their kill points found by tracing, one cell per point.

A **path** is one thing the bot does (open, close, flip, chase, exit attach, exit cancel,
backfill, failover), driven through ``tradebot run`` between the AlphaHub simulator and the local
Alpaca server. Its **kill points** are not listed by hand: the path runs once with the fault
module tracing (:mod:`tradebot.faults`, ``TRADEBOT_FAULT_TRACE``), and every step the bot
reached after the test's marker line, with every state-changing request the broker received
(``broker:submit``, ``broker:cancel``, written by :class:`KillingServer` into the same file), is
a kill point. A new step in the product is a new cell, without an edit here.

Two traced steps are left out because killing there leaves exactly the state of the point just
before them, so the cell would repeat that one: ``before_submit`` (the intent is durable and
nothing happened since the previous step) and ``submit_returned`` (the broker has the order and
the bot recorded nothing: the ``broker:submit`` cell, killed by the server after applying the
request, so the bot never hears the answer); likewise ``plan_journaled`` right after
``signal_journaled`` (one commit). The event stream's steps (``fill_received``,
``fill_recorded``) record whatever event arrives, the same way whichever path placed the order:
they are cells of the open path only (the matrix must fit in CI's budget).

Each **cell** then runs the path again on a fresh symbol in the same running bot, armed to die at
that point (kill -9: the bot through ``TRADEBOT_FAULT=@file``, or the server killing it on the
n-th request of a kind, after applying it), restarts it (AlphaHub's history unavailable, so the
restart must finish from the journal alone; the backfill path keeps it), waits for the symbol
to settle and checks, for that symbol: no client order id twice at the broker and none the
journal does not know, every leg journaled with a decision, the journal's net position equal to
the broker's, and no order left working but the exits of a held position. The bot that restarts
is the next cell's: one process start per cell.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.harness import (
    BotProcess,
    bot_config,
    entries,
)
from tradebot.core.orders import IntentRole
from tradebot.exceptions import JournalError
from tradebot.journal.opener import open_journal
from tradebot.journal.postgres import open_postgres
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import FillScript
from tradebot.simulators.alpaca.server import AlpacaServer
from tradebot.simulators.alphahub.server import AlphaHubSimulator

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "crash_matrix"
TABLE = ROOT / "tests" / "artifacts" / "crash_matrix.md"

SETTLE = 12.0  # seconds a cell's symbol may take to settle after the restart
READY = 30.0  # seconds for a bot to start, subscribe, or die at its kill point
#: traced steps whose kill leaves the state of the point before them (see the docstring)
SAME_AS_BEFORE = frozenset({"before_submit", "submit_returned"})
#: the broker's event stream: it records each event the same way whatever placed the order,
#: so its steps are cells of one path (the open), not of every path
STREAM_STEPS = frozenset({"fill_received", "fill_recorded"})
#: broker requests that change its state, by the kind named in the trace
BROKER_KINDS = {("POST", "/v2/orders"): "broker:submit", ("DELETE", "/v2/orders/"): "broker:cancel"}
OPEN = ("new", "accepted", "held", "pending_new", "partially_filled", "pending_cancel")


async def until(condition: Callable[[], bool], what: str, deadline: float = READY) -> None:
    """Poll ``condition`` (journal and server reads: every 100 ms) until it holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not condition():
        if loop.time() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def broker_kind(method: str, path: str) -> str | None:
    for (m, prefix), kind in BROKER_KINDS.items():
        if method == m and (path == prefix or (prefix.endswith("/") and path.startswith(prefix))):
            return kind
    return None


def append_line(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


class KillingServer(AlpacaServer):
    """The local Alpaca server, which writes each state-changing request into the trace and can
    kill the bot (SIGKILL) once it has applied the n-th request of a kind: the broker has the
    order (or the cancel), the bot never hears the answer."""

    def __init__(self) -> None:
        super().__init__()
        self.trace: Path | None = None
        self._armed: tuple[str, int] | None = None
        self._victim: int | None = None

    def arm(self, kind: str, nth: int, pid: int) -> None:
        with self.lock:
            self._armed, self._victim = (kind, nth), pid

    def disarm(self) -> None:
        with self.lock:
            self._armed, self._victim = None, None

    def handle(
        self, method: str, path: str, query: dict[str, str], body: object
    ) -> tuple[int, Any]:
        kind = broker_kind(method, path)
        if kind is None:
            return super().handle(method, path, query, body)
        try:
            return super().handle(method, path, query, body)
        finally:
            with self.lock:
                if self.trace is not None:
                    append_line(self.trace, kind)
                if self._armed is not None and self._armed[0] == kind:
                    left = self._armed[1] - 1
                    self._armed = (kind, left)
                    if left == 0 and self._victim is not None:
                        os.kill(self._victim, signal.SIGKILL)
                        self._armed = None


@dataclass(frozen=True)
class Cell:
    """One kill point: the ``nth`` time (counted from the path's start) ``step`` is reached."""

    step: str
    nth: int

    @property
    def label(self) -> str:
        return self.step if self.nth == 1 else f"{self.step} #{self.nth}"

    @property
    def at_broker(self) -> bool:
        return self.step.startswith("broker:")


def cells_from(trace: Sequence[str], *, stream: bool = True) -> list[Cell]:
    """The kill points of one traced path (its lines after the marker), see the docstring;
    ``stream``: with the broker's event stream's own steps (:data:`STREAM_STEPS`)."""
    counts: Counter[str] = Counter()
    out: list[Cell] = []
    previous = ""
    for step in trace:
        counts[step] += 1
        same = (
            step in SAME_AS_BEFORE
            or (step == "plan_journaled" and previous == "signal_journaled")
            or (not stream and step in STREAM_STEPS)
        )
        if not same:
            out.append(Cell(step, counts[step]))
        previous = step
    return out


def trace_after(path: Path, marker: str) -> list[str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return lines[lines.index(marker) + 1 :] if marker in lines else []


@dataclass
class Process:
    """One ``tradebot run`` of the rig, with its arm file and trace."""

    bot: BotProcess
    arm: Path
    trace: Path

    @property
    def pid(self) -> int:
        assert self.bot.proc is not None
        return self.bot.proc.pid


@dataclass
class Rig:
    """The simulators, the journal and the running bot(s) of one path on one backend."""

    path: CrashPath
    hub: AlphaHubSimulator
    server: KillingServer
    journal: Path | str
    processes: list[Process]
    pushed: Counter[str] = field(default_factory=Counter)  # legs pushed, by symbol

    @property
    def at(self) -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def store_rows(self, **where: Any) -> list[Any]:
        return entries(self.journal, **where)

    def leader(self) -> Process:
        """The process that executes: the only one, or the one holding the lease."""
        live = [p for p in self.processes if p.bot.running]
        if len(self.processes) == 1:
            return self.processes[0]
        assert isinstance(self.journal, str)
        with open_postgres(self.journal, readonly=True) as store:
            lead = store.leadership()
        holder = lead[1] if lead is not None and lead[2] else None
        pid = int(holder.split(":")[1]) if holder else None
        chosen = [p for p in live if p.pid == pid]
        if not chosen:
            raise LookupError("no live leader")
        return chosen[0]

    async def push(self, algo_id: int, payload: dict[str, Any], *, market: bool = True) -> None:
        for group in ("close", "open"):
            for item in payload.get(group) or ():
                self.pushed[item["symbol"]] += 1
                if market:
                    self.server.set_price(item["symbol"], Decimal(str(item["price"])))
        await self.hub.push(algo_id, payload)

    def held(self, symbol: str) -> Decimal:
        book = _book(self.journal)
        return book.get((self.path.algo, symbol), Decimal(0))

    def at_broker(self, symbol: str) -> Decimal:
        with self.server.lock:
            pos = self.server.account.open_positions().get(symbol)
        return Decimal(pos.qty) if pos is not None else Decimal(0)

    def orders(self, symbol: str) -> list[dict[str, Any]]:
        return [o for o in self.server.orders() if o["symbol"] == symbol]

    def working(self, symbol: str) -> list[dict[str, Any]]:
        return [o for o in self.orders(symbol) if o["status"] in OPEN]


def _book(journal: Path | str) -> dict[tuple[int, str], Decimal]:
    if isinstance(journal, Path) and not journal.exists():
        return {}
    store = open_journal(journal, readonly=True)
    try:
        return {(a, s): q for a, s, q in store.rebuild_book()}
    finally:
        store.close()


def _unresolved(journal: Path | str, symbol: str) -> list[Any]:
    store = open_journal(journal, readonly=True)
    try:
        return list(store.unresolved_intents(symbols=(symbol,)))
    finally:
        store.close()


Step = Callable[[Rig, str], Awaitable[None]]


@dataclass(frozen=True)
class CrashPath:
    """One path of the matrix. ``prep`` runs before the marker (not a kill point), ``act`` is the
    path; ``expected``: what the algorithm holds in the symbol once settled; ``protected``: a
    live exit must protect it; ``history``: the restart may read AlphaHub's history."""

    name: str
    algo: int
    act: Step
    expected: Decimal
    prep: Step | None = None
    keys: str = ""  # lines added under the algorithm's heading in the config
    fills: FillScript | None = None
    protected: bool = False
    history: bool = False
    processes: int = 1
    backends: tuple[str, ...] = ("sqlite", "postgres")
    stream: bool = False  # the event stream's steps are cells of this path (see STREAM_STEPS)
    what: str = ""  # one line for docs/journal.md's crash matrix


HEADINGS = {
    14: "  14:\n    name: Minotaur 1-Stock\n",
    16: "  16:\n    name: Minotaur 3-Stock\n",
}
FAST_FAILOVER = "  recheck_interval: 1\n  failover_timeout: 1"


def config_text(
    rig_hub: AlphaHubSimulator, server: AlpacaServer, path: CrashPath, url: str | None
) -> str:
    text = bot_config(rig_hub.url, server, journal_url=url)
    text = text.replace("  connections: 2\n", "  connections: 1\n")
    text = text.replace("  email:", f"  algorithms: [{path.algo}]\n  email:")
    text = text.replace("  recheck_interval: 1", FAST_FAILOVER)
    text += "dashboard:\n  port: 0\n"  # several bots on one machine: a free port each
    if path.keys:
        heading = HEADINGS[path.algo]
        text = text.replace(heading, heading + path.keys)
    return text


@asynccontextmanager
async def rig(folder: Path, path: CrashPath, url: str | None) -> AsyncIterator[Rig]:
    """The simulators and the path's bot process(es), started, subscribed, unarmed."""
    server = KillingServer()
    server.start()
    if path.fills is not None:
        server.script_fills(path.fills)
    try:
        async with AlphaHubSimulator(port=0) as hub:
            processes: list[Process] = []
            for n in range(path.processes):
                home = folder / f"p{n}"
                home.mkdir(parents=True, exist_ok=True)
                config = home / "config.yaml"
                config.write_text(config_text(hub, server, path, url))
                arm, trace = home / "fault", home / "trace"
                arm.write_text("")
                env = {"TRADEBOT_FAULT": f"@{arm}", "TRADEBOT_FAULT_TRACE": str(trace)}
                processes.append(Process(BotProcess(config, env), arm, trace))
            journal: Path | str = url if url else folder / "p0" / "journal" / "tradebot.sqlite"
            the_rig = Rig(path, hub, server, journal, processes)
            try:
                for n, proc in enumerate(processes):
                    await start(the_rig, proc, standby=n > 0)
                yield the_rig
            finally:
                for proc in processes:
                    if proc.bot.running:
                        await proc.bot.stop(signal.SIGKILL)
    finally:
        server.stop()


def _lease_live(url: str) -> bool:
    try:
        with open_postgres(url, readonly=True) as store:
            lead = store.leadership()
    except JournalError:  # no journal yet: nobody leads
        return False
    return lead is not None and lead[2]


async def start(rig: Rig, proc: Process, *, standby: bool = False) -> None:
    """Start (or restart) one process and wait until it listens (and, several: its role).

    A process started while the lease of the one killed is still live would start as a standby
    and take over at its expiry, closing the connections it listened on and opening the
    leader's: a frame pushed between the two is heard by no one (the history would bring it
    back; here it is off). So a lone process is restarted once the dead one's lease is over.
    """
    if isinstance(rig.journal, str) and not standby:
        await until(lambda: not _lease_live(str(rig.journal)), "the dead leader's lease to end")
    said = len(proc.bot.output())
    before = set(rig.hub.joined(rig.path.algo))
    await proc.bot.start()
    await until(
        lambda: bool(set(rig.hub.joined(rig.path.algo)) - before) or not proc.bot.running,
        "the bot subscribed",
        2 * READY,
    )
    if not proc.bot.running:
        raise AssertionError(f"the bot exited at start:\n{proc.bot.output()[-3000:]}")
    if isinstance(rig.journal, str) and not standby:
        await until(
            lambda: "role     leader" in proc.bot.output()[said:] or not proc.bot.running,
            "the leader",
            2 * READY,
        )
    if standby:  # its banner names its role once the journal is open
        await until(
            lambda: "STANDBY" in proc.bot.output()[said:] or not proc.bot.running,
            "the standby",
            2 * READY,
        )


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def quiet(trace: Path) -> None:
    """Wait until the bot has stopped reaching steps (its trace unchanged for 0.25 s): what a
    path's preparation set going has finished before a cell arms the bot."""
    loop = asyncio.get_running_loop()
    size, since, end = -1, loop.time(), loop.time() + READY
    while loop.time() < end:
        now_size = _size(trace)
        if now_size != size:
            size, since = now_size, loop.time()
        elif loop.time() - since >= 0.25:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the bot never went quiet")


@dataclass
class Outcome:
    cell: str
    ok: bool
    detail: str


def verdict(rig: Rig, symbol: str) -> list[str]:
    """What is wrong with ``symbol`` now (nothing: an empty list); see the module docstring."""
    path, wrong = rig.path, []
    orders = rig.orders(symbol)
    coids = Counter(o["client_order_id"] for o in orders if o.get("client_order_id"))
    twice = sorted(c for c, n in coids.items() if n > 1)
    if twice:
        wrong.append(f"order(s) twice at the broker: {twice}")
    intents = rig.store_rows(symbols=(symbol,), statuses=(Status.INTENT,))
    known = {e.client_order_id for e in intents}
    unknown = sorted(c for c in coids if c not in known)
    if unknown:
        wrong.append(f"order(s) the journal does not know: {unknown}")
    legs = rig.store_rows(symbols=(symbol,), statuses=(Status.LEG,))
    keys = {e.leg for e in legs if e.leg}
    if len(keys) < rig.pushed[symbol]:
        wrong.append(f"leg lost: {rig.pushed[symbol]} pushed, {len(keys)} journaled")
    decided = {
        e.leg
        for e in rig.store_rows(symbols=(symbol,), statuses=(Status.INTENT, Status.SKIPPED))
        if e.leg
    }
    undecided = sorted(k for k in keys if k not in decided)
    if undecided:
        wrong.append(f"leg(s) with no decision: {undecided}")
    ours = sum((q for (_, s), q in _book(rig.journal).items() if s == symbol), Decimal(0))
    theirs = rig.at_broker(symbol)
    if ours != theirs:
        wrong.append(f"journal holds {ours}, broker {theirs}")
    if rig.held(symbol) != path.expected:
        refused = rig.store_rows(symbols=(symbol,), statuses=(Status.REJECTED, Status.FAILED))
        why = "".join(f" ({e.status}: {e.detail})" for e in refused)
        wrong.append(f"algorithm holds {rig.held(symbol)}, expected {path.expected}{why}")
    exits = {e.client_order_id for e in intents if e.data.get("role") == IntentRole.EXIT}
    stray = [o for o in rig.working(symbol) if o["client_order_id"] not in exits]
    if stray:
        wrong.append(
            "left working: " + ", ".join(f"{o['client_order_id']} {o['status']}" for o in stray)
        )
    live_exits = [o for o in rig.working(symbol) if o["client_order_id"] in exits]
    if live_exits and theirs == 0:
        wrong.append(f"exit(s) working with nothing held: {len(live_exits)}")
    if path.protected and theirs and not live_exits:
        wrong.append("position held with no live exit")
    unresolved = [
        s for s in _unresolved(rig.journal, symbol) if s.intent.role is not IntentRole.EXIT
    ]
    if unresolved:
        wrong.append(f"{len(unresolved)} order(s) unresolved in the journal")
    return wrong


def summary(rig: Rig, symbol: str) -> str:
    orders = rig.orders(symbol)
    filled = sum(1 for o in orders if o["status"] == "filled")
    live = len(rig.working(symbol))
    text = f"holds {rig.at_broker(symbol)}, {len(orders)} order(s), {filled} filled"
    return text + (f", {live} exit(s) live" if live else "")


async def settle(rig: Rig, symbol: str) -> list[str]:
    """Wait until nothing is wrong with ``symbol`` (then []), or report what still is.

    The full verdict reads the journal a few times: it is asked only once the broker holds what
    the path expects (a read of the server's memory), so the polling leaves the bot the CPU."""
    expected = rig.path.expected

    def done() -> bool:
        return rig.at_broker(symbol) == expected and not verdict(rig, symbol)

    try:
        await until(done, f"{symbol} settled", SETTLE)
    except TimeoutError:
        return verdict(rig, symbol)
    return []


def symbol_for(n: int) -> str:
    return "Z" + chr(65 + n // 26 % 26) + chr(65 + n % 26)


async def run_path(rig: Rig, symbol: str) -> None:
    if rig.path.prep is not None:
        await rig.path.prep(rig, symbol)
    await rig.path.act(rig, symbol)


def write_artifact(
    backend: str, path: CrashPath, outcomes: Sequence[Outcome], seconds: float
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    data = {
        "backend": backend,
        "path": path.name,
        "what": path.what,
        "seconds": round(seconds, 1),
        "cells": [{"cell": o.cell, "ok": o.ok, "detail": o.detail} for o in outcomes],
    }
    (ARTIFACTS / f"{path.name}-{backend}.json").write_text(json.dumps(data, indent=1))


def table(folder: Path = ARTIFACTS) -> str:
    """The matrix as Markdown, from the artifacts the last run wrote: step -> outcome."""
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    by_path: dict[str, dict[str, dict[str, Any]]] = {}
    whats: dict[str, str] = {}
    for run in runs:
        whats[run["path"]] = run["what"]
        for cell in run["cells"]:
            by_path.setdefault(run["path"], {}).setdefault(cell["cell"], {})[run["backend"]] = cell
    lines = [
        "| path | killed at | SQLite | PostgreSQL |",
        "|---|---|---|---|",
    ]

    def show(cell: dict[str, Any] | None) -> str:
        if cell is None:
            return "n/a"
        return ("ok: " if cell["ok"] else "**FAILS**: ") + cell["detail"]

    for path_name in ORDER:
        for name, cells in by_path.get(path_name, {}).items():
            lines.append(
                f"| {path_name} | `{name}` | {show(cells.get('sqlite'))} | "
                f"{show(cells.get('postgres'))} |"
            )
    total = sum(run["seconds"] for run in runs)
    count = sum(len(run["cells"]) for run in runs)
    lines.append("")
    lines.append(f"{count} cells in {total:.0f} s of bot time.")
    return "\n".join(lines) + "\n"


ORDER = ("open", "close", "flip", "chase", "exit_attach", "exit_cancel", "backfill", "failover")
