"""The effective config as YAML, for ``tradebot config check``: defaults filled in, secrets masked.

Secret fields show ``'***'`` when set and ``null`` when not; every other text goes through
:func:`tradebot.masking.mask`, so a URL's ``user:password@`` part and its secret query
parameters (``?token=...``) are masked too. Nothing here ever prints a secret's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr

from tradebot.config.accounts_section import PER_ACCOUNT_KEYS, AccountConfig
from tradebot.config.model import Config
from tradebot.masking import MASK, mask

__all__ = ["MASK", "accounts_summary", "effective_config", "effective_config_yaml"]


def effective_config(config: Config) -> dict[str, Any]:
    """The whole config as plain data (str, int, Decimal, bool, None, lists, dicts), masked.

    In the file's shape, so that it reads back as the same config: without ``accounts:``, the
    top-level keys of the one account; with it, each account as written (a mirror without the
    algorithms and risk it copies) and the top-level ``risk:`` they tighten.
    """
    declared = config.declared_accounts
    if declared is None:
        return {name: _plain(getattr(config, name)) for name in _keys(config, skip=("accounts",))}
    plain: dict[str, Any] = {}
    for name in _keys(config, skip=PER_ACCOUNT_KEYS):
        if name == "risk":
            plain[name] = _plain(config.base_risk)
        elif name == "accounts":
            plain[name] = {n: _account(a) for n, a in declared.items()}
        else:
            plain[name] = _plain(getattr(config, name))
    return plain


def _keys(config: Config, skip: tuple[str, ...]) -> list[str]:
    return [name for name in type(config).model_fields if name not in skip]


def _account(account: AccountConfig) -> dict[str, Any]:
    copied = ("algorithms", "risk") if account.mirror_of is not None else ()
    return {
        name: _plain(getattr(account, name))
        for name in type(account).model_fields
        if name not in copied
    }


def effective_config_yaml(config: Config) -> str:
    return yaml.dump(
        effective_config(config), Dumper=_Dumper, sort_keys=False, default_flow_style=False
    )


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else None
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return mask(value)
    return value


def accounts_summary(config: Config, variables: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One line per account as it trades: its mode, broker, where its credentials come from
    (the ``${VAR}`` names of ``variables``, never a value) and the algorithms it follows."""
    declared = config.declared_accounts
    lines = []
    for name, account in config.accounts.items():
        here = "" if declared is None else f"accounts.{name}."
        mode = str(account.mode)
        if account.mirror_of is not None:
            mode += f", mirror of {account.mirror_of}"
        broker = f"broker {account.broker.name}"
        secrets = _secret_sources(account, here, variables)
        if secrets:
            broker += f" ({', '.join(secrets)})"
        followed = [
            f"{algo_id} {algo.strategy}({_params(algo.params)})"
            + ("" if algo.enabled else " disabled")
            for algo_id, algo in sorted(account.algorithms.items())
        ]
        lines.append(f"{name}: {mode}; {broker}; follows {'; '.join(followed) or 'nothing'}")
    return lines


def _secret_sources(
    account: AccountConfig, here: str, variables: Mapping[str, tuple[str, ...]]
) -> list[str]:
    # lazily: the broker package imports the config, never at import time the reverse
    from tradebot.broker.factory import broker_kind

    name = account.broker.name
    shown = []
    for key, _ in broker_kind(name).secrets:
        names = variables.get(f"{here}broker.{name}.{key}", ())
        value = getattr(getattr(account.broker, name), key)
        state = "set" if value is not None and value.get_secret_value() else "not set"
        if names:
            shown.append(f"{key} {' '.join(f'${{{n}}}' for n in names)} ({state})")
        elif value is not None:
            shown.append(f"{key} in the file ({state})")
        else:
            shown.append(f"{key} not set")
    return shown


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_plain(v)}" for k, v in params.items())


class _Dumper(yaml.SafeDumper):
    """Decimals as plain numbers (``0.5``, ``100000``), never ``!!python/object``; and never an
    anchor or alias (``&id001`` / ``*id001``): a value shared by two places (a default
    ``Decimal`` object, the same list) is written out in each, as a reader expects."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = format(value, "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


_Dumper.add_representer(Decimal, _represent_decimal)
