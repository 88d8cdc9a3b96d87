"""The wall clock, in one place. Everything that reads the time takes a ``now`` callable that
defaults to :func:`utcnow`, so tests inject their own; the pure core never calls it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (what the journal records)."""
    return datetime.now(UTC)
