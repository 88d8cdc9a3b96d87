"""What each count means: one definition, used by every page and command.

The Now and Performance pages, ``tradebot report`` and ``tradebot status`` all count journal
rows through this module, so a word means the same everywhere (docs/operations.md, "What each
count means"):

* **signals**: SIGNAL rows (one per frame received for an algorithm);
* **orders**: INTENT rows (an order the bot decided to send, written before it is sent);
* **fills**: PARTIAL and FILLED rows of the bot's own orders (one per fill reported);
* **skips**: SKIPPED rows (a leg that produced no order, with its reason);
* **rejections**: REJECTED rows: the *broker* refused one of our orders;
* **refused legs**: LEG_REJECTED rows: a leg of a signal the bot could not parse (malformed);
* **failed**: FAILED rows: the bot gave up on an order before the broker had it;
* **lapses**: an algorithm subscribed on *no* connection for a while (one outage episode, one
  row, however many connections' gaps it spans); the per-connection GAP rows are not lapses;
* **not ours**: fills of orders the bot did not place (by hand on the account, another program).

Every count but "not ours" counts rows of an algorithm; "not ours" counts the fill rows that
belong to none. The functions here only read; none writes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Entry, Status

#: count name -> the statuses of the rows it counts (rows of an algorithm)
ROW_COUNTS: Mapping[str, tuple[Status, ...]] = {
    "signals": (Status.SIGNAL,),
    "orders": (Status.INTENT,),
    "fills": (Status.PARTIAL, Status.FILLED),
    "skips": (Status.SKIPPED,),
    "rejections": (Status.REJECTED,),
    "refused legs": (Status.LEG_REJECTED,),
    "failed": (Status.FAILED,),
}
LAPSES = "lapses"
NOT_OURS = "not ours"
#: every count, in the order the pages show them
NAMES: tuple[str, ...] = (*ROW_COUNTS, LAPSES, NOT_OURS)

#: how a lapse row's detail opens (written by :mod:`tradebot.runtime.lapses`); a connection's
#: own gap row opens "connection N lost algorithm ..." instead
LAPSE_OPENING = "algorithm {algo_id} was not subscribed on any connection"
_LAPSE = re.compile(r"algorithm \d+ was not subscribed on any connection")


def is_lapse(entry: Entry) -> bool:
    """A GAP row that records a lapse (no connection subscribed), not one connection's gap."""
    return entry.status is Status.GAP and _LAPSE.match(entry.detail) is not None


def is_not_ours(algo_id: int | None, status: Status) -> bool:
    """A fill row of an order the bot did not place (no intent of ours: no algorithm)."""
    return algo_id is None and status in ROW_COUNTS["fills"]


def tally_rows(
    counted: Mapping[tuple[int | None, Status], int], lapses: Iterable[Entry] = ()
) -> dict[int | None, Counter[str]]:
    """Per algorithm (None: not ours), each count, from :meth:`Journal.count_entries` and the
    GAP rows of the same window (pure: no journal)."""
    out: dict[int | None, Counter[str]] = {}
    for (algo_id, status), n in counted.items():
        if is_not_ours(algo_id, status):
            out.setdefault(None, Counter())[NOT_OURS] += n
            continue
        if not isinstance(algo_id, int):
            continue  # a row of no algorithm (or a damaged one): counted by none
        for name, statuses in ROW_COUNTS.items():
            if status in statuses:
                out.setdefault(algo_id, Counter())[name] += n
    for entry in lapses:
        if is_lapse(entry) and entry.algo_id is not None:
            out.setdefault(entry.algo_id, Counter())[LAPSES] += 1
    return out


def per_algo(
    journal: Journal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    names: Iterable[str] = NAMES,
    accounts: tuple[str, ...] = (),
) -> dict[int | None, Counter[str]]:
    """The counts ``names`` per algorithm for ``[since, until)`` (None: the "not ours" fills);
    of the rows of ``accounts`` only (``EntryFilter.accounts``; () for every row).

    Only the rows those counts need are read (the store counts them; GAP rows are read for
    lapses only), so a page asking for two counts never scans the rest.
    """
    wanted = set(names)
    statuses = [s for name in wanted & set(ROW_COUNTS) for s in ROW_COUNTS[name]]
    if NOT_OURS in wanted:
        statuses.extend(ROW_COUNTS["fills"])
    counted: Mapping[tuple[int | None, Status], int] = {}
    if statuses:
        where = EntryFilter(
            statuses=tuple(dict.fromkeys(statuses)), since=since, until=until, accounts=accounts
        )
        counted = journal.count_entries(where)
    gaps: Iterable[Entry] = ()
    if LAPSES in wanted:
        where = EntryFilter(statuses=(Status.GAP,), since=since, until=until, accounts=accounts)
        gaps = journal.iter_entries(where)
    found = tally_rows(counted, gaps)
    return {algo: Counter({k: n for k, n in c.items() if k in wanted}) for algo, c in found.items()}


def totals(by_algo: Mapping[int | None, Counter[str]]) -> dict[str, int]:
    """Every count summed over the algorithms (and "not ours"), in :data:`NAMES` order."""
    summed: Counter[str] = Counter()
    for counts in by_algo.values():
        summed.update(counts)
    return {name: summed[name] for name in NAMES}


#: the counts the journal's summaries do not keep, added to ``tradebot report``'s rows (and the
#: Performance page's) under these keys
REPORT_EXTRAS: Mapping[str, str] = {"refused legs": "refused_legs", LAPSES: "lapses"}


def with_extras(
    figures: list[dict[str, object]],
    journal: Journal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, object]]:
    """``tradebot report``'s rows (one per algorithm) with :data:`REPORT_EXTRAS` added, each
    counted here (refused legs by the store, lapses from the GAP rows)."""
    found = per_algo(journal, since=since, until=until, names=REPORT_EXTRAS)
    out = []
    for figure in figures:
        algo = figure.get("algo_id")
        mine = found.get(algo if isinstance(algo, int) else None, Counter())
        extra = {key: mine[name] for name, key in REPORT_EXTRAS.items()}
        out.append({**figure, **extra})
    return out


#: the statuses of a broker order's rows (a foreign order has these, never an intent)
_ORDER_ROWS = frozenset(
    {
        Status.SUBMITTED,
        Status.ACCEPTED,
        Status.PARTIAL,
        Status.FILLED,
        Status.CANCELED,
        Status.REJECTED,
        Status.EXPIRED,
        Status.RECOVERY,
    }
)


def row_not_ours(entry: Entry) -> bool:
    """A row of broker activity the bot did not cause: an order row with no intent of ours
    (marked ``not_ours`` in its data since it was written; rows written before, by shape)."""
    if isinstance(entry.data, dict) and entry.data.get("not_ours") is True:
        return True
    return (
        entry.algo_id is None
        and entry.client_order_id is not None
        and (entry.status in _ORDER_ROWS)
    )
