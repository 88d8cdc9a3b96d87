"""The Positions page a page at a time (issue 24): over a journal of two accounts holding more
positions than one page shows, written through the journal's real writers and served on
loopback, each account's broker a scripted snapshot that holds what the journal holds.

``main`` holds 150 symbols in algorithms 16 and 17 and 50 of them in algorithm 9 (350 rows, and
150 NET rows: 500 rows, 3 pages of 200; algorithm 9 before 16, as numbers and not as text);
``family`` 100 symbols in algorithm 16 (200 rows: exactly one page). Following the page
links shows every row once, in a total order; the totals are every position's on every page;
the account picker, the filters and the sort carry through the links; a page number or a sort
that cannot be read is a 400 with the reason, never a 500, and a page beyond the last shows
the last.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from itertools import product
from pathlib import Path
from string import ascii_uppercase
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.cli import two_accounts
from tests.execution.fixed_planner import make_signal
from tests.web.scripted_reader import ScriptedReader
from tests.web.test_accounts_pages import decide, two_accounts_config
from tests.web.test_broker_snapshot import dashboard, get
from tradebot.core.orders import Plan
from tradebot.journal import open_journal
from tradebot.journal.review import money_text
from tradebot.web.positions_page import PAGE_SIZE
from tradebot.web.serve import DashboardHandle
from tradebot.web.snapshot import BrokerSnapshots
from tradebot.web.sources import Sources

D = Decimal
DEADLINE = 20  # a generous bound on waits for events, never a measure of speed
SYMBOLS = ["".join(p) for p in product(ascii_uppercase, repeat=3)][:150]  # AAA, AAB, ...
#: account -> algorithm -> the symbols it holds
HELD = {"main": {9: SYMBOLS[:50], 16: SYMBOLS, 17: SYMBOLS}, "family": {16: SYMBOLS[:100]}}
#: each algorithm's sizes start here (a row shown twice or missed changes a figure)
SIZES = {9: 2000, 16: 0, 17: 1000}
COST = D("10")  # every fill's price


def qty(account: str, algo: int, n: int) -> D:
    """A distinct size per position, so a row shown twice or missed changes a figure."""
    return D(n + 1 + SIZES[algo] + (500 if account == "family" else 0))


def last(n: int) -> D:
    """Each symbol's last price at both brokers."""
    return COST + D(n % 7) - D(2)


def net(account: str) -> dict[str, D]:
    found: dict[str, D] = {}
    for algo, symbols in HELD[account].items():
        for n, symbol in enumerate(symbols):
            found[symbol] = found.get(symbol, D(0)) + qty(account, algo, n)
    return found


def write(path: Path) -> None:
    """One signal per algorithm opening its symbols; each account's plan of the legs it
    holds, every order filled at :data:`COST`."""
    now = datetime.now(UTC)
    with open_journal(path) as journal:
        for algo in SIZES:
            # every symbol any account holds of it (each account's list is a prefix of SYMBOLS)
            symbols = max((h[algo] for h in HELD.values() if algo in h), key=len)
            opens = tuple((s, "buy", str(COST)) for s in symbols)
            signal = make_signal(algo, opens=opens, received_at=now, leg_time=now)
            orders = {
                account: [
                    two_accounts.intent(leg, str(qty(account, algo, n)), account)
                    for n, leg in enumerate(signal.open_legs)
                    if leg.symbol in held[algo]
                ]
                for account, held in HELD.items()
                if algo in held
            }
            decide(journal, signal, {a: Plan(tuple(o)) for a, o in orders.items()})
            for account, placed in orders.items():
                fills = [two_accounts.fill(o, str(COST), now) for o in placed]
                journal.record_events(fills, account=account)


def expected_totals(account: str) -> dict[str, tuple[str, str]]:
    """algo (and ALL) -> (market value, unrealised P&L) over every position, as printed."""
    sums: dict[str, list[D]] = {}
    for algo, symbols in HELD[account].items():
        for n, _symbol in enumerate(symbols):
            size = qty(account, algo, n)
            for key in (str(algo), "ALL"):
                worth, gain = sums.setdefault(key, [D(0), D(0)])
                sums[key] = [worth + size * last(n), gain + size * (last(n) - COST)]
    return {k: (money_text(w), money_text(g, signed=True)) for k, (w, g) in sums.items()}


def expected_rows(account: str, sort: str) -> list[tuple[str, str]]:
    """(algo, symbol) of every row of ``account``, in ``sort`` order."""
    own = [(str(a), s) for a, symbols in sorted(HELD[account].items()) for s in symbols]
    nets = [("NET", s) for s in sorted(net(account))]
    if sort == "algo":
        return own + nets
    return sorted(own + nets, key=lambda r: (r[1], *algo_key(r[0])))


def algo_key(algo: str) -> tuple[bool, int]:
    """Algorithms by number (9 before 16), then NET."""
    return (True, 0) if algo == "NET" else (False, int(algo))


def expected_apart(sort: str) -> list[tuple[str, str, str]]:
    """(account, algo, symbol) of every row of both accounts shown apart (main first, as the
    config has them), in ``sort`` order."""
    rows = [(a, *r) for a in ("main", "family") for r in expected_rows(a, "algo")]
    if sort == "algo":
        return rows
    order = {"main": 0, "family": 1}
    return sorted(rows, key=lambda r: (r[2], order[r[0]], *algo_key(r[1])))


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("positions") / "journal.sqlite"
    write(path)
    return path


@pytest.fixture
async def dash(journal: Path, tmp_path: Path) -> AsyncIterator[DashboardHandle]:
    async with served(journal, tmp_path) as handle:
        yield handle


@asynccontextmanager
async def served(journal: Path, tmp_path: Path) -> AsyncIterator[DashboardHandle]:
    """The two accounts' dashboard over ``journal``, each broker snapshot refreshed once."""
    prices = {s: last(n) for n, s in enumerate(SYMBOLS)}
    brokers = {
        name: BrokerSnapshots(
            ScriptedReader(positions_answers=[net(name)], prices=prices),
            f"scripted-{name}",
            every=0.05,
        )
        for name in HELD
    }
    served = Sources(
        journal_path=journal,
        config=two_accounts_config(),
        kill_switch_path=tmp_path / "tradebot.halt",
        brokers=brokers,
    )
    async with dashboard(served) as handle:
        async with asyncio.timeout(DEADLINE):
            for snapshots in brokers.values():
                await snapshots.wait_refreshed(1)
        yield handle


class Table(HTMLParser):
    """The positions page as a person reads it: the table's rows (cells' text), the totals'
    rows, and the links of the pager."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.totals: list[list[str]] = []
        self.links: dict[str, str] = {}  # rel -> href, from the first pager
        self.hrefs: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            classes = (found.get("class") or "").split()
            self._table = "rows" if "positions" in classes else "totals"
        elif tag == "tr" and self._table is not None:
            (self.rows if self._table == "rows" else self.totals).append([])
        elif tag == "td" and self._table is not None:
            self._cell = []
        elif tag == "a" and found.get("href"):
            self.hrefs.append(found["href"] or "")
            rel = found.get("rel")
            if rel is not None and rel not in self.links:
                self.links[rel] = found["href"] or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "td" and self._cell is not None:
            target = self.rows if self._table == "rows" else self.totals
            target[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


async def page(handle: DashboardHandle, path: str) -> Table:
    response = await get(f"{handle.url}{path}")
    assert response.status_code == 200, response.text
    return Table(response.text)


async def every_page(handle: DashboardHandle, path: str) -> tuple[list[Table], list[list[str]]]:
    """Follow "next" from ``path`` to the last page: each page, and every row seen."""
    pages, rows = [], []
    while True:
        shown = await page(handle, path)
        pages.append(shown)
        rows += [r for r in shown.rows if r]  # the header row has no cells
        if "next" not in shown.links:
            return pages, rows
        path = html.unescape(shown.links["next"])
        assert len(pages) < 20, "the pager never ends"


def totals(shown: Table) -> dict[str, tuple[str, str]]:
    return {r[0]: (r[1], r[2]) for r in shown.totals if r}


@pytest.mark.parametrize("sort", ["algo", "symbol"])
async def test_the_page_links_show_every_position_once_with_the_totals_of_all(
    dash: DashboardHandle, sort: str
) -> None:
    query = "positions?account=main" + ("&sort=symbol" if sort == "symbol" else "")
    pages, rows = await every_page(dash, query)
    seen = [(r[0], r[1]) for r in rows]
    assert seen == expected_rows("main", sort)  # each row once, in the order asked for
    assert len(pages) == 3 and len(seen) == 500 > 2 * PAGE_SIZE
    assert [len([r for r in p.rows if r]) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 100]
    for shown in pages:  # every page's totals: every position's, not the page's
        assert totals(shown) == expected_totals("main")
        for href in shown.hrefs:  # the links keep the account and the sort
            if "page=" in href:
                asked = parse_qs(urlsplit(html.unescape(href)).query)
                assert asked["account"] == ["main"]
                assert asked.get("sort") == (["symbol"] if sort == "symbol" else None)
    # each row's figures are its own (algorithm 17's 5th symbol: 1005 shares at 10 + 4 - 2)
    by_key = {(r[0], r[1]): r for r in rows}
    assert by_key["17", SYMBOLS[4]][2] == "1005"
    # the JSON is the same page, with where it stands
    api = (await get(f"{dash.url}api/positions?account=main&page=3")).json()
    assert api["pager"] | {"asked": None} == {
        "page": 3,
        "pages": 3,
        "size": PAGE_SIZE,
        "first": 401,
        "last": 500,
        "matched": 500,
        "every": 500,
        "asked": None,
    }
    assert [(r["algo"], r["symbol"]) for r in api["rows"]] == expected_rows("main", "algo")[400:]


async def test_the_account_picker_and_the_pages(dash: DashboardHandle) -> None:
    # exactly one page's rows: one page, no pager links
    family = await page(dash, "positions?account=family")
    assert len([r for r in family.rows if r]) == PAGE_SIZE and not family.links
    assert totals(family) == expected_totals("family")
    # page 2 of main is main's alone, its picker links lead to the other account's first page
    second = await page(dash, "positions?account=main&page=2")
    assert {r[0] for r in second.rows if r} <= {"16", "17", "NET"}
    assert [(r[0], r[1]) for r in second.rows if r] == expected_rows("main", "algo")[200:400]
    assert "positions?account=family" in second.hrefs  # the picker: page 1 of the other
    # none picked: each account apart, one table of both (700 rows, 4 pages), paged as one
    pages, rows = await every_page(dash, "positions")
    assert len(pages) == 4
    assert [(r[0], r[1], r[2]) for r in rows] == expected_apart("algo")
    by_symbol = (await every_page(dash, "positions?sort=symbol"))[1]
    assert [(r[0], r[1], r[2]) for r in by_symbol] == expected_apart("symbol")
    for shown in pages:
        assert {(r[0], r[1]): (r[2], r[3]) for r in shown.totals if r} == {
            (account, algo): figures
            for account in ("main", "family")
            for algo, figures in expected_totals(account).items()
        }
    # an account the config lacks is a 404, whatever the page
    response = await get(f"{dash.url}positions?account=nobody&page=2")
    assert response.status_code == 404


async def test_the_filters_and_the_totals(dash: DashboardHandle) -> None:
    algo = await page(dash, "positions?account=main&algo=17")
    assert [(r[0], r[1]) for r in algo.rows if r] == [("17", s) for s in SYMBOLS]
    assert totals(algo) == expected_totals("main")  # the totals are not filtered
    one = await page(dash, "positions?account=main&algo=net,16&symbol=aab")
    assert [(r[0], r[1]) for r in one.rows if r] == [("16", "AAB"), ("NET", "AAB")]
    none = await page(dash, "positions?account=main&symbol=ZZZ")
    assert [r for r in none.rows if r] == [["no positions match"]]
    # the filters travel with the pages: main's NET rows by symbol, 150 on one page
    pages, rows = await every_page(dash, "positions?account=main&algo=NET&sort=symbol")
    assert len(pages) == 1 and [r[1] for r in rows] == sorted(SYMBOLS)


HOSTILE = [
    ("page=-1", "page: '-1' is not a page number"),
    ("page=abc", "page: 'abc' is not a page number"),
    ("page=0", "page: '0' is not a page number"),
    ("page=1.5", "page: '1.5' is not a page number"),
    ("page=%D9%A3", "page: '٣' is not a page number"),  # an Arabic-Indic 3: int() takes it
    ("page=" + "9" * 40, "page: '" + "9" * 40 + "' is not a page number"),
    ("page=1%002", "page: control characters are not allowed"),
    ("sort=zzz", "sort: 'zzz' is not one of algo, symbol"),
    ("sort=ALGO", "sort: 'ALGO' is not one of algo, symbol"),
    ("algo=x", "algo: 'x' is not a whole number"),
    ("algo=" + "1" * 30, "algo: '" + "1" * 30 + "' is not a whole number"),
]


@pytest.mark.parametrize(("query", "reason"), HOSTILE, ids=[q for q, _ in HOSTILE])
async def test_a_value_that_cannot_be_read_is_refused_with_the_reason(
    dash: DashboardHandle, query: str, reason: str
) -> None:
    for path in (f"positions?account=main&{query}", f"api/positions?{query}"):
        response = await get(f"{dash.url}{path}")
        assert response.status_code == 400, (path, response.status_code)
        shown = response.json()["error"] if path.startswith("api/") else response.text
        assert reason in html.unescape(shown), shown


async def test_a_page_beyond_the_last_shows_the_last(dash: DashboardHandle) -> None:
    for asked in ("4", "999999", "9" * 19):
        response = await get(f"{dash.url}positions?account=main&page={asked}")
        assert response.status_code == 200
        shown = Table(response.text)
        assert [(r[0], r[1]) for r in shown.rows if r] == expected_rows("main", "algo")[400:]
        assert f"There is no page {asked}: the last is 3" in response.text
        assert totals(shown) == expected_totals("main")
    api = (await get(f"{dash.url}api/positions?account=main&page=7")).json()
    assert (api["pager"]["page"], api["pager"]["asked"]) == (3, 7)
    # an empty value is no value: the first page
    response = await get(f"{dash.url}positions?account=main&page=&sort=&algo=&symbol=")
    assert response.status_code == 200
    empty = Table(response.text)
    assert [(r[0], r[1]) for r in empty.rows if r] == expected_rows("main", "algo")[:200]
    assert "page 1 of 3: rows 1–200 of 500" in response.text
