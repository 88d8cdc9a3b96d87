"""The exit cover's guards, each from both sides: shares the algorithm's own live exits already
cover get no second exit; shares other algorithms' exits cover do not shrink the algorithm's
own cover (only the account's); the account's cover is bounded by what the account holds.

Each case holds the other bounds wide open, so the one guard under test is the only one that
can give the expected answer (dropping or swapping it changes the result)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradebot.execution.exit_rules import exit_cover


def cover(
    filled: str,
    *,
    ledger: str,
    account: str,
    mine: str = "0",
    everyones: str = "0",
    direction: int = 1,
) -> D:
    return exit_cover(
        D(filled),
        direction,
        ledger=D(ledger),
        account=D(account),
        covered_for_algo=D(mine),
        covered_in_account=D(everyones),
        symbol="AAPL",
    ).qty


def test_shares_the_algorithms_own_live_exits_cover_get_no_second_exit() -> None:
    # algorithm 16 holds 10, 4 of them held for its own live stop; another algorithm holds
    # 10 more, so the account (20, 4 covered) does not bound it: 6 are left to cover
    found = exit_cover(
        D(10),
        1,
        ledger=D(10),
        account=D(20),
        covered_for_algo=D(4),
        covered_in_account=D(4),
        symbol="AAPL",
    )
    assert found.qty == D(6)
    assert found.why_less == ("the algorithm's ledger leaves 6 AAPL to cover",)


def test_other_algorithms_exits_do_not_shrink_the_algorithms_own_cover() -> None:
    # the other side: the 4 covered belong to the other algorithm's exits; all 10 of 16's
    # shares are uncovered, and the account's 20 less 4 leaves room for them
    assert cover("10", ledger="10", account="20", mine="0", everyones="4") == D(10)


def test_the_account_bound_counts_every_algorithms_exits() -> None:
    # the account nets to 12, of which 4 are held for another algorithm's exits: 8 are left
    assert cover("10", ledger="10", account="12", mine="0", everyones="4") == D(8)
    assert cover("10", ledger="10", account="12", mine="0", everyones="0") == D(10)


@pytest.mark.parametrize(("mine", "expected"), [("0", "10"), ("3", "7"), ("10", "0"), ("12", "0")])
def test_a_short_is_covered_the_same_way(mine: str, expected: str) -> None:
    assert cover("10", ledger="-10", account="-30", mine=mine, everyones=mine, direction=-1) == D(
        expected
    )
