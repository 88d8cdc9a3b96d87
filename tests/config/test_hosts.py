"""One ``is_loopback`` (tradebot.config.hosts) and its contract, for every caller.

Loopback is ``localhost``, 127.0.0.0/8, ``::1`` and IPv4-mapped 127/8, in any case, with or
without ``[...]`` and a trailing dot; a name that only starts like one (``127.0.0.1.evil.com``,
``localhost.evil.com``) or carries a port is not. The dashboard's bind check and the AlphaHub
session's proxy choice give the same answer as the function itself.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tradebot.alphahub.session import _is_loopback as session_is_loopback
from tradebot.config.hosts import is_loopback
from tradebot.config.model import DashboardConfig

labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=1, max_size=3).map(".".join)


def cased(text: str, flips: list[bool]) -> str:
    flips = flips + [False] * (len(text) - len(flips))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def loopback_spellings(draw: st.DrawFn) -> str:
    """Every way of writing a loopback host a resolver accepts."""
    kind = draw(st.sampled_from(["localhost", "v4", "v6", "mapped"]))
    if kind == "localhost":
        name = cased("localhost", draw(st.lists(st.booleans(), max_size=9)))
        return name + draw(st.sampled_from(["", "."]))
    if kind == "v4":
        tail = draw(st.lists(st.integers(0, 255), min_size=3, max_size=3))
        return "127." + ".".join(map(str, tail)) + draw(st.sampled_from(["", "."]))
    if kind == "v6":
        name = draw(st.sampled_from(["::1", "0:0:0:0:0:0:0:1", "0::1", "::0001"]))
    else:
        v4 = ipaddress.IPv4Address(draw(st.integers(0x7F000000, 0x7FFFFFFF)))
        name = draw(st.sampled_from([f"::ffff:{v4}", f"::FFFF:{v4}"]))
    return f"[{name}]" if draw(st.booleans()) else name


@given(loopback_spellings())
def test_every_spelling_of_loopback_is_loopback(host: str) -> None:
    assert is_loopback(host)
    assert session_is_loopback(f"ws://{_in_url(host)}:4000/socket/websocket")
    assert DashboardConfig(host=host).token is None  # no token needed to bind there


@given(loopback_spellings(), domains)
def test_a_name_that_only_starts_like_loopback_is_not(host: str, domain: str) -> None:
    if ":" in host:
        return  # an IPv6 literal cannot start a DNS name
    longer = f"{host.rstrip('.')}.{domain}"  # 127.0.0.1.evil.com, localhost.evil.com
    assert not is_loopback(longer)
    assert not session_is_loopback(f"ws://{longer}:4000/socket/websocket")
    with pytest.raises(ValidationError, match="not loopback"):
        DashboardConfig(host=longer)
    assert not is_loopback(f"{domain}.localhost")  # *.localhost: not promised to stay here


@given(st.ip_addresses())
def test_an_address_is_loopback_exactly_when_it_is_in_127_8_or_is_1(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    v4 = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address
    if v4 is not None:
        expected = v4 in ipaddress.ip_network("127.0.0.0/8")
    else:
        expected = address == ipaddress.ip_address("::1")
    assert is_loopback(str(address)) is expected
    assert session_is_loopback(f"wss://{_in_url(str(address))}/socket") is expected


@given(st.text(max_size=30))
def test_any_text_gets_an_answer_and_the_callers_agree(text: str) -> None:
    answer = is_loopback(text)  # never raises
    try:
        DashboardConfig(host=text)
        needs_token = False
    except ValidationError:
        needs_token = True
    assert needs_token is not answer


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1.evil.com",
        "localhost.evil.com",
        "localhost:8800",
        "127.0.0.1:8800",
        "[::1]:8800",
        "0.0.0.0",
        "::",
        "128.0.0.1",
        "126.255.255.255",
        "::2",
        "::ffff:10.0.0.1",
        "local host",
        "",
    ],
)
def test_these_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    "url",
    ["ws://127.0.0.1.evil.com/socket", "ws://localhost.evil.com:80/", "ws://[::1/", "not a url"],
)
def test_the_session_proxies_what_is_not_loopback(url: str) -> None:
    assert not session_is_loopback(url)


def _in_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
