"""The running bot's state at a glance: connections per algorithm, the last signal, today's
orders and fills, the kill switch.

The bot keeps one :class:`StatusBoard`, prints it on stderr when something notable changes (and
every ``interval`` seconds), and writes it as JSON next to the journal, where
``tradebot status`` reads it from another terminal. The file is replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


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
        f" account {status['account']} | kill switch {status['kill_switch']}"
        f" | updated {status.get('updated_at') or '-'}"
    ]
    total = status["connections"]
    for algo in status["algorithms"]:
        link = "joined" if algo["joined"] == total else f"joined {algo['joined']}/{total}"
        if status["state"] != "running":
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


def status_path(journal_path: Path) -> Path:
    """Where the bot publishes its status: beside the journal."""
    return journal_path.with_name(journal_path.name + ".status.json")
