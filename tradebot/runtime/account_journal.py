"""The journal as one of several accounts sees it: its own rows and the shared ones.

With several accounts (``accounts:``, issue 22) one journal holds every account's rows, each
naming its account (the signals and their legs are shared, ``""``). Each account's engine
(:mod:`.account_engine`) reads and writes through an :class:`AccountJournal`, so the code
written for one account (the executor, recovery, the re-check, the chaser, the exit manager, the
close cancels and watches) stays as it is and can never act on another account's orders: a
re-check that read every account's unanswered intents would ask this account's broker for
another's order, find nothing, and send it again here.

* Reads that take ``account`` (the book, unresolved intents, unplanned signals, planned legs)
  read this account's unless the caller names one.
* Row reads (:meth:`entries`, :meth:`iter_entries`, :meth:`count_entries`) without an account
  filter read this account's rows and the shared ones.
* Writes that take ``account`` write this account's unless the caller names one; the others
  (a signal, an order's steps named by its client order id) carry their own.

Everything else passes straight through. One account never uses it: its journal is the
journal, as before accounts existed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import SHARED_ACCOUNT, Entry

#: methods whose ``account`` keyword is this account's unless the caller names one
_ACCOUNT_KEYWORD = frozenset(
    {
        "rebuild_book",
        "unresolved_intents",
        "unplanned_signals",
        "planned_legs",
        "record_plan",
        "record_signal_and_plan",
        "record_snapshot",
        "record_event",
        "record_events",
        "record_error",
        "record_drift",
        "record_recovery",
    }
)


class AccountJournal:
    """``journal`` as the account ``account`` sees it (see the module docstring)."""

    def __init__(self, journal: Journal, account: str) -> None:
        self._journal = journal
        self.account = account

    @property
    def journal(self) -> Journal:
        """The whole journal, every account's rows."""
        return self._journal

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._journal, name)
        if name in _ACCOUNT_KEYWORD and callable(value):
            return self._mine(value)
        return value

    def _mine(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("account", self.account)
            return method(*args, **kwargs)

        return call

    def _where(self, where: EntryFilter) -> EntryFilter:
        if where.accounts:
            return where
        return dataclasses.replace(where, accounts=(self.account, SHARED_ACCOUNT))

    def entries(self, where: EntryFilter) -> Sequence[Entry]:
        return self._journal.entries(self._where(where))

    def iter_entries(self, where: EntryFilter, *, page: int = 2000) -> Iterator[Entry]:
        return self._journal.iter_entries(self._where(where), page=page)

    def count_entries(self, where: EntryFilter) -> Mapping[Any, int]:
        return self._journal.count_entries(self._where(where))


def account_journal(journal: Journal, account: str) -> Journal:
    """``journal`` as ``account`` sees it, typed as the journal it stands for."""
    return cast(Journal, AccountJournal(journal, account))
