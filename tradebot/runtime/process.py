"""Whether the process that wrote a status file is still running.

A pid alone is not enough: after a crash (``kill -9``, a reboot) the pid may be reused by any
other program. The bot therefore records, beside its pid, the host and the process's start time
(``/proc/PID/stat`` field 22, clock ticks since boot, on Linux); ``tradebot status`` counts the
bot as running only while a process with that pid exists *and* started at that moment.
Elsewhere (no ``/proc``) only the pid is checked.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProcessMark:
    """Enough to recognise one process later: its pid, host and start time (when known)."""

    pid: int
    host: str
    start: int | None


def this_process() -> ProcessMark:
    return ProcessMark(os.getpid(), socket.gethostname(), start_ticks(os.getpid()))


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks after boot), or None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces or ")": skip past the last
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


def why_not_running(mark: ProcessMark) -> str | None:
    """None while the process ``mark`` describes still runs; otherwise what tells us it does not.

    From another host nothing can be checked: None (assume running; the caller still shows the
    age of the file).
    """
    if mark.host != socket.gethostname():
        return None
    if mark.pid <= 0:  # kill() would address a process group
        return f"process {mark.pid} is not a valid process id"
    try:
        os.kill(mark.pid, 0)
    except ProcessLookupError:
        return f"process {mark.pid} is gone"
    except PermissionError:
        pass  # it exists, under another user
    except (OSError, OverflowError):
        return f"process {mark.pid} is not a valid process id"
    if mark.start is not None:
        now = start_ticks(mark.pid)
        if now is not None and now != mark.start:
            return f"process {mark.pid} is another program now (the bot's pid was reused)"
    return None
