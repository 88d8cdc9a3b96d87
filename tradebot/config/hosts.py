"""Host names as a resolver sees them, so that two spellings of one host compare equal.

The paper/live guard (:mod:`tradebot.broker.alpaca.endpoints`) compares hosts. A plain string
comparison is not enough: ``API.alpaca.markets``, ``api.alpaca.markets.`` (the fully qualified
form), ``api%2Ealpaca.markets``, ``ａｐｉ.alpaca.markets`` (full-width letters, mapped by IDNA)
and ``api。alpaca。markets`` (an ideographic full stop, a label separator in IDNA) all reach the
same machine. :func:`normalise_host` turns each of them into ``api.alpaca.markets``.

:func:`endpoint_host` also refuses what an HTTP client could read differently from us: user
info (``user:pass@``, a secret in a config file, and a classic way to hide the real host),
backslashes (urllib3 ends the authority at one), whitespace and control characters, schemes
other than http(s)/ws(s), and ports that are not numbers. Messages never repeat the URL: it may
carry a secret.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, urlsplit

#: Alpaca's real-money trading API. The config can never allow it in paper mode.
ALPACA_LIVE_HOST = "api.alpaca.markets"

_SCHEMES = frozenset({"http", "https", "ws", "wss"})
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")
_DOTS = ".\u3002\uff0e\uff61"  # the label separators of IDNA (RFC 3490, 3.1)
_ODD = re.compile(r"[\s\\\x00-\x1f\x7f]")


def normalise_host(name: str) -> str:
    """``name`` lower-cased, percent-decoded, IDNA-encoded to ASCII, without trailing dots.

    Raises ValueError when the result is not a host name or an IP address.
    """
    host = unquote(name).strip()
    if _ODD.search(host):
        raise ValueError("the host name has spaces, backslashes or control characters")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host.rstrip(".")))
    except ValueError:
        pass
    try:
        # Python's codec implements IDNA 2003: nameprep folds case and full-width forms and
        # treats U+3002, U+FF0E and U+FF61 as dots, as the resolvers of requests/httpx do.
        ascii_host = host.rstrip(_DOTS).lower().encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("not a valid host name (IDNA)") from None
    ascii_host = ascii_host.rstrip(".")
    try:
        return str(ipaddress.ip_address(ascii_host))
    except ValueError:
        pass
    if not ascii_host or not all(_LABEL.fullmatch(label) for label in ascii_host.split(".")):
        raise ValueError("not a valid host name")
    return ascii_host


def endpoint_host(url: str) -> str:
    """The normalised host of an http(s)/ws(s) endpoint URL.

    Raises ValueError (without the URL in the message) for credentials in the URL, an odd
    scheme, odd characters, a missing host or a port that is not a number.
    """
    if _ODD.search(url):
        raise ValueError("the URL has spaces, backslashes or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # its message quotes the URL
        raise ValueError("not a valid URL") from None
    if parts.scheme.lower() not in _SCHEMES:
        raise ValueError("the scheme must be http, https, ws or wss")
    if "@" in parts.netloc:
        raise ValueError("the URL must not contain a user name or password (user:pass@host)")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("the port is not a number from 0 to 65535") from None
    if not parts.hostname:
        raise ValueError("the URL has no host")
    return normalise_host(parts.hostname)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only: ``localhost``, an address in 127.0.0.0/8, ``::1``
    or an IPv4-mapped ``::ffff:127.x.y.z``, in any spelling a resolver reads as one of them (any
    case, ``[...]`` brackets, a trailing dot, full-width letters: :func:`normalise_host`).

    The one answer to the question, for the dashboard's bind check and ``Host`` guard, the
    paper/live guard and the AlphaHub session's proxy choice. Anything that is not a host name
    is not loopback: ``127.0.0.1.evil.com`` is a name under ``evil.com``, ``localhost:8800``
    carries a port, ``*.localhost`` and ``0.0.0.0`` are not promised to stay on this machine.
    """
    try:
        name = normalise_host(host)
    except ValueError:
        return False
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
