"""``alphahub:``: where the signals come from, and how the listener keeps its connections.

The listener (``tradebot/alphahub``) reads this section; docs/configuration.md#alphahub.
"""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from tradebot.config.frozen import Frozen
from tradebot.config.numbers import WEEK, AlgorithmId, Finite


class ReconnectConfig(Frozen):
    first_delay: Finite = Field(0.1, gt=0, le=5, description="seconds before the first retry")
    max_delay: Finite = Field(10.0, gt=0, le=10, description="backoff cap, seconds")
    healthy_after: Finite = Field(
        30.0,
        gt=0,
        le=3600,
        description="seconds a connection must stay up before the backoff resets",
    )


class BackfillMode(StrEnum):
    TRADE = "trade"
    JOURNAL = "journal"
    OFF = "off"


class AlphaHubConfig(Frozen):
    url: str = "https://alphahub.us"
    email: SecretStr | None = None
    password: SecretStr | None = None
    algorithms: tuple[AlgorithmId, ...] | None = Field(
        None, description="algorithms to subscribe to; default: every enabled algorithm"
    )
    connections: int = Field(2, ge=1, le=8)
    timezone: str = Field(
        "UTC",
        description="zone of the naive leg timestamps; AlphaHub (Phoenix/Ecto) stamps in UTC",
    )
    heartbeat_interval: Finite = Field(15.0, gt=0, le=55)
    heartbeat_timeout: Finite = Field(10.0, gt=0, le=300)
    join_timeout: Finite = Field(10.0, gt=0, le=300)
    request_timeout: Finite = Field(
        10.0, gt=0, le=300, description="login request timeout, seconds"
    )
    token_max_age: Finite = Field(
        25 * 60.0,
        gt=0,
        le=86400,
        description="re-authenticate before connecting when older than this",
    )
    reconnect: ReconnectConfig = ReconnectConfig()
    dedup_window: Finite = Field(
        24 * 3600.0,
        gt=0,
        le=WEEK,
        description="seconds a leg id is remembered for de-duplication",
    )
    dedup_max_ids: int = Field(
        100_000, ge=1, le=10_000_000, description="most leg ids remembered at once"
    )
    backfill: BackfillMode = Field(
        BackfillMode.TRADE,
        description="signals missed during a lapse, read back from AlphaHub's history: "
        "trade (through the planner and every limit), journal (record only) or off",
    )
    backfill_margin: Finite = Field(
        60.0, ge=0, le=3600, description="seconds added to both ends of a lapse before backfill"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like UTC)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
