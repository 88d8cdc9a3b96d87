"""The broker circuit breaker's rules, on an injected monotonic clock: it opens after exactly
``failures`` failures in a row, an answer (an order, a refusal, a probe) starts the count again,
it probes every ``probe_every`` seconds while open and closes only on an answer. The driver
(:class:`BrokerCircuit`) journals each change before it tells anyone. Hypothesis runs the rules
over sequences of outcomes against a model of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.exceptions import AuthenticationError, BrokerUnavailable
from tradebot.execution.circuit import BROKER_UNAVAILABLE, BrokerCircuit, Circuit, CircuitChange
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal


def test_opens_after_exactly_the_configured_failures_in_a_row() -> None:
    circuit = Circuit(failures=3, probe_every=15.0)
    assert circuit.failed(1.0, "503") is None
    assert circuit.failed(2.0, "503") is None
    assert not circuit.is_open
    change = circuit.failed(3.0, "timed out")
    assert change == CircuitChange(True, 3, "timed out")
    assert circuit.is_open and circuit.opened_at == 3.0
    assert circuit.failed(4.0, "503") is None  # opened once, told once


def test_an_answer_starts_the_count_again() -> None:
    circuit = Circuit(failures=3, probe_every=15.0)
    for now in (1.0, 2.0):
        circuit.failed(now, "503")
    assert circuit.answered(2.5) is None  # closed already: nothing to tell
    circuit.failed(3.0, "503")
    circuit.failed(4.0, "503")
    assert not circuit.is_open  # two in a row, not four


def test_probes_every_probe_every_seconds_while_open_and_never_while_closed() -> None:
    circuit = Circuit(failures=1, probe_every=15.0)
    assert not circuit.probe_due(1000.0)  # closed: nothing to probe
    circuit.failed(100.0, "refused")
    assert not circuit.probe_due(114.9)
    assert circuit.probe_due(115.0)
    circuit.probed(115.2)  # no answer
    assert circuit.is_open
    assert not circuit.probe_due(130.1)
    assert circuit.probe_due(130.2)


def test_closes_on_the_first_answer_saying_how_long_it_was_open() -> None:
    circuit = Circuit(failures=2, probe_every=15.0)
    circuit.failed(10.0, "a")
    circuit.failed(20.0, "b")
    change = circuit.answered(65.5)
    assert change == CircuitChange(False, 2, "b", 45.5)
    assert not circuit.is_open and not circuit.probe_due(1000.0)
    assert circuit.failures == 0


@pytest.mark.parametrize(("failures", "probe_every"), [(0, 15.0), (5, 0.0), (5, -1.0)])
def test_nonsense_settings_are_refused(failures: int, probe_every: float) -> None:
    with pytest.raises(ValueError):
        Circuit(failures=failures, probe_every=probe_every)


# -- hypothesis: the rules against a model of them --------------------------------------------

OUTCOMES = st.lists(
    st.tuples(
        st.sampled_from(["fail", "answer", "send", "probe"]),
        st.floats(min_value=0.0, max_value=20.0, allow_nan=False),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(failures=st.integers(1, 6), probe_every=st.floats(0.5, 15.0), outcomes=OUTCOMES)
def test_never_sends_while_open_and_closes_only_on_an_answer(
    failures: int, probe_every: float, outcomes: list[tuple[str, float]]
) -> None:
    """A driver that sends only when :meth:`allows` would: no send ever happens while the
    circuit is open; it opens exactly at ``failures`` consecutive failures; it closes only on
    an answer; a probe is due only while open and never sooner than ``probe_every`` after the
    opening or the last probe."""
    circuit = Circuit(failures=failures, probe_every=probe_every)
    now, in_a_row, opened, last_probe_or_open = 0.0, 0, False, 0.0
    for kind, step in outcomes:
        now += step
        was_open = circuit.is_open
        if kind == "fail":
            change = circuit.failed(now, "x")
            in_a_row += 1
            assert (change is not None) == (not was_open and in_a_row == failures)
            if change is not None:
                opened, last_probe_or_open = True, now
        elif kind == "answer":
            change = circuit.answered(now)
            in_a_row = 0
            assert (change is not None) == was_open
            opened = False
        elif kind == "send":
            # the executor asks before each order; it sends only when the circuit is closed
            assert circuit.is_open == opened
            if not circuit.is_open:
                in_a_row = 0  # the order went out and was answered
                circuit.answered(now)
        else:  # the follower's tick
            due = circuit.probe_due(now)
            assert due == (opened and now >= last_probe_or_open + probe_every)
            if due:
                circuit.probed(now)
                last_probe_or_open = now
        assert circuit.is_open == opened, "opened or closed without the rule's cause"
        if was_open and not circuit.is_open:
            assert kind == "answer", "closed without an answer"


# -- the driver: journal first, then tell; probes on the follower's tick ----------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Probe:
    """A scripted probe: raises what it is given, else answers; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: BaseException | None = BrokerUnavailable("broker unreachable (refused)")

    async def __call__(self) -> object:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return "account"


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "j.sqlite") as store:
        yield store


async def test_the_driver_journals_each_change_and_probes_only_when_due(
    journal: SqliteJournal,
) -> None:
    clock, probe, told = Clock(), Probe(), list[CircuitChange]()

    def tell(change: CircuitChange) -> None:
        # journaled before anyone is told
        rows = journal.entries(EntryFilter(statuses=(Status.ERROR, Status.RECOVERY)))
        assert len(rows) == len(told) + 1
        told.append(change)

    breaker = BrokerCircuit(
        Circuit(failures=2, probe_every=15.0), journal, probe, notify=tell, clock=clock
    )
    assert breaker.allows() and breaker.interval == 1.0
    await breaker.step()
    assert probe.calls == 0  # closed: no probe
    await breaker.failed(BrokerUnavailable("HTTP 503: down"))
    await breaker.failed(BrokerUnavailable("HTTP 503: still down"))
    assert not breaker.allows() and [c.open for c in told] == [True]
    (row,) = journal.entries(EntryFilter(statuses=(Status.ERROR,)))
    assert row.detail.startswith(BROKER_UNAVAILABLE) and "still down" in row.detail
    assert breaker.refusal().startswith(f"{BROKER_UNAVAILABLE}: not sent")

    clock.now += 14.0
    await breaker.step()
    assert probe.calls == 0  # not due yet
    clock.now += 1.0
    await breaker.step()
    assert probe.calls == 1 and not breaker.allows()  # no answer: still open
    clock.now += 1.0
    await breaker.step()
    assert probe.calls == 1  # the next one is 15 s after this one
    probe.error = None
    clock.now += 14.0
    await breaker.step()
    assert probe.calls == 2 and breaker.allows()
    assert [c.open for c in told] == [True, False] and told[1].open_for == 30.0
    (closed,) = journal.entries(EntryFilter(statuses=(Status.RECOVERY,)))
    assert closed.detail.startswith("broker circuit closed")


async def test_a_refused_login_while_probing_stops_the_bot(journal: SqliteJournal) -> None:
    clock, probe = Clock(), Probe()
    breaker = BrokerCircuit(Circuit(failures=1, probe_every=1.0), journal, probe, clock=clock)
    await breaker.failed("refused")
    probe.error = AuthenticationError("Alpaca refused the API keys (HTTP 401)")
    clock.now += 1.0
    with pytest.raises(AuthenticationError):
        await breaker.step()
    assert not breaker.allows()
