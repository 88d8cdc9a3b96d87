"""The running bot's state at a glance: connections per algorithm, the last signal, today's
orders and fills, the kill switch.

The bot keeps one :class:`StatusBoard`, prints it on stderr when something notable changes (and
every ``interval`` seconds), and writes it as JSON next to the journal, where
``tradebot status`` reads it from another terminal. The file is replaced atomically.

The status file is a convenience, never a reason to stop trading: :class:`StatusWriter` logs a
write that fails (a directory at the path, a read-only folder, a full disk) at most once a
minute, and the bot goes on. Reading it (:func:`read_status`) checks its shape, so
``tradebot status`` explains a damaged file instead of failing on it. The document records the
writer's pid, host and start time (:mod:`.process`), so a reader can tell a dead bot's last words
from a live one; each write is the bot's heartbeat (every ``heartbeat_every`` seconds, recorded
in the document), and :func:`liveness_of` is how every view judges it
(:mod:`tradebot.runtime.liveness`). The document also names the writer's role (``sole``,
``leader`` with its ``epoch``, or ``standby``) and the health checks ``/healthz`` computes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tradebot.exceptions import StatusUnreadable
from tradebot.runtime.liveness import HEARTBEAT_EVERY, RECOVERING, RUNNING, Verdict, judge
from tradebot.runtime.process import ProcessMark, this_process, why_not_running

log = logging.getLogger(__name__)

#: a status document is a few KiB; anything far bigger is not one (and is not read into memory)
MAX_STATUS_BYTES = 1 << 20
#: seconds between two log lines about a status file that cannot be written
LOG_FAILURES_EVERY = 60.0

#: the roles a status document names: the only process (SQLite), or one of several sharing a
#: PostgreSQL journal
SOLE, LEADER, STANDBY = "sole", "leader", "standby"


@dataclass
class AlgoLine:
    algo_id: int
    name: str
    joined: int = 0  # connections subscribed right now
    last_signal_at: datetime | None = None
    last_signal: str = ""  # e.g. "2 closes, 1 open"
    orders_today: int = 0
    fills_today: int = 0


@dataclass
class StatusBoard:
    mode: str
    broker: str
    account: str
    connections: int
    journal: str
    started_at: datetime
    algos: dict[int, AlgoLine] = field(default_factory=dict)
    kill_switch: str = "off"
    state: str = "starting"
    updated_at: datetime | None = None
    dashboard: str | None = None  # its address, or why it is not served
    process: ProcessMark = field(default_factory=this_process)
    role: str = SOLE  # sole (SQLite), leader or standby (PostgreSQL)
    epoch: int | None = None  # the leader's leadership epoch
    heartbeat_every: float = HEARTBEAT_EVERY  # seconds between two writes
    #: the health checks /healthz computes, each None when fine or the problem in words
    checks: dict[str, str | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "state": self.state,
            "mode": self.mode,
            "broker": self.broker,
            "account": self.account,
            "journal": self.journal,
            "started_at": when(self.started_at),
            "updated_at": when(self.updated_at),
            "kill_switch": self.kill_switch,
            "connections": self.connections,
            "dashboard": self.dashboard,
            "pid": self.process.pid,
            "host": self.process.host,
            "process_start": self.process.start,
            "role": self.role,
            "epoch": self.epoch,
            "heartbeat_every": self.heartbeat_every,
            "checks": dict(self.checks),
            "algorithms": [
                {
                    "algo_id": a.algo_id,
                    "name": a.name,
                    "joined": a.joined,
                    "last_signal_at": when(a.last_signal_at),
                    "last_signal": a.last_signal,
                    "orders_today": a.orders_today,
                    "fills_today": a.fills_today,
                }
                for a in sorted(self.algos.values(), key=lambda a: a.algo_id)
            ],
        }


def render(status: dict[str, Any]) -> str:
    """A few human lines from :meth:`StatusBoard.as_dict` (or the JSON file)."""
    lines = [
        f"tradebot {status['state']} | {str(status['mode']).upper()} | broker {status['broker']}"
        f" account {status['account'] or '-'} | kill switch {status['kill_switch']}"
        f" | updated {status.get('updated_at') or '-'}"
    ]
    total = status["connections"]
    if status.get("dashboard"):
        lines.append(f"  dashboard: {status['dashboard']}")
    for algo in status["algorithms"]:
        link = "joined" if algo["joined"] == total else f"joined {algo['joined']}/{total}"
        if status["state"] not in (RUNNING, RECOVERING):  # recovering: it listens already
            link = "-"
        elif algo["joined"] == 0:
            link = "NOT SUBSCRIBED"
        last = algo["last_signal_at"] or "no signal yet"
        if algo["last_signal"]:
            last = f"{last} ({algo['last_signal']})"
        lines.append(
            f"  {algo['algo_id']:>4} {algo['name'][:24]:<24} {link:<15} last signal {last};"
            f" today {algo['orders_today']} orders, {algo['fills_today']} fills"
        )
    return "\n".join(lines)


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the status file atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".status-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(status, handle, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StatusWriter:
    """Writes the status file; a failure is logged (at most once a minute) and never raised."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._logged_at: float | None = None
        self._failures = 0  # since the last line logged
        self.failing = False

    def write(self, status: dict[str, Any]) -> bool:
        """Write ``status``; False (logged, rate-limited) if the file could not be written."""
        try:
            write_status(self.path, status)
        except OSError as exc:
            self._failed(exc)
            return False
        if self.failing:
            log.warning("status file %s is written again", self.path)
            self.failing, self._failures, self._logged_at = False, 0, None
        return True

    def _failed(self, exc: OSError) -> None:
        self.failing = True
        self._failures += 1
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < LOG_FAILURES_EVERY:
            return
        more = f" ({self._failures} failed writes since the last report)" if self._logged_at else ""
        log.warning(
            "status file %s cannot be written: %s%s; trading goes on, `tradebot status` shows "
            "older news until it is fixed",
            self.path,
            exc.strerror or exc,
            more,
        )
        self._logged_at, self._failures = now, 0


class _AlgoDocument(BaseModel):
    model_config = ConfigDict(extra="ignore")

    algo_id: int
    name: str
    joined: int
    last_signal_at: str | None
    last_signal: str
    orders_today: int
    fills_today: int


class StatusDocument(BaseModel):
    """The status file's shape, as :meth:`StatusBoard.as_dict` writes it (extra keys allowed)."""

    model_config = ConfigDict(extra="ignore")

    state: str
    mode: str
    broker: str
    account: str
    journal: str = ""
    started_at: str | None = None
    updated_at: datetime | None = None
    kill_switch: str
    connections: int = Field(ge=0)
    algorithms: list[_AlgoDocument]
    # absent from files written before tradebot recorded them
    pid: int | None = None
    host: str | None = None
    process_start: int | None = None
    dashboard: str | None = None
    role: str = SOLE
    epoch: int | None = None
    # as journal.heartbeat_every allows: a file claiming hours between beats is not believed
    heartbeat_every: float = Field(HEARTBEAT_EVERY, ge=0.5, le=60)
    checks: dict[str, str | None] = Field(default_factory=dict)

    @field_validator("updated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("has no time zone")
        return value

    @property
    def writer(self) -> ProcessMark | None:
        if self.pid is None or self.host is None:
            return None
        return ProcessMark(self.pid, self.host, self.process_start)


def liveness_of(document: StatusDocument, now: datetime) -> Verdict:
    """Is the bot that wrote ``document`` alive, as of ``now``? (:func:`~.liveness.judge`, with
    the age of its last write and, on this host, whether its process still runs.)"""
    age = None if document.updated_at is None else (now - document.updated_at).total_seconds()
    gone = why_not_running(document.writer) if document.writer else None
    return judge(said=document.state, age=age, every=document.heartbeat_every, gone=gone)


def read_status(path: Path) -> tuple[dict[str, Any], StatusDocument]:
    """The raw document and its checked form; :class:`StatusUnreadable` says what is wrong."""
    try:
        # O_NONBLOCK: a FIFO at the path must not hang `tradebot status`
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            raw = _read_up_to(fd, MAX_STATUS_BYTES + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise StatusUnreadable(f"no status at {path}: is `tradebot run` running?") from None
    except OSError as exc:
        raise StatusUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_STATUS_BYTES:
        raise StatusUnreadable(
            f"{path} is not a status file (larger than {MAX_STATUS_BYTES} bytes)"
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise StatusUnreadable(f"{path} is not a status file (binary data)") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested too deep
        raise StatusUnreadable(f"{path} is not a status file (not JSON: {exc})") from None
    if not isinstance(data, dict):
        raise StatusUnreadable(f"{path} is not a status file (not a JSON object)")
    try:
        return data, StatusDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise StatusUnreadable(f"{path} is not a status file ({where}: {first['msg']})") from None


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def status_path(journal_path: Path) -> Path:
    """Where the bot publishes its status: beside the journal."""
    return journal_path.with_name(journal_path.name + ".status.json")
