"""The wall clock, in one place. Everything that reads the time takes a ``now`` callable that
defaults to :func:`utcnow`, so tests inject their own; the pure core never calls it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (what the journal records)."""
    return datetime.now(UTC)


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime) -> datetime:
    """``2026-11-24``, ``2026-11-24T14:30``, ``...Z`` / ``+01:00``, or relative: ``90m``,
    ``12h``, ``7d``, ``2w`` (before ``now``). Naive times are UTC."""
    value = text.strip()
    match = _RELATIVE.match(value.lower())
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date, a date and time, or a span like 90m, 12h, 7d"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
