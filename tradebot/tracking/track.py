"""``tradebot track``'s figures for each algorithm, from a journal and the config.

:func:`track` reads each algorithm's period (:mod:`.journal_facts`), decomposes the gap
(:mod:`.chain`), and checks the chain's last ledger against the account's P&L computed by the
review's own code (:func:`tradebot.journal.review.review`: realised P&L by average cost, and
the positions it keeps, valued at the same marks): a chain that lost a fill says so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status, to_micros
from tradebot.journal.review import review
from tradebot.journal.summary import Position
from tradebot.tracking.chain import Decomposition, cents, curves, decompose
from tradebot.tracking.history_legs import HistoryReader, HistorySide, never_received
from tradebot.tracking.journal_facts import collector_paused, mark_more, read_periods
from tradebot.tracking.rules_in_force import LegSizer, NotInConfig, basis, read_rules
from tradebot.tracking.sizing import trusted_strategies

_ZERO = Decimal(0)
#: the equity the algorithm's ledger is sized at unless told (``tradebot track --equity``)
DEFAULT_EQUITY = Decimal(100_000)
HISTORY_NOTE = (
    "journal's legs only: AlphaHub's history is not read, so legs never received and never"
    " backfilled are not counted"
)
FEES_NOTE = "no fees in the journal (Alpaca equities are commission-free): fees are 0"


@dataclass(frozen=True, slots=True)
class Tracked:
    """One algorithm's result, the account's, the gap in parts, and what the figures rest on."""

    decomposition: Decomposition
    allocation: Decimal | None  # the base of the basis points (None: the rules state none)
    reviewed: Decimal  # the account's P&L by the review's code (the independent check)
    notes: tuple[str, ...]
    #: the algorithm's and the account's realised P&L over time (:func:`.chain.curves`)
    curves: tuple[list[tuple[int, Decimal]], ...] = ()
    #: the open legs that arrived while the algorithm was not in the config (sized by no rules)
    not_in_config: tuple[str, ...] = ()
    #: what AlphaHub's history added (None: not asked for, the journal's legs only)
    history: HistorySide | None = None
    #: the config's account whose fills are the account's result (None: the journal's one)
    account: str | None = None

    @property
    def reconciled(self) -> bool:
        return self.reviewed == self.decomposition.account.pnl

    def bps(self, money: Decimal) -> Decimal | None:
        if not self.allocation:
            return None
        return (money / self.allocation * 10_000).quantize(Decimal("0.01"))


def algorithms(
    journal: Journal, until: datetime | None, *, account: str | None = None, follows: Any = ()
) -> list[int]:
    """The algorithms with legs or orders in the journal before ``until``; ``account``'s: of
    those, the ones it follows (``follows``) or has orders of."""
    found = journal.algorithms_with((Status.LEG, Status.INTENT), until=until)
    if account is None:
        return found
    where = EntryFilter(statuses=(Status.INTENT,), until=until, accounts=(account,))
    ordered = {algo for algo, _status in journal.count_entries(where) if algo is not None}
    return [a for a in found if a in follows or a in ordered]


def reviewed_pnl(
    journal: Journal,
    marks: dict[str, Decimal],
    *,
    since: datetime | None,
    until: datetime | None,
    account: str | None = None,
) -> dict[int, Decimal]:
    """Each algorithm's account P&L (``account``'s; None: the journal's) as the review
    computes it: realised P&L in the period, plus its positions at ``until`` valued at the
    marks (a symbol without a mark: not valued, as the chain does). The whole journal from the
    summaries (:func:`review`); a window by the review's rule
    (:func:`tradebot.journal.review.review_rows`: average cost, every fill before ``until``
    replayed, what was realised from ``since`` counted) over the fills alone, in one pass that
    also leaves the positions at ``until``."""
    out: dict[int, Decimal] = defaultdict(Decimal)
    if since is None and until is None:
        reports, _ = review(journal, account=account)
        for r in reports:
            out[r.algo_id] += r.realised_pnl
        held = journal.summary_positions(account=account)
    else:
        start = None if since is None else to_micros(since)
        replay: dict[tuple[int, str], Position] = defaultdict(Position)
        for f in journal.fill_history(until=until, account=account):
            gained = replay[f.algo_id, f.symbol].fill(f.qty if f.side == "buy" else -f.qty, f.price)
            if start is None or f.key[0] >= start:
                out[f.algo_id] += gained
        held = dict(replay)
    for (algo, symbol), p in held.items():
        mark = marks.get(symbol)
        if p.qty and mark is not None:
            out[algo] += p.qty * (mark - p.cost)
    return {a: cents(v) for a, v in out.items()}


def _gaps(journal: Journal, since: datetime | None, until: datetime | None) -> dict[Any, int]:
    """Listener gaps in the period, per algorithm (None: a connection's, every algorithm's):
    frames AlphaHub may have sent that never arrived."""
    found = journal.count_entries(EntryFilter(statuses=(Status.GAP,), since=since, until=until))
    out: dict[Any, int] = defaultdict(int)
    for (algo, _status), n in found.items():
        out[algo] += n
    return out


@collector_paused()
def track(
    journal: Journal,
    config: Any,
    *,
    algo_ids: list[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    equity: Decimal = DEFAULT_EQUITY,
    with_curves: bool = False,
    history: HistoryReader | None = None,
    account: str | None = None,
) -> list[Tracked]:
    """Each algorithm's :class:`Tracked` (all algorithms of the journal when ``algo_ids`` is
    None); ``with_curves``: with its curves (the dashboard's chart); ``history``: AlphaHub's
    history, whose legs the journal never received join the algorithm's result (None: the
    journal's legs only). ``account``: the config's account tracked (its rules in force, its
    skips, orders and fills; the legs are every account's); None: the journal's one account."""
    followed = _followed(config, account)
    if algo_ids is None:
        chosen = algorithms(journal, until, account=account, follows=followed)
    else:
        chosen = algo_ids
    trusted = trusted_strategies(config)
    rules = read_rules(journal, until=until, trusted=trusted, account=account)
    start = None if since is None else to_micros(since)
    changes = [row for at, row in rules.unrecorded_changes if start is None or at >= start]
    gaps = _gaps(journal, since, until)
    periods = read_periods(journal, chosen, since=since, until=until, account=account)
    sides = {}
    if history is not None:
        # a history leg stamped after now was not sent: a hostile answer, never a missed leg
        end = until or datetime.now(UTC)
        sides = never_received(journal, periods, history, until=end)
        extra = {leg.symbol for side in sides.values() for leg in side.legs}
        mark_more(journal, periods, extra, until)  # as every symbol with an order row was
    marks = next(iter(periods.values())).marks if periods else {}
    reviewed = reviewed_pnl(journal, marks, since=since, until=until, account=account)
    out = []
    for algo_id in chosen:
        period = periods[algo_id]
        side = sides.get(algo_id)
        if side is not None:
            period = replace(period, legs=period.legs + side.legs)
        algo = followed.get(algo_id)
        current = None if algo is None else algo.sizer
        sizing = LegSizer(rules, algo_id, current, equity)
        notes = history_notes(side)
        lapses = gaps.get(algo_id, 0) + gaps.get(None, 0)
        if lapses:
            found = side is not None and side.read
            where = "the algorithm's result (from the history)" if found else "neither result"
            notes.append(
                f"{lapses} listener gaps in the period: a leg sent during one and not backfilled"
                f" is in {where}"
            )
        result = decompose(period, sizing)
        notes += sizing.notes(changes)
        failed = result.unsized - len(sizing.unsizable())
        if failed:
            notes.append(f"{failed} open legs could not be sized by their rules (left out)")
        unmarked = sorted(result.algorithm.unmarked | result.account.unmarked)
        for symbol in unmarked:
            notes.append(f"no mark for {symbol}: its open position is not valued (realised only)")
        if period.damaged:
            notes.append(f"{period.damaged} damaged leg or skip rows left out")
        notes.append(FEES_NOTE)
        share, said = basis(rules, algo_id, current, equity, sizing.used, start)
        notes += said
        drawn = curves(period, sizing) if with_curves else ()
        out.append(
            Tracked(
                result,
                share,
                reviewed.get(algo_id, _ZERO),
                tuple(notes),
                drawn,
                tuple(sizing.legs(NotInConfig)),
                side,
                account,
            )
        )
    return out


def _followed(config: Any, account: str | None) -> dict[int, Any]:
    """The algorithms ``account`` follows in the current config (None: the config's one
    account's; no config, or an account it no longer has: none)."""
    if config is None:
        return {}
    if account is None:
        return dict(config.algorithms)
    found = config.accounts.get(account)
    return {} if found is None else dict(found.algorithms)


def history_notes(side: HistorySide | None) -> list[str]:
    """What the algorithm's result rests on, of AlphaHub's history."""
    if side is None:
        return [HISTORY_NOTE]
    if side.reason is not None:
        return [
            f"journal's legs only: AlphaHub's history {side.reason}; legs never received and"
            " never backfilled are not counted"
        ]
    assert side.since is not None
    notes = [
        f"AlphaHub's history read from {side.since:%Y-%m-%d %H:%M} UTC (the algorithm's first"
        f" leg in the journal): {len(side.legs)} leg(s) never received are in the algorithm's"
        " result, valued in missed"
    ]
    if side.left_out:
        notes.append(
            f"{side.left_out} leg(s) of the history never received are neither clearly an open"
            " nor a close, or a rule of their signal refuses them: left out, as the journal's are"
        )
    if side.unreadable:
        notes.append(f"{side.unreadable} leg(s) of the history could not be read (left out)")
    return notes
