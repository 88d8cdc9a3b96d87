"""The one place that keeps secrets out of everything tradebot writes.

:func:`mask` is applied to every log record (:class:`MaskSecrets`, installed on the CLI's log
handlers so third-party loggers are covered too), every :class:`~tradebot.exceptions.TradebotError`
message (when it is made), the banner, connection states, ``tradebot config check``, reprs of
config and broker objects, every journal row, and the CLI's report of an unexpected error. It
replaces with :data:`MASK`:

* **registered values** (:func:`register`): the configured passwords, API keys, tokens and
  anything secret found inside configured URLs, with their URL-encoded, JSON-escaped and base64
  forms, wherever they appear, even in free text from a library;
* **URL userinfo**: ``https://user:pw@host`` -> ``https://***@host``;
* **secret-named fields**: ``token=``, ``api_token=``, ``password=``, ``secret_key=``,
  ``signature=``, ``auth=``..., in query strings, ``key=value`` text, ``"name": "value"`` JSON
  and ``'name': 'value'`` reprs (a value cut short by a library's truncation included);
* **credential headers**: ``Authorization: ...``, ``APCA-API-SECRET-KEY: ...``, ``Cookie: ...``,
  and ``Bearer ...`` anywhere;
* **Alpaca stream logins**: ``{"action": "authenticate", "data": {...}}`` (and the data stream's
  ``{"action": "auth", ...}``) keep their action and lose everything else.

Why a registry as well as patterns: patterns catch secrets by where they stand, the registry by
what they are. A library that prints a request body, an exception that quotes a URL decoded, a
frame dump cut in the middle of a JSON key: the patterns may miss the value, the registry finds
it whole. (A value cut in two is beyond both: that is why the CLI keeps libraries' raw frame
dumps out of the log, see :mod:`tradebot.cli.logs`.) Values shorter than
:data:`MIN_SECRET_LENGTH` are not hunted in free text (masking every ``demo`` would mangle paths
and words); they are still masked wherever the patterns see them, and in ``config check`` by
field.

Registering is one call, from wherever a secret enters the process::

    register(config_password, api_key)          # for the life of the process
    register(renew_token, temporary=True)       # replaced over time: only recent ones are kept

Nothing here imports pydantic, alpaca or websockets: the CLI installs the log filter before any
of them load.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"

#: Registered values shorter than this are not searched for in free text (see the docstring).
MIN_SECRET_LENGTH = 6

#: Forms (a value, URL-encoded, base64...) of temporary values kept, the newest: an access or
#: renew token has a few, and older tokens have long been replaced.
TEMPORARY_KEPT = 64

# -- what a secret looks like -----------------------------------------------------------------

# Field names whose value is a secret. Bare ``key`` and ``sig`` only as whole names: ``leg_key``
# and ``last_signal`` are not secrets. ``auth`` as a word or a part (``auth_token``, ``x-auth``).
_NAME = (
    r"(?:[\w-]*?(?:token|secret|passw(?:or)?d|pwd|passphrase|signature|credentials?|cookie)[\w-]*"
    r"|(?:[\w-]*[_-])?(?:api[_-]?key|access[_-]?key|private[_-]?key|key[_-]?id)(?:[_-][\w-]*)?"
    r"|(?:[\w-]*[_-])?auth(?:ori[sz]ation)?(?:[_-][\w-]*)?"
    r"|key|sig)"
)
_HEADER = (
    r"(?:proxy-)?authorization|cookie|set-cookie|x-api-key|apca-api-key-id|apca-api-secret-key"
)

# Words one of which a text must contain (lower-cased) for a rule to be tried: most texts (a
# journal row, a fill) contain none, and skipping the regular expressions keeps masking cheap.
_NAME_HINTS = (
    *("token", "secret", "passw", "pwd", "passphrase", "signature", "credential", "cookie"),
    *("apikey", "api_key", "api-key", "accesskey", "access_key", "access-key"),
    *("privatekey", "private_key", "private-key", "keyid", "key_id", "key-id", "auth"),
    *(f"{name}{after}" for name in ("key", "sig") for after in ("=", '"', "'", "]", "%5d", "\\")),
)
_HEADER_HINTS = ("authorization", "cookie", "x-api-key", "apca-api-")

_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # Alpaca stream login: {"action": "authenticate", "data": {"key_id": ..., "secret_key": ...}}
    # (or the data stream's flat {"action": "auth", "key": ..., "secret": ...}). The data object
    # is dropped whole, truncated or not; the JSON stays valid when it was.
    (
        ("auth",),
        re.compile(
            r"""(?P<head>(?P<q>\\?["'])action(?P=q)\s*:\s*(?P=q)auth(?:enticate)?(?P=q)\s*,\s*)"""
            r"""(?:(?P=q)data(?P=q)\s*:\s*\{[^{}\n]*\}?|[^{}\n]*)""",
            re.IGNORECASE,
        ),
        r"\g<head>\g<q>data\g<q>: \g<q>***\g<q>",
    ),
    # "name": "value" and 'name': 'value' (JSON, Python reprs, JSON inside JSON); a value a
    # library truncated (no closing quote) is masked to the end of the line.
    (
        _NAME_HINTS,
        re.compile(
            rf"""(?P<head>(?P<q>\\?["'])(?P<name>{_NAME})(?P=q)\s*:\s*(?P<v>\\?["']))"""
            r"""[^\n]*?(?P<end>(?P=v)|(?=\n)|\Z)""",
            re.IGNORECASE,
        ),
        r"\g<head>***\g<end>",
    ),
    # Credential headers, as logged: "Authorization: Basic dXNl...".
    (
        _HEADER_HINTS,
        re.compile(rf"(?<![\w-])(?P<head>(?:{_HEADER})[ \t]*:[ \t]*)[^\r\n\"']+", re.IGNORECASE),
        r"\g<head>***",
    ),
    # name=value: query strings, form bodies (user[password]=, user%5Bpassword%5D=), kwargs.
    (
        _NAME_HINTS,
        re.compile(
            rf"""(?<![\w-])(?P<head>{_NAME}(?:\]|%5D)?=)"""
            r"""(?:'[^'\n]*'?|"[^"\n]*"?|[^\s&#"'<>,;)\]}]+)""",
            re.IGNORECASE,
        ),
        r"\g<head>***",
    ),
    # URL userinfo: scheme://user:password@host
    (
        ("://",),
        re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://)[^/@\s?#\"'<>]+@", re.IGNORECASE),
        r"\g<head>***@",
    ),
    (("bearer",), re.compile(r"\b(?P<head>Bearer\s+)[\w.~+/=-]+", re.IGNORECASE), r"\g<head>***"),
)

#: every rule's words in one search: a text with none of them (most journal rows) tries no rule,
#: and costs one scan instead of a test per word
_ANY_HINT = re.compile(
    "|".join(re.escape(h) for h in dict.fromkeys(h for r in _RULES for h in r[0]))
)

# -- the registry ----------------------------------------------------------------------------

_lock = threading.Lock()
_lasting: dict[str, None] = {}  # insertion-ordered set
_temporary: deque[str] = deque(maxlen=TEMPORARY_KEPT)
#: What :func:`mask` searches for, longest first; replaced whole, so readers need no lock.
_values: tuple[str, ...] = ()


def register(*values: object, temporary: bool = False) -> None:
    """Mask these values (str, or anything with ``get_secret_value()``) wherever they appear.

    ``None``, empty and short values are ignored. ``temporary``: a value replaced over time (an
    access or renew token); only the latest :data:`TEMPORARY_KEPT` are kept.
    """
    global _values
    new = [v for v in _texts(values) if len(v) >= MIN_SECRET_LENGTH]
    if not new:
        return
    with _lock:
        known = {*_lasting, *_temporary} if temporary else set(_lasting)
        added = [form for v in new for form in _forms(v) if form not in known]
        if not added:
            return
        for form in dict.fromkeys(added):
            if temporary:
                _temporary.append(form)
            else:
                _lasting[form] = None
        # longest first: a short secret inside a longer one, replaced first, would leave the
        # longer one's ends in clear ("xx***xx"; tests/test_masking.py)
        _values = tuple(sorted({*_lasting, *_temporary}, key=len, reverse=True))


def register_found_in(value: Any) -> None:
    """Register every secret inside ``value``: a config model, dict, list or string.

    Secret fields (``SecretStr``) are registered whole; in strings, a URL's password and the
    values of secret-named query parameters.
    """
    register(*_found(value))


def mask(text: str) -> str:
    """``text`` with every secret replaced by :data:`MASK` (see the module docstring)."""
    if not text:
        return text
    values = _values
    text = _without(values, text)
    lowered = text.lower()
    if _ANY_HINT.search(lowered):
        for hints, pattern, replacement in _RULES:
            if any(hint in lowered for hint in hints):
                text = pattern.sub(replacement, text)
    # A replacement can, in theory, complete a registered value that contains the mask itself;
    # every pass shortens the text, so this ends.
    return _without(values, text)


class MaskSecrets(logging.Filter):
    """Masks a record's final text: message with its arguments, traceback and stack.

    On a handler it covers every logger that reaches the handler, third-party ones included.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format arguments: still log, still masked
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def _without(values: tuple[str, ...], text: str) -> str:
    changed = True
    while changed:
        changed = False
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
                changed = True
    return text


def _texts(values: Iterable[object]) -> Iterator[str]:
    for value in values:
        if value is None:
            continue
        reveal = getattr(value, "get_secret_value", None)
        text = reveal() if callable(reveal) else value
        if isinstance(text, str) and text:
            yield text


def _forms(value: str) -> list[str]:
    """The value as it may appear: itself, URL-encoded, JSON-escaped, base64."""
    forms = [
        value,
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        base64.b64encode(value.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
    ]
    return [f for f in dict.fromkeys(forms) if len(f) >= MIN_SECRET_LENGTH]


def _found(value: Any) -> Iterator[str]:
    if value is None or isinstance(value, bool | int | float):
        return
    reveal = getattr(value, "get_secret_value", None)
    if callable(reveal):
        secret = reveal()
        if isinstance(secret, str):
            yield secret
        return
    if isinstance(value, str):
        yield from _found_in_url(value)
        return
    fields = getattr(type(value), "model_fields", None)  # a pydantic model, without importing it
    if isinstance(fields, dict):
        for name in fields:
            yield from _found(getattr(value, name, None))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _found(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _found(item)


_SECRET_NAME = re.compile(rf"{_NAME}(?:\])?", re.IGNORECASE)


def _found_in_url(text: str) -> Iterator[str]:
    if "://" not in text:
        return
    try:
        parts = urlsplit(text.strip())
        password = parts.password
    except ValueError:
        return
    if password:
        yield password
        yield unquote(password)
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if _SECRET_NAME.fullmatch(name):
            yield value
