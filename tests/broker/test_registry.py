"""One registry of brokers (``tradebot.broker.factory.BROKERS``), read everywhere a broker is
treated by its name: a name the registry lacks is refused by the config, the factory and the
commands alike, and each command's choice list is the registry's (issue 23, "Tidy")."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import click
import pytest
from click.testing import CliRunner

from tests.config.helpers import error_text
from tradebot.broker.factory import BROKERS, broker_kind, make_broker
from tradebot.cli.demo_cmd import demo
from tradebot.cli.main import cli
from tradebot.config.loader import read_config
from tradebot.config.model import BrokerConfig, BrokerName, Mode
from tradebot.exceptions import ConfigError

KEYS = {"APCA_API_KEY_ID": "PKXYZ", "APCA_API_SECRET_KEY": "secret-xyz"}


def test_every_name_the_config_accepts_has_its_kind_in_the_config_order() -> None:
    assert tuple(BROKERS) == get_args(BrokerName)
    assert [kind.name for kind in BROKERS.values()] == list(BROKERS)


@pytest.mark.parametrize("name", list(BROKERS))
def test_each_kind_makes_the_broker_of_its_name(name: str) -> None:
    broker = make_broker(BrokerConfig(name=name), Mode.PAPER, environ=KEYS)
    assert broker.name == name


def test_a_name_without_a_kind_is_refused_by_the_factory() -> None:
    with pytest.raises(ConfigError, match=r"unknown broker 'ibkr' \(known: sim, alpaca\)"):
        broker_kind("ibkr")
    unregistered = BrokerConfig.model_construct(name="ibkr")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown broker 'ibkr'"):
        make_broker(unregistered, Mode.PAPER, environ=KEYS)


def test_a_name_without_a_kind_is_refused_by_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("broker:\n  name: ibkr\n", encoding="utf-8")
    names = " or ".join(repr(name) for name in BROKERS)
    assert f"broker.name: should be {names}" in error_text(path)


def test_the_demo_offers_the_registered_brokers_and_refuses_others() -> None:
    (option,) = [p for p in demo.params if p.name == "broker"]
    assert isinstance(option.type, click.Choice)
    assert sorted(option.type.choices) == sorted(BROKERS)
    result = CliRunner().invoke(cli, ["demo", "--broker", "ibkr"])
    assert result.exit_code == 2
    assert all(repr(name) in result.output for name in BROKERS)


def test_the_config_check_asks_for_the_secrets_the_kind_names(tmp_path: Path) -> None:
    """A broker's secret keys come from its kind: the check names each key and its variable."""
    for name, kind in BROKERS.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"broker:\n  name: {name}\n", encoding="utf-8")
        warnings = "\n".join(str(w) for w in read_config(path, env={}).warnings)
        for key, variable in kind.secrets:
            assert f"broker.{name}.{key}: not set" in warnings and variable in warnings
        assert (f"the {name} broker needs it" in warnings) == bool(kind.secrets)
