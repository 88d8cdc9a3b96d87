"""The Positions page's table a page at a time: which rows a URL asks for, in which order.

An account of thousands of positions (8,200 rows at a million journal rows: 40 algorithms of
200 symbols each) made a 1.4 MB page that took longer to render and mask than to read, so the
table is cut into pages of :data:`PAGE_SIZE` rows, and ``api/positions`` answers the same page
(as ``api/journal`` does). Read from the query string (each value hostile until checked,
:mod:`.query`; a value that cannot be used is a 400 with the reason):

* ``algo``: the rows of these algorithms (a whole number, or ``NET`` for the net rows; several
  repeated or separated by commas, as the journal's filter); ``symbol``: the rows of these
  symbols (each algorithm's and its NET row). None given: every row;
* ``sort``: ``algo`` (the default, as ``tradebot positions`` prints them: each account in
  turn, its algorithms' rows by algorithm then symbol, then its NET rows by symbol) or
  ``symbol`` (by symbol; within one, each account's algorithm rows then its NET row, so a
  drift stands beside its parts). Either order is total (no two rows share a key), so a page
  holds the same rows on every load of an unchanged journal;
* ``page``: 1, 2, ... (a page beyond the last shows the last: a bookmark outlives a position).

Pages are cut by offset in that order: on a journal that does not change between two loads,
following the pages shows every row once. A fill between two loads can move a row across a
page's edge; the next load shows it where it now is. The totals are always every position's of
the accounts shown, whatever the page or filter; only the table is paged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from tradebot.web.query import BadQuery, one_of, page_number, values, whole

#: rows of the table on one page (an account of fewer positions sees them all on one)
PAGE_SIZE = 200
#: the orders the table can be read in; the first is the default
SORTS = ("algo", "symbol")
#: the ``algo`` of a symbol's net row (``tradebot positions``' NET)
NET = "NET"

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Wanted:
    """The rows a URL asks for: filtered by algorithm (``NET`` for the net rows) and symbol
    (empty: every one), in ``sort`` order, page ``page`` (1 first)."""

    algos: frozenset[str] = frozenset()
    symbols: frozenset[str] = frozenset()
    sort: str = SORTS[0]
    page: int = 1

    def matches(self, row: Row) -> bool:
        return (not self.algos or row["algo"] in self.algos) and (
            not self.symbols or row["symbol"] in self.symbols
        )


def wanted(query: QueryParams) -> tuple[Wanted, dict[str, str]]:
    """What the query string asks of the table, and the filter form's values (normalised)."""
    algos = [_algo(a) for a in values(query.getlist("algo"), "algo")]
    symbols = [s.upper() for s in values(query.getlist("symbol"), "symbol")]
    sort = one_of(query.get("sort"), "sort", SORTS)
    asked = Wanted(frozenset(algos), frozenset(symbols), sort, page_number(query.get("page")))
    form = {"algo": ",".join(dict.fromkeys(algos)), "symbol": ",".join(dict.fromkeys(symbols))}
    return asked, form | {"sort": sort}


def _algo(given: str) -> str:
    if given.upper() == NET:
        return NET
    number = whole(given, "algo")
    if number is None:  # never: values() drops the empty ones
        raise BadQuery("algo: empty")
    return str(number)


def page_of(view: dict[str, Any], asked: Wanted, size: int = PAGE_SIZE) -> dict[str, Any]:
    """``view`` (:func:`~tradebot.web.views.positions_view`, or several accounts'
    :func:`~tradebot.web.views.positions_apart`) with its rows cut to the page asked for, and
    ``pager``: which page of how many, the rows it shows (``first``..``last``, 1 first) of
    those matching (``matched``) of every row (``every``); ``asked``: the page asked for when
    it was beyond the last. Everything else (the totals, the broker's lines) as given."""
    every: list[Row] = view["rows"]
    found = sorted(filter(asked.matches, every), key=_KEYS[asked.sort](every))
    pages = max(1, -(-len(found) // size))
    page = min(asked.page, pages)
    start = (page - 1) * size
    rows = found[start : start + size]
    pager = {
        "page": page,
        "pages": pages,
        "size": size,
        "first": start + 1 if rows else 0,
        "last": start + len(rows),
        "matched": len(found),
        "every": len(every),
        "asked": asked.page if asked.page != page else None,
    }
    return {**view, "rows": rows, "pager": pager}


def links(form: dict[str, str], account: str | None) -> str:
    """The query every page link carries (the account, the filters, a sort not the default),
    without the page; "" for none."""
    kept = {"account": account or "", **form}
    if kept["sort"] == SORTS[0]:
        del kept["sort"]
    return urlencode({k: v for k, v in kept.items() if v})


def _by_algo(every: list[Row]) -> Callable[[Row], tuple[Any, ...]]:
    accounts = _order(every)
    return lambda r: (accounts[r.get("account")], *_algo_key(r), r["symbol"])


def _by_symbol(every: list[Row]) -> Callable[[Row], tuple[Any, ...]]:
    accounts = _order(every)
    return lambda r: (r["symbol"], accounts[r.get("account")], *_algo_key(r))


def _algo_key(row: Row) -> tuple[bool, int]:
    """An account's algorithm rows by number, then its NET row."""
    return (True, 0) if row["algo"] == NET else (False, int(row["algo"]))


def _order(every: list[Row]) -> dict[Any, int]:
    """Each account in the order the view shows them (None: a journal of one account)."""
    return {name: n for n, name in enumerate(dict.fromkeys(r.get("account") for r in every))}


_KEYS: dict[str, Callable[[list[Row]], Callable[[Row], tuple[Any, ...]]]] = {
    "algo": _by_algo,
    "symbol": _by_symbol,
}
