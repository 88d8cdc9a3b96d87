"""``GET /healthz``: is the bot fit to trade? For systemd, Docker or an uptime monitor.

Three checks, each ``None`` when fine or the problem in words:

* ``subscriptions``: every configured algorithm is subscribed on at least one connection;
* ``journal``: the journal is writable (its latest write succeeded);
* ``broker``: the broker answered recently.

Served by the running bot, the checks read its own state (:mod:`tradebot.web.attach`).
``tradebot dashboard`` alone has only the status file the bot writes: :func:`from_status`
judges by it (a running bot that wrote it recently, every algorithm joined), and says it cannot
judge when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tradebot.exceptions import StatusUnreadable
from tradebot.runtime.status import read_status

#: seconds after which a status file is too old to vouch for a running bot (it is rewritten
#: every 2 s while the bot runs)
STATUS_FRESH = 30.0


@dataclass(frozen=True)
class Health:
    checks: dict[str, str | None] = field(default_factory=dict)
    source: str = "bot"

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(problem is None for problem in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        failing = {name: why for name, why in self.checks.items() if why is not None}
        return {
            "status": "ok" if self.ok else "failing",
            "source": self.source,
            "checks": {name: why or "ok" for name, why in self.checks.items()},
            "failing": failing,
        }


def subscriptions_problem(joined: dict[int, int]) -> str | None:
    """``joined``: connections subscribed per configured algorithm."""
    missing = sorted(algo for algo, count in joined.items() if count == 0)
    if missing:
        return "not subscribed on any connection: algorithm " + ", ".join(map(str, missing))
    return None


def from_status(path: Path | None, now: datetime) -> Health:
    """Health as the bot's status file tells it (``tradebot dashboard`` without the bot)."""
    if path is None:
        return Health({"status": "cannot judge: no status file (pass --config)"}, "status file")
    try:
        _raw, doc = read_status(path)
    except StatusUnreadable as exc:
        return Health({"status": f"cannot judge: {exc}"}, "status file")
    checks: dict[str, str | None] = {}
    age = None if doc.updated_at is None else (now - doc.updated_at).total_seconds()
    if doc.state != "running":
        checks["bot"] = f"the bot is {doc.state}"
    elif age is None or age > STATUS_FRESH:
        checks["bot"] = f"the status file is not fresh (updated {doc.updated_at or 'never'})"
    else:
        checks["bot"] = None
    checks["subscriptions"] = subscriptions_problem({a.algo_id: a.joined for a in doc.algorithms})
    return Health(checks, "status file")
