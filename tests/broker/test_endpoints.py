"""Paper by default; paper-mode orders never reach the live endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from tradebot.broker.alpaca import AlpacaBroker
from tradebot.broker.alpaca.endpoints import (
    LIVE_URL,
    MARKET_DATA,
    PAPER_URL,
    check_endpoint,
    resolve,
)
from tradebot.broker.factory import make_broker
from tradebot.broker.sim import SimBroker
from tradebot.config.loader import load_config
from tradebot.config.model import AlpacaConfig, BrokerConfig, Mode
from tradebot.exceptions import ConfigError


def test_defaults() -> None:
    paper = resolve(AlpacaConfig(), Mode.PAPER)
    assert (paper.rest, paper.stream) == (PAPER_URL, "wss://paper-api.alpaca.markets/stream")
    assert resolve(AlpacaConfig(), Mode.LIVE).rest == LIVE_URL
    local = resolve(AlpacaConfig(url="http://127.0.0.1:5000"), Mode.PAPER)
    assert local.stream == "ws://127.0.0.1:5000/stream"


@pytest.mark.parametrize(
    "config",
    [
        AlpacaConfig(url="https://api.alpaca.markets"),
        AlpacaConfig(url="https://api.alpaca.markets/"),
        AlpacaConfig(stream_url="wss://api.alpaca.markets/stream"),
    ],
)
def test_paper_mode_refuses_the_live_endpoint(config: AlpacaConfig) -> None:
    with pytest.raises(ConfigError, match="paper mode"):
        resolve(config, Mode.PAPER)
    with pytest.raises(ConfigError, match="paper mode"):
        AlpacaBroker(config, Mode.PAPER, key_id=SecretStr("k"), secret_key=SecretStr("s"))


def test_live_mode_refuses_the_paper_endpoint() -> None:
    with pytest.raises(ConfigError, match="live mode"):
        resolve(AlpacaConfig(url=PAPER_URL), Mode.LIVE)


def test_factory_chooses_and_needs_keys_for_alpaca() -> None:
    assert isinstance(make_broker(BrokerConfig(), Mode.PAPER), SimBroker)
    config = BrokerConfig(name="alpaca")
    with pytest.raises(ConfigError, match="APCA_API_KEY_ID"):
        make_broker(config, Mode.PAPER, environ={})
    env = {"APCA_API_KEY_ID": "PKXYZ", "APCA_API_SECRET_KEY": "secret-xyz"}
    broker = make_broker(config, Mode.PAPER, environ=env)
    assert isinstance(broker, AlpacaBroker)
    assert "secret-xyz" not in repr(broker) and "PKXYZ" not in repr(broker)


# -- normalised hosts: no spelling of the live host passes in paper mode ------------------------

LIVE_SPELLINGS = [
    "https://api.alpaca.markets./",  # the fully qualified form (issue 10)
    "https://api.alpaca.markets..",
    "https://API.Alpaca.Markets",
    "https://api.alpaca.markets:443/v2",
    "wss://api.alpaca.markets./stream",
    "https://api%2Ealpaca.markets",
    "https://\uff41\uff50\uff49.alpaca.markets",  # full-width letters, folded by IDNA
    "https://api\u3002alpaca\uff0emarkets",  # ideographic and full-width full stops
]


@pytest.mark.parametrize("url", LIVE_SPELLINGS)
def test_paper_mode_refuses_every_spelling_of_the_live_host(url: str) -> None:
    for config in (AlpacaConfig(url=url), AlpacaConfig(stream_url=url)):
        with pytest.raises(ConfigError, match="paper mode but the endpoint is Alpaca's live API"):
            resolve(config, Mode.PAPER)


@pytest.mark.parametrize(
    "url",
    ["https://paper-api.alpaca.markets./", "https://PAPER-API.alpaca.markets"],
)
def test_live_mode_refuses_every_spelling_of_the_paper_host(url: str) -> None:
    with pytest.raises(ConfigError, match="live mode"):
        resolve(AlpacaConfig(url=url), Mode.LIVE)


def test_paper_mode_takes_only_the_paper_host_and_loopback() -> None:
    for url in (
        "https://paper-api.alpaca.markets.",
        "http://localhost:5000",
        "http://LOCALHOST.:5000",
        "http://127.0.0.1:5000",
        "http://127.8.9.10",
        "http://[::1]:5000",
    ):
        assert resolve(AlpacaConfig(url=url), Mode.PAPER).rest == url
    for url in ("https://52.1.2.3", "https://proxy.example.com", "http://10.0.0.5:8080"):
        with pytest.raises(ConfigError, match=r"broker\.alpaca\.allow_hosts"):
            resolve(AlpacaConfig(url=url), Mode.PAPER)


def test_a_host_named_in_allow_hosts_is_accepted_in_paper_mode() -> None:
    config = AlpacaConfig(
        url="https://Proxy.Example.com./v2",
        stream_url="wss://stream.example.com/stream",
        allow_hosts=("proxy.example.com", "STREAM.example.com."),
    )
    assert config.allow_hosts == ("proxy.example.com", "stream.example.com")
    assert resolve(config, Mode.PAPER).rest == "https://Proxy.Example.com./v2"
    only_rest = AlpacaConfig(url="https://proxy.example.com", allow_hosts=("proxy.example.com",))
    with pytest.raises(ConfigError, match="stream_url"):
        resolve(only_rest.model_copy(update={"stream_url": "wss://other.example"}), Mode.PAPER)


@pytest.mark.parametrize(
    "host", ["api.alpaca.markets", "API.alpaca.markets.", "api%2ealpaca.markets"]
)
def test_the_live_host_can_never_be_allowed(host: str) -> None:
    with pytest.raises(ValidationError, match="can never be allowed in paper mode"):
        AlpacaConfig(allow_hosts=(host,))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://user:hunter2@paper-api.alpaca.markets", "user name or password"),
        ("https://paper-api.alpaca.markets@api.alpaca.markets", "user name or password"),
        ("https://api.alpaca.markets\\@paper-api.alpaca.markets", "backslashes"),
        ("https://api.alpaca.markets\\.evil", "backslashes"),
        ("https://paper-api.alpaca.markets:http", "port"),
        ("https://paper-api.alpaca.markets:99999", "port"),
        ("https:///v2", "no host"),
        ("https://api..alpaca.markets", "host name"),
    ],
)
def test_urls_a_client_could_read_differently_are_config_errors(url: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why) as info:
        AlpacaConfig(url=url)
    assert "hunter2" not in str(info.value).replace(url, "")  # the message does not quote it


def test_a_loaded_config_names_the_line_of_a_bad_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "broker:\n  name: alpaca\n  alpaca:\n    allow_hosts: [api.alpaca.markets.]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert f"{path}:4: broker.alpaca.allow_hosts" in str(info.value)


_LIVE_LABELS = ("api", "alpaca", "markets")
_FULLWIDTH = {c: chr(ord(c) - ord("a") + 0xFF41) for c in "abcdefghijklmnopqrstuvwxyz"}


@st.composite
def live_host_spellings(draw: st.DrawFn) -> str:
    """``api.alpaca.markets`` as a resolver would still read it, spelled some other way."""
    labels = []
    for label in _LIVE_LABELS:
        chars = []
        for c in label:
            form = draw(st.sampled_from(["plain", "upper", "fullwidth", "percent"]))
            chars.append(
                {
                    "plain": c,
                    "upper": c.upper(),
                    "fullwidth": _FULLWIDTH[c],
                    "percent": f"%{ord(c):02x}",
                }[form]
            )
        labels.append("".join(chars))
    dots = draw(
        st.lists(
            st.sampled_from([".", "\u3002", "\uff0e", "\uff61", "%2e", "%2E"]),
            min_size=2,
            max_size=2,
        )
    )
    host = labels[0] + dots[0] + labels[1] + dots[1] + labels[2]
    return host + draw(st.sampled_from(["", ".", "..", "%2e"]))


@settings(max_examples=300, deadline=None)
@given(
    host=live_host_spellings(),
    scheme=st.sampled_from(["https", "http", "wss", "ws", "HTTPS"]),
    port=st.sampled_from(["", ":443", ":80", ":8443"]),
    path=st.sampled_from(["", "/", "/v2", "/stream"]),
    userinfo=st.sampled_from(["", "user@", "user:secret@", "paper-api.alpaca.markets@"]),
    key=st.sampled_from(["url", "stream_url"]),
)
def test_no_spelling_of_the_live_host_passes_in_paper_mode(
    host: str, scheme: str, port: str, path: str, userinfo: str, key: str
) -> None:
    url = f"{scheme}://{userinfo}{host}{port}{path}"
    try:
        config = AlpacaConfig.model_validate({key: url})
    except ValidationError:
        return  # refused when the config is loaded
    with pytest.raises(ConfigError):
        resolve(config, Mode.PAPER)


def test_the_market_data_role_takes_alpacas_data_host_in_both_modes_never_the_live_api() -> None:
    for mode in Mode:
        check_endpoint("data_url", "https://data.alpaca.markets.", MARKET_DATA, mode, ())
    check_endpoint("data_url", "http://127.0.0.1:5000", MARKET_DATA, Mode.PAPER, ())
    for url in ("https://api.alpaca.markets", "https://paper-api.alpaca.markets"):
        with pytest.raises(ConfigError, match=r"broker\.alpaca\.data_url: paper mode"):
            check_endpoint("data_url", url, MARKET_DATA, Mode.PAPER, ())
