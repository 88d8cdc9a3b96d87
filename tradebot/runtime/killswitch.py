"""The kill switch: a file whose presence stops the bot from sending orders.

``tradebot halt`` writes it, ``tradebot resume`` removes it, and a person can also create it by
hand (``touch tradebot.halt``): anything at the path with unreadable or unknown content (binary,
huge, a directory, a file it may not read) means a full halt, so the switch fails safe and
reading it never raises. The running bot reads it before planning every signal (one small read),
and its watcher (:func:`watch_kill_switch`) reads it every second, so a change is journaled and
alerted when it happens.

Content: one JSON object ``{"mode": "halt" | "reduce_only", "reason": "...", "at": "..."}``.

**Per account** (issue 22). Each account has its own switch beside the global one: the file
:func:`account_switch_path` names, ``<kill_switch_file>.<account>`` (``tradebot.halt.family``;
the name is checked by :func:`tradebot.core.ids.check_account`, so it never holds a ``/``),
written and removed by ``tradebot halt --account NAME`` / ``tradebot resume --account NAME``,
read by the same rules (anything unreadable there is a full halt of that account). What an
account obeys is :func:`read_account_kill_switch`: the global switch and the account's
combined, the stricter winning (:func:`stricter`: halt over reduce-only over running), so a
global halt stops every account and an account's halt stops that account only. The runtime
calls it for each account wherever it called :func:`read_kill_switch` (before planning each
of that account's signals, and in the account's watcher)::

    state = read_account_kill_switch(config.risk.kill_switch_file, account.name)
    if state.halted: ...          # nothing is sent for this account
    elif state.reduce_only: ...   # only this account's closes go out

No ``kill_switch_file`` configured: no switch at all, global or per account (running).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from tradebot.core.ids import check_account


class HaltMode(StrEnum):
    RUNNING = "running"
    REDUCE_ONLY = "reduce_only"  # closes still go out; nothing opens or grows
    HALT = "halt"  # nothing is sent


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    mode: HaltMode
    reason: str = ""
    since: str = ""

    @property
    def halted(self) -> bool:
        return self.mode is HaltMode.HALT

    @property
    def reduce_only(self) -> bool:
        return self.mode is HaltMode.REDUCE_ONLY


RUNNING = KillSwitchState(HaltMode.RUNNING)

#: how strict each mode is: the stricter of two switches wins (:func:`stricter`)
_STRICTNESS = {HaltMode.RUNNING: 0, HaltMode.REDUCE_ONLY: 1, HaltMode.HALT: 2}


#: the switch is one small JSON object; a bigger file was not written by ``tradebot halt``
MAX_BYTES = 4096


def read_kill_switch(path: Path | None) -> KillSwitchState:
    """The switch's state. No path configured, or nothing at the path: running.

    Never raises: anything at the path that is not a switch written by ``tradebot halt``
    (binary or huge content, a directory, a FIFO, a broken symbolic link, a file it may not
    read) is a full halt whose reason says what was found.
    """
    if path is None:
        return RUNNING
    try:
        data = _read_small_file(path)
    except FileNotFoundError:
        if os.path.lexists(path):  # a symbolic link to nowhere is still something at the path
            return _halt(path, "is a broken symbolic link")
        return RUNNING
    except _Unusable as exc:
        return _halt(path, str(exc))
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the configured path
        return _halt(path, f"cannot be read ({getattr(exc, 'strerror', None) or exc})")
    try:
        parsed = json.loads(data.decode("utf-8")) if data.strip() else {}
    except UnicodeDecodeError:
        return _halt(path, "holds binary data, not a switch written by tradebot halt")
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    mode = HaltMode.REDUCE_ONLY if parsed.get("mode") == "reduce_only" else HaltMode.HALT
    reason = _printable(str(parsed.get("reason") or f"kill switch file {path} present"))
    return KillSwitchState(mode, reason, _printable(str(parsed.get("at") or "")))


class _Unusable(Exception):
    """Something is at the switch's path, but not a file with a switch in it."""


def _read_small_file(path: Path) -> bytes:
    # O_NONBLOCK: a FIFO at the path must not block the bot until someone writes to it
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _Unusable("is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise _Unusable("is not a regular file")
        if info.st_size > MAX_BYTES:
            raise _Unusable(f"is larger than {MAX_BYTES} bytes; tradebot halt writes far less")
        data = os.read(fd, MAX_BYTES + 1)
        if len(data) > MAX_BYTES:  # grew after the fstat
            raise _Unusable(f"is larger than {MAX_BYTES} bytes; tradebot halt writes far less")
        return data
    finally:
        os.close(fd)


def _halt(path: Path, what: str) -> KillSwitchState:
    return KillSwitchState(HaltMode.HALT, f"kill switch {path} {what}: full halt")


def _printable(text: str, limit: int = 200) -> str:
    """The reason goes to the terminal and the journal: no control characters, bounded."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def write_kill_switch(path: Path, *, reduce_only: bool, reason: str, now: datetime) -> None:
    """Create or replace the switch atomically (never a half-written file)."""
    mode = HaltMode.REDUCE_ONLY if reduce_only else HaltMode.HALT
    body = json.dumps({"mode": str(mode), "reason": _printable(reason), "at": now.isoformat()})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".halt-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def account_switch_path(path: Path, account: str) -> Path:
    """The file of ``account``'s own switch, beside the global one at ``path``:
    ``<path>.<account>``. ValueError for a name that is not an account's
    (:func:`~tradebot.core.ids.check_account`: never a path separator, never ``..``)."""
    return path.with_name(f"{path.name}.{check_account(account)}")


def stricter(first: KillSwitchState, second: KillSwitchState) -> KillSwitchState:
    """The stricter of two states (halt over reduce-only over running); ``first`` on a tie."""
    return second if _STRICTNESS[second.mode] > _STRICTNESS[first.mode] else first


def read_account_kill_switch(path: Path | None, account: str) -> KillSwitchState:
    """What ``account`` obeys: the global switch at ``path`` and the account's own
    (:func:`account_switch_path`), the stricter winning; on a tie the global one (its reason
    says it covers every account). The account's reason names the account. Never raises:
    both are read by :func:`read_kill_switch`'s rules, and a name that is not an account's is
    a full halt saying so (a caller's bug must not let orders out)."""
    if path is None:
        return RUNNING
    every = read_kill_switch(path)
    try:
        own_path = account_switch_path(path, account)
    except ValueError as exc:
        return stricter(every, KillSwitchState(HaltMode.HALT, f"{exc}: full halt"))
    own = read_kill_switch(own_path)
    if own.mode is not HaltMode.RUNNING:
        own = KillSwitchState(own.mode, _printable(f"account {account}: {own.reason}"), own.since)
    return stricter(every, own)


def clear_kill_switch(path: Path) -> bool:
    """Remove the switch; True if there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


async def watch_kill_switch(
    read: Callable[[], KillSwitchState],
    on_state: Callable[[KillSwitchState], None],
    *,
    interval: float,
) -> None:
    """The bot's watcher task: read the switch every ``interval`` seconds and hand each state
    to ``on_state`` (the signal loop's, which journals and alerts a change once, whoever saw
    it first), so a halt, a reduce-only or a resume is on record when it happens, not with the
    next signal. The first read is at once: a bot started halted says so."""
    while True:
        on_state(read())
        await asyncio.sleep(interval)
