"""What the coverage audit (:mod:`.coverage`) is computed from: the journal's decided legs and
AlphaHub's signal history. The I/O edge; blocking (run it off the loop).

The journal side: every row that is a decision on a leg (``leg``, ``leg_rejected``,
``skipped``: :data:`~tradebot.journal.tombstones.DECIDED`), its fate from its signal's
``source`` (``live`` or ``backfill``) and, for a leg skipped ``missed_stale``, late; a history
leg whose rows an archive moved out is ``archived`` (its tombstone, :func:`archived_legs`).

The history side: one login, then one read per algorithm (:func:`fetch_history`). A read that
fails never raises: the algorithm's reason goes to ``unavailable`` (no credentials, the login
refused, AlphaHub unreachable, the endpoint missing or odd) and the audit says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tradebot.config.alphahub_section import AlphaHubConfig
from tradebot.core.orders import SkipReason
from tradebot.core.signal import LegId, LegKind, SignalSource, parse_leg_key
from tradebot.exceptions import ConfigError, HistoryUnavailable, TradebotError
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status
from tradebot.journal.tombstones import DECIDED
from tradebot.tracking.coverage import Coverage, Fate, Identity, JournalLeg, audit

if TYPE_CHECKING:
    from tradebot.alphahub.history import HistoryLeg

#: how long before a leg's time its signal row may have been written (clocks disagree a little)
SKEW = timedelta(hours=1)


def journal_legs(
    journal: Journal, since: datetime, until: datetime, algo_ids: Sequence[int] = ()
) -> list[JournalLeg]:
    """The legs timed in ``since``..``until`` the journal decided on, each with its fate
    (``algo_ids``: of these algorithms only; empty: all)."""
    sources: dict[int, str] = {}
    algos = tuple(algo_ids)
    where = EntryFilter(
        algo_ids=algos, statuses=(Status.SIGNAL,), since=since - SKEW, newest_first=False
    )
    for entry in journal.iter_entries(where):
        sources[entry.id] = str(entry.data.get("source") or SignalSource.LIVE)
    out: list[JournalLeg] = []
    where = EntryFilter(algo_ids=algos, statuses=DECIDED, since=since - SKEW, newest_first=False)
    for entry in journal.iter_entries(where):
        if entry.leg is None:
            continue  # a leg that never parsed has no identity to match
        try:
            ident = parse_leg_key(entry.leg)
        except ValueError:
            continue  # not a leg's key: the journal is input too
        if not since <= ident.timestamp < until:
            continue
        source = sources.get(entry.signal_id or 0) or entry.data.get("source")
        if entry.status is Status.SKIPPED and entry.data.get("reason") == SkipReason.MISSED_STALE:
            fate = Fate.LATE
        elif source == SignalSource.BACKFILL:
            fate = Fate.BACKFILL
        else:
            fate = Fate.LIVE
        identity = (ident.algo_id, ident.symbol, str(ident.side), ident.timestamp)
        out.append(JournalLeg(identity, fate))
    return out


@dataclass
class HistoryRead:
    """Each algorithm's history legs, or why they could not be read; and how many legs of each
    answer could not be parsed (left out, as live). ``answers``: each answer's legs exactly as
    AlphaHub sent them, when asked for (``tradebot replay --save-history`` writes them)."""

    legs: dict[int, list[HistoryLeg]] = field(default_factory=dict)
    unavailable: dict[int, str] = field(default_factory=dict)
    bad: dict[int, int] = field(default_factory=dict)
    answers: dict[int, list[Any]] = field(default_factory=dict)


def read_history(
    settings: AlphaHubConfig,
    algorithms: Sequence[int],
    since: datetime,
    token: str | None = None,
    *,
    keep_answers: bool = False,
) -> HistoryRead:
    """Each algorithm's history legs since ``since``'s day, or why it could not be read.
    ``token``: a session token already held (the running bot's); else one login.
    ``keep_answers``: keep the raw legs too (:attr:`HistoryRead.answers`).

    The one client of AlphaHub's history outside the running bot's backfill: the coverage
    audit, ``tradebot track`` and ``tradebot replay --from/--to`` all read through it."""
    # imported here: the client (requests, and the alphahub package's websockets) costs a
    # fifth of a second to load, and `tradebot track --offline` never reads a history
    from tradebot.alphahub.history import fetch_history, parse_history

    read = HistoryRead()
    if token is None:
        try:
            token = _login(settings)
        except TradebotError as exc:
            read.unavailable = dict.fromkeys(algorithms, f"not read: {exc}")
            return read
    # the service filters by day, in a zone it does not state: ask from the day before
    after = since.astimezone(settings.zone).date() - timedelta(days=1)
    for algo_id in algorithms:
        try:
            items = fetch_history(settings.url, token, algo_id, after, settings.request_timeout)
        except HistoryUnavailable as exc:
            read.unavailable[algo_id] = f"not read: the history answered {exc}"
            continue
        except TradebotError as exc:  # unreachable, 5xx: said, never raised
            read.unavailable[algo_id] = f"not read: {exc}"
            continue
        legs, bad = parse_history(algo_id, items, settings.zone)
        read.legs[algo_id] = legs
        read.bad[algo_id] = len(bad)
        if keep_answers:
            read.answers[algo_id] = items
    return read


def _login(settings: AlphaHubConfig) -> str:
    from tradebot.alphahub.auth import login

    if settings.email is None or settings.password is None:
        raise ConfigError(
            "no AlphaHub credentials (alphahub.email/password or ALPHAHUB_EMAIL/..._PASSWORD)"
        )
    grant = login(
        settings.url,
        settings.email.get_secret_value(),
        settings.password.get_secret_value(),
        settings.request_timeout,
    )
    return grant.token.get_secret_value()


def coverage_of(
    journal: Journal,
    settings: AlphaHubConfig | None,
    algorithms: Sequence[int],
    since: datetime,
    until: datetime,
    *,
    unread: str = "not read (--offline)",
    token: str | None = None,
) -> Coverage:
    """The audit of ``algorithms`` over ``since``..``until``; ``settings`` None: history not
    read (``unread`` says why), the journal's side only."""
    if settings is None:
        read = HistoryRead(unavailable=dict.fromkeys(algorithms, unread))
    else:
        read = read_history(settings, algorithms, since, token)
    return audit_read(journal, read, algorithms, since, until)


def audit_read(
    journal: Journal,
    read: HistoryRead,
    algorithms: Sequence[int],
    since: datetime,
    until: datetime,
) -> Coverage:
    """The audit of ``algorithms`` against a history already read: the one matching of history
    legs to the journal's (the coverage audit's, and ``tradebot track``'s legs never received,
    :mod:`.history_legs`)."""
    legs = journal_legs(journal, since, until, algorithms)
    if read.legs:
        legs += archived_legs(journal, read.legs, {leg.identity for leg in legs})
    return audit(algorithms, legs, read.legs, read.unavailable, since=since, until=until)


def archived_legs(
    journal: Journal, history: Mapping[int, Sequence[HistoryLeg]], known: AbstractSet[Identity]
) -> list[JournalLeg]:
    """The history's legs the journal holds no rows on but an archive moved out (their
    tombstones, :mod:`tradebot.journal.tombstones`): decided, not missed. A tombstone names the
    leg with its kind, which the history lacks, so both kinds are asked for."""
    asked: dict[str, Identity] = {}
    for legs in history.values():
        for leg in legs:
            if leg.side is None or leg.identity in known:
                continue
            for kind in LegKind:
                key = LegId(leg.algo_id, kind, leg.symbol, leg.side, leg.timestamp).key
                asked[key] = leg.identity
    found = journal.archived_legs(list(asked)) if asked else set()
    return [JournalLeg(identity, Fate.ARCHIVED) for identity in {asked[key] for key in found}]
