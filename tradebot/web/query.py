"""Reading what a person (or anything else) typed into a dashboard URL: hostile until checked.

Every value read from a query string goes through one of these functions. A value that cannot
be used raises :class:`BadQuery` with the reason, which the page shows with status 400; nothing
typed into a URL reaches the journal unchecked or ends in a 500:

* text: at most :data:`MAX_TEXT` characters, no control characters (PostgreSQL refuses NUL);
* whole numbers (row ids, algorithm ids): ASCII digits only, at most :data:`MAX_ID` (the
  journal's 64-bit columns; Python's ``int()`` would also take ``"٣"``, ``"1_0"`` and a
  4,300-digit number);
* times: :func:`tradebot.clock.parse_when`'s forms, within years 1 to 9999 once in UTC (a span
  of ``999999999d`` or ``0001-01-01T00:00+01:00`` is out of range, not a crash);
* page numbers: 1 or more, ASCII digits only (``-1``, ``0``, ``abc``, ``1.5`` refused); a page
  beyond the last is the page's to clamp;
* a choice (a sort order): one of the names the page offers, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from starlette.datastructures import QueryParams

from tradebot.clock import parse_when
from tradebot.journal.interface import EntryFilter
from tradebot.journal.records import Status

#: the longest value a filter takes (a leg key is under 100 characters)
MAX_TEXT = 200
#: the largest row or algorithm id (the journal stores 64-bit integers)
MAX_ID = 2**63 - 1
#: the filters ``tradebot journal`` takes several of (repeated, or separated by commas)
MANY = ("algo", "symbol", "status", "coid")
#: values one such filter takes (each is a parameter of one SQL query)
MAX_VALUES = 50

_DIGITS = re.compile(r"[0-9]{1,19}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadQuery(ValueError):
    """A value in the URL that cannot be read; shown on the page, status 400."""


def text(value: str, name: str) -> str:
    """``value`` stripped; refused when too long or holding control characters."""
    if len(value) > MAX_TEXT:
        raise BadQuery(f"{name}: longer than {MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise BadQuery(f"{name}: control characters are not allowed")
    return value.strip()


def whole(value: str | None, name: str) -> int | None:
    """A non-negative whole number of at most :data:`MAX_ID`; None when empty."""
    if value is None or not value.strip():
        return None
    given = text(value, name)
    if not _DIGITS.fullmatch(given):
        raise BadQuery(f"{name}: {given[:40]!r} is not a whole number")
    number = int(given)
    if number > MAX_ID:
        raise BadQuery(f"{name}: {given} is larger than any id the journal holds")
    return number


def when(value: str, name: str, now: datetime) -> datetime | None:
    """A time as ``tradebot journal --since/--until`` reads it; None when empty."""
    given = text(value, name)
    if not given:
        return None
    try:
        moment = parse_when(given, now)
    except ValueError as exc:
        raise BadQuery(f"{name}: {exc}") from None
    except OverflowError:
        raise BadQuery(f"{name}: {given[:40]!r} is outside years 1 to 9999") from None
    return moment


def ident(value: str, name: str = "id") -> str:
    """A story's subject (a row id, an order id or a leg key); a number must be a row id."""
    given = text(value, name)
    number = given.lstrip("#")
    if number.isdigit():  # what ``explain`` reads as a row id: it must be one
        whole(number, name)
    return given


def entry_filter(query: QueryParams, now: datetime) -> tuple[EntryFilter, dict[str, str]]:
    """``tradebot journal``'s filters from the query string, and the form's values as typed
    (normalised). Like the CLI's repeatable options, algo, symbol, status and coid take several
    values (repeated, or separated by commas)."""
    many = {k: values(query.getlist(k), k) for k in MANY}
    form: dict[str, str] = {k: ",".join(v) for k, v in many.items()}
    form |= {k: text(query.get(k, ""), k) for k in ("since", "until")}
    known = {str(s) for s in Status}
    for status in many["status"]:
        if status not in known:
            raise BadQuery(f"status: {status[:40]!r} is not a journal status")
    algos = tuple(a for a in (whole(t, "algo") for t in many["algo"]) if a is not None)
    where = EntryFilter(
        algo_ids=algos,
        symbols=tuple(s.upper() for s in many["symbol"]),
        statuses=tuple(Status(s) for s in many["status"]),
        client_order_ids=tuple(many["coid"]),
        since=when(form["since"], "since", now),
        until=when(form["until"], "until", now),
    )
    return where, form


def page_number(value: str | None, name: str = "page") -> int:
    """A page number, 1 or more (1 when empty); refused when it is not one. Whether the page
    exists is the caller's to say (the last page shows for one beyond it)."""
    if value is None or not value.strip():
        return 1
    given = text(value, name)
    if not _DIGITS.fullmatch(given) or not int(given):
        raise BadQuery(f"{name}: {given[:40]!r} is not a page number (1, 2, 3, ...)")
    return int(given)


def one_of(value: str | None, name: str, choices: Sequence[str]) -> str:
    """One of ``choices`` (the first when empty); refused otherwise, naming them."""
    if value is None or not value.strip():
        return choices[0]
    given = text(value, name)
    if given not in choices:
        raise BadQuery(f"{name}: {given[:40]!r} is not one of {', '.join(choices)}")
    return given


def values(given: list[str], name: str) -> list[str]:
    """The values of a filter that takes several (repeated, or separated by commas), each
    read as :func:`text`; empty ones dropped, at most :data:`MAX_VALUES`."""
    parts = [text(part, name) for t in given for part in t.split(",")]
    found = [part for part in parts if part]
    if len(found) > MAX_VALUES:
        raise BadQuery(f"{name}: more than {MAX_VALUES} values")
    return found
