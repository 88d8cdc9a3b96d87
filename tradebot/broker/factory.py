"""Choose and build the broker the config names. Nothing here imports alpaca-py."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime

from pydantic import SecretStr

from tradebot.broker.base import Broker
from tradebot.clock import utcnow
from tradebot.config.model import BrokerConfig, Mode
from tradebot.exceptions import ConfigError

KEY_ID_ENV = "APCA_API_KEY_ID"
SECRET_KEY_ENV = "APCA_API_SECRET_KEY"  # noqa: S105 - a variable name, not a secret


def alpaca_keys(config: BrokerConfig, environ: Mapping[str, str]) -> tuple[SecretStr, SecretStr]:
    """The Alpaca key pair: ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY``, else the config's."""
    key = environ.get(KEY_ID_ENV) or (
        config.alpaca.key_id.get_secret_value() if config.alpaca.key_id else ""
    )
    secret = environ.get(SECRET_KEY_ENV) or (
        config.alpaca.secret_key.get_secret_value() if config.alpaca.secret_key else ""
    )
    if not key or not secret:
        raise ConfigError(
            f"broker.name is alpaca but no API keys were found: set {KEY_ID_ENV} and "
            f"{SECRET_KEY_ENV} in the environment"
        )
    return SecretStr(key), SecretStr(secret)


def make_broker(
    broker_config: BrokerConfig,
    mode: Mode,
    *,
    now: Callable[[], datetime] = utcnow,
    environ: Mapping[str, str] | None = None,
) -> Broker:
    """The broker ``broker_config.name`` names, not yet connected (use ``async with``).

    ``mode`` is the resolved paper/live decision; Alpaca refuses endpoints that contradict it.
    """
    if broker_config.name == "sim":
        from tradebot.broker.sim import SimBroker

        return SimBroker(broker_config.sim, account_id=broker_config.account_id or "SIM", now=now)
    from tradebot.broker.alpaca.adapter import AlpacaBroker

    key_id, secret_key = alpaca_keys(broker_config, os.environ if environ is None else environ)
    return AlpacaBroker(broker_config.alpaca, mode, key_id=key_id, secret_key=secret_key, now=now)
