from __future__ import annotations

from decimal import Decimal

import yaml

from tests.config.helpers import ROOT_CONFIG, WriteConfig, load
from tradebot.config.display import MASK, effective_config, effective_config_yaml
from tradebot.config.model import Config


def test_secrets_are_masked_when_set_and_null_when_not() -> None:
    env = {"ALPHAHUB_EMAIL": "me@example.com", "ALPHAHUB_PASSWORD": "pa55-word-xyz"}
    shown = effective_config_yaml(load(ROOT_CONFIG, env))
    assert "pa55-word-xyz" not in shown and "me@example.com" not in shown
    data = yaml.safe_load(shown)
    assert data["alphahub"]["password"] == MASK
    assert data["broker"]["alpaca"]["secret_key"] is None


URL_SECRETS = {
    "alphahub": {"url": "https://hubuser:URLPW-display-1@alphahub.example/x"},
    "broker": {
        "alpaca": {
            "url": "https://paper-api.alpaca.markets",
            "stream_url": "wss://proxy.example/stream?vsn=2&token=TOKEN-display-1&x=1",
            "secret_key": "SECRET-display-key",
        }
    },
}


def test_credentials_and_tokens_in_urls_are_masked() -> None:
    data = effective_config(Config.model_validate(URL_SECRETS))
    assert data["alphahub"]["url"] == f"https://{MASK}@alphahub.example/x"
    assert data["broker"]["alpaca"]["stream_url"] == (
        f"wss://proxy.example/stream?vsn=2&token={MASK}&x=1"
    )
    assert data["broker"]["alpaca"]["url"] == "https://paper-api.alpaca.markets"


def test_repr_and_str_of_the_config_show_no_secret() -> None:
    config = Config.model_validate(URL_SECRETS)
    for text in (repr(config), str(config), repr(config.alphahub), repr(config.broker.alpaca)):
        assert "URLPW-display-1" not in text and "TOKEN-display-1" not in text
        assert "SECRET-display-key" not in text
    assert "alphahub.example" in repr(config.alphahub)  # masked, not hidden


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


def test_no_yaml_anchors_for_repeated_sub_objects(write_config: WriteConfig) -> None:
    """Two algorithms with the same sub-objects (exits, params) share default objects: shown
    written out in each place, never as ``&id001`` / ``*id001`` (``config check``, Config page)."""
    text = "mode: paper\nalgorithms:\n" + "".join(
        f"  {n}:\n    name: A{n}\n    strategy: percent_of_equity\n    params: {{pct: 10}}\n"
        for n in (14, 16, 17)
    )
    config = load(write_config(text))
    shown = effective_config_yaml(config)
    assert "&id" not in shown and "*id" not in shown, shown
    assert load(write_config(shown, name="effective.yaml")) == config
    assert "&id" not in effective_config_yaml(load(ROOT_CONFIG))
