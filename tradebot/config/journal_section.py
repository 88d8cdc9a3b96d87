"""``journal:``: where the journal is kept, and the bounds of recovery and failover.

The journal opener reads this section; ``journal.recovery_max_age`` also reaches the planner,
as the age bound of backfilled legs (:mod:`.planning`).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from tradebot.config.frozen import Frozen
from tradebot.config.numbers import WEEK, Finite


class JournalConfig(Frozen):
    path: str = "journal/tradebot.sqlite"
    url: str | None = Field(
        None,
        description="postgresql://user:${PGPASSWORD}@host/db: journal on a PostgreSQL server "
        "instead of the file at path (which then only places the status file)",
    )

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.lower().startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (a PostgreSQL server)")
        return value

    recovery_max_age: Finite = Field(
        300.0,
        gt=0,
        le=WEEK,
        description="seconds; at start-up, an order not sent before a crash is sent only if its "
        "signal is younger than this, else recorded as failed",
    )
    failover_timeout: Finite = Field(
        10.0,
        gt=0,
        le=3600,
        description="seconds; with journal.url and several processes, a standby takes over "
        "within this long of the leader's loss (its lease lasts 60% of it, renewed four times "
        "per lease)",
    )
    heartbeat_every: Finite = Field(
        5.0,
        ge=0.5,
        le=60,
        description="seconds between two heartbeats of the running bot (its status file and, "
        "with journal.url, its process row); three missed in a row read as not responding",
    )
    recheck_interval: Finite = Field(
        15.0,
        gt=0,
        le=3600,
        description="seconds; how often the running bot looks up orders whose submission ended "
        "without an answer: recorded if the broker has them, sent again (same client order id) "
        "while their signal is younger than recovery_max_age, else recorded as failed",
    )
