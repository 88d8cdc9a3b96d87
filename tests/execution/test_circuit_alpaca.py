"""The circuit breaker in front of the real Alpaca adapter (alpaca-py) and the local
Alpaca-compatible server on 127.0.0.1, whose fault knobs make it fail: answers 503, 429s past the
last retry, requests that hang past the client's timeout. Requests are counted at the server.

After ``failures`` submissions in a row without an answer, no order reaches the server; a leg
planned meanwhile is journaled ``broker_unavailable`` and left unanswered; the probe (the
account) closes the circuit once the server answers; the re-check then sends the held legs
(same client order ids) and trading resumes: every leg exactly once at the server. A refusal
of an order for its content is an answer and never opens it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.execution.fixed_planner import make_signal, simple_plan
from tradebot.broker.alpaca import AlpacaBroker
from tradebot.config.model import AlpacaConfig, Mode
from tradebot.core.signal import Signal
from tradebot.execution import Executor
from tradebot.execution.circuit import BROKER_UNAVAILABLE, BrokerCircuit, Circuit, CircuitChange
from tradebot.journal import EntryFilter, SqliteJournal, Status, open_journal
from tradebot.runtime.recheck import UnknownOutcomes
from tradebot.simulators.alpaca.faults import Fault
from tradebot.simulators.alpaca.server import AlpacaServer

KEY, SECRET = "PKCIRCUITTEST00001", "circuit-test-secret"
POST = ("POST", "/v2/orders")
ALWAYS = 100_000  # a fault for every request until the outage is over
RECEIVED = make_signal(1).received_at  # every test signal's


class Clock:
    """The breaker's monotonic clock, moved by the test: probes fall due when it says."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def signal(algo_id: int, symbol: str) -> Signal:
    return make_signal(algo_id, opens=((symbol, "buy", "100"),))


def adapter(server: AlpacaServer) -> AlpacaBroker:
    config = AlpacaConfig(
        url=server.url,
        stream_url=server.stream_url,
        data_url=server.url,
        timeout=0.3,
        max_attempts=2,
        first_retry_delay=0.01,
        max_retry_delay=0.02,
        max_retry_after=0.05,
        reconnect_delay=0.05,
    )
    return AlpacaBroker(config, Mode.PAPER, key_id=SecretStr(KEY), secret_key=SecretStr(SECRET))


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with AlpacaServer(key=KEY, secret=SECRET) as running:
        yield running


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with open_journal(tmp_path / "j.sqlite") as store:
        yield store


def posts(server: AlpacaServer) -> int:
    return sum(1 for request in list(server.requests) if request == POST)


OUTAGES = {
    "503 on every request": lambda m, p: Fault.error(503, times=ALWAYS, method=m, path=p),
    "429 past the last retry": lambda m, p: Fault.rate_limited("0", times=ALWAYS, method=m, path=p),
    "requests hang past the timeout": lambda m, p: Fault.hang(times=ALWAYS, method=m, path=p),
}


@pytest.mark.parametrize("outage", OUTAGES.values(), ids=list(OUTAGES))
async def test_an_outage_opens_the_circuit_holds_legs_and_the_probe_resumes_trading(
    server: AlpacaServer, journal: SqliteJournal, outage: object
) -> None:
    make = outage  # (method, path) -> Fault
    assert callable(make)
    clock, told = Clock(), list[CircuitChange]()
    async with adapter(server) as broker:
        breaker = BrokerCircuit(
            Circuit(failures=2, probe_every=15.0),
            journal,
            broker.account,
            notify=told.append,
            clock=clock,
        )
        executor = Executor(journal, broker, journal.rebuild_book(), circuit=breaker)
        server.add_fault(make("POST", "/v2/orders"))
        server.add_fault(make("GET", "/v2/account"))

        # two submissions without an answer: the second opens the circuit
        first = await executor.handle(signal(12, "AAPL"), simple_plan)
        assert breaker.allows(), "opened after one failure"
        second = await executor.handle(signal(13, "MSFT"), simple_plan)
        assert not breaker.allows() and [c.open for c in told] == [True]
        sent_before = posts(server)

        # planned while open: durable, not sent, journaled with the reason, left unanswered
        held = await executor.handle(signal(14, "NVDA"), simple_plan)
        (outcome,) = held.outcomes
        assert outcome.snapshot is None and (outcome.error or "").startswith(BROKER_UNAVAILABLE)
        coid = outcome.intent.client_order_id
        rows = journal.entries(EntryFilter(statuses=(Status.ERROR,), client_order_ids=(coid,)))
        assert [r.detail.split(":")[0] for r in rows] == [BROKER_UNAVAILABLE]
        unanswered = {s.intent.client_order_id for s in journal.unresolved_intents(unanswered=True)}
        assert coid in unanswered
        assert posts(server) == sent_before, "an order reached the broker while open"

        # the probe falls due every 15 s of the monotonic clock; unanswered, it stays open
        clock.now += 14.0
        await breaker.step()
        reads = server.requests.count(("GET", "/v2/account"))
        clock.now += 1.0
        await breaker.step()
        assert server.requests.count(("GET", "/v2/account")) > reads
        assert not breaker.allows()
        assert posts(server) == sent_before

        # the broker is back: the next probe closes the circuit
        server.clear_faults()
        server.release()  # held requests go on (an order the client gave up on may land now)
        clock.now += 15.0
        await breaker.step()
        assert breaker.allows() and [c.open for c in told] == [True, False]

        # the re-check settles every unanswered leg: the held one is sent (fresh), once
        recheck = UnknownOutcomes(
            executor,
            journal,
            busy=asyncio.Lock(),
            stopping=asyncio.Event(),
            interval=1.0,
            max_age=timedelta(minutes=5),
            now=lambda: RECEIVED + timedelta(seconds=30),
            say=lambda line: None,
            may_act=breaker.allows,
        )
        await recheck.step()
        after = await executor.handle(signal(15, "TSLA"), simple_plan)  # trading resumes
        assert after.outcomes[0].snapshot is not None
    for result in (first, second, held, after):
        (intent,) = result.plan.intents
        assert len(server.orders(intent.client_order_id)) == 1, intent.symbol
    assert len(server.orders()) == 4
    assert not journal.unresolved_intents(unanswered=True)


async def test_while_open_the_recheck_waits_for_the_circuit(
    server: AlpacaServer, journal: SqliteJournal
) -> None:
    """The re-check asks the broker nothing while the circuit is open (no lookups it cannot
    answer, holding the signal lock), and sends nothing."""
    clock = Clock()
    async with adapter(server) as broker:
        breaker = BrokerCircuit(
            Circuit(failures=1, probe_every=15.0), journal, broker.account, clock=clock
        )
        executor = Executor(journal, broker, journal.rebuild_book(), circuit=breaker)
        server.add_fault(Fault.error(503, times=ALWAYS))
        await executor.handle(signal(12, "AAPL"), simple_plan)
        assert not breaker.allows()
        server.clear_faults()  # the broker would answer, but the circuit has not probed yet
        recheck = UnknownOutcomes(
            executor,
            journal,
            busy=asyncio.Lock(),
            stopping=asyncio.Event(),
            interval=1.0,
            max_age=timedelta(minutes=5),
            now=lambda: RECEIVED,
            say=lambda line: None,
            may_act=breaker.allows,
        )
        requests = len(server.requests)
        await recheck.step()
        assert len(server.requests) == requests
        assert server.orders() == []


async def test_a_refusal_for_the_orders_content_is_an_answer(
    server: AlpacaServer, journal: SqliteJournal
) -> None:
    """failed, refused (422), failed: two failures, but not in a row: still closed, and the
    next order goes out."""
    async with adapter(server) as broker:
        breaker = BrokerCircuit(Circuit(failures=2, probe_every=15.0), journal, broker.account)
        executor = Executor(journal, broker, journal.rebuild_book(), circuit=breaker)
        server.add_fault(Fault.error(503, times=2))  # both attempts of the first order
        await executor.handle(signal(12, "AAPL"), simple_plan)
        server.add_fault(Fault.error(422))
        refused = await executor.handle(signal(13, "MSFT"), simple_plan)
        assert (refused.outcomes[0].error or "").startswith("rejected")
        for algo_id in range(20, 25):  # refusals never count, however many
            server.add_fault(Fault.error(403))
            await executor.handle(signal(algo_id, "MSFT"), simple_plan)
        server.add_fault(Fault.error(503, times=2))
        await executor.handle(signal(14, "NVDA"), simple_plan)
        assert breaker.allows()
        sent = await executor.handle(signal(15, "TSLA"), simple_plan)
        assert sent.outcomes[0].snapshot is not None
