"""The kill switch: a file whose presence stops the bot from sending orders.

``tradebot halt`` writes it, ``tradebot resume`` removes it, and a person can also create it by
hand (``touch tradebot.halt``): a file with unreadable or unknown content means a full halt, so
the switch fails safe. The running bot reads it before planning every signal (one ``stat``).

Content: one JSON object ``{"mode": "halt" | "reduce_only", "reason": "...", "at": "..."}``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path


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


def read_kill_switch(path: Path | None) -> KillSwitchState:
    """The switch's state. No path configured, or no file: running."""
    if path is None:
        return RUNNING
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RUNNING
    except OSError as exc:
        return KillSwitchState(HaltMode.HALT, f"kill switch file unreadable ({exc.strerror})")
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    mode = HaltMode.REDUCE_ONLY if data.get("mode") == "reduce_only" else HaltMode.HALT
    reason = str(data.get("reason") or f"kill switch file {path} present")
    return KillSwitchState(mode, reason, str(data.get("at") or ""))


def write_kill_switch(path: Path, *, reduce_only: bool, reason: str, now: datetime) -> None:
    """Create or replace the switch atomically (never a half-written file)."""
    mode = HaltMode.REDUCE_ONLY if reduce_only else HaltMode.HALT
    body = json.dumps({"mode": str(mode), "reason": reason, "at": now.isoformat()})
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


def clear_kill_switch(path: Path) -> bool:
    """Remove the switch; True if there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
