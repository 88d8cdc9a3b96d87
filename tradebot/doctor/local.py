"""The checks of this machine: the journal's folder, disk and growth, PostgreSQL, the dashboard
port. Nothing is written but a temporary file in the journal's folder, removed at once; the
journal itself is opened read-only (a running bot may hold it)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tradebot.config.model import Config
from tradebot.doctor.findings import Finding, Level, error, ok, skipped, warning
from tradebot.exceptions import TradebotError
from tradebot.journal.interface import EntryFilter
from tradebot.journal.opener import Store, open_journal

#: the recent history the growth is measured over
GROWTH_WINDOW = timedelta(days=7)
#: free space below this is an error whatever the growth (SQLite needs room for its WAL and
#: for the copy a checkpoint makes)
MIN_FREE = 100 * 2**20
#: days of growth the free space must hold: fewer than ERROR_DAYS is an error, fewer than
#: WARNING_DAYS a warning (a month unattended must not fill the disk)
ERROR_DAYS = 7
WARNING_DAYS = 30


@dataclass(frozen=True, slots=True)
class Growth:
    """Rows a day over the recent history, and bytes a row (None: not known)."""

    rows_per_day: float
    bytes_per_row: float | None

    @property
    def bytes_per_day(self) -> float | None:
        return None if self.bytes_per_row is None else self.rows_per_day * self.bytes_per_row


def growth(store: Store, now: datetime, size: int | None) -> Growth | None:
    """Rows a day from the journal's own history: the rows of the last :data:`GROWTH_WINDOW`
    (or of its whole life when younger) over that time. None for a journal with no rows."""
    last = store.last_id()
    first = store.entries(EntryFilter(newest_first=False, limit=1))
    if not last or not first:
        return None
    since = max(first[0].at, now - GROWTH_WINDOW)
    rows = sum(store.count_entries(EntryFilter(since=since)).values())
    days = max((now - since).total_seconds() / 86400, 1 / 24)  # an hour at least: no wild rates
    # rows held, not the last id: an archived journal holds fewer rows than its ids say
    held = sum(store.count_entries(EntryFilter()).values()) if size is not None else 0
    per_row = size / held if size is not None and held else None
    return Growth(rows / days, per_row)


def journal(config: Config, journal_path: Path, now: datetime) -> list[Finding]:
    """The folder (journal file or status file) is writable; the journal's store and growth."""
    found = [_folder(journal_path.parent)]
    if config.journal.url:
        found.append(_postgres(config.journal.url, now))
    elif found[0].level is Level.OK:
        found.append(_disk(journal_path, now))
    return found


def _folder(folder: Path) -> Finding:
    what = "journal folder"
    existing = _nearest(folder)  # the bot creates the folder: its nearest parent must allow it
    if not existing.is_dir():
        return error(what, f"{existing} is not a folder")
    try:
        fd, name = tempfile.mkstemp(prefix=".tradebot-doctor-", dir=existing)
    except OSError as exc:
        return error(what, f"{existing} is not writable: {exc.strerror or exc}")
    os.close(fd)
    os.unlink(name)
    note = "" if existing == folder else f" (created at the first run, in {existing})"
    return ok(what, f"{folder} is writable{note}")


def _disk(journal_path: Path, now: datetime) -> Finding:
    what = "journal disk"
    free = shutil.disk_usage(_nearest(journal_path.parent)).free
    seen: Growth | None = None
    if journal_path.exists():
        size = sum(
            p.stat().st_size for p in (journal_path, Path(f"{journal_path}-wal")) if p.exists()
        )
        try:
            store = open_journal(journal_path, readonly=True)
        except TradebotError as exc:
            return error(what, str(exc))
        try:
            seen = growth(store, now, size)
        except TradebotError as exc:
            return error(what, str(exc))
        finally:
            store.close()
    said = f"{_size(free)} free"
    if free < MIN_FREE:
        return error(what, f"{said}: less than {_size(MIN_FREE)}")
    if seen is None or not seen.bytes_per_day:
        return ok(what, f"{said}; no history yet to measure the journal's growth")
    days = free / seen.bytes_per_day
    said += (
        f"; the journal grows {seen.rows_per_day:.0f} rows/day (~{_size(seen.bytes_per_day)}/day):"
        f" {_days(days)} of room"
    )
    if days < ERROR_DAYS:
        return error(what, f"{said}, less than {ERROR_DAYS} days")
    if days < WARNING_DAYS:
        return warning(what, f"{said}, less than {WARNING_DAYS} days (`tradebot journal archive`)")
    return ok(what, said)


def _postgres(url: str, now: datetime) -> Finding:
    what = "postgresql"
    try:
        store = open_journal(url, readonly=True)
    except TradebotError as exc:
        if "no journal" in str(exc):
            return ok(what, "reachable; no journal there yet (the first run creates it)")
        return error(what, str(exc))
    try:
        seen = growth(store, now, None)
    except TradebotError as exc:
        return error(what, str(exc))
    finally:
        store.close()
    rate = "no history yet" if seen is None else f"{seen.rows_per_day:.0f} rows/day"
    return ok(what, f"reachable, journal readable; {rate}")


def dashboard(config: Config) -> Finding:
    """The dashboard's port can be listened on (the way the bot will: :func:`bind`)."""
    what = "dashboard port"
    board = config.dashboard
    if not board.enabled:
        return skipped(what, "dashboard.enabled is false")
    if board.port == 0:
        return ok(what, "port 0: the bot picks a free one")
    from tradebot.web.serve import bind  # the web stack loads only for this check

    try:
        bind(board.host, board.port).close()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return error(
                what,
                f"{board.host}:{board.port} is in use (a bot already running? "
                "`tradebot status`; else change dashboard.port)",
            )
        return error(what, f"cannot listen on {board.host}:{board.port}: {exc.strerror or exc}")
    return ok(what, f"{board.host}:{board.port} is free")


def _nearest(folder: Path) -> Path:
    """``folder``, or its nearest parent that exists."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _days(days: float) -> str:
    return f"{days:.0f} days" if days < 3650 else "over ten years"
