"""Is the bot alive? One answer, from its heartbeat, for every view.

A running bot beats a heartbeat every ``every`` seconds (:data:`HEARTBEAT_EVERY` by default):
it rewrites its status file (:mod:`tradebot.runtime.status`) and, with a PostgreSQL journal,
its process row (:mod:`tradebot.journal.lease`). The Now page, ``tradebot status``,
``status --json`` and ``/healthz`` all call :func:`judge`, so they never disagree:

* **stopped** when the process said so at a clean stop (Ctrl-C, SIGTERM, ``systemctl stop``):
  nothing needs a person;
* **not responding** when it did not stop cleanly and cannot be heard: its process is gone
  (killed, crashed: on the same host the caller checks the pid and its start time,
  :func:`tradebot.runtime.process.why_not_running`, and passes what it found as ``gone``, so a
  ``kill -9`` shows at once), or :data:`MISSED_BEATS` beats in a row are missing (the heartbeat
  is older than ``MISSED_BEATS * every`` seconds: frozen, its loop stuck, or killed on another
  host, where no pid can be checked); also when there is no heartbeat at all. A crash is
  never shown as a stop: it is what a person must look at;
* otherwise what the process says it is doing (``running``, ``starting``, ``recovering``,
  ``standby``). Only ``running`` is ready: ``recovering`` is alive and listening (every signal
  is journaled as it arrives) while start-up recovery waits for the broker; nothing is planned
  until it is done.

Pure: the age and the pid check are the caller's, measured however it can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: seconds between two heartbeats of a running bot, unless its status document says otherwise
HEARTBEAT_EVERY = 5.0
#: heartbeats missed in a row before a process is *not responding*
MISSED_BEATS = 3

STOPPED = "stopped"
NOT_RESPONDING = "not responding"
RUNNING = "running"
#: listening and journaling signals, start-up recovery not done (the broker has not answered)
RECOVERING = "recovering"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a view shows: the state, why (in words, empty when all is well), and the
    heartbeat's age in seconds (None: no heartbeat)."""

    state: str
    why: str
    age: float | None

    @property
    def alive(self) -> bool:
        return self.state not in (STOPPED, NOT_RESPONDING)

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def as_dict(self) -> dict[str, Any]:
        age = None if self.age is None else round(self.age, 1)
        return {
            "state": self.state,
            "why": self.why,
            "age": age,
            "alive": self.alive,
            "running": self.running,
        }


def judge(*, said: str, age: float | None, every: float, gone: str | None) -> Verdict:
    """``said``: the state the process last wrote; ``age``: seconds since its last heartbeat;
    ``every``: its heartbeat interval; ``gone``: why the process is known to be gone (None:
    it runs, or it cannot be checked from here)."""
    if said == STOPPED:
        return Verdict(STOPPED, "it stopped cleanly", age)
    if gone is not None:
        return Verdict(NOT_RESPONDING, f"{gone} without a clean stop (killed or crashed)", age)
    if age is None:
        return Verdict(NOT_RESPONDING, "no heartbeat yet", None)
    if age > MISSED_BEATS * every:
        return Verdict(
            NOT_RESPONDING,
            f"no heartbeat for {age:.0f} s (one is due every {every:g} s)",
            age,
        )
    return Verdict(said, "", age)
