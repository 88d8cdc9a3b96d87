"""The faster tracking (issue 24) gives the figures the slower code gave, to the last digit:
each ledger's replay equals the reference replay (``reference_chain``: the chain as it was
written before) on generated periods, with ties in time and id; the rules in force, remembered
per record and algorithm, are the record's own; the allocations the basis points compare are
the ones every leg's rules give; and a history never read (``--offline``) is said for each
algorithm as the full comparison with an unread history says it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tracking import reference_chain
from tests.tracking.history import ALGO, OPS, Clock, play
from tests.tracking.test_chain import histories, notional_1000
from tests.tracking.test_rules_in_force import CONFIG, EQUITY, SCENE
from tradebot.config.loader import load_config
from tradebot.journal import open_journal
from tradebot.tracking.chain import ideal_sizes, ledger_outcome, stages
from tradebot.tracking.facts import Fill, LegFact, Period
from tradebot.tracking.history_legs import NO_START, Unread, never_received
from tradebot.tracking.journal_facts import read_periods
from tradebot.tracking.rules_in_force import LegSizer, Unrecorded, allocations_seen, read_rules
from tradebot.tracking.sizing import trusted_strategies

D = Decimal
ALGOS = (ALGO, 6, 7, 8)  # the config's four, each its own strategy
MINUTE = 60 * 1_000_000  # in the journal's microseconds
END = datetime(2030, 1, 1, tzinfo=UTC)  # after every generated leg


def _tangled(period: Period) -> Period:
    """The period with its times folded onto a few (many ties, and times out of the ids'
    order, the legs listed newest first): the replay's order is the (time, id) sort's."""

    def at(t: int) -> int:
        return t % 7 * 1000

    def fill(f: Fill) -> Fill:
        return f._replace(at=at(f.at))

    legs = tuple(
        leg._replace(
            at=at(leg.at),
            orders=tuple(
                dataclasses.replace(o, fills=tuple(fill(f) for f in o.fills)) for o in leg.orders
            ),
        )
        for leg in reversed(period.legs)  # and listed out of order
    )
    exits = tuple(e._replace(fill=fill(e.fill)) for e in period.exits)
    strays = tuple(e._replace(fill=fill(e.fill)) for e in period.unattributed)
    return dataclasses.replace(period, legs=legs, exits=exits, unattributed=strays)


def by_holdings(leg: LegFact, held: Mapping[str, Decimal]) -> Decimal | None:
    """A sizer that reads the ideal's holdings: a quarter share more for each one held."""
    return D(1) + sum((abs(q) for q in held.values()), D(0)) / 4


@settings(max_examples=300, deadline=None)
@given(histories(), st.booleans())
def test_each_ledger_is_the_reference_replay(period: Period, tangle: bool) -> None:
    if tangle:
        period = _tangled(period)
    # sized by what the ideal holds then: the legs' order decides each size
    assert ideal_sizes(period, by_holdings) == reference_chain.ideal_sizes(period, by_holdings)
    ideal = ideal_sizes(period, notional_1000)
    for _name, stage in stages(period):
        fast: list[tuple[int, Decimal]] = []
        slow: list[tuple[int, Decimal]] = []
        assert ledger_outcome(period, stage, ideal, fast) == reference_chain.ledger_outcome(
            period, stage, ideal, slow
        )
        assert fast == slow  # the curve: every trade in the same order


def _journal(folder: Path, ops: list[tuple[Any, ...]]) -> tuple[Path, Any]:
    path = folder / "journal.sqlite"
    path.unlink(missing_ok=True)
    (folder / "config.yaml").write_text(CONFIG, encoding="utf-8")
    clock = Clock()
    with open_journal(path, clock=clock) as journal:
        play(journal, clock, ops, {})
    return path, load_config(folder / "config.yaml", env={})


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPS, st.sampled_from([None, 0, 3]))
def test_rules_and_allocations_are_the_records_own(
    tmp_path: Path, ops: list[tuple[Any, ...]], since_minutes: int | None
) -> None:
    path, config = _journal(tmp_path, ops)
    with open_journal(path, readonly=True) as journal:
        rules = read_rules(journal, until=None, trusted=trusted_strategies(config))
        (period,) = read_periods(journal, [ALGO], since=None, until=None).values()
    # each leg's moment, each record's own and the moment before it
    moments = [(leg.at, leg.seq) for leg in period.legs]
    moments += [(r.at, r.row - d) for r in rules.records for d in (0, 1)]
    for algo in ALGOS:
        for moment in moments:
            # the record in force at (time, id), asked directly
            older = [r for r in rules.records if (r.at, r.row) <= moment]
            assert rules.at(algo, *moment) == (older[-1].of(algo) if older else Unrecorded())
        sizer = LegSizer(rules, algo, config.algorithms[algo].sizer, EQUITY)
        ideal_sizes(dataclasses.replace(period, algo_id=algo), sizer)
        since = None
        if since_minutes is not None and period.legs:
            since = period.legs[0].at + since_minutes * MINUTE
        current = config.algorithms[algo].sizer
        assert allocations_seen(sizer.used, current, EQUITY, since) == (
            reference_chain.allocations_seen(sizer.used, current, EQUITY, since)
        )


def test_the_allocations_seen_are_those_in_force_from_the_periods_start(tmp_path: Path) -> None:
    path, config = _journal(tmp_path, SCENE)  # an allocation changed mid-period
    with open_journal(path, readonly=True) as journal:
        rules = read_rules(journal, until=None, trusted=trusted_strategies(config))
        (period,) = read_periods(journal, [ALGO], since=None, until=None).values()
    current = config.algorithms[ALGO].sizer
    sizer = LegSizer(rules, ALGO, current, EQUITY)
    ideal_sizes(period, sizer)
    seen = []
    for since in [None, *(leg.at for leg in period.legs)]:
        fast = allocations_seen(sizer.used, current, EQUITY, since)
        assert fast == reference_chain.allocations_seen(sizer.used, current, EQUITY, since)
        seen.append(fast)
    assert seen[0] != seen[-1]  # the scene's allocations do change


class _Reads:
    """A reader that reads nothing, as :class:`Unread`, but is not one: the full comparison."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __call__(self, algorithms: Any, since: Any) -> Any:
        return Unread(self.reason)(algorithms, since)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPS, st.booleans())
def test_a_history_never_read_is_said_as_the_full_comparison_says_it(
    tmp_path: Path, ops: list[tuple[Any, ...]], garble: bool
) -> None:
    path, _ = _journal(tmp_path, ops)
    with open_journal(path, readonly=True) as journal:
        periods = read_periods(journal, [ALGO, 6], since=None, until=None)
        if garble:  # keys that are no leg's (a journal edited by hand): no start to read from
            first = periods[ALGO]
            legs = tuple(leg._replace(key=f"x{leg.key}") for leg in first.legs)
            periods[ALGO] = dataclasses.replace(first, legs=legs)
        reason = "not read (--offline)"
        fast = never_received(journal, periods, Unread(reason), until=END)
        slow = never_received(journal, periods, _Reads(reason), until=END)
    assert fast == slow
    assert fast[6].reason == NO_START  # no leg of it in the journal
    if periods[ALGO].legs and not garble:
        assert fast[ALGO].reason == reason
