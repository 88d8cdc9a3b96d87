"""``GET /healthz`` and ``GET /readyz``: is the bot fit to trade, and should it get traffic?
For systemd, Docker, an uptime monitor or a load balancer.

The checks, each ``None`` when fine or the problem in words:

* ``bot`` (from the status file only): the bot is alive by its heartbeat
  (:mod:`tradebot.runtime.liveness`: *not responding* after three missed beats or when its
  process is gone without a clean stop, *stopped* after a clean stop);
* ``subscriptions``: every configured algorithm is subscribed on at least one connection;
* ``journal``: the journal is writable (its latest write succeeded);
* ``broker``: the broker answered recently.

Served by the running bot, the checks read its own state (:mod:`tradebot.web.attach`).
``tradebot dashboard`` alone has only the status file the bot writes: :func:`from_status`
judges by it (the bot's heartbeat, the checks the bot wrote into it), and says it cannot
judge when there is none.

**The kill switch** is part of the answer, read from its file at each request
(:meth:`Health.switched`): ``/healthz`` says ``"status": "halted"`` while it is halted and
still answers 200 (a halted bot is healthy: it does what it was told, and a supervisor must not
restart it); failing checks answer 503 whatever the switch. ``/readyz`` answers 503 while
halted, while an algorithm is not subscribed, or while the bot is not running; 200 otherwise
(reduce-only is ready: closes still go out).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tradebot.exceptions import StatusUnreadable
from tradebot.runtime.status import liveness_of, read_status

#: the kill switch's modes as the answers name them ("off": not set)
OFF, HALT = "off", "halt"


@dataclass(frozen=True)
class Health:
    checks: dict[str, str | None] = field(default_factory=dict)
    source: str = "bot"
    #: when the evidence was taken (the status file's last write; None: now, in-process)
    at: datetime | None = None
    kill_switch: str = OFF

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(problem is None for problem in self.checks.values())

    @property
    def halted(self) -> bool:
        return self.kill_switch == HALT

    @property
    def ready(self) -> bool:
        """For a load balancer: not halted, every algorithm subscribed, the bot alive."""
        return (
            not self.halted
            and "subscriptions" in self.checks
            and self.checks["subscriptions"] is None
            and self.checks.get("bot") is None
        )

    def switched(self, mode: str) -> Health:
        """The same checks with the kill switch as read now (``running`` is ``off``)."""
        return replace(self, kill_switch=OFF if mode == "running" else mode)

    def as_dict(self) -> dict[str, Any]:
        failing = {name: why for name, why in self.checks.items() if why is not None}
        status = "halted" if self.ok and self.halted else ("ok" if self.ok else "failing")
        return {
            "status": status,
            "source": self.source,
            "kill_switch": self.kill_switch,
            "checks": {name: why or "ok" for name, why in self.checks.items()},
            "failing": failing,
        }

    def shown(self, now: datetime) -> dict[str, Any]:
        """For the Now page: the overall answer, and each check with the age of its evidence
        in seconds (0: computed now, by the running bot)."""
        age = 0.0 if self.at is None else max(0.0, (now - self.at).total_seconds())
        return {
            **self.as_dict(),
            "ready": self.ready,
            "list": [
                {"name": name, "problem": problem, "age": round(age)}
                for name, problem in self.checks.items()
            ],
        }

    def readiness(self) -> dict[str, Any]:
        """``/readyz``'s answer (503 unless :attr:`ready`)."""
        why = []
        if self.halted:
            why.append("halted by the kill switch")
        for name in ("bot", "subscriptions"):
            problem = self.checks.get(name, "not known yet")
            if problem is not None:
                why.append(f"{name}: {problem}")
        return {"ready": self.ready, "kill_switch": self.kill_switch, "why": why}


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
    verdict = liveness_of(doc, now)
    checks: dict[str, str | None] = {}
    if verdict.running:
        checks["bot"] = None
    else:
        checks["bot"] = f"the bot is {verdict.state}" + (f": {verdict.why}" if verdict.why else "")
    checks["subscriptions"] = subscriptions_problem({a.algo_id: a.joined for a in doc.algorithms})
    for name, problem in doc.checks.items():  # the bot's own, as of its last write
        checks.setdefault(name, problem)
    return Health(checks, "status file", at=doc.updated_at)
