"""Scripted signals for the simulator.

A script is JSONL, one ``{"at": seconds, "algo_id": N, "payload": {...}}`` per line. ``at``
counts from the moment a client first joins one of the script's algorithms (so a script plays
the same whether the listener starts before or after the simulator). Lines are played in
``at`` order; blank lines and lines starting with ``#`` are skipped. A line
``{"algo_id": N, "history": [leg, ...]}`` is not pushed: its legs are in the signal history
from the start (what AlphaHub published before the simulator's session).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradebot.simulators.alphahub.server import AlphaHubSimulator


@dataclass(frozen=True, slots=True)
class ScriptEntry:
    at: float
    algo_id: int
    payload: Any
    #: True for a ``{"algo_id": N, "history": [leg, ...]}`` line: legs the history endpoint
    #: serves from the start, never pushed (``payload`` is the list, ``at`` is 0)
    history: bool = False


def parse_script(text: str, source: str = "script") -> list[ScriptEntry]:
    """Parse JSONL; raises ValueError naming the line of the first bad entry."""
    entries: list[ScriptEntry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            item = json.loads(line)
            if "history" in item:
                if not isinstance(item["history"], list):
                    raise TypeError("'history' must be a list of legs")
                entries.append(ScriptEntry(0.0, int(item["algo_id"]), item["history"], True))
                continue
            entry = ScriptEntry(float(item["at"]), int(item["algo_id"]), item["payload"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{source}:{number}: not a script entry ({exc})") from None
        if entry.at < 0:
            raise ValueError(f"{source}:{number}: 'at' must not be negative")
        entries.append(entry)
    return sorted(entries, key=lambda e: e.at)


def load_script(path: Path) -> list[ScriptEntry]:
    return parse_script(path.read_text(encoding="utf-8"), str(path))


async def run_script(sim: AlphaHubSimulator, entries: Sequence[ScriptEntry]) -> None:
    """Play ``entries`` against ``sim``, timed from the first join."""
    entries = [e for e in entries if not e.history]  # the simulator serves those as history
    if not entries:
        return
    await sim.wait_until(lambda: any(sim.joined(e.algo_id) for e in entries))
    start = time.monotonic()
    for entry in entries:
        delay = start + entry.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the script, not synchronisation
        await sim.push(entry.algo_id, entry.payload)
