"""One account's broker fails (5xx on every order, requests held unanswered, logins refused)
while the other's is healthy: the healthy account receives every leg while the failing one's
broker still fails, and once the failing broker answers again, its account's legs reach it
exactly once. Each broker's positions then equal the journal's book of its account. With 5xx,
the failing account's circuit breaker opens, and the healthy account's stays closed and sends.

"While" is an event, not a time: the healthy account's orders are all at its server while the
failing server has taken none (its requests refused or held), with the fault still on."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.accounts_harness import (
    FAMILY,
    MAIN,
    AccountServer,
    assert_every_order_is_its_accounts,
    journal_positions,
    running_accounts,
    server_orders,
    server_positions,
    settled,
    signatures,
)
from tests.e2e.harness import entries, leg, until
from tradebot.journal.records import Status
from tradebot.simulators.alpaca.faults import Fault

LOTS = 10_000  # a fault that outlasts the test


def _errors(server: AccountServer) -> None:
    server.add_fault(Fault.error(503, times=LOTS))


def _hangs(server: AccountServer) -> None:
    server.add_fault(Fault.hang(times=LOTS))


def _refuses(server: AccountServer) -> None:
    server.refusing = True


def _heal(server: AccountServer) -> None:
    server.refusing = False
    server.clear_faults()
    server.release()


FAULTS: dict[str, Callable[[AccountServer], None]] = {
    "5xx": _errors,
    "hanging": _hangs,
    "refusing_logins": _refuses,
}


def _failed_so_far(server: AccountServer, fault: str) -> bool:
    """The failing server has been asked (and failed) at least once."""
    if fault == "hanging":
        return server.held >= 1
    if fault == "5xx":
        return any(r == ("POST", "/v2/orders") for r in server.requests)
    return True  # a refused login is no request the server records: nothing to wait for


def _circuit_open(journal: Path, account: str) -> bool:
    """Whether ``account``'s circuit breaker opened (its ERROR row, execution/circuit.py)."""
    rows = entries(journal, statuses=(Status.ERROR,), accounts=(account,))
    return any("broker circuit open" in e.detail for e in rows)


def _holds(server: AccountServer, count: int) -> bool:
    return len(server_orders(server)) == count


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_one_accounts_broker_failing_leaves_the_other_on_time(
    tmp_path: Path, fault: str
) -> None:
    # refused logins from the start (the bot's start-up meets them); the others once running
    before = (lambda s: _refuses(s[FAMILY])) if fault == "refusing_logins" else None
    async with running_accounts(tmp_path, [MAIN, FAMILY], before_start=before) as accounts:
        main, family = accounts.servers[MAIN], accounts.servers[FAMILY]
        FAULTS[fault](family)
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        frames = [
            (16, {"open": [leg("JBHT", "buy", "168.56", at), leg("ILMN", "buy", "414.60", at)]}),
            (14, {"open": [leg("VRTX", "buy", "216.08", at)]}),
            (17, {"open": [leg("AAPL", "buy", "189.50", at)]}),
        ]
        #: pushed once the family broker has failed (with 5xx, once its circuit is open)
        late = {"open": [leg("NVDA", "buy", "131.20", at)]}
        sent = 0
        for algo_id, payload in frames:
            accounts.move_market(payload)
            await accounts.hub.push(algo_id, payload)
            sent += len(payload["open"])
            # the healthy account's orders arrive while the other's broker still fails
            await until(functools.partial(_holds, main, sent), f"main's first {sent} orders")
        await until(lambda: _failed_so_far(family, fault), f"the family broker {fault}")
        if fault == "5xx":
            # family's circuit breaker opens (its own: main's stays closed, main still sends)
            opened = functools.partial(_circuit_open, accounts.journal, FAMILY)
            await until(opened, "family's circuit open")
            assert not _circuit_open(accounts.journal, MAIN)
        accounts.move_market(late)
        await accounts.hub.push(18, late)
        sent += 1
        await until(functools.partial(_holds, main, sent), f"main's {sent} orders")
        assert server_orders(family) == [], "the failing broker took an order"
        assert {o["status"] for o in server_orders(main)} == {"filled"}

        _heal(family)
        await until(lambda: len(server_orders(family)) == 5, "family's orders once it answers")
        await settled(accounts)
        assert await accounts.bot.stop() == 0
    assert_every_order_is_its_accounts(accounts.servers)
    both = signatures(main)
    assert sorted((a, s, side) for a, s, side, _q, _r in both) == sorted(
        (a, s, side) for a, s, side, _q, _r in signatures(family)
    )
    assert server_positions(main) == {
        "JBHT": Decimal(10),
        "ILMN": Decimal(10),
        "VRTX": Decimal(10),
        "AAPL": Decimal(26),
        "NVDA": Decimal(38),
    }
    assert server_positions(family) == {
        "JBHT": Decimal(3),
        "ILMN": Decimal(3),
        "VRTX": Decimal(3),
        "AAPL": Decimal(10),
        "NVDA": Decimal(15),
    }
    for name, server in accounts.servers.items():
        assert journal_positions(accounts.journal, name) == server_positions(server), name
