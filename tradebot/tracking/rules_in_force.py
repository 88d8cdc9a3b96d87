"""Which sizing rules were in force for an algorithm when each of its legs arrived.

Every start records each algorithm's rules on its START row, every config reload on its CONFIG
row (the data key :data:`~tradebot.tracking.sizing.RULES_KEY`, written by
:func:`~tradebot.tracking.sizing.rules_of`). Read in the journal's order (time, then row id: the
order the chain replays legs in), the rules in force at a moment are the latest record's at or
before it, and for one algorithm they are one of:

- :class:`Unrecorded`: no record yet, or the latest is a start that recorded none (a journal
  written by an older version): the caller sizes by the current config and says so;
- :class:`NotInConfig`: the record has no rules for the algorithm: it was not in the config,
  and the leg is sized by no rules (never guessed);
- :class:`Refused`: the record's rules for it are damaged, or name code the current config
  does not (:func:`~tradebot.tracking.sizing.strategy_from`): sized by no rules, the reason said;
- :class:`InForce`: its strategy, rebuilt with the config's own code.

CONFIG rows without rules (a kill-switch change, a reload by an older version) change nothing.
A START or CONFIG row whose data cannot be read refuses every algorithm until the next record.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradebot.core.sizing import SizingStrategy
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status
from tradebot.tracking.chain import Sizer
from tradebot.tracking.facts import LegFact
from tradebot.tracking.sizing import (
    ACCOUNT_RULES_KEY,
    RULES_KEY,
    RulesRefused,
    allocation,
    strategy_from,
    strategy_sizer,
)


@dataclass(frozen=True, slots=True)
class Unrecorded:
    """No rules on record at that moment (a journal written by an older version)."""


@dataclass(frozen=True, slots=True)
class NotInConfig:
    row: int  # the record that says so


@dataclass(frozen=True, slots=True)
class Refused:
    row: int
    reason: str


@dataclass(frozen=True, slots=True)
class InForce:
    row: int
    strategy: SizingStrategy[Any]


Rules = Unrecorded | NotInConfig | Refused | InForce
_UNRECORDED = Unrecorded()


@dataclass(frozen=True, slots=True)
class Record:
    """One START or CONFIG row's rules, in force from it until the next record."""

    at: int  # the row's time, microseconds since the epoch
    row: int
    #: algorithm -> its rebuilt strategy, or why its rules cannot be used; None: a start that
    #: recorded no rules (an older version)
    rules: Mapping[int, SizingStrategy[Any] | str] | None
    damaged: str = ""  # why the row could not be read: every algorithm refused

    def of(self, algo_id: int) -> Rules:
        if self.damaged:
            return Refused(self.row, self.damaged)
        if self.rules is None:
            return Unrecorded()
        found = self.rules.get(algo_id)
        if found is None:
            return NotInConfig(self.row)
        if isinstance(found, str):
            return Refused(self.row, found)
        return InForce(self.row, found)


class RulesHistory:
    """The records, oldest first, and the reloads that recorded no rules."""

    def __init__(
        self, records: Sequence[Record] = (), unrecorded_changes: Sequence[tuple[int, int]] = ()
    ) -> None:
        self.records = tuple(sorted(records, key=lambda r: (r.at, r.row)))
        #: (time, row id) of CONFIG rows that changed the algorithms and recorded no rules
        self.unrecorded_changes = tuple(unrecorded_changes)
        self._keys = [(r.at, r.row) for r in self.records]
        #: (record's index + 1, algorithm) -> its rules: asked once per open leg, made once
        self._of: dict[tuple[int, int], Rules] = {}

    def at(self, algo_id: int, at: int, seq: int) -> Rules:
        """The rules in force for ``algo_id`` at (time, row id) ``(at, seq)``."""
        i = bisect_right(self._keys, (at, seq)) if self._keys else 0
        if not i:
            return _UNRECORDED
        found = self._of.get((i, algo_id))
        if found is None:
            found = self._of[i, algo_id] = self.records[i - 1].of(algo_id)
        return found

    def at_end(self, algo_id: int) -> Rules:
        """The rules in force at the period's end (the last record read)."""
        return self.records[-1].of(algo_id) if self.records else Unrecorded()


def record_of(
    at: int,
    row: int,
    status: str,
    data: Any,
    trusted: Collection[str],
    *,
    account: str | None = None,
) -> Record | None:
    """A START or CONFIG row as a record (None: a CONFIG row that recorded no rules).

    ``account``: the account whose rules are read (:data:`ACCOUNT_RULES_KEY`; a row of a run
    that did not trade it has none for it: every algorithm not in its config); None: the one
    account's (a row that recorded several accounts' is refused: they must be told apart)."""
    try:
        found = json.loads(data) if isinstance(data, str) else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return Record(at, row, None, f"row #{row}'s data is damaged")
    raw, damaged = _rules_recorded(found, row, account)
    if damaged:
        return Record(at, row, None, damaged)
    if raw is None:
        return Record(at, row, None) if status == Status.START else None
    if not isinstance(raw, dict):
        return Record(at, row, None, f"row #{row}'s rules are not an object")
    rules: dict[int, SizingStrategy[Any] | str] = {}
    for key, recorded in raw.items():
        if not (isinstance(key, str) and key.isdecimal() and len(key) < 10):
            return Record(at, row, None, f"row #{row}'s rules name {str(key)[:20]!r}, no algorithm")
        try:
            rules[int(key)] = strategy_from(recorded, trusted)
        except RulesRefused as exc:
            rules[int(key)] = f"row #{row}: {exc}"
    return Record(at, row, rules)


def _rules_recorded(found: dict[str, Any], row: int, account: str | None) -> tuple[Any, str]:
    """(the row's rules for ``account``, or None when it recorded none; why they cannot be
    read, or "")."""
    per_account = found.get(ACCOUNT_RULES_KEY)
    if per_account is None:  # a row of one account (or of a version before accounts)
        return found.get(RULES_KEY), ""
    if not isinstance(per_account, dict):
        return None, f"row #{row}'s rules per account are not an object"
    if account is None:
        if len(per_account) == 1:
            return next(iter(per_account.values())), ""
        names = ", ".join(sorted(str(name)[:20] for name in per_account))
        return None, f"row #{row} recorded the rules of several accounts ({names}): name one"
    return per_account.get(account, {}), ""  # not traded by that run: nothing in its config


def read_rules(
    journal: Journal,
    *,
    until: datetime | None,
    trusted: Collection[str],
    account: str | None = None,
) -> RulesHistory:
    """The journal's rules records before ``until``, oldest first (``trusted``: the strategy
    names they may use, :func:`~tradebot.tracking.sizing.trusted_strategies`; ``account``: whose
    rules, :func:`record_of`)."""
    where = EntryFilter(statuses=(Status.START, Status.CONFIG), until=until, newest_first=False)
    records: list[Record] = []
    unrecorded: list[tuple[int, int]] = []
    for stored in journal.iter_stored(where):
        row, at, status, detail, data = stored[0], stored[1], stored[2], stored[11], stored[12]
        if not isinstance(row, int) or not isinstance(at, int):
            continue
        record = record_of(at, row, status, data, trusted, account=account)
        if record is not None:
            records.append(record)
        elif isinstance(detail, str) and "algorithms" in detail:
            unrecorded.append((at, row))
    return RulesHistory(records, unrecorded)


class LegSizer:
    """The chain's :data:`~tradebot.tracking.chain.Sizer` for one algorithm: each open leg by
    the rules in force when it arrived (``current``, the current config's strategy, for legs
    from before any record), remembering which rules sized which leg (for the output)."""

    def __init__(
        self,
        history: RulesHistory,
        algo_id: int,
        current: SizingStrategy[Any] | None,
        equity: Decimal,
    ) -> None:
        self._history = history
        self._algo_id = algo_id
        self._current = current
        self._equity = equity
        self._sizers: dict[int | None, Sizer] = {}
        #: each open leg asked for (by key, in the order asked): its time and its rules
        self.used: dict[str, tuple[int, Rules]] = {}

    def __call__(self, leg: LegFact, holdings: Mapping[str, Decimal]) -> Decimal | None:
        rules = self._history.at(self._algo_id, leg.at, leg.seq)
        self.used[leg.key] = (leg.at, rules)
        if isinstance(rules, InForce):
            row: int | None = rules.row
            strategy = rules.strategy
        elif isinstance(rules, Unrecorded) and self._current is not None:
            row, strategy = None, self._current
        else:
            return None
        sizer = self._sizers.get(row)
        if sizer is None:
            sizer = self._sizers[row] = strategy_sizer(strategy, self._algo_id, self._equity)
        return sizer(leg, holdings)

    def legs(self, kind: type[Rules]) -> list[str]:
        """The open legs whose rules were of ``kind``, in the order asked."""
        return [key for key, (_, r) in self.used.items() if isinstance(r, kind)]

    def unsizable(self) -> list[str]:
        """The open legs no rules could size: not in the config, refused, or from before any
        record with no current rules either."""
        none = (
            (NotInConfig, Refused)
            if self._current is not None
            else (NotInConfig, Refused, Unrecorded)
        )
        return [key for key, (_, r) in self.used.items() if isinstance(r, none)]

    def notes(self, changes: Sequence[int]) -> list[str]:
        """What the algorithm's result rests on: which rules sized its open legs, and the legs
        no rules could size (``changes``: rows of reloads that recorded no rules)."""
        algo, out = self._algo_id, []
        rows = sorted({r.row for _, r in self.used.values() if isinstance(r, InForce)})
        how = f"at equity {self._equity}, fractional, at the signal's price"
        if rows:
            listed = ", ".join(f"#{i}" for i in rows)
            out.append(
                f"open legs sized by the rules in force when each arrived (the journal's"
                f" records {listed}) {how}"
            )
        old = self.legs(Unrecorded)
        if old and self._current is not None:
            out.append(
                f"{len(old)} open legs arrived before the journal recorded the rules (written by"
                f" an older version): sized by the current config's rules {how}"
            )
            if changes:
                ids = ", ".join(f"#{i}" for i in changes)
                out.append(
                    f"the config's algorithms changed during the period ({ids}) without their"
                    " rules on record: those legs may have been sized otherwise"
                )
        elif old:
            out.append(
                f"algorithm {algo} is not in the config and the journal has no rules from when"
                f" its {len(old)} open legs arrived: they cannot be sized, so the algorithm's"
                " result holds none of them"
            )
        absent = self.legs(NotInConfig)
        if absent:
            out.append(
                f"{len(absent)} open legs arrived while algorithm {algo} was not in the config:"
                f" sized by no rules, left out of the algorithm's result: {', '.join(absent)}"
            )
        refused: dict[str, list[str]] = {}
        for key, (_, r) in self.used.items():
            if isinstance(r, Refused):
                refused.setdefault(r.reason, []).append(key)
        for reason, keys in refused.items():
            out.append(
                f"{len(keys)} open legs' rules cannot be used ({reason}): left out of the"
                f" algorithm's result: {', '.join(keys)}"
            )
        return out


def basis(
    history: RulesHistory,
    algo_id: int,
    current: SizingStrategy[Any] | None,
    equity: Decimal,
    used: Mapping[str, tuple[int, Rules]],
    since: int | None,
) -> tuple[Decimal | None, list[str]]:
    """The allocation the basis points are of: the rules in force at the period's end (the
    current config's before any record), else the latest rules the algorithm had; and notes
    saying which, when it is not plain."""
    notes: list[str] = []
    which = "the one in force at the period's end"
    chosen = _strategy(history.at_end(algo_id), current)
    if chosen is None:
        had = [f for r in history.records if isinstance(f := r.of(algo_id), InForce)]
        if had:
            chosen, which = had[-1].strategy, f"the last it had, from #{had[-1].row}"
            notes.append(
                f"algorithm {algo_id} has no usable rules at the period's end: basis points are"
                f" of {which}"
            )
    share = None if chosen is None else allocation(chosen, equity)
    seen = allocations_seen(used, current, equity, since)
    if share is not None and seen - {share}:
        notes.append(f"the allocation changed during the period: basis points are of {which}")
    return share, notes


def allocations_seen(
    used: Mapping[str, tuple[int, Rules]],
    current: SizingStrategy[Any] | None,
    equity: Decimal,
    since: int | None,
) -> set[Decimal | None]:
    """The allocations of the rules that sized the open legs asked for at or after ``since``
    (``used``: :attr:`LegSizer.used`)."""
    # each strategy once (125,000 legs share a handful): the same set, one allocation apiece
    distinct = {
        id(s): s
        for at, r in used.values()
        if since is None or at >= since
        if (s := _strategy(r, current)) is not None
    }
    return {allocation(s, equity) for s in distinct.values()}


def _strategy(rules: Rules, current: SizingStrategy[Any] | None) -> SizingStrategy[Any] | None:
    if isinstance(rules, InForce):
        return rules.strategy
    return current if isinstance(rules, Unrecorded) else None
