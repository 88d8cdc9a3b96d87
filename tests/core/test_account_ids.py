"""Client order ids carry the account that decided them (issue 22): two accounts deciding the
same leg at one broker never share an id, the default account's ids are what they always were,
and every id, derived ones included, fits Alpaca's 48 characters and names its account."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebot.core.ids import (
    ACCOUNT_NAME,
    DEFAULT_ACCOUNT,
    MAX_ACCOUNT_NAME,
    MAX_CLIENT_ORDER_ID,
    account_of,
    attempt_of,
    client_order_id,
    exit_id,
    exit_parts,
    leg_exit_id,
    remainder_id,
    resend_id,
    split_account,
)
from tradebot.core.signal import LegId, LegKind, Side

OPEN = LegId(16, LegKind.OPEN, "JBHT", Side.BUY, datetime(2021, 4, 26, 14, 30, 1, tzinfo=UTC))

names = st.from_regex(ACCOUNT_NAME, fullmatch=True)
symbols = st.from_regex(r"[A-Z][A-Z0-9.]{0,15}", fullmatch=True)
algos = st.integers(min_value=1, max_value=10**6)
roles = st.sampled_from(["open", "close", "open2", "close2"])
attempts = st.integers(min_value=0, max_value=99)
stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def legs(draw: st.DrawFn) -> LegId:
    kind = draw(st.sampled_from(list(LegKind)))
    side = draw(st.sampled_from(list(Side)))
    return LegId(draw(algos), kind, draw(symbols), side, draw(stamps))


def _family(cid: str) -> list[str]:
    """An id and every id derived from it: re-sends, the remainder, the exits (of the re-send
    too), each as the executor makes them."""
    out = [cid, remainder_id(cid)]
    for attempt in (1, 9, 12):
        again = resend_id(cid, attempt)
        out += [again, remainder_id(again), *(exit_id(again, k) for k in ("tp", "sl", "ts"))]
    out += [exit_id(cid, k) for k in ("tp", "sl", "ts")]
    return out


def test_the_default_accounts_ids_are_byte_for_byte_what_they_were() -> None:
    # pinned before accounts existed (tests/core/test_ids.py): journals and recoveries rely on it
    assert client_order_id("PA123", [OPEN], "open") == "tb16-JBHT-o-3b7300fd113a9b99"
    assert (
        client_order_id("PA123", [OPEN], "open", account=DEFAULT_ACCOUNT)
        == "tb16-JBHT-o-3b7300fd113a9b99"
    )
    assert account_of("tb16-JBHT-o-3b7300fd113a9b99") == DEFAULT_ACCOUNT
    # the over-long shapes too (absurd algorithm ids, long re-sends)
    huge = LegId(10**30, LegKind.OPEN, "ABCDEFGHIJKLMNOP", Side.SELL, OPEN.timestamp)
    assert client_order_id("X", [huge], "open") == "tb-66bfdad92c9d7225-83aff35454198bf0"
    assert resend_id("x" * 48, 3) == "tb-a3c5070fc93ecf1c8839e0b6-a3"
    assert remainder_id("x" * 47) == "tb-de5264c3eec69d421fbd7bdb-m"
    assert exit_id("x" * 46, "tp") == "tb-404e0d6b65bc5eac7177b4e6-tp"


def _before_accounts(account_id: str, leg: LegId, role: str, attempt: int) -> list[str]:
    """The ids as tradebot made them before accounts existed (ids.py at e8284ad), verbatim:
    the reference the default account must keep matching."""

    def h(text: str, n: int) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:n]

    digest = h("\n".join([account_id, role, leg.key]), 16)
    cid = f"tb{leg.algo_id}-{re.sub(r'[^A-Z0-9]', '', leg.symbol)[:12]}-{role[:1]}-{digest}"
    cid += f"-a{attempt}" if attempt else ""
    cid = f"tb-{digest}-{h(cid, 16)}" if len(cid) > 48 else cid
    resent = re.sub(r"(?<=[0-9a-f]{16})-a(\d+)$", "", cid) + "-a7"  # fixed: see below
    resent = f"tb-{h(resent, 24)}-a7" if len(resent) > 48 else resent
    rest = f"{cid}-m"
    rest = f"tb-{h(rest, 24)}-m" if len(rest) > 48 else rest
    tp = f"{cid}-tp" if len(cid) + 3 <= 48 else f"tb-{h(cid, 24)}-tp"
    return [cid, resent, rest, tp]


@given(legs(), roles, attempts, st.text(max_size=40))
def test_default_ids_match_the_ids_made_before_accounts(
    leg: LegId, role: str, attempt: int, broker: str
) -> None:
    cid = client_order_id(broker, [leg], role, attempt)
    assert [cid, resend_id(cid, 7), remainder_id(cid), exit_id(cid, "tp")] == _before_accounts(
        broker, leg, role, attempt
    )


def test_another_account_deciding_the_same_leg_gets_its_own_id_that_names_it() -> None:
    default = client_order_id("PA123", [OPEN], "open")
    family = client_order_id("PA123", [OPEN], "open", account="family")
    main = client_order_id("PA123", [OPEN], "open", account="main")
    assert len({default, family, main}) == 3
    assert family.startswith("family.tb16-JBHT-o-") and account_of(family) == "family"
    assert split_account(main) == ("main", main.removeprefix("main."))
    # the digest carries the account too, not only the visible prefix
    assert family.rsplit("-", 1)[1] != default.rsplit("-", 1)[1]
    # derived ids stay the account's
    assert account_of(resend_id(family, 2)) == "family" == account_of(remainder_id(family))
    assert resend_id(family, 2) == client_order_id("PA123", [OPEN], "open", 2, account="family")
    assert exit_parts(exit_id(family, "sl")) == (family, "sl")
    assert leg_exit_id(exit_id(family, "tp"), "stop") == exit_id(family, "sl")


def test_invalid_account_names_are_refused() -> None:
    for bad in ("", "Main", "a.b", "x" * (MAX_ACCOUNT_NAME + 1), "é"):
        with pytest.raises(ValueError, match="account name"):
            client_order_id("PA123", [OPEN], "open", account=bad)


def test_an_id_that_only_looks_prefixed_is_the_defaults() -> None:
    # a foreign order's id, or a name that no account may have: never read as an account
    for foreign in ("Main.x", "default.tb1-A-o-0", "x" * 17 + ".tb1", "uuid-like"):
        assert account_of(foreign) == DEFAULT_ACCOUNT


@given(names, legs(), roles, attempts, st.text(max_size=40))
def test_every_id_fits_alpaca_and_names_its_account(
    name: str, leg: LegId, role: str, attempt: int, broker: str
) -> None:
    cid = client_order_id(broker, [leg], role, attempt, account=name)
    for derived in _family(cid):
        assert len(derived) <= MAX_CLIENT_ORDER_ID, derived
        assert account_of(derived) == name
    if not split_account(cid)[1].startswith("tb-"):  # not hashed: the attempt is readable
        assert attempt_of(cid) == attempt
    assert client_order_id(broker, [leg], role, attempt, account=name) == cid  # deterministic


@given(names, names, legs(), roles, attempts, attempts)
def test_two_accounts_never_share_an_id_or_a_derived_one(
    first: str, second: str, leg: LegId, role: str, a1: int, a2: int
) -> None:
    if first == second:
        return
    ours = set(_family(client_order_id("PA1", [leg], role, a1, account=first)))
    theirs = set(_family(client_order_id("PA1", [leg], role, a2, account=second)))
    assert not ours & theirs


def test_the_longest_name_with_the_longest_other_parts_fits() -> None:
    name = "z" * MAX_ACCOUNT_NAME
    leg = LegId(999999, LegKind.CLOSE, "ABCDEFGHIJKLMNOP", Side.SELL, OPEN.timestamp)
    cid = client_order_id("PA" * 20, [leg], "close2", 99, account=name)
    assert account_of(cid) == name
    for derived in _family(cid):
        assert len(derived) <= MAX_CLIENT_ORDER_ID
    # a usual algorithm and symbol keep their readable part, and room for the suffixes
    short = client_order_id("PA1", [OPEN], "open", account=name)
    assert short.startswith(f"{name}.tb16-J")
    assert exit_id(resend_id(short, 1), "tp") == f"{short}-a1-tp"


def test_a_digest_that_reads_like_an_attempt_is_no_attempt() -> None:
    # 1 id in ~17,000 has a digest of "a" and 15 digits: it was read as attempt 916368320911968
    # and a re-send cut the digest off (every such order of the leg's algo, symbol and role
    # re-sent as the same "tb16-JBHT-o-a1")
    cid = client_order_id("PA24696", [OPEN], "open")
    assert cid == "tb16-JBHT-o-a916368320911968"
    assert attempt_of(cid) == 0
    assert resend_id(cid, 1) == cid + "-a1" == client_order_id("PA24696", [OPEN], "open", 1)
    assert attempt_of(resend_id(cid, 12)) == 12
