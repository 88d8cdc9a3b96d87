"""What a check found, and the verdict over all of them: pure values, no I/O."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from tradebot.masking import mask


class Level(StrEnum):
    """How bad a finding is; ``skipped`` is a check that does not apply (a sim broker)."""

    OK = "ok"
    SKIPPED = "skipped"
    WARNING = "warning"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        return _EXIT[self]


_EXIT = {Level.OK: 0, Level.SKIPPED: 0, Level.WARNING: 1, Level.ERROR: 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's answer: its name, its level and why, in one line (masked when made)."""

    check: str
    level: Level
    reason: str

    def __post_init__(self) -> None:
        one_line = " ".join(self.reason.split())
        object.__setattr__(self, "reason", mask(one_line))


def ok(check: str, reason: str) -> Finding:
    return Finding(check, Level.OK, reason)


def skipped(check: str, reason: str) -> Finding:
    return Finding(check, Level.SKIPPED, reason)


def warning(check: str, reason: str) -> Finding:
    return Finding(check, Level.WARNING, reason)


def error(check: str, reason: str) -> Finding:
    return Finding(check, Level.ERROR, reason)


def exit_code(findings: Sequence[Finding]) -> int:
    """0 when every finding is ok or skipped, 1 with a warning, 2 with an error."""
    return max((f.level.exit_code for f in findings), default=0)


def as_text(findings: Sequence[Finding]) -> str:
    width = max((len(f.check) for f in findings), default=0)
    lines = [f"{f.level.value:<8} {f.check:<{width}}  {f.reason}" for f in findings]
    verdict = {0: "ready", 1: "ready, with warnings", 2: "NOT ready"}[exit_code(findings)]
    return "\n".join([*lines, f"this machine is {verdict}"])


def as_json(findings: Sequence[Finding]) -> str:
    return json.dumps(
        {
            "exit_code": exit_code(findings),
            "findings": [
                {"check": f.check, "level": f.level.value, "reason": f.reason} for f in findings
            ],
        },
        indent=1,
    )
