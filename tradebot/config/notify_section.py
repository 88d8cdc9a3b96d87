"""``notify:``: where alerts go and for which events (docs/operations.md#alerts)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, SecretStr, field_validator

from tradebot.config.frozen import Frozen
from tradebot.config.numbers import Finite

#: what an alert can be sent for (``notify[].events``); see tradebot/runtime/alerts.py
NotifyEvent = Literal[
    "order_rejected",
    "order_failed",
    "drift",
    "lapse",
    "outage",
    "broker",
    "missed_signal",
    "kill_switch",
    "daily_loss",
    "daily_summary",
    "stopped",
    "error",
    "fill",
]
NOTIFY_EVENTS: tuple[str, ...] = get_args(NotifyEvent)


class NotifyTarget(Frozen):
    """Where alerts go: an Apprise URL (tgram://, discord://, slack://, mailto://, ntfy://,
    json://...) and the events it wants. The URL usually holds a token: it is a secret, written
    ``url: ${TRADEBOT_TELEGRAM_URL}`` and masked in every output."""

    url: SecretStr
    events: tuple[NotifyEvent, ...] = Field(min_length=1)
    outage_after: Finite = Field(
        30.0,
        gt=0,
        le=3600,
        description="seconds an algorithm is subscribed on no connection before `outage` alerts",
    )
    daily_summary_at: str = Field(
        "21:30",  # after the US close, winter (21:00 UTC) and summer (20:00 UTC)
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="UTC time of day, quoted HH:MM, the `daily_summary` is sent",
    )
    timeout: Finite = Field(
        10.0, gt=0, le=120, description="seconds one message may take before it counts as failed"
    )

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, value: SecretStr) -> SecretStr:
        if "://" not in value.get_secret_value():
            # the value itself is never echoed: it is a secret
            raise ValueError("is not an Apprise URL (scheme://...), e.g. json://host:port/path")
        return value
