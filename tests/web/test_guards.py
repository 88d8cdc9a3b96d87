"""The dashboard's guards, each from both sides, over the served app on loopback.

- ``Host``: only the bind host, ``dashboard.allowed_hosts`` and loopback names are answered;
  anything else is 421 (DNS rebinding).
- ``Origin`` on a control: one of the allowed origins (an allowed name at the port served),
  never compared with ``Host``; none at all only with the token in an Authorization header.
- the token: exactly it, nothing shorter, longer or empty.
- a refusal is the dashboard's own page, and every link on it leads somewhere.
- query values: whatever is typed, 200 or 400 with the reason, never 500.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.journal.generate import Generated, generate
from tests.web.conftest import served
from tradebot.config.model import Config, DashboardConfig
from tradebot.journal import open_journal
from tradebot.runtime.killswitch import HaltMode, read_kill_switch
from tradebot.web.app import Pages
from tradebot.web.security import Allowed, route_path, token_matches
from tradebot.web.sources import Sources

TOKEN = "guard-token-8e41b7d2"


def _sources(known: Generated, tmp_path: Path, token: str | None = TOKEN) -> Sources:
    dashboard = {} if token is None else {"token": token}
    return Sources(
        journal_path=known.path,
        config=Config.model_validate({"dashboard": dashboard}),
        kill_switch_path=tmp_path / "tradebot.halt",
    )


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


# -- Host ----------------------------------------------------------------------------------------


def test_only_the_dashboards_names_are_answered(known: Generated, tmp_path: Path) -> None:
    settings_ = DashboardConfig(port=0, allowed_hosts=("Bot.Example.org.",))
    with served(_sources(known, tmp_path), settings_) as dash:
        assert dash.url is not None
        port = _port(dash.url)
        ours = [
            f"127.0.0.1:{port}",
            "127.0.0.1",
            f"localhost:{port}",
            "LOCALHOST",
            f"[::1]:{port}",
            "[::1]",
            "bot.example.org",
            f"BOT.example.org:{port}",
            "bot.example.org:443",
        ]
        for host in ours:
            page = requests.get(dash.url + "api/now", headers={"Host": host}, timeout=10)
            assert page.status_code == 200, host
        theirs = [
            f"evil.example:{port}",  # a page elsewhere whose name now points here
            f"127.0.0.1.evil.example:{port}",
            f"localhost.evil.example:{port}",
            "example.org",
            f"[::2]:{port}",
            f"localhost:{port}:{port}",
            "localhost:99999",
            "",
        ]
        for host in theirs:
            for path in ("", "api/now", "healthz", "static/app.css", "events"):
                refused = requests.get(dash.url + path, headers={"Host": host}, timeout=10)
                assert refused.status_code == 421, (host, path)
            assert ("dashboard.allowed_hosts" if host else "names no Host") in refused.text
            posted = requests.post(
                dash.url + "control/halt",
                data={"token": TOKEN},
                headers={"Host": host, "Origin": f"http://{host}"},
                timeout=10,
            )
            assert posted.status_code == 421
        assert not (tmp_path / "tradebot.halt").exists()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_no_host_or_two_hosts_is_refused(known: Generated, tmp_path: Path) -> None:
    with served(_sources(known, tmp_path)) as dash:
        assert dash.url is not None
        port = _port(dash.url)
        none = _raw(port, b"GET /api/now HTTP/1.0\r\n\r\n")
        assert none.startswith(b"HTTP/1.1 421"), none[:80]
        both = f"Host: 127.0.0.1:{port}\r\nHost: evil.example:{port}\r\n".encode()
        two = _raw(port, b"GET /api/now HTTP/1.0\r\n" + both + b"\r\n")
        assert not two.startswith(b"HTTP/1.1 200"), two[:80]


def _ours(name: str) -> bool:
    """The Host rule stated again, independently: loopback or configured, in plain ASCII."""
    if name.startswith("[") and name.endswith("]"):
        try:
            v6 = ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return False
        return v6 == ipaddress.IPv6Address("::1") or bool(
            v6.ipv4_mapped and v6.ipv4_mapped.is_loopback
        )
    plain = name.lower().rstrip(".")
    if plain in {"localhost", "bot.example.org"}:
        return True
    try:
        return ipaddress.IPv4Address(plain).is_loopback
    except ValueError:
        return False


ascii_names = st.one_of(
    st.sampled_from(["localhost", "127.0.0.1", "[::1]", "bot.example.org", "evil.example"]),
    st.sampled_from(["LocalHost.", "127.8.9.10", "[::ffff:127.0.0.2]", "BOT.example.ORG"]),
    st.sampled_from(["evil.bot.example.org", "notbot.example.org", "127.0.0.1.evil.example"]),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}.{c}", *[st.integers(0, 300)] * 3),
    st.from_regex(r"[a-z0-9.\-]{1,30}|\[[0-9a-f:.]{1,30}\]", fullmatch=True),
)
ports = st.one_of(st.none(), st.integers(0, 70000))


@given(name=ascii_names, port=ports)
def test_the_host_rule(name: str, port: int | None) -> None:
    """A Host header is answered exactly when its name is loopback or configured."""
    allowed = Allowed.serving("127.0.0.1", ("bot.example.org",), 8800)
    header = name if port is None else f"{name}:{port}"
    assert allowed.host(header) is (_ours(name) and (port is None or port <= 65535)), header


@given(header=st.text(max_size=40))
def test_any_host_header_gets_an_answer(header: str) -> None:
    allowed = Allowed.serving("127.0.0.1", ("bot.example.org",), 8800)
    assert allowed.host(header) in (True, False)
    assert allowed.refusal(header).startswith("refused: ")


# -- Origin --------------------------------------------------------------------------------------


def test_origin_is_compared_with_the_allowed_origins_not_with_host() -> None:
    allowed = Allowed.serving("127.0.0.1", ("bot.example.org",), 8800)
    for origin in (
        "http://127.0.0.1:8800",
        "http://localhost:8800",  # another name of ours: a page of this dashboard
        "https://[::1]:8800",
        "http://bot.example.org:8800",
        "https://bot.example.org",  # a reverse proxy on 443 in front of it
        "http://bot.example.org/",
        "http://localhost:8800/journal?x=1",  # a Referer
    ):
        assert allowed.origin(origin), origin
    for origin in (
        "http://evil.example:8800",  # what a DNS-rebinding page sends, Host and Origin alike
        "http://localhost:3000",  # another local service is another origin
        "http://localhost",  # port 80: not this dashboard's
        "https://127.0.0.1",
        "http://127.0.0.1.evil.example:8800",
        "ftp://localhost:8800",
        "http://user@localhost:8800",
        "http://localhost:99999",
        "null",
        "",
        "localhost:8800",
    ):
        assert not allowed.origin(origin), origin


def _post(url: str, headers: dict[str, str], **form: str) -> requests.Response:
    return requests.post(url, data=form, headers=headers, allow_redirects=False, timeout=10)


def test_controls_accept_an_allowed_origin_and_a_script_only_with_its_bearer_token(
    known: Generated, tmp_path: Path
) -> None:
    switch = tmp_path / "tradebot.halt"
    with served(_sources(known, tmp_path)) as dash:
        assert dash.url is not None
        port = _port(dash.url)
        halt = f"{dash.url}control/halt"
        # sent to 127.0.0.1 from the page as opened at localhost: the same dashboard
        moved = {"Origin": f"http://localhost:{port}"}
        assert _post(halt, moved, token=TOKEN).status_code == 303
        assert read_kill_switch(switch).mode is HaltMode.HALT
        switch.unlink()
        for origin in (f"http://evil.example:{port}", f"http://localhost:{port + 1}", "null"):
            refused = _post(halt, {"Origin": origin}, token=TOKEN)
            assert refused.status_code == 403, origin
            assert "not sent from this dashboard" in refused.text
        # a script (no Origin, no Referer): the token in the Authorization header, or nothing
        assert _post(halt, {}, token=TOKEN).status_code == 403
        assert _post(halt, {"Authorization": f"Bearer {TOKEN}x"}).status_code == 403
        assert _post(halt, {"Authorization": f"Basic {TOKEN}"}, token=TOKEN).status_code == 403
        assert not switch.exists()
        assert _post(halt, {"Authorization": f"Bearer {TOKEN}"}).status_code == 303
        assert read_kill_switch(switch).mode is HaltMode.HALT
        # a header token never excuses a foreign origin
        foreign = {"Origin": "http://evil.example", "Authorization": f"Bearer {TOKEN}"}
        assert _post(f"{dash.url}control/resume", foreign).status_code == 403
        assert switch.exists()


# -- the token -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [TOKEN[:-1], TOKEN[:1], TOKEN[1:], TOKEN + "x", "", " " + TOKEN, TOKEN.upper()],
    ids=["prefix", "first", "suffix", "longer", "empty", "spaced", "upper"],
)
def test_only_the_whole_token_is_the_token(given: str) -> None:
    assert not token_matches(given, TOKEN)
    assert not token_matches(TOKEN, given or None)
    assert token_matches(TOKEN, TOKEN)


def test_a_control_refuses_all_but_the_whole_token(known: Generated, tmp_path: Path) -> None:
    switch = tmp_path / "tradebot.halt"
    with served(_sources(known, tmp_path)) as dash:
        assert dash.url is not None
        origin = {"Origin": dash.url.rstrip("/")}
        halt = f"{dash.url}control/halt"
        for wrong in (TOKEN[:-1], TOKEN[:4], TOKEN[1:], TOKEN + "x", ""):
            refused = _post(halt, origin, token=wrong)
            assert refused.status_code == 403 and "wrong token" in refused.text, wrong
            bearer = _post(halt, {"Authorization": f"Bearer {wrong}"})
            assert bearer.status_code == 403, wrong
        assert not switch.exists()
        assert _post(halt, origin, token=TOKEN).status_code == 303
        assert read_kill_switch(switch).mode is HaltMode.HALT


# -- the refusal page ----------------------------------------------------------------------------


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]+)"', html)


def test_a_refused_control_is_a_styled_page_whose_links_all_work(
    known: Generated, tmp_path: Path
) -> None:
    with served(_sources(known, tmp_path)) as dash:
        assert dash.url is not None
        origin = {"Origin": dash.url.rstrip("/")}
        refusals = {
            403: _post(f"{dash.url}control/halt", origin, token="nope"),
            400: _post(f"{dash.url}control/halt", origin, token=TOKEN, reason="x" * 5000),
            404: _post(f"{dash.url}control/nope", origin, token=TOKEN),
        }
        for status, page in refusals.items():
            assert page.status_code == status
            assert 'id="problem"' in page.text and 'class="top"' in page.text  # the layout
            links = _links(page.text)
            assert any(link.endswith("static/app.css") for link in links)
            assert {"Now", "Journal", "Positions", "Config"} <= set(
                re.findall(r">(\w+)</a>", page.text)
            )
            for link in links:
                target = urljoin(page.url, link)
                followed = requests.get(target, timeout=10)
                assert followed.status_code == 200, (status, link, target)
                if link.endswith(".css"):
                    assert followed.headers["content-type"].startswith("text/css")


def test_a_refusal_links_back_to_the_top_from_where_it_is_shown(
    known: Generated, tmp_path: Path
) -> None:
    """Relative links, so a proxy's sub-path is kept: ``../`` from ``control/halt``, also when
    the proxy tells the app its prefix (``root_path``)."""
    pages = Pages(_sources(known, tmp_path))
    proxied = {"type": "http", "path": "/bot/control/halt", "root_path": "/bot"}
    for path in ("/control/halt", route_path(proxied)):
        body = bytes(pages.refuse(403, "refused", path).body).decode()
        assert 'href="../static/app.css"' in body and 'href="../journal"' in body
    top = bytes(pages.refuse(421, "refused", "/").body).decode()
    assert 'href="static/app.css"' in top and 'href="journal"' in top


# -- query values --------------------------------------------------------------------------------

HUGE = "9" * 40
BAD = {
    "journal?before=" + HUGE: "before",
    "journal?before=-1": "before",
    "journal?before=%D9%A3": "before",  # an Arabic-Indic three: int() reads it, SQL would not
    "journal?algo=" + HUGE: "algo",
    "journal?algo=1_000": "algo",
    "journal?since=999999999d": "since",
    "journal?since=99999999999999999999w": "since",
    "journal?until=0001-01-01T00:00%2B01:00": "until",
    "journal?since=9999-12-31T23:59-01:00": "since",
    "journal?symbol=A%00B": "symbol",
    "journal?coid=" + "c" * 500: "coid",
    "api/journal?before=" + HUGE: "before",
    "story?id=" + HUGE: "id",
    "story?id=%23" + HUGE: "id",
    "story?id=%C2%B2": "id",  # "²" is a digit to str.isdigit, not to int()
    "api/story?id=" + HUGE: "id",
    "events?after=" + HUGE: "after",
    "events?after=%C2%B2": "after",
}


@pytest.mark.parametrize("path", list(BAD))
def test_a_bad_query_value_is_400_with_the_reason(
    path: str, known: Generated, tmp_path: Path
) -> None:
    with served(_sources(known, tmp_path)) as dash:
        page = requests.get(dash.url + path, timeout=10)
        assert page.status_code == 400, page.text[:300]
        assert BAD[path] in page.text


#: the pages that read query parameters (with the ones each reads), and those that read none
JOURNAL_KEYS = ["algo", "symbol", "status", "coid", "since", "until", "before", "format"]
READING = {
    "journal": JOURNAL_KEYS,
    "api/journal": JOURNAL_KEYS,
    "story": ["id", "format"],
    "api/story": ["id"],
}
PLAIN = ["", "positions", "performance", "config", "partials/now"]
OTHERS = {page: ["format", "after", "id"] for page in PLAIN}
OTHERS |= {f"api/{p}": ["after", "id"] for p in ("now", "positions", "config", "status")}

numbers = st.one_of(
    st.integers(-10, 10**6).map(str),
    st.integers(2**63 - 2, 10**40).map(str),  # past the journal's 64-bit ids
    st.sampled_from([HUGE, "1e9", "0x10", "1_0", "٣", "²", "-0", " 7 ", "+3"]),
)
dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**25), st.sampled_from("mhdwMHDW")),
    st.sampled_from(["0001-01-01T00:00+01:00", "9999-12-31T23:59-23:59", "2026-13-40", "now"]),
)
values = st.one_of(
    numbers,
    dates,
    st.text(max_size=60),
    st.sampled_from(["signal", "json", "A\x00B", "x\x7f", "#12", "AAPL,MSFT"]),
)


def queries(keys: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """One or two of the parameters a page reads (one unreadable value answers 400 before the
    others are read), now and then one it does not read."""
    return st.builds(
        lambda named, other: [*named.items(), *other],
        st.dictionaries(st.sampled_from(keys), values, min_size=1, max_size=2),
        st.lists(st.tuples(st.text(max_size=8), values), max_size=1),
    )


@pytest.mark.parametrize(("pages", "examples"), [(READING, 250), (OTHERS, 40)])
def test_no_query_value_makes_a_page_fail(
    pages: dict[str, list[str]], examples: int, journal_at: str | Path, tmp_path: Path
) -> None:
    """Every page, hypothesis' values for every parameter it reads (and some it does not),
    over a SQLite and a PostgreSQL journal: 200 or 400 with a reason, never a 500 nor a
    dropped connection."""
    known = generate(journal_at)
    sources = _sources(known, tmp_path)
    if isinstance(journal_at, str):  # PostgreSQL
        sources.journal_path = tmp_path / "journal.sqlite"  # places the status file only
        sources.opener = lambda: open_journal(journal_at, readonly=True)
    with served(sources) as dash, requests.Session() as session:
        assert dash.url is not None
        url = dash.url

        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            page = data.draw(st.sampled_from(sorted(pages)), label="page")
            query = data.draw(queries(pages[page]), label="query")
            answer = session.get(url + page, params=query, timeout=10)
            assert answer.status_code in (200, 400), (page, query, answer.text[:300])
            if answer.status_code == 400:
                assert ":" in answer.text or "story" in answer.text, answer.text[:300]

        check()


@given(after=st.one_of(numbers, st.text(max_size=30)))
@settings(max_examples=60, deadline=None, database=None)
def test_the_event_stream_reads_its_start_or_says_why_not(after: str) -> None:
    from tradebot.web.query import BadQuery, whole

    try:
        start = whole(after, "after")
    except BadQuery as exc:
        assert str(exc).startswith("after: ")
        return
    assert start is None or 0 <= start < 2**63
