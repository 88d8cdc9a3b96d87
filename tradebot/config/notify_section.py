"""``notify:``: where alerts go and for which events (docs/operations.md#alerts)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, SecretStr, field_validator

from tradebot.config.frozen import Frozen

#: what an alert can be sent for (``notify[].events``); see tradebot/runtime/alerts.py
NotifyEvent = Literal[
    "order_rejected",
    "order_failed",
    "drift",
    "lapse",
    "missed_signal",
    "kill_switch",
    "daily_loss",
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

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, value: SecretStr) -> SecretStr:
        if "://" not in value.get_secret_value():
            # the value itself is never echoed: it is a secret
            raise ValueError("is not an Apprise URL (scheme://...), e.g. json://host:port/path")
        return value
