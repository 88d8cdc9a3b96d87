from __future__ import annotations

from decimal import Decimal

import yaml

from tests.config.helpers import ROOT_CONFIG, WriteConfig, load
from tradebot.config.display import MASK, effective_config, effective_config_yaml, mask_url


def test_secrets_are_masked_when_set_and_null_when_not() -> None:
    env = {"ALPHAHUB_EMAIL": "me@example.com", "ALPHAHUB_PASSWORD": "pa55-word-xyz"}
    shown = effective_config_yaml(load(ROOT_CONFIG, env))
    assert "pa55-word-xyz" not in shown and "me@example.com" not in shown
    data = yaml.safe_load(shown)
    assert data["alphahub"]["password"] == MASK
    assert data["broker"]["alpaca"]["secret_key"] is None


def test_credentials_in_urls_are_masked() -> None:
    assert mask_url("https://user:pw@alphahub.example/x") == f"https://{MASK}@alphahub.example/x"
    assert mask_url("https://alphahub.us") == "https://alphahub.us"
    assert mask_url("not a url @ all") == "not a url @ all"


def test_every_default_is_shown(write_config: WriteConfig) -> None:
    data = effective_config(load(write_config("mode: paper\n")))
    assert data["risk"]["kill_switch_file"] == "tradebot.halt"
    assert data["broker"]["sim"]["cash"] == Decimal(100000)
    assert data["algorithms"] == {}


def test_the_effective_config_loads_back_to_the_same_config(write_config: WriteConfig) -> None:
    original = load(ROOT_CONFIG)
    path = write_config(effective_config_yaml(original), name="effective.yaml")
    text = path.read_text()
    assert "!!" not in text  # plain YAML: no python tags, decimals as numbers
    assert "max_order_notional: 25000\n" in text
    assert load(path) == original
