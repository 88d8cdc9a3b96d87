"""``dashboard:``: the web dashboard the running bot serves (docs/operations.md#dashboard)."""

from __future__ import annotations

from pydantic import Field, SecretStr, StrictBool, field_validator, model_validator

from tradebot.config.frozen import Frozen
from tradebot.config.hosts import is_loopback, normalise_host


class DashboardConfig(Frozen):
    """The web dashboard the running bot serves (``tradebot dashboard`` serves it alone too).

    Read-only unless ``token`` is set; with a token the page offers halt, reduce-only and resume,
    each a POST carrying the token. Anything but loopback without a token is refused: a page
    anyone on the network can read shows the account and every order. It answers only to
    ``host``, ``allowed_hosts`` and loopback names (``tradebot.web.security``).
    """

    enabled: StrictBool = True
    host: str = "127.0.0.1"
    port: int = Field(
        8800, ge=0, le=65535, description="0 picks a free port; the banner says which"
    )
    token: SecretStr | None = Field(
        None, description="from the environment: token: ${TRADEBOT_DASHBOARD_TOKEN}"
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="names the dashboard answers to besides host and loopback (a reverse "
        "proxy's, this machine's on the network); any other Host header gets 421",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalise_host(host) for host in value))

    @field_validator("token")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        # ``${VAR:-}`` with VAR unset gives "": no token, not an empty one anyone can type
        return value if value is not None and value.get_secret_value().strip() else None

    @model_validator(mode="after")
    def _loopback_or_token(self) -> DashboardConfig:
        if self.token is None and not is_loopback(self.host):
            raise ValueError(
                f"dashboard.host {self.host!r} is not loopback: set dashboard.token (from the "
                "environment) or keep host 127.0.0.1"
            )
        return self
