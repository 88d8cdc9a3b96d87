"""Every process of a bot, as ``tradebot status``, ``status --json`` and the Now page list them.

With a SQLite journal there is one (role ``sole``), known from its status file. With a
PostgreSQL journal, every process that shares it beats a heartbeat row
(:mod:`tradebot.journal.lease`): the leader and each standby, with host, pid, role, heartbeat
age (on the server's clock) and, for the process holding the lease, the leadership epoch.
Each is judged alive or not by :func:`tradebot.runtime.liveness.judge`, as the status file is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradebot.exceptions import JournalError
from tradebot.journal.interface import Journal
from tradebot.runtime.liveness import HEARTBEAT_EVERY, NOT_RESPONDING, STOPPED, judge
from tradebot.runtime.process import ProcessMark, why_not_running
from tradebot.runtime.status import LEADER, STANDBY, StatusDocument, liveness_of

if TYPE_CHECKING:
    from tradebot.journal.postgres import ProcessRow

#: stopped processes listed at most (their rows stay in the journal; the newest are shown)
SHOW_STOPPED = 5


@dataclass(frozen=True, slots=True)
class ProcessView:
    role: str  # leader, standby or sole
    host: str
    pid: int
    state: str  # running, standby, not responding, stopped (liveness.judge)
    why: str  # why not alive, in words ("" when alive)
    heartbeat_age: float | None  # seconds
    epoch: int | None
    connections: str  # e.g. "2/2 joined"; "" when not known

    def as_dict(self) -> dict[str, Any]:
        age = None if self.heartbeat_age is None else round(self.heartbeat_age, 1)
        return {
            "role": self.role,
            "host": self.host,
            "pid": self.pid,
            "state": self.state,
            "why": self.why,
            "heartbeat_age": age,
            "epoch": self.epoch,
            "connections": self.connections,
        }


def of_rows(
    rows: list[ProcessRow],
    leadership: tuple[int, str | None, bool] | None,
    *,
    every: float = HEARTBEAT_EVERY,
) -> list[ProcessView]:
    """The processes sharing a PostgreSQL journal, from their heartbeat rows (newest first)
    and the lease (``(epoch, holder, live)``); the leader first, then the standbys, then the
    newest few of those stopped."""
    holder = leadership[1] if leadership else None
    views: list[ProcessView] = []
    for row in rows:
        beat = row.beat
        leads = beat.holder == holder
        role = LEADER if leads else (STANDBY if beat.role == "stopped" else beat.role)
        said = "stopped" if beat.role == "stopped" else ("running" if role == LEADER else role)
        gone = why_not_running(ProcessMark(beat.pid, beat.host, None))
        verdict = judge(said=said, age=row.age, every=every, gone=gone)
        epoch = leadership[0] if leadership and leads else None
        views.append(
            ProcessView(
                role,
                beat.host,
                beat.pid,
                verdict.state,
                verdict.why,
                row.age,
                epoch,
                beat.connections,
            )
        )
    alive = [v for v in views if v.state not in (STOPPED, NOT_RESPONDING)]
    alive.sort(key=lambda v: v.role != LEADER)  # stable: newest heartbeat first otherwise
    # then the newest few that are not alive: a crashed or frozen one first (it needs a person)
    silent = [v for v in views if v.state == NOT_RESPONDING]
    return alive + (silent + [v for v in views if v.state == STOPPED])[:SHOW_STOPPED]


def shared_processes(url: str, *, every: float = HEARTBEAT_EVERY) -> list[ProcessView]:
    """Every process sharing the PostgreSQL journal at ``url`` (a read-only connection);
    ``every``: their heartbeat interval (``journal.heartbeat_every``)."""
    from tradebot.journal.postgres import open_postgres  # the driver: only with a server

    with open_postgres(url, readonly=True) as store:
        return of_rows(store.processes(), store.leadership(), every=every)


def listed(
    journal: Callable[[], Journal],
    document: StatusDocument | None,
    now: datetime,
    *,
    every: float = HEARTBEAT_EVERY,
) -> list[ProcessView]:
    """For the dashboard: the processes sharing a PostgreSQL ``journal()`` (read-only), else
    the one that wrote ``document``; none while neither is there."""
    from tradebot.journal.postgres import PostgresJournal

    try:
        store = journal()
    except JournalError:
        store = None
    if isinstance(store, PostgresJournal):
        return of_rows(store.processes(), store.leadership(), every=every)
    return [] if document is None else [sole_process(document, now)]


def sole_process(document: StatusDocument, now: datetime) -> ProcessView:
    """The process that wrote a status file (the only one, with a SQLite journal)."""
    verdict = liveness_of(document, now)
    joined = sum(1 for a in document.algorithms if a.joined)
    return ProcessView(
        document.role,
        document.host or "",
        document.pid or 0,
        verdict.state,
        verdict.why,
        verdict.age,
        document.epoch,
        f"{joined}/{len(document.algorithms)} algorithms joined" if document.algorithms else "",
    )


def process_lines(views: list[ProcessView]) -> list[str]:
    """``tradebot status``: one line per process."""
    if not views:
        return ["processes: none has started on this journal yet"]
    lines = ["processes:"]
    for v in views:
        age = "-" if v.heartbeat_age is None else f"{v.heartbeat_age:.0f} s ago"
        epoch = f"epoch {v.epoch}" if v.epoch is not None else ""
        why = f" ({v.why})" if v.why else ""
        lines.append(
            f"  {v.role:<8} {v.host:<20} pid {v.pid:<8} {v.state:<15} heartbeat {age:<10} "
            f"{epoch:<9} alphahub {v.connections or '-'}{why}"
        )
    return lines
