"""What the coverage audit (:mod:`.coverage`) is computed from: the journal's decided legs and
AlphaHub's signal history. The I/O edge; blocking (run it off the loop).

The journal side: every row that is a decision on a leg (``leg``, ``leg_rejected``,
``skipped``: :data:`~tradebot.journal.tombstones.DECIDED`), its fate from its signal's
``source`` (``live`` or ``backfill``) and, for a leg skipped ``missed_stale``, late.

The history side: one login, then one read per algorithm (:func:`fetch_history`). A read that
fails never raises: the algorithm's reason goes to ``unavailable`` (no credentials, the login
refused, AlphaHub unreachable, the endpoint missing or odd) and the audit says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tradebot.alphahub.auth import login
from tradebot.alphahub.history import HistoryLeg, fetch_history, parse_history
from tradebot.config.alphahub_section import AlphaHubConfig
from tradebot.core.orders import SkipReason
from tradebot.core.signal import SignalSource, parse_leg_key
from tradebot.exceptions import ConfigError, HistoryUnavailable, TradebotError
from tradebot.journal.interface import EntryFilter, Journal
from tradebot.journal.records import Status
from tradebot.journal.tombstones import DECIDED
from tradebot.tracking.coverage import Coverage, Fate, JournalLeg, audit

#: how long before a leg's time its signal row may have been written (clocks disagree a little)
SKEW = timedelta(hours=1)


def journal_legs(journal: Journal, since: datetime, until: datetime) -> list[JournalLeg]:
    """The legs timed in ``since``..``until`` the journal decided on, each with its fate."""
    sources: dict[int, str] = {}
    where = EntryFilter(statuses=(Status.SIGNAL,), since=since - SKEW, newest_first=False)
    for entry in journal.iter_entries(where):
        sources[entry.id] = str(entry.data.get("source") or SignalSource.LIVE)
    out: list[JournalLeg] = []
    where = EntryFilter(statuses=DECIDED, since=since - SKEW, newest_first=False)
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
    legs: dict[int, list[HistoryLeg]] = field(default_factory=dict)
    unavailable: dict[int, str] = field(default_factory=dict)


def read_history(
    settings: AlphaHubConfig, algorithms: Sequence[int], since: datetime, token: str | None = None
) -> HistoryRead:
    """Each algorithm's history legs since ``since``'s day, or why it could not be read.
    ``token``: a session token already held (the running bot's); else one login."""
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
        legs, _ = parse_history(algo_id, items, settings.zone)
        read.legs[algo_id] = legs
    return read


def _login(settings: AlphaHubConfig) -> str:
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
    legs = journal_legs(journal, since, until)
    if settings is None:
        read = HistoryRead(unavailable=dict.fromkeys(algorithms, unread))
    else:
        read = read_history(settings, algorithms, since, token)
    return audit(algorithms, legs, read.legs, read.unavailable, since=since, until=until)
