"""The one masking function: registered values, URLs, secret-named fields, headers, stream logins.

Every test registers values of its own (random, or named after the test), so the process-wide
registry other tests fill does not matter. Property tests register ``temporary`` values: the
registry keeps a bounded number of those, so hypothesis cannot slow the rest of the suite.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from tradebot import masking
from tradebot.masking import MASK, MIN_SECRET_LENGTH, MaskSecrets, mask, register, register_found_in


@pytest.fixture(autouse=True)
def _registry_restored() -> Iterator[None]:
    """Values registered here (hypothesis draws "000000" too) must not mask other tests'
    output: the registry is process-wide."""
    lasting, temporary, values = dict(masking._lasting), list(masking._temporary), masking._values
    yield
    with masking._lock:
        masking._lasting.clear()
        masking._lasting.update(lasting)
        masking._temporary.clear()
        masking._temporary.extend(temporary)
        masking._values = values


def fresh(prefix: str = "s") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


# -- patterns ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # URL userinfo and secret query parameters
        ("https://user:pw@alphahub.example/x", "https://***@alphahub.example/x"),
        (
            "GET /socket/websocket?vsn=2.0.0&api_token=abc.def HTTP/1.1",
            "GET /socket/websocket?vsn=2.0.0&api_token=*** HTTP/1.1",
        ),
        (
            "Max retries exceeded with url: /?token=abc123 (Caused by X)",
            "Max retries exceeded with url: /?token=*** (Caused by X)",
        ),
        ("wss://h/stream?x=1&Signature=zz&y=2", "wss://h/stream?x=1&Signature=***&y=2"),
        (
            "user%5Bpassword%5D=hunter22&user%5Bemail%5D=a",
            "user%5Bpassword%5D=***&user%5Bemail%5D=a",
        ),
        (
            "TradingClient(secret_key='abc', key_id=\"x\")",
            "TradingClient(secret_key=***, key_id=***)",
        ),
        # headers, as websockets and requests log them
        ("> Authorization: Basic dXNlcjpwdw==", "> Authorization: ***"),
        ("APCA-API-SECRET-KEY: abc\nnext", "APCA-API-SECRET-KEY: ***\nnext"),
        ("{'Authorization': 'Bearer abc.def'}", "{'Authorization': '***'}"),
        ("sent Bearer abc.def-ghi", "sent Bearer ***"),
        # JSON, JSON inside JSON (a journal row), and a value cut short by a library
        ('{"password": "p", "n": 1}', '{"password": "***", "n": 1}'),
        ('{"raw":"{\\"token\\":\\"t\\"}"}', '{"raw":"{\\"token\\":\\"***\\"}"}'),
        ("""'{"renew_token": "abcdef...' [90 bytes]""", """'{"renew_token": "***"""),
        # Alpaca stream logins, whole and as websockets truncates them
        (
            '{"action": "authenticate", "data": {"key_id": "k", "secret_key": "s"}}',
            '{"action": "authenticate", "data": "***"}',
        ),
        (
            """> TEXT '{"action": "authenticate", "data": {"key_id": "...ey": "x"}}' [96 bytes]""",
            """> TEXT '{"action": "authenticate", "data": "***"}' [96 bytes]""",
        ),
        ('{"action":"auth","key":"k","secret":"s"}', '{"action":"auth","data": "***"}'),
    ],
)
def test_secrets_are_masked_where_they_stand(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "tb16-JBHT-o-0123456789abcdef filled 10 @ 216.08",
        "leg_key=16:open:JBHT:buy:2021-04-26T14:30:01Z last_signal=2 closes author=me",
        "journal  tradebot-demo/journal/tradebot.sqlite",
        '{"last_signal":"1 open","signal_id":3,"key_count":2}',
        "mail to someone@example.net about the token bucket",
        "https://alphahub.us, 2 connection(s)",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask(text) == text


def test_json_stays_json() -> None:
    data = {"url": "wss://h/s?token=abc&x=1", "password": "p", "auth": {"key": "k"}, "n": [1]}
    masked = json.loads(mask(json.dumps(data)))
    assert masked == {
        "url": "wss://h/s?token=***&x=1",
        "password": MASK,
        "auth": {"key": MASK},
        "n": [1],
    }


# -- the registry ----------------------------------------------------------------------------------


def test_a_registered_value_is_masked_in_free_text_and_its_encoded_forms() -> None:
    secret = fresh("pw") + "/+& é"
    register(SecretStr(secret))
    forms = [
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode(),
    ]
    for form in forms:
        assert form not in mask(f"a library said: {form}, then more"), form


def test_a_secret_inside_a_longer_one_never_exposes_the_rest() -> None:
    """Longest first: masking the short one first would leave the longer one's ends in clear
    ("xx***xx"). The issue's "abc" inside "xxabcxx", at the registry's minimum length."""
    tag = secrets.token_hex(3)
    short = f"abc{tag}"  # 9 characters: hunted in free text
    longer = f"xx{short}xx"
    register(longer, short)  # registration order must not matter either
    assert mask(f"said: {longer}") == f"said: {MASK}"
    assert mask(f"{longer} and {short}") == f"{MASK} and {MASK}"
    assert mask(f"x{longer}{longer}y") == f"x{MASK}{MASK}y"
    assert mask(f"<{short}>") == f"<{MASK}>"


def test_short_values_are_not_hunted_in_free_text() -> None:
    register("demo")  # the simulator's documented demo password
    assert mask("tradebot-demo/journal") == "tradebot-demo/journal"
    assert len("demo") < MIN_SECRET_LENGTH


def test_secrets_found_in_a_config_are_registered() -> None:
    from tradebot.config.model import Config

    password, url_password, token = fresh("pw"), fresh("upw"), fresh("tok")
    config = Config.model_validate(
        {
            "alphahub": {"url": f"http://u:{url_password}@127.0.0.1:4000", "password": password},
            "broker": {"alpaca": {"stream_url": f"ws://127.0.0.1:1/stream?api_token={token}"}},
        }
    )
    register_found_in(config)
    text = mask(f"free text {password} {url_password} {token}")
    assert password not in text and url_password not in text and token not in text


def test_temporary_values_are_bounded() -> None:
    old = fresh("old-token")
    register(old, temporary=True)
    assert old not in mask(old)
    for _ in range(200):
        register(fresh("newer-token"), temporary=True)
    assert mask(old) == old  # long replaced: no longer searched for
    kept = fresh("config-password")
    register(kept)
    for _ in range(200):
        register(fresh("newer-token"), temporary=True)
    assert kept not in mask(kept)  # a lasting value stays


SECRET_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=MIN_SECRET_LENGTH, max_size=30
)
AROUND = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(secret=SECRET_TEXT, before=AROUND, after=AROUND)
def test_masked_text_never_contains_a_registered_secret(
    secret: str, before: str, after: str
) -> None:
    register(secret, temporary=True)
    for text in (
        before + secret + after,
        f"{before}https://user:{quote(secret, safe='')}@host/p?token={quote(secret)}&x={after}",
        f"{before}http://host/?a=1&q={quote_plus(secret)}#{after}",
        json.dumps({"detail": before + secret + after, "url": f"ws://h/?token={secret}"}),
        repr({"password": secret, "other": before}),
    ):
        masked = mask(text)
        assert secret not in masked
        assert quote(secret, safe="") not in masked
        assert quote_plus(secret) not in masked


URL_SAFE = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="-._~"),
    min_size=1,
    max_size=30,
)
SECRET_NAMES = st.sampled_from(
    ["token", "api_token", "access_token", "key", "api_key", "apiKey", "secret", "client_secret",
     "password", "passwd", "signature", "sig", "auth", "x-auth-token", "key_id", "credentials"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(user=URL_SAFE, password=URL_SAFE, name=SECRET_NAMES, value=URL_SAFE, path=URL_SAFE)
def test_url_credentials_and_secret_parameters_are_masked_unregistered(
    user: str, password: str, name: str, value: str, path: str
) -> None:
    url = f"https://{user}:{password}@example.org/{path}?vsn=2&{name}={value}&z=1"
    masked = mask(f"connecting to {url}, failed")
    if re.fullmatch(r"(?i)(?:proxy-)?authorization|cookie|x-api-key|apca-api-[\w-]*", user):
        # "APCA-API-SECRET-KEY:0@..." reads as a credential header: the rest of the line goes
        assert masked == f"connecting to https://{user}:***"
        return
    assert masked == f"connecting to https://***@example.org/{path}?vsn=2&{name}=***&z=1, failed"


# -- logging -------------------------------------------------------------------------------------


def test_the_filter_masks_message_arguments_and_traceback() -> None:
    secret = fresh("key")
    register(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskSecrets())
    logger = logging.getLogger("some.library.test_masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"refused http://u:pw@h/?token=abc with {secret}")
        except ValueError:
            logger.exception("call %s failed (%r)", "ws://h/?api_token=zzz", {"secret": secret})
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "ValueError: refused http://***@h/?token=*** with ***" in text
    assert "api_token=***" in text
    assert secret not in text and "zzz" not in text and "abc" not in text


def test_the_cli_masks_third_party_loggers_and_caps_raw_frame_dumps() -> None:
    """A fresh process, as the CLI configures it at -vv."""
    script = """
import logging
from tradebot.cli.logs import configure_logging
from tradebot.masking import register
configure_logging(2)
register("REGISTERED-key-123")
logging.getLogger("alpaca.trading.stream").info("connected to: ws://h/stream?token=TOKVAL")
logging.getLogger("urllib3.connectionpool").debug("GET /?api_key=KEYVAL 200")
logging.getLogger("websockets.client").debug("> TEXT 'RAWFRAME' [9 bytes]")
logging.getLogger("websockets.client").info("websockets info line")
logging.getLogger("anything").debug("said REGISTERED-key-123")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    err = done.stderr
    assert "token=***" in err and "api_key=***" in err and "said ***" in err
    assert "websockets info line" in err  # the logger still speaks, only its frames are capped
    assert "RAWFRAME" not in err
    assert "TOKVAL" not in err and "KEYVAL" not in err and "REGISTERED-key-123" not in err
