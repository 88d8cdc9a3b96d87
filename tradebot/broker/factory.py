"""The brokers tradebot can make, by the name ``broker.name`` gives them, and the one that builds
the broker the config names. Nothing here imports alpaca-py.

:data:`BROKERS` is the registry: every place that treats one broker differently from another
(the factory, the config check's key warnings, ``plan``'s price origin, whether ``positions`` and
the dashboard ask the broker for its positions, ``tradebot demo --broker``) reads its kind here
instead of testing a name. The names a config may write are
:data:`~tradebot.config.model.BrokerName`; :func:`_kind` is written over them, so mypy reports a
name without a kind (the config cannot import this module: the broker package imports the config).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from pydantic import SecretStr

from tradebot.broker.base import Broker
from tradebot.clock import utcnow
from tradebot.config.model import BrokerConfig, BrokerName, Mode
from tradebot.exceptions import ConfigError

KEY_ID_ENV = "APCA_API_KEY_ID"
SECRET_KEY_ENV = "APCA_API_SECRET_KEY"  # noqa: S105 - a variable name, not a secret

#: how a kind builds its broker: the broker section, the resolved mode, the clock, the environment
Make = Callable[[BrokerConfig, Mode, Callable[[], datetime], Mapping[str, str]], Broker]


@dataclass(frozen=True, slots=True)
class BrokerKind:
    """What tradebot needs to know about one broker besides its :class:`Broker` protocol."""

    name: BrokerName
    make: Make
    #: False: an in-process broker, whose positions end with the process (not worth asking)
    keeps_positions: bool
    #: where its reference prices come from, after "the NAME broker" (``tradebot plan``)
    price_origin: Callable[[BrokerConfig], str]
    #: the keys of its config section that must be set, each with the variable that sets it
    secrets: tuple[tuple[str, str], ...] = ()


def alpaca_keys(config: BrokerConfig, environ: Mapping[str, str]) -> tuple[SecretStr, SecretStr]:
    """The Alpaca key pair: ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY``, else the config's.
    With several accounts the bot passes an empty ``environ``: each account's own keys only."""
    key = environ.get(KEY_ID_ENV) or (
        config.alpaca.key_id.get_secret_value() if config.alpaca.key_id else ""
    )
    secret = environ.get(SECRET_KEY_ENV) or (
        config.alpaca.secret_key.get_secret_value() if config.alpaca.secret_key else ""
    )
    if not key or not secret:
        raise ConfigError(
            f"broker.name is alpaca but no API keys were found: set {KEY_ID_ENV} and "
            f"{SECRET_KEY_ENV} in the environment (with several accounts, each account's"
            " broker.alpaca key_id and secret_key, from the variables its config names)"
        )
    return SecretStr(key), SecretStr(secret)


def _make_sim(
    config: BrokerConfig, mode: Mode, now: Callable[[], datetime], environ: Mapping[str, str]
) -> Broker:
    from tradebot.broker.sim import SimBroker

    return SimBroker(config.sim, account_id=config.account_id or "SIM", now=now)


def _make_alpaca(
    config: BrokerConfig, mode: Mode, now: Callable[[], datetime], environ: Mapping[str, str]
) -> Broker:
    from tradebot.broker.alpaca.adapter import AlpacaBroker

    key_id, secret_key = alpaca_keys(config, environ)
    return AlpacaBroker(config.alpaca, mode, key_id=key_id, secret_key=secret_key, now=now)


def _kind(name: BrokerName) -> BrokerKind:
    match name:
        case "sim":
            return BrokerKind(
                name, _make_sim, keeps_positions=False, price_origin=lambda _: " (its price table)"
            )
        case "alpaca":
            return BrokerKind(
                name,
                _make_alpaca,
                keeps_positions=True,
                price_origin=lambda config: f" ({config.alpaca.data_feed} feed)",
                secrets=(("key_id", KEY_ID_ENV), ("secret_key", SECRET_KEY_ENV)),
            )


#: the registry, in the order the config's error message lists the names
BROKERS: Mapping[str, BrokerKind] = {name: _kind(name) for name in get_args(BrokerName)}


def broker_kind(name: str) -> BrokerKind:
    """The kind registered as ``name``; a name without one is a config error."""
    kind = BROKERS.get(name)
    if kind is None:
        raise ConfigError(f"unknown broker {name!r} (known: {', '.join(BROKERS)})")
    return kind


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
    make = broker_kind(broker_config.name).make
    return make(broker_config, mode, now, os.environ if environ is None else environ)
